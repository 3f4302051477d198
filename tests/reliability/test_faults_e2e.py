"""Crashes mid-run, end to end: simulator → tap CLI → target CLI → real clickhouse-server.

Each test breaks one run, reruns from the last STATE the target emitted, and requires the database to
equal a clean run of the same data into another database (tables under FINAL, no duplicate keys), with
status timelines equal to the simulator's ground truth.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from tests.support import tables
from tests.support.clickhouse import NativeDatabase
from tests.support.configs import STORM_SETTINGS, password_target_config, tap_config
from tests.support.pipeline import Fault, PipelineResult, kill9, run_pipeline
from tests.support.truth import expected_issues, parse_utc
from tracker_simulator import TrackerSimulator


def assert_converged(
    sim: TrackerSimulator,
    db: NativeDatabase,
    clean: NativeDatabase,
    workdir: Path,
    *,
    load_clean: bool = True,
) -> None:
    """The broken-and-rerun database equals a clean run into `clean` (loaded here unless the test did it
    already, e.g. the same incremental runs without the fault), and both match the ground truth."""
    if load_clean:
        reference = run_pipeline(
            tap_config(sim, **STORM_SETTINGS),
            password_target_config(clean),
            workdir=workdir / "clean",
            label="clean run",
        )
        assert reference.ok, reference.describe()
    settings, clean_settings = password_target_config(db), password_target_config(clean)
    assert tables.duplicate_keys(settings) == dict.fromkeys(tables.DATA_KEYS, 0)
    assert tables.diff(tables.snapshot(settings), tables.snapshot(clean_settings)) == []
    assert tables.timeline_mismatches(settings, sim.ground_truth()) == []


@pytest.mark.long
def test_clean_run_matches_ground_truth(sim_factory, clickhouse_native, second_db, workdir: Path) -> None:
    sim = sim_factory(issues=120, seed=11)
    run = run_pipeline(
        tap_config(sim, **STORM_SETTINGS), password_target_config(clickhouse_native), workdir=workdir / "run"
    )
    assert run.ok, run.describe()
    assert run.last_state is not None
    assert_converged(sim, clickhouse_native, second_db, workdir)


def test_tap_killed_mid_sync_then_rerun_converges(
    sim_factory, clickhouse_native, second_db, workdir: Path
) -> None:
    """SIGKILL of the tap after 40 issue records: the target sees EOF (maybe a cut line). Whatever it
    does, a STATE it emits must be safe to resume from, and the rerun completes the data."""
    sim = sim_factory(issues=150, seed=12)
    sim.latency_ms = 2  # keep the tap busy long enough to be killed mid-sync
    settings = password_target_config(clickhouse_native, batch_size_rows=25)
    broken = run_pipeline(
        tap_config(sim, **STORM_SETTINGS),
        settings,
        workdir=workdir / "broken",
        fault=Fault(after_issue_records=40),
        label="killed tap",
    )
    assert broken.fault_fired, broken.describe()
    assert broken.tap.returncode == -9
    sim.latency_ms = 0
    rerun = run_pipeline(
        tap_config(sim, **STORM_SETTINGS),
        settings,
        workdir=workdir / "rerun",
        state=broken.last_state,
        label="rerun",
    )
    assert rerun.ok, rerun.describe()
    assert_converged(sim, clickhouse_native, second_db, workdir)


def _advanced_then_broken(
    sim: TrackerSimulator, settings: dict, clean: NativeDatabase, workdir: Path, fault: Fault
) -> tuple[PipelineResult, PipelineResult]:
    """A first run, changes in Tracker, then a second (incremental) run broken by `fault`. The same two
    runs without the fault load `clean`: an incremental run does not re-read issues whose `updatedAt` did
    not move (e.g. children of an epic that moved queue keep the epic's old key), so the fair reference
    for an incremental run is the same incremental run, unbroken."""
    first = run_pipeline(
        tap_config(sim, **STORM_SETTINGS), settings, workdir=workdir / "first", label="first run"
    )
    assert first.ok, first.describe()
    clean_first = run_pipeline(
        tap_config(sim, **STORM_SETTINGS),
        password_target_config(clean),
        workdir=workdir / "clean1",
        label="clean 1",
    )
    assert clean_first.ok, clean_first.describe()
    sim.advance(minutes=90, mutate=60, create=15)
    clean_second = run_pipeline(
        tap_config(sim, **STORM_SETTINGS),
        password_target_config(clean),
        workdir=workdir / "clean2",
        state=clean_first.last_state,
        label="clean 2",
    )
    assert clean_second.ok, clean_second.describe()
    broken = run_pipeline(
        tap_config(sim, **STORM_SETTINGS),
        settings,
        workdir=workdir / "broken",
        state=first.last_state,
        fault=fault,
    )
    assert broken.fault_fired, "the fault never fired: " + broken.describe()
    return first, broken


def _rerun_from(run_states: list, fallback: dict | None) -> dict | None:
    return run_states[-1] if run_states else fallback


def test_target_killed_mid_load_then_rerun_converges(
    sim_factory, clickhouse_native, second_db, workdir: Path
) -> None:
    """SIGKILL of the target after 4 INSERTs of an incremental run: rows of the broken run are partly
    stored, no STATE covers an issue whose rows and metrics are not; a rerun from the last STATE (its
    own, or the first run's) converges."""
    sim = sim_factory(issues=150, seed=13)
    settings = password_target_config(clickhouse_native, batch_size_rows=20)
    fault = Fault(after_inserts=4, action=lambda tap, target: kill9(target))
    first, broken = _advanced_then_broken(sim, settings, second_db, workdir, fault)
    assert broken.target.returncode == -9
    # A checkpoint may complete before the kill lands (the 4th INSERT can fall in the first one on a busy
    # machine): what must hold is that every issue a STATE covers is stored, with its metrics.
    assert tables.covered_but_not_stored(settings, broken.states, sim) == []
    state = _rerun_from(broken.states, first.last_state)
    rerun = run_pipeline(
        tap_config(sim, **STORM_SETTINGS), settings, workdir=workdir / "rerun", state=state, label="rerun"
    )
    assert rerun.ok, rerun.describe()
    assert_converged(sim, clickhouse_native, second_db, workdir, load_clean=False)


@pytest.mark.long
def test_clickhouse_stopped_mid_load_then_rerun_converges(
    sim_factory, clickhouse_native, second_db, clickhouse_server, workdir: Path
) -> None:
    """The server is stopped (SIGTERM) after 4 INSERTs and stays down: the target fails with a clear
    message and no STATE past the failure; after a restart a rerun from the last STATE converges."""
    sim = sim_factory(issues=150, seed=14)
    settings = password_target_config(clickhouse_native, batch_size_rows=20)
    fault = Fault(after_inserts=4, action=lambda tap, target: clickhouse_server.stop())
    try:
        first, broken = _advanced_then_broken(sim, settings, second_db, workdir, fault)
    finally:
        clickhouse_server.start()
    assert broken.target.returncode not in (0, None), broken.describe()
    assert "ClickHouse" in broken.target.stderr
    assert broken.states in ([], [first.last_state]), "no STATE may pass the failed load"
    state = _rerun_from(broken.states, first.last_state)
    rerun = run_pipeline(
        tap_config(sim, **STORM_SETTINGS), settings, workdir=workdir / "rerun", state=state, label="rerun"
    )
    assert rerun.ok, rerun.describe()
    assert_converged(sim, clickhouse_native, second_db, workdir, load_clean=False)


@pytest.mark.long
def test_clickhouse_killed_and_restarted_mid_load(
    sim_factory, clickhouse_native, second_db, clickhouse_server, workdir: Path
) -> None:
    """The server crashes (SIGKILL) after 4 INSERTs and is back 1 s later: the target's connection retry
    may ride it out, or the load fails cleanly; either way a rerun from the last STATE converges."""
    sim = sim_factory(issues=150, seed=15)
    settings = password_target_config(clickhouse_native, batch_size_rows=20)

    def crash_and_restart(tap, target) -> None:
        clickhouse_server.kill()
        threading.Timer(1.0, clickhouse_server.start).start()

    fault = Fault(after_inserts=4, action=crash_and_restart)
    try:
        first, broken = _advanced_then_broken(sim, settings, second_db, workdir, fault)
    finally:
        deadline = time.monotonic() + 60
        while not clickhouse_server.is_running and time.monotonic() < deadline:
            time.sleep(0.2)
        clickhouse_server.start()
    if broken.target.returncode != 0:
        assert broken.states == [], "no STATE may pass the failed load"
    state = _rerun_from(broken.states, first.last_state)
    rerun = run_pipeline(
        tap_config(sim, **STORM_SETTINGS), settings, workdir=workdir / "rerun", state=state, label="rerun"
    )
    assert rerun.ok, rerun.describe()
    assert_converged(sim, clickhouse_native, second_db, workdir, load_clean=False)


def test_the_state_check_finds_what_a_state_vouches_for_but_is_missing(
    sim_factory, clickhouse_native, workdir: Path
) -> None:
    """`tables.covered_but_not_stored`, which the fault tests rely on: silent after a clean run, loud for a
    STATE that vouches for issues that were never loaded, quiet again for those it holds as set aside."""
    sim = sim_factory(issues=40, seed=15)
    settings = password_target_config(clickhouse_native)
    run = run_pipeline(tap_config(sim), settings, workdir=workdir / "clean")
    assert run.ok, run.describe()
    assert run.states
    assert tables.covered_but_not_stored(settings, run.states, sim) == []
    sim.advance(minutes=60, mutate=4, create=3)  # changes that were never loaded
    far = {"bookmarks": {"issues": {"replication_key_value": "2099-01-01T00:00:00.000Z"}}}
    problems = tables.covered_but_not_stored(settings, [far], sim)
    assert sum("stored updated_at None" in problem for problem in problems) == 3
    assert sum("stored updated_at 20" in problem for problem in problems) == 4
    assert any("changelog entries of covered issues not stored" in problem for problem in problems)
    rows = tables.query(settings, "SELECT issue_id, updated_at FROM issues FINAL")
    loaded = {row["issue_id"]: row["updated_at"] for row in rows}
    changed = {  # to the second, as 18.16 stores it
        i
        for i, at in expected_issues(sim.org).items()
        if loaded.get(i) != parse_utc(at).replace(microsecond=0)
    }
    assert len(changed) == 7
    far["bookmarks"]["issues"]["set_aside"] = {issue_id: {} for issue_id in changed}
    assert tables.covered_but_not_stored(settings, [far], sim) == []
