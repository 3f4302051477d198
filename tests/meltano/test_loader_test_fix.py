"""scripts/meltano_loader_test_fix.py: `terminate()` of an exited process is a no-op, a running process is
still terminated, and the fix is active in `.venv-meltano` for the locked Meltano (which needs it)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.meltano import MELTANO_VENV, REPO
from tests.support.modules import load_module_from_file

FIX = load_module_from_file(REPO / "scripts" / "meltano_loader_test_fix.py", "meltano_loader_test_fix")


def _run(coroutine_function: object) -> object:
    return asyncio.run(coroutine_function())  # type: ignore[operator]


def test_terminate_after_exit_is_a_no_op() -> None:
    async def scenario() -> int | None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "pass", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
        )
        assert process.stdin is not None
        process.stdin.close()
        await process.stdout.read()  # type: ignore[union-attr]
        await process.wait()
        for _ in range(3):  # let asyncio release the finished process (the state the race ends in)
            await asyncio.sleep(0)
        FIX.terminate_if_running(process)
        return process.returncode

    assert _run(scenario) == 0


def test_a_running_process_is_still_terminated() -> None:
    async def scenario() -> int | None:
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", "import time; time.sleep(60)")
        FIX.terminate_if_running(process)
        return await asyncio.wait_for(process.wait(), 30)

    assert _run(scenario) == -15


@pytest.mark.parametrize(
    ("version", "needed"),
    [
        ("3.7.0", False),
        ("4.0.0", True),
        ("4.4.1", True),
        ("4.4.2", False),
        ("5.0.0", False),
        ("4.4.1rc1", True),
    ],
)
def test_only_the_affected_meltano_releases_get_the_fix(version: str, needed: bool) -> None:
    assert FIX.needed(version) is needed


def test_the_fix_is_active_in_the_meltano_venv() -> None:
    """`make meltano` installs it; the locked Meltano needs it (AFFECTED_UP_TO)."""
    probe = "import asyncio.subprocess as s; print(s.Process.terminate.__name__)"
    python = Path(MELTANO_VENV) / "bin" / "python"
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "terminate_if_running"
