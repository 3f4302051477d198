"""Simulator → tap (console script) → target (console script) → ClickHouse, checked against ground truth.

Runs on both engines: the real server (18.16: `DateTime`, mutations instead of `_is_deleted`) and
embedded chdb (modern engine). Expectations come from the simulator's own record of every issue's status
visits, through `tests/support/truth.py`, never from the target's code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.clickhouse import NativeDatabase
from tests.support.configs import tap_config, target_config
from tests.support.pipeline import run_pipeline, run_tap, run_target
from tests.support.simulators import assert_no_internal_errors, running_simulator
from tests.support.tables import comparable, read_tables, table_differences
from tests.support.truth import ExpectedIssue, SimpleCalendar, compare_with_truth, expected_from_simulator
from tracker_simulator import TrackerSimulator, generate_organisation

ISSUES = 400
BUSINESS_SAMPLE = 40


@pytest.fixture(scope="module")
def e2e_sim() -> Iterator[TrackerSimulator]:
    """A read-only organisation of a few hundred issues shared by this module (never advanced)."""
    with running_simulator(generate_organisation(ISSUES, seed=11)) as simulator:
        yield simulator
        assert_no_internal_errors(simulator)


@pytest.fixture(params=["server-18.16", "chdb"])
def engine(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """(engine name, ClickHouse settings of a fresh database) for each engine in turn."""
    if request.param == "chdb":
        return "chdb", request.getfixturevalue("chdb_settings")
    native: NativeDatabase = request.getfixturevalue("clickhouse_native")
    return "server", native.settings


def business_sample(expected: dict[str, ExpectedIssue]) -> list[str]:
    """Issues with the most visits first (long histories cross weekends and holidays), plus done ones."""
    by_visits = sorted(expected, key=lambda i: (-len(expected[i].visits), i))
    done = [i for i in sorted(expected) if expected[i].done_at is not None]
    return list(dict.fromkeys(by_visits[: BUSINESS_SAMPLE // 2] + done[: BUSINESS_SAMPLE // 2]))


def test_scenario_has_the_hard_cases(e2e_sim: TrackerSimulator) -> None:
    """The comparison below is only as good as the histories it sees: moves, reopens, revisits,
    same-millisecond transitions and changelogs longer than one page must all be present."""
    expected = expected_from_simulator(e2e_sim)
    truths = [e.truth for e in expected.values()]
    with e2e_sim.org.lock:
        moved = sum(1 for r in e2e_sim.org.records if len(r.keys) > 1)
    assert moved >= 5
    assert sum(1 for e in expected.values() if e.reopen_count) >= 10
    assert sum(1 for e in expected.values() if len({v.status for v in e.visits}) < len(e.visits)) >= 20
    assert sum(1 for t in truths if len({at for _s, at in t.timeline}) < len(t.timeline)) >= 1
    assert max(e.changelog_entries for e in expected.values()) > 100


def test_full_load_matches_ground_truth(
    e2e_sim: TrackerSimulator, engine: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    name, settings = engine
    result = run_pipeline(tap_config(e2e_sim), target_config(settings), workdir=tmp_path).check()
    assert result.last_state is not None
    assert "Traceback" not in result.target.stderr
    expected = expected_from_simulator(e2e_sim)
    tables = read_tables(settings)
    sample = business_sample(expected)
    seconds_only = name == "server"
    problems = compare_with_truth(tables, expected, business_sample=sample, seconds_only=seconds_only)
    assert not problems, f"{len(problems)} differences, first ones:\n" + "\n".join(problems[:10])
    assert len(tables["issues"]) == ISSUES
    assert len(tables["issue_flow"]) == ISSUES
    assert len(tables["issue_status_intervals"]) == sum(len(e.visits) for e in expected.values())

    # The comparison is not vacuous: one second more in one done issue's history is noticed.
    issue_id = next(i for i in sample if expected[i].done_at is not None)
    want = expected[issue_id]
    shifted = replace(want, done_at=want.done_at + timedelta(seconds=1))  # type: ignore[operator]
    wrong = compare_with_truth(
        tables, {**expected, issue_id: shifted}, business_sample=[issue_id], seconds_only=seconds_only
    )
    assert any("issue_flow" in p for p in wrong)
    # ... and so is a working day that starts an hour later.
    late = SimpleCalendar(start=time(10, 0))
    wrong = compare_with_truth(
        tables, expected, business_sample=sample, calendar=late, seconds_only=seconds_only
    )
    assert any("business" in p for p in wrong)


def test_batch_boundaries_change_nothing(
    e2e_sim: TrackerSimulator, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    """The same tap output loaded with the default batch size and with batches of 7 rows (which split
    nearly every issue's changelog across INSERTs) gives exactly the same rows."""
    queue = e2e_sim.org.records[0].queue
    tap = run_tap(tap_config(e2e_sim, queues=[queue]), workdir=tmp_path)
    assert tap.returncode == 0, tap.describe()
    default = clickhouse_native.settings
    sevens = {**default, "database": default["database"] + "_b7"}
    for settings in (default, sevens):
        batch = 7 if settings is sevens else 50_000
        loaded = run_target(target_config(settings, batch_size_rows=batch), tap.stdout, workdir=tmp_path)
        assert loaded.returncode == 0, loaded.describe()
    try:
        tables = read_tables(default)
        assert len(tables["issues"]) > 20
        assert table_differences(comparable(read_tables(sevens)), comparable(tables)) == []
    finally:
        clickhouse_native.conn.execute(f"DROP DATABASE IF EXISTS {sevens['database']}")
