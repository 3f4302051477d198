"""A directory in memory (tmpfs) for what the tests' and benchmarks' servers write, when the machine has one.

This machine's root filesystem is ext4 without a journal, where the kernel, to create a file, skips every
free inode of the group that was freed in the last 60 s (360 s while its inode table is not yet written
back), looking each one up (`recently_deleted` in `find_inode_bit`). So every file a ClickHouse server
creates (a part is a directory and two files per column) costs 0.1-1 ms of kernel CPU for minutes after
something deleted many files: a test's cleanup, a previous run's, a `pip install`. Measured: after 20,000
files were deleted, the server's CPU for one 2,000-issue load went from 0.45 to 1.23 s (docs/performance.md),
and `tests/target`, run right after a previous run's cleanup, took 55-62 s on the disk against 35-41 s on
tmpfs (a clean clone's whole suite took 10 min either way). A server on a journalled filesystem or XFS, as
ClickHouse is deployed, does not scan like this.

What is written there is memory: a test session's directory (~1 GB with Meltano's plugin venvs) and a
benchmark's (benchmarks/scratch_dirs.py) name their process as the migration lock does (`lock_holder`: host,
boot, pid namespace, pid and start time), so that the next session or benchmark removes it once that
process provably no longer runs (`sweep`), however it ended.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import tempfile
import time
from pathlib import Path

import pytest

from target_clickhouse_agile.clickhouse.lock_holder import holder_is_gone, identity_of

MEMORY_BACKED = Path("/dev/shm")
#: The room a test session or benchmark may take there (Meltano's plugin venvs ~0.9 GiB, 100,000 issues'
#: server data ~1 GiB), with some to spare; it must also be memory the machine has available.
NEEDED_BYTES = 4 << 30
#: The directory a test session made there for its temporary files (tests/conftest.py), if it made one.
SESSION_DIRECTORY = pytest.StashKey[Path]()
#: The file in an `owned_directory` that names its process.
OWNER = "owner"
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


def memory_backed_root(mounts: str | None = None) -> Path | None:
    """`/dev/shm` when it is a tmpfs that lets programs run from it (Meltano's plugin venvs do), with
    `NEEDED_BYTES` free on it and available in memory; None otherwise (then the system's temporary
    directory serves). `mounts`: the text of `/proc/self/mounts` (read if not given)."""
    options = mount_options(MEMORY_BACKED, mounts)
    if options is None or "noexec" in options or not os.access(MEMORY_BACKED, os.W_OK):
        return None
    room = min(shutil.disk_usage(MEMORY_BACKED).free, _memory_available())
    return MEMORY_BACKED if room >= NEEDED_BYTES else None


def is_memory_backed(path: Path) -> bool:
    """Whether `path` lies on a tmpfs."""
    path = path.resolve()
    while not os.path.ismount(path) and path != path.parent:
        path = path.parent
    return mount_options(path) is not None


def owned_directory(root: Path, prefix: str, label: str = "") -> Path:
    """A new directory in `root`, named with `prefix`, this user's uid and `label`, whose `OWNER` file names
    this process (see `sweep`)."""
    home = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getuid()}-{label}", dir=root))
    identity = identity_of(os.getpid())
    (home / OWNER).write_text(identity.text() if identity is not None else "")
    return home


def sweep(root: Path, prefix: str) -> list[Path]:
    """Remove this user's directories made by `owned_directory(root, prefix)` whose process provably no
    longer runs (a session killed, or one that failed and kept its files for a look); return them. Where
    that cannot be told (another machine's or pid namespace's process, no `/proc`), or the directory has no
    `OWNER` file (`disown`), it stays. A server that process started and left running there (a kill skips
    every cleanup; see `stop_servers_in`) is stopped first."""
    removed = []
    for path in root.glob(f"{prefix}{os.getuid()}-*"):
        try:
            status = path.lstat()
            owner = (path / OWNER).read_text()
        except OSError:
            continue
        if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid():
            continue
        if holder_is_gone(owner):
            stop_servers_in(path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


#: The programs the tests and benchmarks start with their files in such a directory: ClickHouse servers
#: and ZooKeeper (java).
SERVER_PROGRAMS = frozenset({"clickhouse-server", "clickhouse", "java"})


def stop_servers_in(directory: Path, *, patience_s: float = 10.0) -> list[int]:
    """Stop this user's servers (`SERVER_PROGRAMS`) whose command line names a path inside `directory`, and
    return their pids. They are started without a parent-death signal (tests/support/clickhouse.py says
    why), so a killed session or benchmark leaves them running, writing into the directory a sweep is about
    to remove. SIGTERM, then SIGKILL after `patience_s`."""
    inside = (str(directory.resolve()).rstrip(os.sep) + os.sep).encode()
    found = [pid for pid, argv in _processes_of_this_user() if _is_server_in(argv, inside)]
    # Each by its identity (`lock_holder`): "gone" covers a zombie and a pid the kernel gave to another.
    identities = {identity.pid: identity.text() for identity in map(identity_of, found) if identity}
    for pid in identities:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + patience_s
    while not all(map(holder_is_gone, identities.values())) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid, identity in identities.items():
        if not holder_is_gone(identity):
            _signal(pid, signal.SIGKILL)
    return found


def _processes_of_this_user() -> list[tuple[int, list[bytes]]]:
    processes = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        processes.append((int(entry.name), argv))
    return processes


def _is_server_in(argv: list[bytes], inside: bytes) -> bool:
    program = os.path.basename(argv[0]).decode(errors="replace") if argv and argv[0] else ""
    return program in SERVER_PROGRAMS and any(inside in argument for argument in argv[1:])


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def disown(directory: Path) -> None:
    """Keep an `owned_directory` from every `sweep` (it is left for someone to look at and remove)."""
    (directory / OWNER).unlink(missing_ok=True)


def mount_options(mount_point: Path, mounts: str | None = None) -> list[str] | None:
    """The options of the tmpfs mounted at `mount_point` (the last mount there: it hides the ones
    before); None if it is not a tmpfs (or `/proc` cannot tell)."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return None
    for fields in reversed([line.split() for line in mounts.splitlines()]):
        if len(fields) >= 4 and _unescape(fields[1]) == str(mount_point):
            return fields[3].split(",") if fields[2] == "tmpfs" else None
    return None


def _unescape(field: str) -> str:
    """A path as `/proc/self/mounts` writes it: space, tab, newline and backslash as octal escapes."""
    return _OCTAL_ESCAPE.sub(lambda match: chr(int(match[1], 8)), field)


def _memory_available() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
