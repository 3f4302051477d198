"""The target's one rule, checked step by step: a STATE is written only after the rows before it are in
ClickHouse, the metrics of their issues are rebuilt and (with `store_state`) the STATE is stored.

Each step is made to fail for real: the server itself refuses the INSERT of that step (a column
`MATERIALIZED throwIf(...)` added to the step's table, which no INSERT can fill). The target must then exit
with an error and write no STATE; what the earlier steps wrote stays (it is idempotent to load again).
"""

from __future__ import annotations

from typing import Any

import pytest

from target_clickhouse_agile.clickhouse.migrations import apply_migrations
from tests.support.clickhouse import NativeDatabase
from tests.support.singer import STATUSES, entry, issue, record, ref, run_target, schema_message, state

ISSUE = "65e570000000000000000c01"
OPEN, WORKING = ref("open"), ref("inProgress")
BOOKMARK = {"bookmarks": {"issues": {"replication_key_value": "2024-03-05T08:00:00.000Z"}}}


def messages() -> list[dict[str, Any]]:
    changelog = [
        entry("c1", ISSUE, "DEV-9", "2024-03-04T07:00:00.000Z", "IssueCreated", ("status", None, OPEN)),
        entry("c2", ISSUE, "DEV-9", "2024-03-04T09:00:00.000Z", "IssueWorkflow", ("status", OPEN, WORKING)),
    ]
    return [
        schema_message("statuses"),
        *(record("statuses", s) for s in STATUSES),
        schema_message("issue_changelog"),
        *(record("issue_changelog", e) for e in changelog),
        schema_message("issues"),
        record(
            "issues",
            issue(ISSUE, "DEV-9", "inProgress", "2024-03-04T07:00:00.000Z", "2024-03-05T08:00:00.000Z"),
        ),
        state(BOOKMARK),
    ]


def _break(db: NativeDatabase, table: str) -> None:
    """Make every INSERT into `table` fail on the server."""
    apply_migrations(db.conn)
    db.conn.execute(f"ALTER TABLE {table} ADD COLUMN boom UInt8 MATERIALIZED throwIf(_version >= 0)")


def _count(db: NativeDatabase, table: str) -> int:
    return int(db.conn.query(f"SELECT count() AS n FROM {table}")[0]["n"])


def test_everything_in_place_the_state_comes_last(clickhouse_native: NativeDatabase) -> None:
    settings = {**clickhouse_native.settings, "store_state": True}
    assert run_target(settings, messages()) == [BOOKMARK]
    for table in ("issues", "issue_changelog", "issue_status_intervals", "issue_flow", "target_state"):
        assert _count(clickhouse_native, table) > 0, table


def test_rows_not_inserted_no_state(clickhouse_native: NativeDatabase) -> None:
    _break(clickhouse_native, "issue_changelog")
    with pytest.raises(Exception, match=r"throwIf|boom") as failed:
        run_target(clickhouse_native.settings, messages())
    assert failed.value.states == []  # type: ignore[attr-defined]
    assert _count(clickhouse_native, "issue_changelog") == 0


def test_metrics_not_rebuilt_no_state(clickhouse_native: NativeDatabase) -> None:
    _break(clickhouse_native, "issue_status_intervals")
    with pytest.raises(Exception, match=r"throwIf|boom") as failed:
        run_target(clickhouse_native.settings, messages())
    assert failed.value.states == []  # type: ignore[attr-defined]
    assert _count(clickhouse_native, "issue_changelog") == 2, "the rows are durable, only the metrics failed"
    assert _count(clickhouse_native, "issue_status_intervals") == 0


def test_state_not_stored_no_state(clickhouse_native: NativeDatabase) -> None:
    _break(clickhouse_native, "target_state")
    settings = {**clickhouse_native.settings, "store_state": True}
    with pytest.raises(Exception, match=r"throwIf|boom") as failed:
        run_target(settings, messages())
    assert failed.value.states == []  # type: ignore[attr-defined]
    assert _count(clickhouse_native, "issue_flow") == 1, "rows and metrics are durable, only the STATE failed"
