"""Child processes measured: wall time and user+sys CPU from `os.wait4`, peak RSS from `/proc`.

Why not `ru_maxrss` for the peak: Linux carries the parent's high-water mark into a child across
fork/vfork and exec, so every child of the benchmark process (which holds the simulated organisation)
reported at least the benchmark's own RSS: a `/bin/true` child of a 300 MB parent reports 313 MB. The
child's `VmHWM` in `/proc/<pid>/status` belongs to its own address space once it has exec'd.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
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


SAMPLE_INTERVAL_S = 0.02
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User+system CPU each running process of `pids` has used so far, all its threads (from
    `/proc/<pid>/stat`, in clock ticks); a process that is gone is left out. For the database servers, which
    share the machine's cores with what is measured but are not its children."""
    used = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / _TICKS_PER_SECOND  # utime, stime (proc(5): 14, 15)
    return used


def cpu_seconds_between(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two `cpu_seconds` readings, by the processes alive at both."""
    return sum(max(0.0, after[pid] - before[pid]) for pid in before.keys() & after.keys())


class PeakRss:
    """The peak RSS of a running child, sampled from its `VmHWM` every 20 ms until it exits.

    `marker` (a word of the child's command line) tells the child's own image from the parent's copy it
    runs in between fork and exec. `VmHWM` only grows, so the last sample is the peak up to 20 ms before
    the process ended."""

    def __init__(self, pid: int, marker: str) -> None:
        self.pid = pid
        self.marker = marker.encode()
        self.peak_kib = 0
        self._thread = threading.Thread(target=self._watch, name=f"peak-rss-{pid}", daemon=True)
        self._thread.start()

    def _read(self) -> int | None:
        """VmHWM in KiB, None before exec or once the process is gone."""
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as cmdline:
                if self.marker not in cmdline.read():
                    return None
            with open(f"/proc/{self.pid}/status", "rb") as status:
                for line in status:
                    if line.startswith(b"VmHWM:"):
                        return int(line.split()[1])
        except (OSError, ValueError):
            return None
        return None

    def _watch(self) -> None:
        while os.path.exists(f"/proc/{self.pid}"):
            sample = self._read()
            if sample is not None:
                self.peak_kib = max(self.peak_kib, sample)
            time.sleep(SAMPLE_INTERVAL_S)

    def stop(self) -> float:
        """Peak in MB, after the process was reaped (its /proc entry is then gone)."""
        self._thread.join(timeout=1)
        return self.peak_kib / 1024


def reap(
    proc: subprocess.Popen[Any], name: str, started: float, peak: PeakRss, *, capped: bool = False
) -> ProcStats:
    """Wait for `proc` with `os.wait4` (blocking) and turn its rusage into a :class:`ProcStats`."""
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ProcStats(
        name=name,
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        max_rss_mb=peak.stop(),
        returncode=proc.returncode,
        capped=capped,
    )


def reap_with_cap(
    proc: subprocess.Popen[Any], name: str, started: float, cap_s: float | None, peak: PeakRss
) -> ProcStats:
    """Like :func:`reap`, but SIGKILL the process once it has run `cap_s` seconds."""
    while cap_s is not None:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return ProcStats(
                name,
                time.monotonic() - started,
                usage.ru_utime + usage.ru_stime,
                peak.stop(),
                proc.returncode,
            )
        if time.monotonic() - started >= cap_s:
            os.kill(proc.pid, signal.SIGKILL)
            return reap(proc, name, started, peak, capped=True)
        time.sleep(0.05)
    return reap(proc, name, started, peak)
