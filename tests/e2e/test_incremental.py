"""Incremental loads: run, let the organisation change, run again from the last STATE; the tables must
equal one clean full run of the changed organisation (and its ground truth)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.configs import tap_config, target_config
from tests.support.pipeline import records_loaded, run_pipeline
from tests.support.simulators import SimulatorFactory
from tests.support.tables import comparable, read_tables, table_differences
from tests.support.truth import compare_with_truth, expected_from_simulator


@pytest.fixture(params=["server-18.16", "chdb"])
def two_databases(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(engine, settings of database A, settings of a separate database B) on one engine."""
    if request.param == "chdb":
        settings = request.getfixturevalue("chdb_settings")
        yield "chdb", settings, {**settings, "embedded_path": str(tmp_path / "clean")}
        return
    native = request.getfixturevalue("clickhouse_native")
    clean = {**native.settings, "database": native.database + "_clean"}
    yield "server", native.settings, clean
    native.conn.execute(f"DROP DATABASE IF EXISTS {clean['database']}")


def test_incremental_runs_equal_one_clean_run(
    sim_factory: SimulatorFactory, two_databases: tuple[str, dict[str, Any], dict[str, Any]], tmp_path: Path
) -> None:
    engine, incremental, clean = two_databases
    sim = sim_factory(issues=150, seed=23)
    first = run_pipeline(tap_config(sim), target_config(incremental), workdir=tmp_path / "run1").check()
    assert first.last_state is not None

    changed = sim.advance(minutes=3 * 24 * 60, mutate=40, create=10)
    assert len(changed) >= 40
    second = run_pipeline(
        tap_config(sim), target_config(incremental), workdir=tmp_path / "run2", state=first.last_state
    ).check()
    assert second.last_state != first.last_state
    # The second run loaded only what changed (plus the lookback window), not the whole organisation.
    assert records_loaded(first.target)["issues"] == 150
    assert len(changed) <= records_loaded(second.target)["issues"] < 150

    run_pipeline(tap_config(sim), target_config(clean), workdir=tmp_path / "clean").check()
    stored = read_tables(incremental)
    assert table_differences(comparable(stored), comparable(read_tables(clean))) == []
    problems = compare_with_truth(stored, expected_from_simulator(sim), seconds_only=engine == "server")
    assert not problems, "\n".join(problems[:10])
    assert len(stored["issues"]) == 160
