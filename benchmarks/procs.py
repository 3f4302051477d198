"""Child processes measured with `os.wait4`: wall time, user+sys CPU and peak RSS of each process."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class ProcStats:
    """What one child process cost; `capped` when it was stopped at the time cap."""

    name: str
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    returncode: int
    capped: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def reap(proc: subprocess.Popen[Any], name: str, started: float, *, capped: bool = False) -> ProcStats:
    """Wait for `proc` with `os.wait4` (blocking) and turn its rusage into a :class:`ProcStats`."""
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ProcStats(
        name=name,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,  # kilobytes on Linux
        returncode=proc.returncode,
        capped=capped,
    )


def reap_with_cap(proc: subprocess.Popen[Any], name: str, started: float, cap_s: float | None) -> ProcStats:
    """Like :func:`reap`, but SIGKILL the process once it has run `cap_s` seconds."""
    while cap_s is not None:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return ProcStats(
                name,
                time.monotonic() - started,
                usage.ru_utime + usage.ru_stime,
                usage.ru_maxrss / 1024,
                proc.returncode,
            )
        if time.monotonic() - started >= cap_s:
            os.kill(proc.pid, signal.SIGKILL)
            return reap(proc, name, started, capped=True)
        time.sleep(0.05)
    return reap(proc, name, started)
