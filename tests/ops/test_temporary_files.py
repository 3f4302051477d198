"""Where the tests' temporary files go (tests/support/tmpfs.py, tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.tmpfs import SESSION_DIRECTORY, is_memory_backed, memory_backed_root


def test_the_session_keeps_its_temporary_files_in_memory_when_the_machine_can(
    tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    if pytestconfig.option.basetemp is not None and SESSION_DIRECTORY not in pytestconfig.stash:
        return  # `--basetemp` on the command line: the user's choice
    assert is_memory_backed(tmp_path) == (memory_backed_root() is not None)


def test_a_tmpfs_that_runs_no_programs_or_none_at_all_is_not_used() -> None:
    assert memory_backed_root("tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec,relatime 0 0\n") is None
    assert memory_backed_root("/dev/vda / ext4 rw,relatime 0 0\n") is None
    assert memory_backed_root("") is None
