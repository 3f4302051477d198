"""One poison issue (its changelog always answers 500) no longer stalls every run.

Before: the tap failed after its retries with no bookmark in its STATE, so every rerun started over and
failed on the same issue. Now the run completes and advances without it, says so loudly, keeps it in the
STATE and in the `skipped_issues` table, and picks it up on the first run after the API heals.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clickhouse import NativeDatabase
from tests.support.configs import tap_config, target_config
from tests.support.pipeline import run_pipeline
from tests.support.simulators import running_simulator
from tests.support.tables import read_tables, run_queries
from tests.support.truth import compare_with_truth, expected_from_simulator, expected_issues
from tracker_simulator import TrackerSimulator, generate_organisation

FAST = {"max_retries": 2, "backoff_base_seconds": 0.01, "backoff_max_seconds": 0.02}


@pytest.fixture
def sim() -> Iterator[TrackerSimulator]:
    with running_simulator(generate_organisation(120, seed=31)) as simulator:
        yield simulator


def test_a_poison_issue_is_set_aside_and_picked_up_once_the_api_heals(
    sim: TrackerSimulator, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    settings = clickhouse_native.settings
    poison = sim.org.records[40]
    sim.faults.script(f"GET /v3/issues/{poison.id}/changelog", 500, times=10**6)

    first = run_pipeline(tap_config(sim, **FAST), target_config(settings), workdir=tmp_path / "1").check()
    issues = {r["issue_id"] for r in read_tables(settings)["issues"]}
    assert issues == {r.id for r in sim.org.records} - {poison.id}, "everything else is loaded"
    state = first.last_state
    assert state is not None
    bookmark = state["bookmarks"]["issues"]
    assert set(bookmark["set_aside"]) == {poison.id}
    newest = max(expected_issues(sim.org).values())
    assert bookmark["replication_key_value"] == newest, "the run advanced past the poison issue"
    assert "SET ASIDE" in first.tap.stderr
    assert (
        f"1 issues SET ASIDE by the tap (their changelog could not be read): {poison.key}"
        in first.target.stderr
    )
    skipped = run_queries(settings, {"s": "SELECT issue_id, status FROM skipped_issues FINAL"})["s"]
    assert skipped == [{"issue_id": poison.id, "status": "set_aside"}]

    # Still failing: the next run retries it first, keeps it aside, and completes again.
    second = run_pipeline(
        tap_config(sim, **FAST), target_config(settings), state=state, workdir=tmp_path / "2"
    )
    second.check()
    assert set(second.last_state["bookmarks"]["issues"]["set_aside"]) == {poison.id}

    sim.faults.clear()  # the API heals
    third = run_pipeline(
        tap_config(sim, **FAST), target_config(settings), state=second.last_state, workdir=tmp_path / "3"
    ).check()
    assert "set_aside" not in third.last_state["bookmarks"]["issues"]
    tables = read_tables(settings)
    assert {r["issue_id"] for r in tables["issues"]} == {r.id for r in sim.org.records}
    problems = compare_with_truth(tables, expected_from_simulator(sim), seconds_only=True)
    assert not problems, "\n".join(problems[:10])
    skipped = run_queries(settings, {"s": "SELECT issue_id, status FROM skipped_issues FINAL"})["s"]
    assert skipped == [{"issue_id": poison.id, "status": "recovered"}]


def test_the_api_failing_for_many_issues_in_a_row_still_stops_the_run(
    sim: TrackerSimulator, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    """Five issues in a row failing is the API, not an issue: the run stops, nothing is set aside."""
    sim.faults.script("GET /{v}/issues/{key}/changelog", 500, times=10**6)
    result = run_pipeline(
        tap_config(sim, **FAST), target_config(clickhouse_native.settings), workdir=tmp_path
    )
    assert result.tap.returncode == 1
    assert "still failing after 2 retries" in result.tap.stderr
    assert all("set_aside" not in s.get("bookmarks", {}).get("issues", {}) for s in result.states)
