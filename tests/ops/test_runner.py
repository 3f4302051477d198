"""`agile-pipeline` (subprocess mode) and `run_in_process`: the STATE comes from ClickHouse, not a file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from target_clickhouse_agile.clickhouse.state_store import load_state
from target_clickhouse_agile.runner import run_in_process
from tests.support.clickhouse import NativeDatabase
from tests.support.configs import tap_config, write_json
from tests.support.pipeline import BIN
from tests.support.simulators import CHANGELOG_ROUTE
from tests.support.tables import count
from tests.support.truth import bookmark_value
from tracker_simulator import TrackerSimulator


def _run(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(BIN / "agile-pipeline"),
            "--tap-config",
            str(tmp_path / "tap.json"),
            "--target-config",
            str(tmp_path / "target.json"),
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _cli(tmp_path: Path, *extra: str) -> dict[str, Any]:
    result = _run(tmp_path, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_cli_resumes_from_the_state_in_clickhouse(
    fresh_sim: TrackerSimulator, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    settings = clickhouse_native.settings
    write_json(tmp_path / "tap.json", tap_config(fresh_sim))
    write_json(tmp_path / "target.json", {**settings, "state_id": "cron"})
    issues = len(fresh_sim.ground_truth())

    first = _cli(tmp_path)
    assert first["completed"]
    assert not first["incremental"]
    stored = load_state(clickhouse_native.conn, "cron")
    assert stored == first["state"]
    assert count(settings, "issues") == issues

    changed = fresh_sim.advance(minutes=30, mutate=5, create=2)
    fresh_sim.reset_stats()
    second = _cli(tmp_path)
    assert second["incremental"]
    assert len(set(changed)) <= fresh_sim.stats.count(CHANGELOG_ROUTE) < issues // 2
    assert bookmark_value(second["state"]) > bookmark_value(first["state"])
    assert load_state(clickhouse_native.conn, "cron") == second["state"]
    assert count(settings, "issues") == issues + 2


def test_state_ids_are_independent(
    fresh_sim: TrackerSimulator, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    """Two pipelines into one database (e.g. two Tracker organisations) keep separate STATEs."""
    settings = clickhouse_native.settings
    write_json(tmp_path / "tap.json", tap_config(fresh_sim))
    write_json(tmp_path / "target.json", settings)
    first = _cli(tmp_path, "--state-id", "org-a")
    fresh_sim.reset_stats()
    other = _cli(tmp_path, "--state-id", "org-b", "--in-process")
    assert not other["incremental"], "org-b must not start from org-a's STATE"
    assert fresh_sim.stats.count(CHANGELOG_ROUTE) >= len(fresh_sim.ground_truth())
    assert load_state(clickhouse_native.conn, "org-a") == first["state"]
    assert load_state(clickhouse_native.conn, "org-b") == other["state"]


def test_a_spent_budget_checkpoints_nothing_new_and_the_next_run_finishes(
    fresh_sim: TrackerSimulator, clickhouse_native: NativeDatabase
) -> None:
    """A budget spent before the first message: the run stops cleanly, nothing is checkpointed, and the
    next run (no budget) does the whole sync."""
    settings = clickhouse_native.settings
    cut = run_in_process(tap_config(fresh_sim), settings, max_seconds=1e-9)
    assert not cut.completed
    assert cut.state is None
    assert load_state(clickhouse_native.conn, "default") is None
    done = run_in_process(tap_config(fresh_sim), settings)
    assert done.completed
    assert done.state_before is None
    assert count(settings, "issues") == len(fresh_sim.ground_truth())
    assert load_state(clickhouse_native.conn, "default") == done.state


def test_a_token_with_a_trailing_newline_runs_in_process(
    fresh_sim: TrackerSimulator, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    write_json(tmp_path / "tap.json", tap_config(fresh_sim, token="sim-token\n"))
    write_json(tmp_path / "target.json", clickhouse_native.settings)
    assert _cli(tmp_path, "--in-process")["completed"]


def test_failures_are_one_line_without_secrets(
    fresh_sim: TrackerSimulator, clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    """A wrong token (with the newline that once made `requests` print it) through both modes, and a
    settings file cut short: exit 1, one line naming the cause, no traceback, no secret in any form."""
    target = {**clickhouse_native.settings, "password": "db-secret-4711"}
    write_json(tmp_path / "target.json", target)
    write_json(tmp_path / "tap.json", tap_config(fresh_sim, token="wrong-token-4711\n"))
    for mode in ((), ("--in-process",)):
        done = _run(tmp_path, *mode)
        assert done.returncode == 1, done.stderr[-2000:]
        assert "Traceback" not in done.stderr
        last = done.stderr.strip().splitlines()[-1]
        assert last.startswith("agile-pipeline: ")
        for secret in ("wrong-token-4711", "db-secret-4711"):
            assert secret not in done.stderr + done.stdout
    (tmp_path / "tap.json").write_text('{"token": "x", "org_')
    done = _run(tmp_path)
    assert done.returncode == 1
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"agile-pipeline: --tap-config {tmp_path / 'tap.json'} is not valid JSON")
    )
