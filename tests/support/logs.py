"""A custom logging config, as a user passes it through `SINGER_SDK_LOG_CONFIG`."""

from __future__ import annotations

from pathlib import Path


def file_log_config(directory: Path, *loggers: str) -> tuple[Path, Path]:
    """A config with a file handler on each of `loggers`, not propagating to the root (where a handler
    filter would sit); returns (config path, log file)."""
    log_file = directory / "plugin.log"
    lines = [
        "version: 1",
        "disable_existing_loggers: false",
        "handlers:",
        f"  file: {{class: logging.FileHandler, filename: '{log_file}', level: DEBUG}}",
        "loggers:",
        *(f"  {name}: {{level: DEBUG, handlers: [file], propagate: false}}" for name in loggers),
    ]
    config = directory / "logging.yml"
    config.write_text("\n".join(lines) + "\n")
    return config, log_file
