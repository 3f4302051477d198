"""A directory in memory (tmpfs) for what the tests' and benchmarks' servers write, when the machine has one.

This machine's root filesystem is ext4 without a journal, where the kernel, to create a file, skips every
free inode of the group that was freed in the last 60 s (360 s while its inode table is not yet written
back), looking each one up (`recently_deleted` in `find_inode_bit`). So every file a ClickHouse server
creates (a part is a directory and two files per column) costs 0.1-1 ms of kernel CPU for minutes after
something deleted many files: a test's cleanup, a previous run's, a `pip install`. Measured: after 20,000
files were deleted, the server's CPU for one 2,000-issue load went from 0.45 to 1.23 s (docs/performance.md),
and `tests/target`, run right after a previous run's cleanup, took 55-62 s on the disk against 35-41 s on
tmpfs (a clean clone's whole suite took 10 min either way). A server on a journalled filesystem
or XFS, as ClickHouse is deployed, does not scan like this.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

MEMORY_BACKED = Path("/dev/shm")
#: The room a test session or benchmark may take there (Meltano's plugin venvs ~0.9 GiB, 100,000 issues'
#: server data ~1 GiB), with some to spare.
NEEDED_BYTES = 4 << 30
#: The directory a test session made there for its temporary files (tests/conftest.py), if it made one.
SESSION_DIRECTORY = pytest.StashKey[Path]()


def memory_backed_root(mounts: str | None = None) -> Path | None:
    """`/dev/shm` when it is a tmpfs that lets programs run from it (Meltano's plugin venvs do) and has
    `NEEDED_BYTES` free; None otherwise (then the system's temporary directory serves). `mounts`: the text
    of `/proc/self/mounts` (read if not given)."""
    options = _mount_options(MEMORY_BACKED, mounts)
    if options is None or "noexec" in options or not os.access(MEMORY_BACKED, os.W_OK):
        return None
    return MEMORY_BACKED if shutil.disk_usage(MEMORY_BACKED).free >= NEEDED_BYTES else None


def is_memory_backed(path: Path) -> bool:
    """Whether `path` lies on a tmpfs."""
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return _mount_options(path) is not None


def _mount_options(mount_point: Path, mounts: str | None = None) -> list[str] | None:
    """The options of the tmpfs mounted at `mount_point`; None if none is (or `/proc` cannot tell)."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return None
    for fields in (line.split() for line in mounts.splitlines()):
        if len(fields) >= 4 and fields[1] == str(mount_point) and fields[2] == "tmpfs":
            return fields[3].split(",")
    return None
