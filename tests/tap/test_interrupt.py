"""Killing the tap mid-stream and resuming from the last STATE it printed loses nothing."""

from __future__ import annotations

import json
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
    with tempfile.TemporaryDirectory() as directory, tempfile.TemporaryFile("w+") as stderr_file:
        process = subprocess.Popen(
            tap_args(config, None, Path(directory)), stdout=subprocess.PIPE, stderr=stderr_file, text=True
        )
        lines: list[str] = []
        issues = 0
        bookmarked = False  # a STATE with an issues bookmark came out (they are paced, ~2 per second)
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            compact = line.replace(" ", "")
            if '"type":"RECORD","stream":"issues"' in compact:
                issues += 1
            elif '"type":"STATE"' in compact:
                issues_state = json.loads(line)["value"].get("bookmarks", {}).get("issues", {})
                bookmarked = bookmarked or bool(issues_state.get("replication_key_value"))
            if issues >= after_issues and bookmarked:
                break
        process.send_signal(sig)
        # The rest through the same reader (it may hold part of a line already). It stops by itself (no
        # worker thread keeps it alive): the timeout only guards against a hang.
        lines.extend(process.stdout.read().splitlines(keepends=True))
        process.wait(timeout=120)
        stderr_file.seek(0)
        stderr = stderr_file.read()
    text = "".join(lines)
    whole = text.splitlines()[:-1] if sig == signal.SIGKILL else text.splitlines()
    for line in whole:  # only SIGKILL may cut the last line short; nothing is ever cut or doubled
        json.loads(line)
    return SyncOutput(parse_json_lines(text), stderr, process.returncode)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_resume_after_kill_covers_everything(small_sim: TrackerSimulator, sig: signal.Signals) -> None:
    small_sim.latency_ms = 15  # a run of ~2 s: several paced STATEs before the end
    config = tap_config(small_sim, page_size=20, max_concurrent_requests=2)
    first = _run_until_killed(config, sig, after_issues=60)
    assert first.returncode == (0 if sig == signal.SIGTERM else -signal.SIGKILL), first.stderr[-2000:]
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


def test_a_reader_that_stops_early_gets_a_clear_error(small_sim: TrackerSimulator) -> None:
    """The target died: the tap's next write meets a closed pipe. Exit 1 with one line that says so."""
    small_sim.latency_ms = 5
    with tempfile.TemporaryDirectory() as directory, tempfile.TemporaryFile("w+") as stderr_file:
        process = subprocess.Popen(
            tap_args(tap_config(small_sim), None, Path(directory)), stdout=subprocess.PIPE, stderr=stderr_file
        )
        assert process.stdout is not None
        process.stdout.readline()  # the first message, then the reader is gone
        process.stdout.close()
        process.wait(timeout=120)
        stderr_file.seek(0)
        stderr = stderr_file.read()
    assert process.returncode == 1
    assert "the tap's output was closed: whatever reads its stdout (the target) stopped first" in stderr
    assert "Traceback" not in stderr
