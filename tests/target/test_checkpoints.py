"""Checkpoints that fall between an issue's changelog and its issue record (the tap emits the changelog
first): the metrics step must skip the issue until its record arrives, not fail the load."""

from __future__ import annotations

from typing import Any

import pytest

from target_clickhouse_agile import target as target_module
from tests.support.clickhouse import NativeDatabase
from tests.support.singer import record, run_target, schema_message, state
from tests.target.test_target_metrics import ISSUE_ID, dev1_messages, query, target_settings  # noqa: F401


def test_changelog_without_its_issue_yet_checkpoints(target_settings: dict[str, Any]) -> None:  # noqa: F811
    messages = dev1_messages()
    changelog_only = [m for m in messages if m.get("stream") != "issues" and m["type"] != "STATE"]
    first = run_target(target_settings, [*changelog_only, state({"step": 1})])
    assert first == [{"step": 1}]
    assert query(target_settings, "SELECT count() AS n FROM issue_flow")[0]["n"] == 0

    issue_record = next(m for m in messages if m.get("stream") == "issues" and m["type"] == "RECORD")
    run_target(target_settings, [schema_message("issues"), record("issues", issue_record["record"])])
    rows = query(target_settings, "SELECT seq FROM issue_status_intervals_view ORDER BY seq")
    assert [r["seq"] for r in rows] == [1, 2, 3]


@pytest.mark.parametrize(("interval", "every_state"), [(0.0, True), (3600.0, False)])
def test_a_full_sink_makes_a_checkpoint_unless_the_last_is_recent(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, interval: float, every_state: bool
) -> None:
    """With every record filling its sink (`batch_size_rows: 1`), each one makes a checkpoint - rows,
    metrics, the STATE received before it - when the last checkpoint is `FULL_CHECKPOINT_SECONDS` old;
    within that time only the sink's rows are inserted and the STATE waits for the end."""
    monkeypatch.setattr(target_module, "FULL_CHECKPOINT_SECONDS", interval)
    messages: list[dict[str, Any]] = []
    steps = []
    for message in (m for m in dev1_messages() if m["type"] != "STATE"):
        messages.append(message)
        if message["type"] == "RECORD":
            steps.append({"step": len(steps) + 1})
            messages.append(state(steps[-1]))
    written = run_target({**clickhouse_native.settings, "batch_size_rows": 1}, messages)
    assert written == (steps if every_state else steps[-1:])
    flow = query(clickhouse_native.settings, "SELECT issue_id FROM issue_flow FINAL")
    assert [row["issue_id"] for row in flow] == [ISSUE_ID]
