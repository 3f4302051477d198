"""Where the tests' temporary files go (tests/support/tmpfs.py, tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from target_clickhouse_agile.clickhouse.lock_holder import identity_of
from tests.support import tmpfs
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
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    identity = identity_of(child.pid)
    assert identity is not None
    child.communicate(b"")  # it ends: its identity now names no running process
    gone = tmp_path / f"pytest-{os.getuid()}-gone"
    (gone / "tmp" / "data").mkdir(parents=True)
    (gone / tmpfs.OWNER).write_text(identity.text())
    someone_elses = tmp_path / f"pytest-{os.getuid() + 1}-abc"
    someone_elses.mkdir()
    (someone_elses / tmpfs.OWNER).write_text(identity.text())

    assert tmpfs.sweep(tmp_path, "pytest-") == [gone]
    assert ours.is_dir()
    assert someone_elses.is_dir()
    assert not gone.exists()
