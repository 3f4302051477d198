"""Regenerate the lock files under ``locks/`` from the version ranges the project declares.

    make lock                     # = .venv/bin/python scripts/lock.py

Every environment the Makefile builds installs exact versions with hashes from one of these files, so a new
upstream release can never change what ``make test`` runs on a new machine. Taking new releases is a
deliberate step: ``make lock``, then ``make test``, then commit the lock files.

The ranges stay where users see them: the plugins' ``pyproject.toml`` (libraries keep ranges, they are
installed next to other plugins), ``requirements-dev.txt`` (test tools) and ``locks/*.in`` (Meltano, the
benchmarks' old exporter). ``tests/ops/test_locks.py`` fails when a lock no longer satisfies them.

The locks are universal (one file for every platform and Python >= 3.10, with markers where versions
differ) and are resolved by ``uv pip compile``, the locked ``uv`` from ``.venv-meltano``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LOCKS = REPO / "locks"
PLUGINS = (
    REPO / "tap-yandex-tracker" / "pyproject.toml",
    REPO / "target-clickhouse-agile" / "pyproject.toml",
)
#: The development package beside the plugins (the Tracker API simulator).
DEV_PACKAGES = (REPO / "simulator" / "pyproject.toml",)
#: The oldest Python the plugins support (``requires-python``): the locks hold for it and every newer one.
PYTHON_FLOOR = "3.10"


@dataclass(frozen=True)
class Lock:
    """One lock file: what it pins, from which declared inputs."""

    name: str
    #: Files whose requirements are resolved together (pyproject.toml, requirements or .in files).
    inputs: tuple[Path, ...]
    #: Optional-dependency groups of the pyproject inputs to include.
    extras: tuple[str, ...] = ()
    #: Also resolve the plugins' build backends (``[build-system] requires``), for editable installs.
    build_backends: bool = False

    @property
    def path(self) -> Path:
        return LOCKS / f"{self.name}.txt"


PROJECT = Lock(
    "project",
    inputs=(*PLUGINS, *DEV_PACKAGES, REPO / "requirements-dev.txt"),
    extras=("embedded", "sentry"),
    build_backends=True,
)
MELTANO = Lock("meltano", inputs=(LOCKS / "meltano.in",))
OLD_EXPORTER = Lock("old-exporter", inputs=(LOCKS / "old-exporter.in",))
ALL = (PROJECT, MELTANO, OLD_EXPORTER)


def build_requirements() -> list[str]:
    """``[build-system] requires`` of both plugins (hatchling), in first-seen order."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10: the venv has tomli (locked for it)
        import tomli as tomllib

    found: list[str] = []
    for pyproject in PLUGINS:
        for requirement in tomllib.loads(pyproject.read_text())["build-system"]["requires"]:
            if requirement not in found:
                found.append(requirement)
    return found


def compile_lock(lock: Lock, uv: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        inputs = [str(p) for p in lock.inputs]
        if lock.build_backends:
            backends = Path(scratch) / "build-backends.in"
            backends.write_text("\n".join(build_requirements()) + "\n")
            inputs.append(str(backends))
        command = [
            uv, "pip", "compile", "--quiet", "--universal", "--generate-hashes",
            f"--python-version={PYTHON_FLOOR}", "--no-annotate",
            "--custom-compile-command=make lock", "--output-file", str(lock.path),
            *(f"--extra={extra}" for extra in lock.extras),
            *inputs,
        ]  # fmt: skip
        subprocess.run(command, check=True, cwd=REPO)
    print(f"wrote {lock.path.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uv", default=str(REPO / ".venv-meltano" / "bin" / "uv"), help="the uv binary")
    parser.add_argument(
        "names", nargs="*", help=f"locks to refresh (default: all of {[x.name for x in ALL]})"
    )
    args = parser.parse_args(argv)
    chosen = [lock for lock in ALL if not args.names or lock.name in args.names]
    for lock in chosen:
        compile_lock(lock, args.uv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
