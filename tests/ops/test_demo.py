"""`make demo` is for users: it must run on a checkout that has no `tests/` at all."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def tracked_files() -> list[str]:
    """What a clone holds (the files git tracks); a source tree without git: every file on disk."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=False)
    if listed.returncode == 0 and listed.stdout:
        return [name for name in listed.stdout.decode().split("\0") if name]
    return [str(p.relative_to(REPO)) for p in REPO.rglob("*") if p.is_file() and ".git" not in p.parts]


def test_the_demo_runs_on_a_copy_without_tests(tmp_path: Path) -> None:
    copy = tmp_path / "checkout"
    for name in tracked_files():
        if name.startswith("tests/") or not (REPO / name).is_file():
            continue
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, copy / name)
    assert (copy / "demo" / "run.py").is_file()
    assert not (copy / "tests").exists()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    # What `make demo` runs, with a smaller organisation.
    done = subprocess.run(
        [sys.executable, "-m", "demo", "--issues", "120", "--fresh"],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Flow report:" in done.stdout
    assert (copy / ".demo" / "report.html").stat().st_size > 0
    assert "No module named 'tests" not in done.stderr
