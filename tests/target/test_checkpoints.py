"""Checkpoints that fall between an issue's changelog and its issue record (the tap emits the changelog
first): the metrics step must skip the issue until its record arrives, not fail the load."""

from __future__ import annotations

from typing import Any

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
