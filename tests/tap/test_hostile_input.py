"""What a hostile but fair user (or a misbehaving server) did to the tap, and what it does now.

- a `query` with its own sort clause: refused at start (the API honoured it, the bookmark went up and down
  and a resumed run read 1 of 97 remaining issues);
- a server that ignores the requested order: no STATE ever claims an issue that was not read yet, and the
  run still completes with the right final bookmark;
- a token with a trailing newline (printed, escaped, by `requests`), and a custom logging config that
  bypassed the redaction: no form of a secret reaches any log;
- an empty, cut or non-object `--state` file (what redirecting a failed run's output leaves): named.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tap_yandex_tracker.timestamps import to_datetime
from tests.support.configs import tap_config
from tests.support.logs import file_log_config
from tests.support.pipeline import TAP_CLI
from tests.support.tap_runs import SyncOutput, run_cli
from tests.support.truth import expected_issues
from tracker_simulator import TrackerSimulator


@pytest.mark.parametrize(
    "query",
    [
        'Queue: GAMMA "Sort by": Created DESC',
        "Queue: GAMMA sort by: key",
        'Queue: GAMMA "Сортировка": Создано',
    ],
)
def test_a_sort_clause_in_query_is_refused(small_sim: TrackerSimulator, query: str) -> None:
    out = run_cli(tap_config(small_sim, query=query))
    assert out.returncode == 1
    assert "`query` has its own sort clause" in out.stderr
    assert "Traceback" not in out.stderr
    assert small_sim.stats.total == 0


def _bookmarks_and_issues(out: SyncOutput) -> list[tuple[str, Any]]:
    """The tap's output in order: ("state", issues bookmark) and ("issue", updatedAt)."""
    events: list[tuple[str, Any]] = []
    for message in out.messages:
        if message["type"] == "STATE":
            bookmark = message["value"].get("bookmarks", {}).get("issues", {}).get("replication_key_value")
            events.append(("state", bookmark))
        elif message["type"] == "RECORD" and message["stream"] == "issues":
            events.append(("issue", message["record"]["updatedAt"]))
    return events


def assert_no_state_skips_unread_issues(out: SyncOutput, lookback: timedelta) -> None:
    """Resuming from any STATE re-reads from its bookmark minus the look-back: every issue emitted after
    that STATE must lie at or above that bound, or a resumed run would never read it."""
    events = _bookmarks_and_issues(out)
    for position, (kind, bookmark) in enumerate(events):
        if kind != "state" or bookmark is None:
            continue
        bound = to_datetime(bookmark) - lookback
        later = [to_datetime(value) for k, value in events[position + 1 :] if k == "issue"]
        skipped = [value for value in later if value < bound]
        assert not skipped, (
            f"STATE at {position} bookmarks {bookmark} but {len(skipped)} later issues are older"
        )


def test_a_server_ignoring_the_order_never_gets_a_bookmark_past_unread_issues(
    small_sim: TrackerSimulator,
) -> None:
    small_sim.ignore_sort = True
    out = run_cli(tap_config(small_sim, page_size=10, lookback_minutes=0, state_interval_seconds=0))
    issues = expected_issues(small_sim.org)
    assert set(out.ids("issues")) == set(issues)
    updated = [r["updatedAt"] for r in out.records["issues"]]
    assert updated != sorted(updated), "precondition: the server really scrambled the order"
    assert_no_state_skips_unread_issues(out, timedelta(0))
    assert out.last_state["bookmarks"]["issues"]["replication_key_value"] == max(issues.values())
    assert "the bookmark stays at the beginning until the search completes" in out.stderr


def test_a_scroll_lost_after_the_order_was_ignored_stops_the_run_without_skipping_issues(
    small_sim: TrackerSimulator,
) -> None:
    """Out of order, then a lost page: a restart after the last issue read would skip older issues not read
    yet, and the bookmark would then move past them for good. The run stops instead, its bookmark where it
    began, and the next run from its STATE reads every issue."""
    small_sim.ignore_sort = True
    small_sim.faults.script("POST /{v}/issues/_search", 504, after=3, served=True)  # the 4th page's answer
    config = tap_config(small_sim, page_size=10, lookback_minutes=0, state_interval_seconds=0)
    out = run_cli(config)
    assert out.returncode == 1
    assert "after the API had returned issues out of order" in out.stderr
    assert small_sim.faults.pending_scripted == 0, "precondition: the page was lost"
    assert "replication_key_value" not in out.last_state["bookmarks"]["issues"]
    again = run_cli(config, state=out.last_state)
    assert again.returncode == 0, again.stderr[-2000:]
    assert set(again.ids("issues")) == set(expected_issues(small_sim.org))


def test_a_well_behaved_server_keeps_the_bookmark_moving(small_sim: TrackerSimulator) -> None:
    """The guard costs nothing when the order is right: STATEs advance with the records (resumable).
    One STATE per issue (`state_interval_seconds: 0`), so every point a run could resume from is checked."""
    out = run_cli(tap_config(small_sim, page_size=10, lookback_minutes=0, state_interval_seconds=0))
    assert_no_state_skips_unread_issues(out, timedelta(0))
    bookmarks = [b for kind, b in _bookmarks_and_issues(out) if kind == "state" and b is not None]
    assert len(set(bookmarks)) > 10, "mid-run STATEs carry a moving bookmark"
    assert "until the search completes" not in out.stderr


def test_a_token_with_a_trailing_newline_works(small_sim: TrackerSimulator) -> None:
    """A copied token often ends with a newline; `requests` refused the header and printed the token."""
    out = run_cli(tap_config(small_sim, token="sim-token\n"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert set(out.ids("issues")) == set(expected_issues(small_sim.org))


SECRET = "wrong-token-4711"


@pytest.mark.parametrize("token", [f"{SECRET}\n", f" {SECRET}\t", f"{SECRET}\r\n"])
def test_no_form_of_a_token_is_ever_printed(small_sim: TrackerSimulator, token: str) -> None:
    out = run_cli(tap_config(small_sim, token=token), env={"LOGLEVEL": "DEBUG"})
    assert out.returncode == 1
    assert "authentication failed" in out.stderr
    for form in (SECRET, repr(token)[1:-1], quote(token, safe="")):
        assert form not in out.stderr + out.stdout


def test_a_custom_log_config_cannot_bypass_the_redaction(small_sim: TrackerSimulator, tmp_path: Path) -> None:
    """A file handler on the tap's own logger (not propagating to the root, where a handler filter would
    sit) gets the SDK's config error, which quotes the offending value: a numeric token."""
    log_config, log_file = file_log_config(tmp_path, "tap-yandex-tracker", "singer_sdk")
    out = run_cli(tap_config(small_sim, token=12345678), env={"SINGER_SDK_LOG_CONFIG": str(log_config)})
    assert out.returncode == 1
    written = log_file.read_text()
    assert "is not of type 'string'" in written, "precondition: the SDK quoted the value"
    assert "12345678" not in written + out.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty: pass the last complete STATE"),
        ("  \n", "is empty: pass the last complete STATE"),
        ('{"bookmarks": {"issues": {"replication_key_va', "is not valid JSON"),
        ("[1, 2]", "holds list, not a STATE object"),
        ('"bookmarks"', "holds str, not a STATE object"),
    ],
)
def test_a_broken_state_file_is_named(
    small_sim: TrackerSimulator, tmp_path: Path, content: str, expected: str
) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    config = tmp_path / "tap.json"
    config.write_text(json.dumps(tap_config(small_sim)))
    done = subprocess.run(
        [TAP_CLI, "--config", str(config), "--state", str(state)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, done.stderr
    assert f"state file {state} {expected}" in errors[0]
    assert "Traceback" not in done.stderr
    assert small_sim.stats.total == 0
