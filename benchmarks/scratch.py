"""Where a benchmark keeps its scratch directory (the ClickHouse server's data, logs, the tap's output).

On a tmpfs (`/dev/shm`) when the machine has one with room, so that what a server's files cost does not
depend on what the machine deleted in the minutes before. This machine's root filesystem is ext4 without
a journal, where the kernel, to create a file, skips every free inode of the group that was freed in the
last 60 s (360 s while its inode table is not yet written back), looking each one up: after 20,000 files
were deleted on the machine (a test run, a previous benchmark's cleanup, a `pip install`), the server's
CPU for one of our 2,000-issue loads went from 0.45 to 1.23 s and the run's wall time from 3.3 to 3.8 s,
on the two CPUs the pipeline shares with it (docs/performance.md). A first load creates ~1,200 files on
the server (a directory and two files per column for each part of 45 INSERTs, and the schema); the old
exporter's 3 INSERTs create a few dozen, so the cost fell on one side of the comparison only.

`BENCH_SCRATCH` names another directory (the system's temporary directory if empty).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

MEMORY_BACKED = Path("/dev/shm")
#: The most a benchmark keeps there (100,000 issues: ~1 GiB of server data and logs), with room to spare.
NEEDED_BYTES = 4 << 30


def root() -> str | None:
    """The directory scratch directories are made in (None: the system's temporary directory)."""
    chosen = os.environ.get("BENCH_SCRATCH")
    if chosen is not None:
        return chosen or None
    usable = _is_tmpfs(MEMORY_BACKED) and os.access(MEMORY_BACKED, os.W_OK)
    return str(MEMORY_BACKED) if usable and shutil.disk_usage(MEMORY_BACKED).free >= NEEDED_BYTES else None


def make(prefix: str) -> Path:
    """A new scratch directory (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=root()))


def describe(directory: Path) -> str:
    """`directory` and, when it is on a tmpfs, that it is (for a report)."""
    kind = "tmpfs" if _is_tmpfs(_mount_point(directory)) else "the disk"
    return f"`{directory}` ({kind}; see benchmarks/scratch.py)"


def _mount_point(path: Path) -> Path:
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return path


def _is_tmpfs(path: Path) -> bool:
    try:
        mounts = Path("/proc/self/mounts").read_text().splitlines()
    except OSError:
        return False
    return any(
        fields[1] == str(path) and fields[2] == "tmpfs" for fields in (line.split() for line in mounts)
    )
