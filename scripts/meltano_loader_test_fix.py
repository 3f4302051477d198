"""A harmless fix for a race in Meltano's loader check, installed into ``.venv-meltano`` by ``make meltano``.

What goes wrong: ``meltano config test <loader>`` (``LoaderTestService.validate`` in Meltano 4.x) waits for
the loader to exit and then, in a ``finally``, calls ``process.terminate()`` unconditionally. Whether
that raises depends on the order in which asyncio handles three events of the same instant: the loader's
exit, the end of its stdout and the close of its stdin. When all three are processed before the
``finally`` runs (the usual case on an idle machine), asyncio has already released the process and
``terminate()`` raises ``ProcessLookupError``: the check fails although the loader succeeded. When the
machine is busy the order differs and the check passes. Measured with Meltano 4.4.1 on this project's
target: 8 of 8 runs failed on an idle machine, 9 of 10 with both cores busy.

The fix: ``terminate()`` of a process that has already exited does nothing (it could only have signalled
a process that no longer exists). A running process is terminated exactly as before. So the fix changes
nothing whether or not the race goes the wrong way, and it is only applied to the Meltano versions known
to need it (``AFFECTED_UP_TO``): once ``make lock`` takes a newer Meltano the fix switches itself off, and
``tests/meltano/test_meltano_run.py::test_loader_check_passes_every_time`` tells whether that Meltano
still needs it (then raise ``AFFECTED_UP_TO``).

Installed as ``meltano_loader_test_fix.py`` plus a one-line ``.pth`` file (``import ...; ...apply()``) in the
venv's site-packages, so
``.venv-meltano/bin/meltano config test target-clickhouse-agile`` (the README's command) is fixed.
"""

from __future__ import annotations

import asyncio.subprocess
import importlib.metadata
import re

#: The newest Meltano release known to have the race (the locked one when this was written).
AFFECTED_UP_TO = (4, 4, 1)
AFFECTED_FROM = (4, 0, 0)  # `meltano config test` checks loaders since Meltano 4.0


def _release(version: str) -> tuple[int, ...]:
    """``4.4.1rc1`` -> ``(4, 4, 1)``: the leading digits of the first three parts."""
    numbers = []
    for part in version.split(".")[:3]:
        match = re.match(r"\d+", part)
        numbers.append(int(match.group()) if match else 0)
    return tuple(numbers)


def needed(meltano_version: str) -> bool:
    """Whether this Meltano release has the race."""
    return AFFECTED_FROM <= _release(meltano_version) <= AFFECTED_UP_TO


def terminate_if_running(process: asyncio.subprocess.Process) -> None:
    """``Process.terminate``, skipped once the process has exited (its return code is known)."""
    if process.returncode is None:
        _original_terminate(process)


_original_terminate = asyncio.subprocess.Process.terminate


def apply() -> bool:
    """Install the fix when the installed Meltano needs it; returns whether it did."""
    try:
        version = importlib.metadata.version("meltano")
    except importlib.metadata.PackageNotFoundError:
        return False
    if not needed(version):
        return False
    asyncio.subprocess.Process.terminate = terminate_if_running  # type: ignore[method-assign]
    return True
