"""An issue set aside by an earlier run lies behind the bookmark: only its set-aside entry brings it back.
So no STATE may drop that entry before the issue's record is on stdout (the changelog is synced, and
writes its own STATE, before the issue record): a run stopped in between would never read it again."""

from __future__ import annotations

from typing import Any

from tests.support.configs import tap_config
from tests.support.tap_runs import run_cli
from tracker_simulator import TrackerSimulator

FAST = {"max_retries": 1, "backoff_base_seconds": 0.01, "backoff_max_seconds": 0.02}


def _set_aside(message: dict[str, Any]) -> set[str]:
    return set(message["value"].get("bookmarks", {}).get("issues", {}).get("set_aside") or {})


def test_a_recovered_issue_leaves_the_state_only_after_its_record(small_sim: TrackerSimulator) -> None:
    poison = small_sim.org.records[30]
    small_sim.faults.script(f"GET /v3/issues/{poison.id}/changelog", 500, times=10**6)
    first = run_cli(tap_config(small_sim, **FAST))
    assert first.returncode == 0, first.stderr[-2000:]
    assert poison.id in _set_aside({"value": first.last_state})

    small_sim.faults.clear()  # the API heals: the next run retries the issue first
    second = run_cli(tap_config(small_sim, **FAST, state_interval_seconds=0), state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    record_at = next(
        n
        for n, m in enumerate(second.messages)
        if m["type"] == "RECORD" and m["stream"] == "issues" and m["record"]["id"] == poison.id
    )
    changelog_at = next(
        n
        for n, m in enumerate(second.messages)
        if m["type"] == "RECORD" and m["stream"] == "issue_changelog" and m["record"]["issue_id"] == poison.id
    )
    released_at = next(
        n for n, m in enumerate(second.messages) if m["type"] == "STATE" and poison.id not in _set_aside(m)
    )
    assert changelog_at < record_at < released_at
    assert any(m["type"] == "STATE" for m in second.messages[changelog_at:record_at]), (
        "precondition: a STATE comes between the changelog and its issue (the child's own)"
    )


def test_an_issue_set_aside_that_the_token_can_no_longer_read_stays_aside_and_the_run_goes_on(
    small_sim: TrackerSimulator,
) -> None:
    """The issue set aside earlier now answers 403 (moved to a queue the token cannot read): every later run
    stopped at its start, blaming `org_id`. It stays set aside, with the reason, and the run goes on."""
    poison = small_sim.org.records[30]
    small_sim.faults.script(f"GET /v3/issues/{poison.id}/changelog", 500, times=10**6)
    first = run_cli(tap_config(small_sim, **FAST))
    assert poison.id in _set_aside({"value": first.last_state})

    small_sim.faults.clear()
    small_sim.faults.script(f"GET /v3/issues/{poison.id}", 403, times=10**6)
    second = run_cli(tap_config(small_sim, **FAST), state=first.last_state)
    assert second.returncode == 0, second.stderr[-2000:]
    assert poison.id in _set_aside({"value": second.last_state})
    assert "cannot be read now (HTTP 403)" in second.stderr
    assert poison.id not in second.ids("issues")
