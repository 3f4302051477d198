"""The ClickHouse server stops in the middle of a load.

The target must exit non-zero, must never have emitted a STATE whose bookmark covers data that is not
durably stored, and a rerun from the last STATE it did emit (after the server is back) must end with the
same tables as a clean run.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from target_clickhouse_agile.clickhouse import NO_RETRY, ClickHouseError, Connection, connect
from tests.support.clickhouse import NativeDatabase
from tests.support.configs import tap_config, target_config
from tests.support.pipeline import run_pipeline
from tests.support.simulators import SimulatorFactory
from tests.support.tables import comparable, max_stored_updated_at, read_tables, table_differences
from tests.support.truth import issues_bookmark

ISSUES_BEFORE_STOP = 60


def stop_server_after_first_rows(database: NativeDatabase) -> Callable[[subprocess.Popen[bytes]], None]:
    """A `while_running` hook: poll until the target has stored some issues and made a checkpoint that
    covers issues (its STATE is in `target_state`: with `store_state` the target saves each STATE there
    just before printing it), then stop the server and keep it down until the target exits. (Counting
    stored issues alone raced: a burst of the tap's output could be inserted before any STATE covering
    issues had reached the target.)"""

    def hook(target: subprocess.Popen[bytes]) -> None:
        with connect(database.settings, retry=NO_RETRY) as conn:
            while target.poll() is None:
                if _issue_count(conn) >= ISSUES_BEFORE_STOP and _checkpointed_issues(conn):
                    break
                time.sleep(0.05)
        database.server.stop()
        target.wait(timeout=120)

    return hook


def _checkpointed_issues(conn: Connection) -> bool:
    """Whether a STATE with an issues bookmark has been saved (0 while the table is not there yet)."""
    try:
        rows = conn.query("SELECT state FROM target_state")
    except ClickHouseError:
        return False
    return any(issues_bookmark(json.loads(row["state"])) for row in rows)


def _issue_count(conn: Connection) -> int:
    """Issues stored so far; 0 while the table is not there yet. 18.16 fails a read of system.tables that
    races a CREATE VIEW of the migrations ("Table ..._view doesn't exist"): that also counts as not yet."""
    try:
        rows = conn.query(
            "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'issues'"
        )
        if not rows[0]["n"]:
            return 0
        return conn.query("SELECT count() AS n FROM issues")[0]["n"]
    except ClickHouseError:
        return 0


def test_server_stopped_mid_load_then_rerun_from_last_state(
    sim_factory: SimulatorFactory, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    sim = sim_factory(issues=300, seed=31, latency_ms=30)  # a load of ~5 s: the stop lands inside it
    settings = target_config(
        clickhouse_native.settings, checkpoint_seconds=0.2, batch_size_rows=50, store_state=True
    )
    tap = tap_config(sim, page_size=20, max_concurrent_requests=2)
    failed = run_pipeline(
        tap,
        settings,
        workdir=tmp_path / "failed",
        while_running=stop_server_after_first_rows(clickhouse_native),
    )
    clickhouse_native.server.start()

    assert failed.target.returncode == 1, failed.target.describe()
    assert "Traceback" not in failed.target.stderr
    assert "ClickHouse" in failed.target.error_lines[-1]
    assert any(issues_bookmark(s) for s in failed.states), "no checkpoint covered issues before the stop"
    stored_max = max_stored_updated_at(clickhouse_native.settings)
    assert stored_max is not None
    for state in failed.states:
        bookmark = issues_bookmark(state)
        assert bookmark is None or bookmark <= stored_max, (bookmark, stored_max)
    assert len(read_tables(clickhouse_native.settings)["issues"]) < 300, "the load should have been cut short"

    # Rerun from the last STATE that was emitted, then compare with a clean run into another database.
    tap_fast = tap_config(sim)
    run_pipeline(
        tap_fast,
        target_config(clickhouse_native.settings),
        workdir=tmp_path / "rerun",
        state=failed.last_state,
    ).check()
    clean = {**clickhouse_native.settings, "database": clickhouse_native.database + "_clean"}
    try:
        run_pipeline(tap_fast, target_config(clean), workdir=tmp_path / "clean").check()
        resumed = read_tables(clickhouse_native.settings)
        assert len(resumed["issues"]) == 300
        assert table_differences(comparable(resumed), comparable(read_tables(clean))) == []
    finally:
        clickhouse_native.conn.execute(f"DROP DATABASE IF EXISTS {clean['database']}")
