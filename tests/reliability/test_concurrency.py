"""Two pipelines writing the same database at the same time do not corrupt each other's results."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.support import tables
from tests.support.clickhouse import NativeDatabase
from tests.support.configs import STORM_SETTINGS, password_target_config, tap_config
from tests.support.pipeline import PipelineResult, run_pipeline
from tracker_simulator import TrackerSimulator


def _concurrently(*jobs: tuple[Path, dict[str, Any], dict[str, Any]]) -> list[PipelineResult]:
    results: list[PipelineResult | None] = [None] * len(jobs)

    def run(i: int) -> None:
        workdir, tap, target = jobs[i]
        results[i] = run_pipeline(tap, target, workdir=workdir, label=f"pipeline {i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=400)
    assert all(r is not None for r in results), "a pipeline did not finish"
    return [r for r in results if r is not None]


def assert_equal_to_one_clean_run(
    runs: list[PipelineResult],
    sim: TrackerSimulator,
    settings: dict,
    second_db: NativeDatabase,
    workdir: Path,
) -> None:
    """The concurrent runs all succeeded and left exactly what one clean run leaves in `second_db`: no
    duplicate key, the same rows, every issue's timeline as the simulator recorded it."""
    for run in runs:
        assert run.ok, run.describe()
    clean = run_pipeline(
        tap_config(sim, **STORM_SETTINGS),
        password_target_config(second_db),
        workdir=workdir / "clean",
        label="clean",
    )
    assert clean.ok, clean.describe()
    assert tables.duplicate_keys(settings) == dict.fromkeys(tables.DATA_KEYS, 0)
    assert tables.diff(tables.snapshot(settings), tables.snapshot(password_target_config(second_db))) == []
    assert tables.timeline_mismatches(settings, sim.ground_truth()) == []


def test_same_data_twice_at_once_equals_one_run(
    sim_factory, clickhouse_native: NativeDatabase, second_db: NativeDatabase, workdir: Path
) -> None:
    """Both targets start on an empty database (migrations race too) and load the same issues."""
    sim: TrackerSimulator = sim_factory(issues=120, seed=31)
    settings = password_target_config(clickhouse_native, batch_size_rows=30)
    runs = _concurrently(
        (workdir / "a", tap_config(sim, **STORM_SETTINGS), settings),
        (workdir / "b", tap_config(sim, **{**STORM_SETTINGS, "page_size": 17}), settings),
    )
    assert_equal_to_one_clean_run(runs, sim, settings, second_db, workdir)


@pytest.mark.long
def test_two_queues_at_once_equal_one_full_run(
    sim_factory, clickhouse_native: NativeDatabase, second_db: NativeDatabase, workdir: Path
) -> None:
    """Two pipelines split by queue, into one database, give what one pipeline over all queues gives."""
    sim: TrackerSimulator = sim_factory(issues=150, seed=32)
    queues = sorted({t.queue for t in sim.ground_truth().values()})
    half = len(queues) // 2
    assert half >= 1, queues
    settings = password_target_config(clickhouse_native, batch_size_rows=30)
    runs = _concurrently(
        (workdir / "a", tap_config(sim, **STORM_SETTINGS, queues=queues[:half]), settings),
        (workdir / "b", tap_config(sim, **STORM_SETTINGS, queues=queues[half:]), settings),
    )
    assert_equal_to_one_clean_run(runs, sim, settings, second_db, workdir)
