"""Who holds the migration lock, in words a waiter on the same machine can check.

The lock table's holder text names the host, the pid and the time (see `migrations._schema_lock`). A
process killed while it held the lock (kill -9, an OOM kill, a lost container) leaves the table behind,
and the next run used to wait `LOCK_WAIT_SECONDS` and then ask for a manual `DROP TABLE`. Scheduled runs on
one machine (cron, a systemd timer, Meltano's scheduler) are the common case of that, and there the
waiter can see for itself that the holder is gone. So the text also carries the process's identity: the
kernel's boot id, the pid namespace and the process's start time (in clock ticks since boot, from
`/proc/<pid>/stat`). A waiter that shares the boot and the namespace looks the pid up: no such process, a
zombie, or a process that started at another time (the pid was reused) means the holder is gone. Anywhere
else (another machine or container, a system without `/proc`) nothing can be told, and the waiter waits
as before.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
_IDENTITY = re.compile(r"process (?P<boot>[0-9a-f-]+)/(?P<namespace>\d+)/(?P<pid>\d+)/(?P<start>\d+)")


@dataclass(frozen=True)
class ProcessIdentity:
    """A running process, told apart from every other one since the machine booted."""

    boot: str
    namespace: str
    pid: int
    start: int

    def text(self) -> str:
        """The form the holder text carries, found again by `identity_in`."""
        return f"process {self.boot}/{self.namespace}/{self.pid}/{self.start}"


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of a running process of this machine and pid namespace; None where `/proc` cannot
    tell (not Linux, the process is gone)."""
    try:
        boot = (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
        namespace = _namespace()
        start = _start_ticks(pid)
    except (OSError, ValueError, IndexError):
        return None
    if start is None:
        return None
    return ProcessIdentity(boot, namespace, pid, start)


def identity_in(holder: str) -> ProcessIdentity | None:
    """The identity recorded in a lock's holder text; None for a holder that recorded none (an older
    target, another tool)."""
    found = _IDENTITY.search(holder)
    if found is None:
        return None
    return ProcessIdentity(found["boot"], found["namespace"], int(found["pid"]), int(found["start"]))


def holder_is_gone(holder: str) -> bool:
    """True only when the holder provably no longer runs: it recorded its identity, it ran on this
    machine since its last boot and in this pid namespace, and its pid now names no process, a zombie, or
    a process that started at another time."""
    recorded = identity_in(holder)
    here = identity_of(os.getpid())
    if recorded is None or here is None:
        return False
    if (recorded.boot, recorded.namespace) != (here.boot, here.namespace):
        return False
    try:
        start = _start_ticks(recorded.pid)
    except (OSError, ValueError, IndexError):
        return False  # cannot tell: wait, as for a holder elsewhere
    return start is None or start != recorded.start


def _namespace() -> str:
    """The pid namespace's inode (`pid:[4026531836]` -> `4026531836`): pids are unique only within one."""
    link = os.readlink(_PROC / "self" / "ns" / "pid")
    found = re.search(r"\d+", link)
    if found is None:
        raise ValueError(f"unexpected pid namespace link {link!r}")
    return found[0]


def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot); None if there is no such process or it is a
    zombie (killed, not yet reaped: it holds nothing any more)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except FileNotFoundError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    state, start = fields[0], fields[19]  # proc(5): fields 3 and 22
    return None if state in ("Z", "X") else int(start)
