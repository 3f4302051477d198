"""Killing the tap mid-stream and resuming from the last STATE it printed loses nothing."""

from __future__ import annotations

import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.configs import tap_config
from tests.support.pipeline import parse_json_lines, tap_args
from tests.support.tap_runs import SyncOutput, run_cli
from tests.support.truth import expected_changelog, expected_issues
from tracker_simulator import TrackerSimulator


def _run_until_killed(config: dict, sig: signal.Signals, after_issues: int) -> SyncOutput:
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            tap_args(config, None, Path(directory)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines: list[str] = []
        issues = 0
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if '"type":"RECORD","stream":"issues"' in line.replace(" ", ""):
                issues += 1
                if issues >= after_issues:
                    break
        process.send_signal(sig)
        # It stops by itself (no worker thread keeps it alive): the timeout only guards against a hang.
        rest, stderr = process.communicate(timeout=120)
    return SyncOutput(parse_json_lines("".join(lines) + rest), stderr, process.returncode)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_resume_after_kill_covers_everything(small_sim: TrackerSimulator, sig: signal.Signals) -> None:
    small_sim.latency_ms = 3
    config = tap_config(small_sim, page_size=20, max_concurrent_requests=2)
    first = _run_until_killed(config, sig, after_issues=60)
    issues = expected_issues(small_sim.org)
    assert 60 <= len(set(first.ids("issues"))) < len(issues)
    state = first.last_state
    assert state is not None
    assert state["bookmarks"]["issues"].get("replication_key_value")
    assert "sim-token" not in first.stderr

    second = run_cli(config, state=state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert set(first.ids("issues")) | set(second.ids("issues")) == set(issues)
    entries = set(first.ids("issue_changelog")) | set(second.ids("issue_changelog"))
    assert entries == set(expected_changelog(small_sim.org))
    # the resumed run starts near the bookmark, not from scratch
    assert len(second.ids("issues")) < len(issues)
