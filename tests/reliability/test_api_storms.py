"""API storms, end to end: a rate-limited, flaky Tracker changes nothing in ClickHouse.

One simulator and one clean reference load per module; each storm loads a fresh database through the
real tap and target CLIs and must give exactly the reference tables (under FINAL), with the retries
visible in the tap's log. "Bounded time" is the subprocess timeout: small `Retry-After` values and the
tap's small backoff settings (`backoff_base_seconds`, `backoff_max_seconds`, `max_retries`) keep a storm
to seconds; nothing here asserts a speed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import simulators as sim_fixtures
from tests.support import tables
from tests.support.clickhouse import ClickHouseServer, NativeDatabase, fresh_database
from tests.support.configs import STORM_SETTINGS, password_target_config, tap_config
from tests.support.pipeline import run_pipeline
from tracker_simulator import TrackerSimulator

STORMS: dict[str, dict[str, Any]] = {
    "429-30pct-retry-after": {"rate_429": 0.3, "retry_after": 0.05},
    "5xx-bursts": {"rate_500": 0.08, "rate_503": 0.08, "rate_504": 0.08},
    "dropped-connections": {"rate_drop": 0.12},
    "truncated-json": {"rate_truncate": 0.12},
}
#: Consecutive failures of one route: a burst longer than one retry, shorter than `max_retries`.
BURSTS = (("POST /*/issues/_search", 503, 5), ("GET /*/issues/*/changelog", 504, 6), ("GET /*", "drop", 4))


@pytest.fixture(scope="module")
def storm_sim() -> Iterator[TrackerSimulator]:
    with sim_fixtures.running_simulator(issues=120, seed=21) as simulator:
        yield simulator
        sim_fixtures.assert_no_internal_errors(simulator)


@pytest.fixture(scope="module")
def reference(
    storm_sim: TrackerSimulator, clickhouse_server: ClickHouseServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """The tables of a clean run (healthy simulator), checked against the ground truth once."""
    with fresh_database(clickhouse_server, "storm_ref") as db:
        run = run_pipeline(
            tap_config(storm_sim, **STORM_SETTINGS),
            password_target_config(db),
            workdir=tmp_path_factory.mktemp("ref"),
        )
        assert run.ok, run.describe()
        settings = password_target_config(db)
        assert tables.timeline_mismatches(settings, storm_sim.ground_truth()) == []
        yield tables.snapshot(settings)


@pytest.mark.parametrize("storm", STORMS.values(), ids=STORMS.keys())
def test_storm_changes_nothing(
    storm_sim: TrackerSimulator,
    reference: dict[str, list[tuple[Any, ...]]],
    clickhouse_native: NativeDatabase,
    storm: dict[str, Any],
    workdir: Path,
) -> None:
    sim_fixtures.reset(storm_sim)
    for name, value in {"seed": 7, **storm}.items():
        setattr(storm_sim.faults, name, value)
    storm_sim.faults.reseed(7)
    try:
        run = run_pipeline(
            tap_config(storm_sim, **STORM_SETTINGS),
            password_target_config(clickhouse_native),
            workdir=workdir,
            timeout=240,
        )
        faulted = sum(storm_sim.stats.faults.values())
    finally:
        sim_fixtures.reset(storm_sim)
    assert run.ok, run.describe()
    assert "retrying" in run.tap.stderr, "retries must be logged"
    assert faulted > 0, "the storm never hit"
    settings = password_target_config(clickhouse_native)
    assert tables.duplicate_keys(settings) == dict.fromkeys(tables.DATA_KEYS, 0)
    assert tables.diff(tables.snapshot(settings), reference) == []


def test_bursts_of_consecutive_failures(
    storm_sim: TrackerSimulator,
    reference: dict[str, list[tuple[Any, ...]]],
    clickhouse_native: NativeDatabase,
    workdir: Path,
) -> None:
    """Several failures in a row on the same route (a server restarting, a proxy flapping)."""
    sim_fixtures.reset(storm_sim)
    for route, fault, times in BURSTS:
        storm_sim.faults.script(route, fault, times=times, retry_after=0.05)
    try:
        run = run_pipeline(
            tap_config(storm_sim, **STORM_SETTINGS),
            password_target_config(clickhouse_native),
            workdir=workdir,
            timeout=240,
        )
        pending = storm_sim.faults.pending_scripted
    finally:
        sim_fixtures.reset(storm_sim)
    assert run.ok, run.describe()
    assert pending == 0, "every scripted fault was served"
    assert run.tap.stderr.count("retrying") >= sum(times for _, _, times in BURSTS)
    assert tables.diff(tables.snapshot(password_target_config(clickhouse_native)), reference) == []
