"""Where a benchmark keeps its scratch directory (the ClickHouse server's data, logs, the tap's output):
on a tmpfs when the machine has one (tests/support/tmpfs.py says why), or where `BENCH_SCRATCH` says (the
system's temporary directory if it is empty).

A first load of 2,000 issues creates ~1,200 files on the server in ~3 s; the old exporter creates 5,733
(its tables are partitioned by month and optimised after each INSERT: 130 parts) in 80-120 s. On this
machine's disk each could cost up to ~0.5 ms, set by whatever the machine had deleted minutes earlier: up
to ~20 % of our run's wall time, a few per cent of the old exporter's.

On a tmpfs a scratch directory is memory. Every benchmark removes its own when it ends; one killed midway
leaves it behind, so each directory names its process (`bench-<uid>-...` with an `owner` file, as a test
session's does: tests/support/tmpfs.py), and the next benchmark removes those whose process is gone.
A server such a benchmark left running is stopped first (`tmpfs.stop_servers_in`). `benchmarks.run --keep`
keeps its directory on purpose (`keep`: no benchmark removes it; remove it by hand), as are directories
left before 2026-12-07 16:40 (`bench-XXXX`, `scale-server-XXXX`, `tmpXXXX`: no owner). `TMPDIR` is not
consulted while the tmpfs serves.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from tests.support.tmpfs import disown, is_memory_backed, memory_backed_root, owned_directory, sweep

#: The start of every scratch directory's name (then the uid, then the benchmark's own prefix).
PREFIX = "bench-"


def root() -> str | None:
    """The directory scratch directories are made in (None: the system's temporary directory)."""
    chosen = os.environ.get("BENCH_SCRATCH")
    if chosen is not None:
        return chosen or None
    memory = memory_backed_root()
    return None if memory is None else str(memory)


def make(prefix: str) -> Path:
    """A new scratch directory (the caller removes it), after removing those of benchmarks that ended
    without removing theirs (killed)."""
    parent = Path(root() or tempfile.gettempdir())
    sweep(parent, PREFIX)
    return owned_directory(parent, PREFIX, label=prefix)


def keep(directory: Path) -> None:
    """Leave `directory` for someone to look at: no later benchmark removes it."""
    disown(directory)


def describe(directory: Path) -> str:
    """`directory` and whether it is on a tmpfs (for a report)."""
    kind = "tmpfs" if is_memory_backed(directory) else "the disk"
    return f"`{directory}` ({kind}; see benchmarks/scratch_dirs.py)"
