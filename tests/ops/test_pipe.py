"""`tap-yandex-tracker --config tap.json | target-clickhouse-agile --config target.json`, exactly as the
README's "Runs without Meltano" shows it: a shell pipeline, twice, the second run from the first's STATE."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.configs import tap_config, write_json
from tests.support.pipeline import BIN
from tests.support.simulators import CHANGELOG_ROUTE
from tests.support.tables import count
from tests.support.truth import bookmark_value
from tracker_simulator import TrackerSimulator

PIPELINE = """set -euo pipefail
state_args=()
if [ -s state.json ]; then state_args=(--state state.json); fi
"$BIN/tap-yandex-tracker" --config tap.json "${state_args[@]}" \\
  | "$BIN/target-clickhouse-agile" --config target.json > states.jsonl
tail -1 states.jsonl > state.json
"""


def _run_pipeline(workdir: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["bash", "-c", PIPELINE],
        cwd=workdir,
        env={"BIN": str(BIN), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((workdir / "state.json").read_text())


@pytest.fixture(params=["server", "chdb"])
def target_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "chdb":
        return request.getfixturevalue("chdb_settings")
    return request.getfixturevalue("clickhouse_native").settings


def test_shell_pipeline_full_then_incremental(
    fresh_sim: TrackerSimulator, target_settings: dict[str, Any], tmp_path: Path
) -> None:
    write_json(tmp_path / "tap.json", tap_config(fresh_sim))
    write_json(tmp_path / "target.json", target_settings)
    issues = len(fresh_sim.ground_truth())

    first = _run_pipeline(tmp_path)
    assert fresh_sim.stats.count(CHANGELOG_ROUTE) >= issues
    assert count(target_settings, "issues") == issues
    assert count(target_settings, "issue_flow") == issues
    assert bookmark_value(first) is not None

    changed = fresh_sim.advance(minutes=60, mutate=7, create=3)
    fresh_sim.reset_stats()
    second = _run_pipeline(tmp_path)
    # Incremental: only the changed issues (and the few inside the look-back window) are read again.
    changelog_requests = fresh_sim.stats.count(CHANGELOG_ROUTE)
    assert len(set(changed)) <= changelog_requests < issues // 2
    assert bookmark_value(second) > bookmark_value(first)
    assert count(target_settings, "issues") == issues + 3
    assert count(target_settings, "issue_flow") == issues + 3
