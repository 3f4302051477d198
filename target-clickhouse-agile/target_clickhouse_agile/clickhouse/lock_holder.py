"""Who holds the migration lock, in words a waiter on the same machine can check.

The lock table's holder text names the host, the pid and the time (see `migrations._schema_lock`). A
process killed while it held the lock (kill -9, an OOM kill) leaves the table behind, and the next run used
to wait `LOCK_WAIT_SECONDS` and then ask for a manual `DROP TABLE`. Scheduled runs on one machine (cron, a
systemd timer, Meltano's scheduler) are the common case of that, and there the waiter can see for itself
that the holder is gone. So the text also carries the process's identity: the host name, the kernel's boot
id, the pid namespace and the process's start time (clock ticks since boot, from `/proc/<pid>/stat`).

A waiter with the same host name, boot and namespace looks the pid up: no such process (neither in `/proc`
nor to `kill(pid, 0)`, which sees the processes a `hidepid` mount hides), a zombie, or a process that
started at another time (the pid was reused) means the holder is gone. Anywhere else (another machine or
container, a system without `/proc`, a `/proc` that belongs to another pid namespace than the process's
own) nothing can be told, and the waiter waits as before. (One case is beyond this: two virtual machines
restored from one live memory snapshot share boot id, host name and namespace, and each sees the other's
pids as its own.)
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
#: The start time given for a zombie (killed, not yet reaped: it holds nothing any more): no process's.
_ZOMBIE = -1
_IDENTITY = re.compile(
    r"process (?P<host>[A-Za-z0-9._-]+)/(?P<boot>[0-9a-f-]+)/(?P<namespace>\d+)/(?P<pid>\d+)/(?P<start>\d+)"
)


@dataclass(frozen=True)
class ProcessIdentity:
    """A running process, told apart from every other one since the machine booted."""

    host: str
    boot: str
    namespace: str
    pid: int
    start: int

    def text(self) -> str:
        """The form the holder text carries, found again by `identity_in`."""
        return f"process {self.host}/{self.boot}/{self.namespace}/{self.pid}/{self.start}"


def identity_of(pid: int) -> ProcessIdentity | None:
    """The identity of a running process of this machine and pid namespace; None where `/proc` cannot
    tell (not Linux, the process is gone)."""
    try:
        if os.readlink(_PROC / "self") != str(os.getpid()):
            return None  # a /proc of another pid namespace: its pids are not this process's pids
        boot = (_PROC / "sys" / "kernel" / "random" / "boot_id").read_text().strip()
        namespace = _namespace()
        start = _start_ticks(pid)
    except (OSError, ValueError, IndexError):
        return None
    if start is None or start == _ZOMBIE:
        return None
    return ProcessIdentity(host_name(), boot, namespace, pid, start)


def host_name() -> str:
    """This machine's name as the holder text carries it (characters a reader could trip on replaced)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())


def identity_in(holder: str) -> ProcessIdentity | None:
    """The identity recorded in a lock's holder text; None for a holder that recorded none (an older
    target, another tool)."""
    found = _IDENTITY.search(holder)
    if found is None:
        return None
    return ProcessIdentity(
        found["host"], found["boot"], found["namespace"], int(found["pid"]), int(found["start"])
    )


def holder_is_gone(holder: str) -> bool:
    """True only when the holder provably no longer runs: it recorded its identity, it ran on this
    machine (same host name) since its last boot and in this pid namespace, and its pid now names no
    process, a zombie, or a process that started at another time."""
    recorded = identity_in(holder)
    here = identity_of(os.getpid())
    if recorded is None or here is None:
        return False
    if (recorded.host, recorded.boot, recorded.namespace) != (here.host, here.boot, here.namespace):
        return False
    try:
        start = _start_ticks(recorded.pid)
    except (OSError, ValueError, IndexError):
        return False  # cannot tell: wait, as for a holder elsewhere
    if start is None:
        return not _exists(recorded.pid)
    return start != recorded.start


def _exists(pid: int) -> bool:
    """Whether the kernel has a process `pid`, a zombie included. Asked when `/proc` shows none: with
    `hidepid` another user's processes are hidden there, but not from `kill(pid, 0)`, which refuses them
    with EPERM. Only "no such process" counts as gone; any other answer cannot tell, so it exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _namespace() -> str:
    """The pid namespace's inode (`pid:[4026531836]` -> `4026531836`): pids are unique only within one."""
    link = os.readlink(_PROC / "self" / "ns" / "pid")
    found = re.search(r"\d+", link)
    if found is None:
        raise ValueError(f"unexpected pid namespace link {link!r}")
    return found[0]


def _start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot); None if `/proc` shows no such process."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except FileNotFoundError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces and ")"
    state, start = fields[0], int(fields[19])  # proc(5): fields 3 and 22
    return _ZOMBIE if state in ("Z", "X") else start
