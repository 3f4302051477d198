"""Keep credentials out of every log line and error message.

The tap only ever *sends* tokens (in the ``Authorization`` header), but third-party code may still echo
config values: JSON-schema validation messages quote the offending value, exception texts quote URLs or
bodies. A logging filter on the root handlers scrubs every record, whatever produced it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_SETTINGS = ("token", "iam_token")
MASK = "***"


def secret_values(config: Mapping[str, Any]) -> list[str]:
    """The configured secrets worth masking (very short values would mask innocent text)."""
    values = []
    for name in SECRET_SETTINGS:
        value = config.get(name)
        if value is not None and len(str(value)) >= 4:
            values.append(str(value))
    return values


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of every secret in ``text``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class SecretRedactor(logging.Filter):
    """A handler filter that masks secrets in the message, its args and the formatted traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__("tap-yandex-tracker-redactor")
        self.secrets: set[str] = set(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not hide the record
            message = str(record.msg)
        record.msg = scrub(message, self.secrets)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text, self.secrets)
        return True


def install_redactor(secrets: Iterable[str]) -> None:
    """Attach (or extend) the redactor on every handler of the root logger."""
    secrets = [s for s in secrets if s]
    if not secrets:
        return
    for handler in logging.getLogger().handlers:
        existing = next((f for f in handler.filters if isinstance(f, SecretRedactor)), None)
        if existing is None:
            handler.addFilter(SecretRedactor(secrets))
        else:
            existing.secrets.update(secrets)
