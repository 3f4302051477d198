"""The metrics test case DEV-1 (see tests/target/test_target_metrics.py for its hand-computed values), copies
of it under other issue ids, and what the tests read back: the derived rows, when they were written, and
stale rows planted for a recomputation to retire."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import pairwise
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import repository
from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.connection import connect
from tests.support.singer import STATUSES, entry, issue, record, ref, schema_message, state
from tests.support.tables import query

ISSUE_ID = "65e5700000000000000000a1"


def dev1_messages(
    *, with_state: dict[str, Any] | None = None, issue_id: str = ISSUE_ID, key: str = "DEV-1"
) -> list[dict[str, Any]]:
    """DEV-1's messages; `issue_id` and `key` give another issue with the same history (its changelog
    entries get ids of their own: Tracker's are unique, and the target keeps one row per entry id)."""
    prefix = "" if issue_id == ISSUE_ID else f"{key}-"
    changelog = [
        entry(
            f"{prefix}e1",
            issue_id,
            key,
            "2024-03-04T07:00:00.000Z",
            "IssueCreated",
            ("status", None, ref("open")),
        ),
        entry(
            f"{prefix}e2",
            issue_id,
            key,
            "2024-03-04T12:30:15.501Z",
            "IssueWorkflow",
            ("status", ref("open"), ref("inProgress")),
            ("statusStartTime", "2024-03-04T07:00:00.000+0000", "2024-03-04T12:30:15.500+0000"),
        ),
        entry(
            f"{prefix}e3", issue_id, key, "2024-03-04T13:00:00.000Z", "IssueUpdated", ("tags", None, ["x"])
        ),
        entry(
            f"{prefix}e4",
            issue_id,
            key,
            "2024-03-05T08:00:00.250Z",
            "IssueWorkflow",
            ("resolution", None, ref("fixed")),
            ("status", ref("inProgress"), ref("resolved")),
        ),
    ]
    messages: list[dict[str, Any]] = [schema_message("statuses")]
    messages += [record("statuses", s) for s in STATUSES]
    messages.append(schema_message("issue_changelog"))
    messages += [record("issue_changelog", e) for e in changelog]
    messages.append(schema_message("issues"))
    messages.append(
        record(
            "issues",
            issue(
                issue_id,
                key,
                "resolved",
                "2024-03-04T07:00:00.000Z",
                "2024-03-05T08:00:00.250Z",
                resolution=ref("fixed"),
                resolvedAt="2024-03-05T08:00:00.250Z",
                tags=["x"],
            ),
        )
    )
    messages.append(state(with_state or {"bookmarks": {"issues": {"replication_key_value": "x"}}}))
    return messages


#: The issues of `three_issues`, DEV-1 to DEV-3.
THREE_ISSUE_IDS = tuple(f"65e5700000000000000000b{n}" for n in (1, 2, 3))

#: `DELETE_STATEMENT_BYTES` that puts two of `add_five_ghosts`' keys in a statement: ~70 bytes of
#: `ALTER TABLE issue_status_intervals DELETE WHERE (issue_id, seq) IN (` and 33 a key.
TWO_KEYS_A_STATEMENT = 140


def three_issues() -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for n, issue_id in enumerate(THREE_ISSUE_IDS, start=1):
        messages += dev1_messages(issue_id=issue_id, key=f"DEV-{n}")
    return messages


DERIVED_VIEWS = {
    "issue_status_intervals_view": "issue_id, seq",
    "issue_metrics_view": "issue_id, status",
    "issue_flow_view": "issue_id",
}


def derived_rows(settings: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every live derived row, without the columns that record when it was written."""
    return {
        view: [
            {k: v for k, v in row.items() if k not in ("_version", "_loaded_at")}
            for row in query(settings, f"SELECT * FROM {view} ORDER BY {order}")
        ]
        for view, order in DERIVED_VIEWS.items()
    }


def oldest_version(settings: dict[str, Any]) -> int:
    """The `_version` of the live derived row written first: when every row was last rewritten."""
    return min(
        row["v"]
        for view in DERIVED_VIEWS
        for row in query(settings, f"SELECT min(_version) AS v FROM {view}")
    )


def add_ghosts(settings: dict[str, Any], issue_id: str, seqs: list[int]) -> None:
    """Stale visits of `issue_id` (e.g. left behind by an older version of the metrics)."""
    with connect(settings) as conn:
        conn.insert(
            "issue_status_intervals",
            ["issue_id", "seq", "status", "entered_at", "_version"],
            [(issue_id, seq, "ghost", datetime(2024, 3, 6, tzinfo=timezone.utc), 1) for seq in seqs],
        )


#: How many stale visits `add_ghosts` planted are still in `{table}` (no FINAL: the rows themselves).
GHOSTS = "SELECT count() AS n FROM {table} WHERE status = 'ghost'"


def add_five_ghosts(settings: dict[str, Any]) -> None:
    """Five stale visits over two of `three_issues`: seq 4-6 of DEV-1 and 4-5 of DEV-2."""
    add_ghosts(settings, THREE_ISSUE_IDS[0], [4, 5, 6])
    add_ghosts(settings, THREE_ISSUE_IDS[1], [4, 5])


@dataclass(frozen=True)
class MutationWait:
    """One server's wait for the deletions of a table: the ids it had to go beyond, the ids it listed."""

    server: str
    listed_before: frozenset[str] | None
    listed: frozenset[str]


def record_mutation_waits(monkeypatch: pytest.MonkeyPatch) -> list[MutationWait]:
    """Every wait for deletions from now on, in order (they still wait)."""
    waits: list[MutationWait] = []
    real_wait = repository._wait_until_done

    def recorded(conn: Connection, table: str, listed_before: frozenset[str] | None, timeout_s: float) -> Any:
        listed = real_wait(conn, table, listed_before, timeout_s)
        waits.append(MutationWait(conn.address, listed_before, listed))
        return listed

    monkeypatch.setattr(repository, "_wait_until_done", recorded)
    return waits


def assert_each_deletion_waited_for(waits: list[MutationWait], servers: int, deletions: int) -> None:
    """Each of `servers` waited once before the first deletion and once after each, every time for exactly
    one id it had not listed at its wait before."""
    assert len({wait.server for wait in waits}) == servers
    for server in {wait.server for wait in waits}:
        mine = [wait for wait in waits if wait.server == server]
        assert len(mine) == 1 + deletions, server
        assert mine[0].listed_before is None
        for before, after in pairwise(mine):
            assert after.listed_before == before.listed
            assert len(after.listed - before.listed) == 1
