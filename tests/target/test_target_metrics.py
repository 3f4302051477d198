"""The target against both real engines: rows land, metrics are rebuilt from stored history, idempotently.

Hand-computed case (issue DEV-1, Europe/Moscow = UTC+3, working hours 09:00-18:00, RU calendar):
  created  Mon 2024-03-04 07:00:00.000Z (10:00 MSK) in `open`
  → inProgress Mon 12:30:15.500Z (15:30:15.5 MSK)   (statusStartTime.to; the entry's updatedAt is 1 ms later)
  → resolved   Tue 2024-03-05 08:00:00.250Z (11:00:00.25 MSK)
  open:        19815.5 s elapsed → 19815; all inside working hours → business 19815
  inProgress:  19 h 29 min 44.75 s = 70184.75 → 70184;
               business Mon 15:30:15.5→18:00 (8984.5) + Tue 09:00→11:00:00.25 (7200.25) = 16184.75 → 16184
  resolved:    current visit, durations NULL
  lead  = 25 h 0.25 s → 90000; business lead Mon 10:00→18:00 (28800) + Tue 09:00→11:00:00.25 → 36000
  cycle = 70184; business cycle 16184
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile import recompute
from target_clickhouse_agile.clickhouse import MetricsRepository, repository
from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.connection import connect
from target_clickhouse_agile.clickhouse.identifiers import quote_literal
from tests.support.metrics_case import (
    ISSUE_ID,
    THREE_ISSUE_IDS,
    TWO_KEYS_A_STATEMENT,
    add_five_ghosts,
    add_ghosts,
    assert_each_deletion_waited_for,
    derived_rows,
    dev1_messages,
    oldest_version,
    record_mutation_waits,
    three_issues,
)
from tests.support.singer import ref, run_target, state
from tests.support.tables import query


@pytest.fixture(params=["server-18.16", "chdb"])
def target_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "chdb":
        return request.getfixturevalue("chdb_settings")
    return request.getfixturevalue("clickhouse_native").settings


def test_metrics_match_hand_computed_values(target_settings: dict[str, Any]) -> None:
    states = run_target(target_settings, dev1_messages())
    assert states == [{"bookmarks": {"issues": {"replication_key_value": "x"}}}]

    intervals = query(
        target_settings,
        "SELECT seq, status, status_category, duration_s, business_duration_s, is_current "
        "FROM issue_status_intervals FINAL WHERE _is_deleted = 0 ORDER BY seq",
    )
    assert [(r["seq"], r["status"], r["status_category"]) for r in intervals] == [
        (1, "open", "todo"),
        (2, "inProgress", "active"),
        (3, "resolved", "done"),
    ]
    assert [(r["duration_s"], r["business_duration_s"], r["is_current"]) for r in intervals] == [
        (19815, 19815, 0),
        (70184, 16184, 0),
        (None, None, 1),
    ]
    (flow,) = query(target_settings, "SELECT * FROM issue_flow_view")
    assert (flow["lead_time_s"], flow["cycle_time_s"]) == (90000, 70184)
    assert (flow["business_lead_time_s"], flow["business_cycle_time_s"]) == (36000, 16184)
    assert flow["reopen_count"] == 0
    (row,) = query(target_settings, "SELECT status, status_category, is_closed, tags FROM issues FINAL")
    assert (row["status"], row["status_category"], row["is_closed"], row["tags"]) == (
        "resolved",
        "done",
        1,
        ["x"],
    )
    changelog = query(
        target_settings,
        "SELECT event_id, field_id, to_value FROM issue_changelog FINAL ORDER BY event_id, field_id",
    )
    assert [(r["event_id"], r["field_id"], r["to_value"]) for r in changelog] == [
        ("e1", "status", "open"),
        ("e2", "status", "inProgress"),
        ("e2", "statusStartTime", "2024-03-04T12:30:15.500+0000"),
        ("e3", "tags", '["x"]'),
        ("e4", "resolution", "fixed"),
        ("e4", "status", "resolved"),
    ]


def test_an_issue_in_another_status_than_its_history_ends_in_is_trusted_from_its_status_start_time(
    target_settings: dict[str, Any],
) -> None:
    """DEV-1's changelog ends in `resolved`, its issue record (read later) says `closed` since Wednesday 10:00
    UTC, a change the changelog did not have yet: the current status is the issue's, entered at its
    `statusStartTime`, and `resolved` lasted until then. (The history kept alone reported `resolved`.)"""
    messages = dev1_messages()
    (issue_record,) = [m for m in messages if m["type"] == "RECORD" and m["stream"] == "issues"]
    issue_record["record"].update(
        status=ref("closed"), statusStartTime="2024-03-06T10:00:00.000Z", updatedAt="2024-03-06T10:00:00.000Z"
    )
    run_target(target_settings, messages)
    intervals = query(
        target_settings,
        "SELECT seq, status, duration_s, is_current FROM issue_status_intervals FINAL "
        "WHERE _is_deleted = 0 ORDER BY seq",
    )
    resolved_until_wednesday = 26 * 3600 - 0.25  # Tue 08:00:00.250 -> Wed 10:00:00.000
    assert [(r["seq"], r["status"], r["duration_s"], r["is_current"]) for r in intervals] == [
        (1, "open", 19815, 0),
        (2, "inProgress", 70184, 0),
        (3, "resolved", int(resolved_until_wednesday), 0),
        (4, "closed", None, 1),
    ]
    (flow,) = query(target_settings, "SELECT current_status, current_status_since FROM issue_flow FINAL")
    assert flow["current_status"] == "closed"
    assert flow["current_status_since"].isoformat() == "2024-03-06T10:00:00+00:00"


TABLE_COUNTS = (
    "SELECT (SELECT count() FROM issues FINAL) AS issues, "
    "(SELECT count() FROM issue_changelog FINAL) AS changelog, "
    "(SELECT count() FROM issue_status_intervals FINAL WHERE _is_deleted = 0) AS intervals, "
    "(SELECT count() FROM issue_metrics FINAL WHERE _is_deleted = 0) AS metrics, "
    "(SELECT count() FROM issue_flow FINAL WHERE _is_deleted = 0) AS flow, "
    "(SELECT count() FROM statuses FINAL) AS statuses"
)


def test_replay_and_tiny_batches_change_nothing(target_settings: dict[str, Any]) -> None:
    run_target(target_settings, dev1_messages())
    first = query(target_settings, TABLE_COUNTS)
    durations = "SELECT seq, duration_s FROM issue_status_intervals FINAL WHERE _is_deleted = 0 ORDER BY seq"
    first_durations = query(target_settings, durations)
    # Batches of one record split the issue's changelog across many INSERTs and drains.
    run_target({**target_settings, "batch_size_rows": 1}, dev1_messages())
    assert query(target_settings, TABLE_COUNTS) == first
    assert query(target_settings, durations) == first_durations
    assert first == [{"issues": 1, "changelog": 6, "intervals": 3, "metrics": 3, "flow": 1, "statuses": 5}]


def test_rows_that_a_recomputation_no_longer_yields_are_retired(target_settings: dict[str, Any]) -> None:
    run_target(target_settings, dev1_messages())
    add_ghosts(target_settings, ISSUE_ID, [4])  # seq 4 does not exist
    run_target(target_settings, dev1_messages())
    rows = query(
        target_settings,
        "SELECT seq FROM issue_status_intervals_view ORDER BY seq",
    )
    assert [r["seq"] for r in rows] == [1, 2, 3]


@pytest.mark.parametrize(
    ("chunk", "write_rows", "writes"),
    # (1, 15, 6): the first chunk's 7 rows and 1 retired key, then 7 more reach 15: written, then the last.
    [(1, 20_000, 3), (2, 20_000, 3), (1, 1, 9), (1, 10, 6), (1, 15, 6)],
)
def test_a_metrics_step_split_anywhere_writes_the_same_rows(
    target_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch, chunk: int, write_rows: int, writes: int
) -> None:
    """A step reads histories `CHUNK` issues at a time and writes each derived table once, unless its
    pending rows reach `WRITE_ROWS` first: wherever it splits, every issue's rows are written again and
    the same, and a stale row of an issue in the first chunk is retired."""
    run_target(target_settings, three_issues())
    expected = derived_rows(target_settings)
    assert [len(rows) for rows in expected.values()] == [9, 9, 3]
    add_ghosts(target_settings, THREE_ISSUE_IDS[0], [4])
    monkeypatch.setattr(recompute, "CHUNK", chunk)
    monkeypatch.setattr(recompute, "WRITE_ROWS", write_rows)
    written: list[str] = []
    real_write = MetricsRepository.write

    def counted_write(repo: MetricsRepository, table: str, rows: Any, retired: Any) -> None:
        written.append(table)
        real_write(repo, table, rows, retired)

    monkeypatch.setattr(MetricsRepository, "write", counted_write)
    before = time.time_ns()
    run_target(target_settings, three_issues())
    assert derived_rows(target_settings) == expected
    assert oldest_version(target_settings) > before  # no issue kept rows of the first run
    assert len(written) == writes


def test_many_retired_keys_are_deleted_in_statements_of_bounded_size(
    target_settings: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On servers without `_is_deleted` retired keys are deleted by `ALTER ... DELETE` statements of
    bounded size, each started only when no deletion runs and waited for (listed, then done) before the
    next; with `_is_deleted` they get tombstones. Either way every stale row goes."""
    run_target(target_settings, three_issues())
    expected = derived_rows(target_settings)
    add_five_ghosts(target_settings)
    monkeypatch.setattr(repository, "DELETE_STATEMENT_BYTES", TWO_KEYS_A_STATEMENT)  # 3 statements for 5
    deletions: list[str] = []
    real_execute_ddl = Connection.execute_ddl

    def logged_execute_ddl(conn: Connection, sql: str) -> None:
        if "DELETE WHERE" in sql:
            deletions.append(sql)
        real_execute_ddl(conn, sql)

    monkeypatch.setattr(Connection, "execute_ddl", logged_execute_ddl)
    waits = record_mutation_waits(monkeypatch)
    run_target(target_settings, three_issues())
    assert derived_rows(target_settings) == expected
    with connect(target_settings) as conn:
        by_mutation = not conn.dialect.supports_is_deleted
    assert len(deletions) == (3 if by_mutation else 0)
    if by_mutation:  # a wait before the first deletion, and one after each for the id it created
        assert_each_deletion_waited_for(waits, servers=1, deletions=3)
    else:
        assert waits == []


def test_a_wait_for_a_deletion_lasts_until_the_server_lists_it(clickhouse_native: Any) -> None:
    """A replica lists a replicated mutation only once it has read it from ZooKeeper, which can be after
    the ALTER has returned: a wait that only counted pending mutations could end before the deletion had
    begun, and the next deletion start beside it. Given the ids listed before, the wait lasts until the
    server lists a new one, done."""
    settings = clickhouse_native.settings
    run_target(settings, three_issues())
    failed: list[BaseException] = []

    def delete_later() -> None:
        try:
            time.sleep(0.5)
            with connect(settings) as other:
                other.execute(
                    f"ALTER TABLE issue_flow DELETE WHERE issue_id = {quote_literal(THREE_ISSUE_IDS[0])}"
                )
        except BaseException as error:  # re-raised below, so a failed ALTER is not taken for a slow server
            failed.append(error)

    with connect(settings) as conn:
        before = repository._wait_until_done(conn, "issue_flow", None, 5.0)
        with pytest.raises(TimeoutError, match="did not list its deletion of retired rows of issue_flow"):
            repository._wait_until_done(conn, "issue_flow", before, 0.3)
        deleting = threading.Thread(target=delete_later)
        deleting.start()
        try:
            after = repository._wait_until_done(conn, "issue_flow", before, 10.0)
        finally:
            deleting.join()
    assert failed == []
    assert len(after - before) == 1
    assert THREE_ISSUE_IDS[0] not in {
        row["issue_id"] for row in query(settings, "SELECT issue_id FROM issue_flow")
    }


def test_state_is_not_written_when_a_record_cannot_be_loaded(target_settings: dict[str, Any]) -> None:
    """A STATE received *before* the broken record is not written either: it would claim records that
    are not durable yet (the batch they are in never reaches ClickHouse)."""
    messages = dev1_messages()
    position, broken = next(
        (n, m) for n, m in enumerate(messages) if m.get("stream") == "issues" and m["type"] == "RECORD"
    )
    del broken["record"]["createdAt"]
    messages.insert(position, state({"bookmarks": {"issues": {"replication_key_value": "2024-03-01"}}}))
    with pytest.raises(Exception, match="createdAt") as failed:
        run_target(target_settings, messages)
    assert failed.value.states == []  # type: ignore[attr-defined]


def test_a_failed_in_process_run_releases_embedded_clickhouse(
    chdb_settings: dict[str, Any], tmp_path: Path
) -> None:
    """chdb serves one data directory per process: a failed run must not keep its directory open, or an
    in-process caller (the serverless handler) could never open another one."""
    messages = dev1_messages()
    broken = next(m for m in messages if m.get("stream") == "issues" and m["type"] == "RECORD")
    del broken["record"]["createdAt"]
    with pytest.raises(Exception, match="createdAt"):
        run_target(chdb_settings, messages)
    other = {**chdb_settings, "embedded_path": str(tmp_path / "another")}
    assert run_target(other, dev1_messages()) == [{"bookmarks": {"issues": {"replication_key_value": "x"}}}]
