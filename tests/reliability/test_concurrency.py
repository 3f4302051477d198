"""Two pipelines writing the same database at the same time do not corrupt each other's results."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from tests.clickhouse_fixtures import NativeDatabase
from tests.reliability import tables
from tests.reliability.conftest import tap_config, target_config
from tests.reliability.pipeline import PipelineRun, run_pipeline
from tests.simulator import TrackerSimulator


def _concurrently(*jobs: tuple[Path, dict[str, Any], dict[str, Any]]) -> list[PipelineRun]:
    results: list[PipelineRun | None] = [None] * len(jobs)

    def run(i: int) -> None:
        workdir, tap, target = jobs[i]
        results[i] = run_pipeline(workdir, tap, target, label=f"pipeline {i}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=400)
    assert all(r is not None for r in results), "a pipeline did not finish"
    return [r for r in results if r is not None]


def test_same_data_twice_at_once_equals_one_run(
    sim_factory, clickhouse_native: NativeDatabase, second_db: NativeDatabase, workdir: Path
) -> None:
    """Both targets start on an empty database (migrations race too) and load the same issues."""
    sim: TrackerSimulator = sim_factory(issues=120, seed=31)
    settings = target_config(clickhouse_native, batch_size_rows=30)
    runs = _concurrently(
        (workdir / "a", tap_config(sim), settings), (workdir / "b", tap_config(sim, page_size=17), settings)
    )
    for run in runs:
        assert run.ok, run.explain()
    clean = run_pipeline(workdir / "clean", tap_config(sim), target_config(second_db), label="clean")
    assert clean.ok, clean.explain()
    assert tables.duplicate_keys(settings) == dict.fromkeys(tables.KEYS, 0)
    assert tables.diff(tables.snapshot(settings), tables.snapshot(target_config(second_db))) == []
    assert tables.timeline_mismatches(settings, sim.ground_truth()) == []


@pytest.mark.long
def test_two_queues_at_once_equal_one_full_run(
    sim_factory, clickhouse_native: NativeDatabase, second_db: NativeDatabase, workdir: Path
) -> None:
    """Two pipelines split by queue, into one database, give what one pipeline over all queues gives."""
    sim: TrackerSimulator = sim_factory(issues=150, seed=32)
    queues = sorted({t.queue for t in sim.ground_truth().values()})
    half = len(queues) // 2
    assert half >= 1, queues
    settings = target_config(clickhouse_native, batch_size_rows=30)
    runs = _concurrently(
        (workdir / "a", tap_config(sim, queues=queues[:half]), settings),
        (workdir / "b", tap_config(sim, queues=queues[half:]), settings),
    )
    for run in runs:
        assert run.ok, run.explain()
    clean = run_pipeline(workdir / "clean", tap_config(sim), target_config(second_db), label="clean")
    assert clean.ok, clean.explain()
    assert tables.duplicate_keys(settings) == dict.fromkeys(tables.KEYS, 0)
    assert tables.diff(tables.snapshot(settings), tables.snapshot(target_config(second_db))) == []
    assert tables.timeline_mismatches(settings, sim.ground_truth()) == []
