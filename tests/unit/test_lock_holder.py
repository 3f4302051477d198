"""The migration lock's holder identity: what a waiter on the same machine can prove about a holder."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from target_clickhouse_agile.clickhouse import lock_holder
from target_clickhouse_agile.clickhouse.lock_holder import (
    ProcessIdentity,
    holder_is_gone,
    identity_in,
    identity_of,
)


@contextmanager
def _sleeper() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        yield child
    finally:
        child.kill()
        child.wait()


def _holder(identity: ProcessIdentity) -> str:
    return f"this-host pid {identity.pid} since 2026-12-07 03:00:00 UTC (lock deadbeef; {identity.text()})"


def test_the_identity_is_read_back_from_the_holder_text() -> None:
    mine = identity_of(os.getpid())
    assert mine is not None
    assert mine.pid == os.getpid()
    assert identity_in(_holder(mine)) == mine
    assert identity_in("worker-7 pid 4242 since 2026-12-06 21:00:00 UTC (lock 1234)") is None


def test_a_running_holder_is_not_gone() -> None:
    with _sleeper() as child:
        alive = identity_of(child.pid)
        assert alive is not None
        assert not holder_is_gone(_holder(alive))


def test_a_holder_that_exited_or_was_killed_is_gone() -> None:
    with _sleeper() as child:
        identity = identity_of(child.pid)
        assert identity is not None
    assert holder_is_gone(_holder(identity))


def test_a_killed_holder_not_yet_reaped_is_gone() -> None:
    """A zombie still has its pid (its parent has not waited for it) but holds nothing any more."""
    with _sleeper() as child:
        identity = identity_of(child.pid)
        assert identity is not None
        child.kill()
        deadline = time.monotonic() + 10
        while lock_holder._start_ticks(child.pid) != lock_holder._ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.01)  # until the kernel has made it a zombie
        assert lock_holder._start_ticks(child.pid) == lock_holder._ZOMBIE  # not reaped: its pid still shows
        assert holder_is_gone(_holder(identity))


def test_a_reused_pid_does_not_keep_a_dead_holder_alive() -> None:
    """Same pid, another start time: the process that took the lock is not the one running now."""
    mine = identity_of(os.getpid())
    assert mine is not None
    assert holder_is_gone(_holder(replace(mine, start=mine.start + 1)))


def test_a_holder_elsewhere_cannot_be_proven_gone() -> None:
    """Another boot or another pid namespace (another machine, another container): its pid means
    nothing here, so the waiter waits as before."""
    with _sleeper() as child:
        identity = identity_of(child.pid)
        assert identity is not None
    assert holder_is_gone(_holder(identity))  # here it is provably gone ...
    assert not holder_is_gone(_holder(replace(identity, boot="00000000-0000-0000-0000-000000000000")))
    assert not holder_is_gone(_holder(replace(identity, namespace="1")))
    assert not holder_is_gone("worker-7 pid 4242 since 2026-12-06 21:00:00 UTC (lock 1234)")


def test_a_holder_that_proc_hides_is_not_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """With /proc mounted `hidepid`, another user's running process has no /proc entry; the kernel still
    has it, so it is not taken for gone."""
    with _sleeper() as child:
        identity = identity_of(child.pid)
        assert identity is not None
        shown = lock_holder._start_ticks
        monkeypatch.setattr(lock_holder, "_start_ticks", lambda pid: None if pid == child.pid else shown(pid))
        assert not holder_is_gone(_holder(identity))


def test_the_start_time_is_the_process_s_own() -> None:
    """Start times count clock ticks since boot: this process's is positive, and a child started later
    has a later one."""
    mine = identity_of(os.getpid())
    assert mine is not None
    assert mine.start > 0
    with _sleeper() as child:
        theirs = identity_of(child.pid)
        assert theirs is not None
        assert theirs.start >= mine.start


def test_a_command_name_with_a_parenthesis_is_read_right(tmp_path: Path) -> None:
    """`/proc/<pid>/stat` puts the command name in parentheses, and the name may hold ") Z 1 (" itself."""
    tricky = tmp_path / "a) Z 1 (b"
    tricky.symlink_to(sys.executable)
    child = subprocess.Popen([str(tricky), "-c", "import time; time.sleep(60)"])
    try:
        identity = identity_of(child.pid)
        assert identity is not None
        assert identity.start >= identity_of(os.getpid()).start  # type: ignore[union-attr]
        assert not holder_is_gone(_holder(identity))
    finally:
        child.kill()
        child.wait()
    assert holder_is_gone(_holder(identity))


def test_a_holder_on_another_host_cannot_be_proven_gone() -> None:
    with _sleeper() as child:
        identity = identity_of(child.pid)
        assert identity is not None
    assert not holder_is_gone(_holder(replace(identity, host="elsewhere")))


def test_a_proc_of_another_pid_namespace_records_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """In a pid namespace that kept its parent's /proc, /proc's pids are not this process's pids: no
    identity is recorded, and none is judged gone. (The stand-in /proc answers everything as the real one
    does, except that /proc/self names another pid than `os.getpid()`.)"""
    mine = identity_of(os.getpid())
    assert mine is not None
    (tmp_path / "sys").symlink_to("/proc/sys")
    (tmp_path / str(os.getpid())).symlink_to(f"/proc/{os.getpid()}")
    (tmp_path / "999999999").symlink_to("/proc/self")
    (tmp_path / "self").symlink_to("999999999")
    monkeypatch.setattr(lock_holder, "_PROC", tmp_path)
    assert identity_of(os.getpid()) is None
    assert not holder_is_gone(_holder(replace(mine, start=mine.start + 1)))


def test_a_holder_hidden_from_proc_and_refused_by_kill_is_not_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    """hidepid as another user meets it: no /proc entry, and `kill(pid, 0)` refuses with EPERM."""
    with _sleeper() as child:
        identity = identity_of(child.pid)
        assert identity is not None
        shown, kill = lock_holder._start_ticks, os.kill

        def refuse_the_probe(pid: int, signal: int) -> None:
            if pid == child.pid and signal == 0:
                raise PermissionError(1, "Operation not permitted")
            kill(pid, signal)

        monkeypatch.setattr(lock_holder, "_start_ticks", lambda pid: None if pid == child.pid else shown(pid))
        monkeypatch.setattr(lock_holder.os, "kill", refuse_the_probe)
        assert not holder_is_gone(_holder(identity))
