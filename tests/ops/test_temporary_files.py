"""Where the tests' temporary files go (tests/support/tmpfs.py, tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import scratch_dirs
from target_clickhouse_agile.clickhouse.lock_holder import identity_of
from tests.support import tmpfs
from tests.support.clickhouse import ClickHouseServer, ensure_installed
from tests.support.tmpfs import SESSION_DIRECTORY, is_memory_backed, memory_backed_root, mount_options


def test_the_session_keeps_its_temporary_files_in_memory_when_the_machine_can(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    session = pytestconfig.stash.get(SESSION_DIRECTORY, None)
    if session is None:
        if pytestconfig.option.basetemp is not None:
            pytest.skip("--basetemp on the command line chose the directory")
        assert memory_backed_root() is None
    else:
        assert tmp_path.is_relative_to(session)
        assert is_memory_backed(tmp_path)


def test_the_mount_table_is_read_as_the_kernel_writes_it() -> None:
    mounts = (
        "/dev/vda / ext4 rw,relatime 0 0\n"
        "tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0\n"
        "tmpfs /mnt/with\\040space tmpfs rw,noexec 0 0\n"
        "tmpfs /mnt/hidden tmpfs rw 0 0\n"
        "/dev/vdb /mnt/hidden ext4 rw 0 0\n"
    )
    assert mount_options(Path("/dev/shm"), mounts) == ["rw", "nosuid", "nodev"]
    assert mount_options(Path("/mnt/with space"), mounts) == ["rw", "noexec"]
    assert mount_options(Path("/mnt/hidden"), mounts) is None  # the last mount there is a disk
    assert mount_options(Path("/"), mounts) is None


def test_a_tmpfs_that_runs_no_programs_or_none_at_all_is_not_used() -> None:
    assert memory_backed_root("tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime 0 0\n") is None
    assert memory_backed_root("/dev/vda / ext4 rw,relatime 0 0\n") is None
    assert memory_backed_root("") is None


def test_a_gone_sessions_directory_is_swept_and_a_running_ones_is_not(tmp_path: Path) -> None:
    ours = tmpfs.owned_directory(tmp_path, "pytest-")
    gone_identity = _gone_identity()
    gone = tmp_path / f"pytest-{os.getuid()}-gone"
    (gone / "tmp" / "data").mkdir(parents=True)
    (gone / tmpfs.OWNER).write_text(gone_identity)
    someone_elses = tmp_path / f"pytest-{os.getuid() + 1}-abc"
    someone_elses.mkdir()
    (someone_elses / tmpfs.OWNER).write_text(gone_identity)

    assert tmpfs.sweep(tmp_path, "pytest-") == [gone]
    assert ours.is_dir()
    assert someone_elses.is_dir()
    assert not gone.exists()


def _gone_identity() -> str:
    """The identity text of a process that has ended."""
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    identity = identity_of(child.pid)
    assert identity is not None
    child.communicate(b"")  # it ends: its identity now names no running process
    return identity.text()


def test_a_benchmark_removes_the_scratch_of_one_killed_before_and_spares_a_kept_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BENCH_SCRATCH", str(tmp_path))
    gone = _gone_identity()
    killed = scratch_dirs.make("run-")  # as a killed run leaves it: its owner then ended
    (killed / "clickhouse" / "data").mkdir(parents=True)
    (killed / tmpfs.OWNER).write_text(gone)
    kept = scratch_dirs.make("run-")  # as `benchmarks.run --keep` leaves it, once it ended
    (kept / tmpfs.OWNER).write_text(gone)
    scratch_dirs.keep(kept)
    (kept / "clickhouse").mkdir()
    running = scratch_dirs.make("meltano-")

    newest = scratch_dirs.make("throughput-")

    assert not killed.exists()
    assert kept.is_dir()
    assert running.is_dir(), "this process still runs"
    assert newest.name.startswith(f"{scratch_dirs.PREFIX}{os.getuid()}-throughput-")
    assert (newest / tmpfs.OWNER).read_text() == identity_of(os.getpid()).text()  # type: ignore[union-attr]


def test_the_sweep_stops_a_server_a_killed_session_left_running_before_removing_its_files(
    tmp_path: Path,
) -> None:
    """A kill skips every cleanup, so the servers a session or benchmark started outlive it (no parent-death
    signal). The sweep stops them (only servers: a program that merely names the directory keeps running)
    before it removes what they write to."""
    ensure_installed()
    left = tmpfs.owned_directory(tmp_path, "bench-")
    server = ClickHouseServer(left / "clickhouse")
    server.start()
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(left / "x")])
    try:
        (left / tmpfs.OWNER).write_text(_gone_identity())
        assert server.process is not None

        assert tmpfs.sweep(tmp_path, "bench-") == [left]

        assert server.process.wait(timeout=5) is not None, "the server was stopped"
        assert bystander.poll() is None, "only servers are stopped"
        assert not left.exists()
    finally:
        bystander.kill()
        bystander.wait()
        server.kill()
