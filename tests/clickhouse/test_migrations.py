"""The bundled schema on both engines: applied as golang-migrate would record it, adapted on 18.16."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from target_clickhouse_agile.clickhouse import ClickHouseError, Connection, apply_migrations, migrations
from target_clickhouse_agile.clickhouse.embedded import EmbeddedConnection
from target_clickhouse_agile.clickhouse.lock_holder import identity_of
from target_clickhouse_agile.clickhouse.migrations import current_version, force_version, set_version
from tests.support.clickhouse import NativeDatabase

UTC = timezone.utc
ALL_VERSIONS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
SOURCE_TABLES = {
    "issues": "issue_id",
    "issue_changelog": "issue_id, event_id, field_id",
    "target_state": "state_id",
}
DERIVED_TABLES = {
    "issue_status_intervals": "issue_id, seq",
    "issue_metrics": "issue_id, status",
    "issue_flow": "issue_id",
}
REFERENCE_TABLES = [
    "statuses",
    "queues",
    "users",
    "issue_types",
    "priorities",
    "resolutions",
    "boards",
    "sprints",
]
ALL_TABLES = [*SOURCE_TABLES, *DERIVED_TABLES, *REFERENCE_TABLES]

# The public data contract (README "Data model"): required columns per table (it may grow, never shrink).
CONTRACT = {
    "issues": "issue_id issue_key queue summary type priority status status_category resolution assignee_id "
    "assignee_display author_id created_at updated_at resolved_at tags components sprints aliases parent_key "
    "epic_key story_points is_closed closed_at",
    "issue_changelog": "event_id field_id issue_id issue_key queue event_time event_type transport actor_id "
    "actor_display from_value to_value raw",
    "users": "uid login passport_uid tracker_uid cloud_uid display",
    "issue_status_intervals": "issue_id seq issue_key status status_category queue entered_at left_at "
    "duration_s business_duration_s",
    "issue_metrics": "issue_id status issue_key queue status_category visits duration_s business_duration_s "
    "first_entered_at last_entered_at is_current",
    "issue_flow": "issue_id issue_key queue created_at started_at done_at lead_time_s cycle_time_s "
    "business_lead_time_s business_cycle_time_s reopen_count",
}


def _columns(conn: Connection, table: str) -> dict[str, str]:
    rows = conn.query(
        f"SELECT name, type FROM system.columns WHERE database = '{conn.database}' AND table = '{table}'"
    )
    return {row["name"]: row["type"] for row in rows}


def _tables(conn: Connection) -> dict[str, dict[str, str]]:
    rows = conn.query(
        f"SELECT name, engine, engine_full, sorting_key FROM system.tables WHERE database = '{conn.database}'"
    )
    return {row["name"]: row for row in rows}


def test_schema_applies_with_types_adapted_to_the_engine(clickhouse_any: Connection) -> None:
    conn = clickhouse_any
    assert apply_migrations(conn) == ALL_VERSIONS
    issues = _columns(conn, "issues")
    modern = isinstance(conn, EmbeddedConnection)
    assert issues["created_at"] == ("DateTime64(3, 'UTC')" if modern else "DateTime('UTC')")
    assert issues["resolved_at"] == (
        "Nullable(DateTime64(3, 'UTC'))" if modern else "Nullable(DateTime('UTC'))"
    )
    assert issues["queue"] == ("LowCardinality(String)" if modern else "String")
    assert issues["tags"] == "Array(String)"
    tables = _tables(conn)
    for table, key in {**SOURCE_TABLES, **DERIVED_TABLES}.items():
        assert tables[table]["sorting_key"] == key, table
    for table in REFERENCE_TABLES:  # keyed as the API keys them: users by uid (they have no id)
        assert tables[table]["sorting_key"] == ("uid" if table == "users" else "id"), table
    for table in DERIVED_TABLES:
        expected = "ReplacingMergeTree(_version, _is_deleted)" if modern else "ReplacingMergeTree(_version)"
        assert tables[table]["engine_full"].startswith(expected), table
    for table in ALL_TABLES:
        assert tables[table]["engine"] == "ReplacingMergeTree", table
        assert tables[f"{table}_view"]["engine"] == "View", table


def test_tables_carry_the_contract_and_bookkeeping_columns(clickhouse_any: Connection) -> None:
    apply_migrations(clickhouse_any)
    for table in ALL_TABLES:
        columns = _columns(clickhouse_any, table)
        missing = set(CONTRACT.get(table, "").split()) - set(columns)
        assert not missing, f"{table} lacks {missing}"
        assert columns["_version"] == "UInt64"
        assert columns["_loaded_at"].startswith("DateTime")
        assert ("_is_deleted" in columns) == (table in DERIVED_TABLES), table
        keys = clickhouse_any.query(
            f"SELECT type FROM system.columns WHERE database = '{clickhouse_any.database}' "
            f"AND table = '{table}' AND is_in_sorting_key"
        )
        assert keys, table
        assert not any(row["type"].startswith("Nullable") for row in keys), table


def test_applying_twice_is_a_no_op_and_rows_match_golang_migrate(clickhouse_any: Connection) -> None:
    before = time.time_ns()
    apply_migrations(clickhouse_any)
    assert apply_migrations(clickhouse_any) == []
    columns = _columns(clickhouse_any, "schema_migrations")
    assert columns == {"version": "Int64", "dirty": "UInt8", "sequence": "UInt64"}
    assert _tables(clickhouse_any)["schema_migrations"]["engine"] == "TinyLog"
    rows = clickhouse_any.query("SELECT version, dirty, sequence FROM schema_migrations ORDER BY sequence")
    assert [(row["version"], row["dirty"]) for row in rows] == [(v, d) for v in ALL_VERSIONS for d in (1, 0)]
    sequences = [row["sequence"] for row in rows]
    assert sequences == sorted(set(sequences))
    assert before <= sequences[0] <= sequences[-1] <= time.time_ns()
    # golang-migrate's Version(): the newest row by sequence.
    latest = clickhouse_any.query(
        "SELECT version, dirty FROM schema_migrations ORDER BY sequence DESC LIMIT 1"
    )
    assert latest == [{"version": ALL_VERSIONS[-1], "dirty": 0}]


def test_a_dirty_version_is_refused_until_forced(
    clickhouse_any: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "DIRTY_WAIT_SECONDS", 0.5)
    assert current_version(clickhouse_any) == (-1, False)  # nothing applied yet: golang-migrate's NilVersion
    apply_migrations(clickhouse_any)
    set_version(clickhouse_any, 5, dirty=True)  # as a `migrate up` that crashed inside migration 5 leaves it
    with pytest.raises(ClickHouseError) as caught:
        apply_migrations(clickhouse_any)
    message = str(caught.value)
    assert "migration 5 as dirty" in message
    assert "force 5" in message
    assert "force 4" in message
    force_version(clickhouse_any, 4)  # "run it again": every statement is IF NOT EXISTS
    assert apply_migrations(clickhouse_any) == ALL_VERSIONS[4:]
    assert current_version(clickhouse_any) == (ALL_VERSIONS[-1], False)


def _write(directory: Path, files: dict[int, str]) -> Path:
    for version, text in files.items():
        (directory / f"{version:06d}_step{version}.up.sql").write_text(text)
    return directory


def test_a_failing_migration_is_left_dirty(
    clickhouse_any: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "DIRTY_WAIT_SECONDS", 0.5)
    directory = _write(
        tmp_path,
        {
            1: "CREATE TABLE IF NOT EXISTS ok (x String) ENGINE = TinyLog;",
            2: "CREATE TABLE broken (x NoSuchType);",
        },
    )
    with pytest.raises(ClickHouseError, match=r"000002_step2\.up\.sql failed at statement 1"):
        apply_migrations(clickhouse_any, directory)
    assert current_version(clickhouse_any) == (2, True)
    assert migrations.LOCK_TABLE not in _tables(clickhouse_any)  # released on failure too
    with pytest.raises(ClickHouseError, match="dirty"):
        apply_migrations(clickhouse_any, directory)


def test_statements_needing_newer_features_are_skipped_on_old_servers(
    clickhouse_any: Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = _write(
        tmp_path,
        {
            1: "CREATE TABLE IF NOT EXISTS n (x UInt32) ENGINE = TinyLog;\n\n-- requires: window_functions\n"
            "CREATE VIEW IF NOT EXISTS ranked AS SELECT x, row_number() OVER (ORDER BY x) AS r FROM n;\n"
        },
    )
    with caplog.at_level(logging.INFO, logger="target_clickhouse_agile.clickhouse"):
        assert apply_migrations(clickhouse_any, directory) == [1]
    has_view = "ranked" in _tables(clickhouse_any)
    assert has_view == clickhouse_any.dialect.supports_window_functions
    assert has_view or any("skipping statement 2" in record.getMessage() for record in caplog.records)


ISSUE_COLUMNS = [
    "issue_id",
    "issue_key",
    "queue",
    "summary",
    "description",
    "type",
    "priority",
    "status",
    "status_category",
    "status_start_time",
    "resolution",
    "assignee_id",
    "assignee_display",
    "author_id",
    "author_display",
    "created_at",
    "updated_at",
    "resolved_at",
    "tags",
    "components",
    "sprints",
    "aliases",
    "previous_queue",
    "parent_key",
    "epic_key",
    "story_points",
    "deadline",
    "is_closed",
    "closed_at",
    "raw",
    "_version",
]


def _issue(version: int, status: str) -> tuple[object, ...]:
    created = datetime(2024, 1, 5, 10, 20, 30, 123000, tzinfo=UTC)
    return (
        "5f1a",
        "DEV-1",
        "DEV",
        "Починить «вход»",
        "",
        "bug",
        "normal",
        status,
        "active",
        created,
        "",
        "1130000",
        "Иван Петров",
        "1130001",
        "Анна",
        created,
        created.replace(second=31),
        None,
        ["бэкенд"],
        [],
        ["Sprint 1"],
        ["OLD-7"],
        "OLD",
        "",
        "DEV-0",
        3.5,
        date(2024, 2, 1),
        0,
        None,
        '{"id": "5f1a"}',
        version,
    )


def test_issue_rows_round_trip_and_views_deduplicate(clickhouse_any: Connection) -> None:
    conn = clickhouse_any
    apply_migrations(conn)
    conn.insert("issues", ISSUE_COLUMNS, [_issue(1, "open")])
    conn.insert("issues", ISSUE_COLUMNS, [_issue(2, "inProgress")])
    (row,) = conn.query(f"SELECT {', '.join(ISSUE_COLUMNS)} FROM issues_view")
    expected = dict(zip(ISSUE_COLUMNS, _issue(2, "inProgress"), strict=True))
    expected = {
        k: conn.dialect.datetime_value(v) if isinstance(v, datetime) else v for k, v in expected.items()
    }
    assert row == expected


def test_tombstones_are_hidden_by_the_views_everywhere(clickhouse_any: Connection) -> None:
    conn = clickhouse_any
    apply_migrations(conn)
    columns = [
        "issue_id",
        "seq",
        "issue_key",
        "queue",
        "status",
        "status_category",
        "entered_at",
        "is_current",
        "_version",
    ]
    entered = datetime(2024, 1, 5, tzinfo=UTC)
    conn.insert(
        "issue_status_intervals",
        columns,
        [("i1", seq, "DEV-1", "DEV", "open", "todo", entered, 0, 1) for seq in (1, 2)],
    )
    conn.insert(
        "issue_status_intervals",
        [*columns, "_is_deleted"],
        [("i1", 2, "DEV-1", "DEV", "open", "todo", entered, 0, 2, 1)],
    )
    assert conn.query("SELECT seq FROM issue_status_intervals_view") == [{"seq": 1}]
    final = conn.query("SELECT seq FROM issue_status_intervals FINAL ORDER BY seq")
    assert final == ([{"seq": 1}] if conn.dialect.supports_is_deleted else [{"seq": 1}, {"seq": 2}])


def test_two_targets_migrating_at_once_both_succeed(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As two processes would: the in-process lock is replaced by one per call, so only the lock table in
    the database keeps the two apart (migration 9 drops and re-creates `users`; run twice at once, one
    run's view creation finds the table gone)."""
    monkeypatch.setattr(migrations, "_lock_for", lambda conn: threading.Lock())
    first, second = clickhouse_native.connect(), clickhouse_native.connect()
    errors: list[BaseException] = []
    applied: list[list[int]] = []

    def run(conn: Connection) -> None:
        try:
            applied.append(apply_migrations(conn))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(conn,)) for conn in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(applied) == [[], ALL_VERSIONS]  # one applied everything; the other found it done
    assert current_version(first) == (ALL_VERSIONS[-1], False)
    assert migrations.LOCK_TABLE not in _tables(first)
    assert apply_migrations(second) == []


def _lock_holders(conn: Connection) -> list[str]:
    rows = conn.query(
        "SELECT default_expression AS holder FROM system.columns WHERE database = currentDatabase() "
        f"AND table = '{migrations.LOCK_TABLE}'"
    )
    return [row["holder"] for row in rows]


def _hold_lock(conn: Connection, holder: str) -> None:
    """Create the lock table as another process holding it would."""
    conn.execute(f"CREATE TABLE {migrations.LOCK_TABLE} (holder String DEFAULT '{holder}') ENGINE = Memory")


def test_a_held_lock_is_waited_for_while_the_holder_migrates(
    clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    """Nothing is applied while another process holds the lock; once it lets go (here: after applying
    migration 1, as a holder would), the waiter re-reads the version and applies only the rest."""
    directory = _write(
        tmp_path,
        {
            1: "CREATE TABLE IF NOT EXISTS first (x String) ENGINE = TinyLog;",
            2: "CREATE TABLE IF NOT EXISTS second (x String) ENGINE = TinyLog;",
        },
    )
    holder, waiting = clickhouse_native.connect(), clickhouse_native.connect()  # one query at a time each
    current_version(holder)  # creates schema_migrations
    _hold_lock(holder, "elsewhere pid 1")
    outcome: list[object] = []
    waiter = threading.Thread(target=lambda: outcome.append(apply_migrations(waiting, directory)))
    waiter.start()
    time.sleep(1.0)
    assert current_version(holder) == (-1, False)
    assert "second" not in _tables(holder)
    set_version(holder, 1, dirty=True)  # the holder at work
    holder.execute("CREATE TABLE first (x String) ENGINE = TinyLog")
    set_version(holder, 1, dirty=False)
    holder.execute(f"DROP TABLE {migrations.LOCK_TABLE}")
    waiter.join(timeout=60)
    assert outcome == [[2]]
    assert current_version(holder) == (2, False)
    assert {"first", "second"} <= set(_tables(holder))


def test_a_lock_that_stops_moving_is_reported_with_its_holder_and_the_fix(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)
    monkeypatch.setattr(migrations, "DIRTY_WAIT_SECONDS", 0.5)
    conn = clickhouse_native.conn
    apply_migrations(conn)
    set_version(conn, 5, dirty=True)  # a holder killed inside migration 5
    _hold_lock(conn, "worker-7 pid 4242 since 2026-12-06 21:00:00 UTC")
    with pytest.raises(ClickHouseError) as caught:
        apply_migrations(conn)
    message = str(caught.value)
    assert "worker-7 pid 4242" in message
    assert f"DROP TABLE {conn.database}.{migrations.LOCK_TABLE}" in message
    assert "version 5 (dirty)" in message
    assert "force 4" in message
    conn.execute(f"DROP TABLE {migrations.LOCK_TABLE}")
    force_version(conn, 4)
    assert apply_migrations(conn) == ALL_VERSIONS[4:]


def _lose_the_answer_to(conn: Connection, statement: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """DDL starting with `statement` is applied, then its answer lost (as when the connection drops)."""
    execute_ddl = conn.execute_ddl

    def answer_lost(sql: str) -> None:
        execute_ddl(sql)
        if sql.startswith(statement):
            raise ClickHouseError("lost the connection to ClickHouse", code=None)

    monkeypatch.setattr(conn, "execute_ddl", answer_lost)


def _dead_holder() -> str:
    """The holder text of a lock whose process was killed (on this machine, just now)."""
    killed = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    identity = identity_of(killed.pid)
    killed.kill()
    killed.wait()
    assert identity is not None
    return f"this-host pid {killed.pid} since 2026-12-07 03:00:00 UTC (lock deadbeef; {identity.text()})"


def _lock_create(holder: str) -> str:
    return f"CREATE TABLE {migrations.LOCK_TABLE} (holder String DEFAULT '{holder}') ENGINE = Memory"


def test_a_lock_left_by_a_process_killed_on_this_machine_is_taken_over(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A target killed while it held the lock (kill -9) left the table; the next run on the same machine
    sees that the holder no longer runs and migrates, instead of waiting and then asking for a DROP."""
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)  # waiting would end in the stale-lock error
    conn = clickhouse_native.conn
    holder = _dead_holder()
    _hold_lock(conn, holder)
    with caplog.at_level(logging.WARNING, logger="target_clickhouse_agile.clickhouse"):
        assert apply_migrations(conn) == ALL_VERSIONS
    assert migrations.LOCK_TABLE not in _tables(conn)
    assert not [t for t in _tables(conn) if t.startswith(migrations.TAKEOVER_PREFIX)]
    assert "no longer runs" in caplog.text
    assert holder in caplog.text


def test_a_takeover_under_way_elsewhere_is_left_to_it(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another waiter made the takeover table for this dead holder: this one does not drop the lock too."""
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)
    conn = clickhouse_native.conn
    holder = _dead_holder()
    _hold_lock(conn, holder)
    conn.execute(f"CREATE TABLE {migrations.TAKEOVER_PREFIX}deadbeef (taken UInt8) ENGINE = Memory")
    with pytest.raises(ClickHouseError, match="deadbeef"):
        apply_migrations(conn)
    assert _lock_holders(conn) == [f"'{holder}'"]


def test_a_late_takeover_leaves_the_lock_of_the_waiter_that_took_over_first(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two waiters read the dead holder; the first takes the lock over. The second, late, re-reads the
    holder under the takeover table, finds the first one's lock and stands back (an unconditional DROP
    would have removed a live lock)."""
    conn = clickhouse_native.conn
    current_version(conn)
    dead = _dead_holder()
    _hold_lock(conn, dead)
    first = clickhouse_native.connect()
    assert migrations._take_over_if_gone(first, _lock_create("first (lock 111111111111)"), "111111111111")
    stale_reads = iter([dead])  # what the late waiter read before the first one took over
    read_holder = migrations._holder
    monkeypatch.setattr(migrations, "_holder", lambda c: next(stale_reads, None) or read_holder(c))
    assert not migrations._take_over_if_gone(conn, _lock_create("late (lock 222222222222)"), "222222222222")
    assert _lock_holders(conn) == ["'first (lock 111111111111)'"]
    assert not [t for t in _tables(conn) if t.startswith(migrations.TAKEOVER_PREFIX)]


def test_a_takeover_cut_short_is_named_in_the_stale_lock_error(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A waiter died while taking over a dead holder's lock: its takeover table blocks every other
    takeover of that lock, so the stale-lock error names it with the lock."""
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)
    conn = clickhouse_native.conn
    _hold_lock(conn, _dead_holder())
    marker = f"{migrations.TAKEOVER_PREFIX}deadbeef"
    conn.execute(f"CREATE TABLE {marker} (taker String DEFAULT 'abcdef012345') ENGINE = Memory")
    with pytest.raises(ClickHouseError) as caught:
        apply_migrations(conn)
    assert f"DROP TABLE {conn.database}.{migrations.LOCK_TABLE}" in str(caught.value)
    assert f"DROP TABLE {conn.database}.{marker}" in str(caught.value)


def test_a_takeover_whose_answer_was_lost_is_still_this_process_s(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The takeover table was made but the answer lost (a dropped connection): its taker is this process,
    so the takeover goes on, and the table does not stay behind."""
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)
    conn = clickhouse_native.conn
    _hold_lock(conn, _dead_holder())
    _lose_the_answer_to(conn, f"CREATE TABLE {migrations.TAKEOVER_PREFIX}", monkeypatch)
    assert apply_migrations(conn) == ALL_VERSIONS
    assert not [t for t in _tables(conn) if t.startswith(migrations.TAKEOVER_PREFIX)]


_HOLD_THE_LOCK = """
import json, sys, time
from target_clickhouse_agile.clickhouse import connect, migrations
conn = connect(json.loads(sys.argv[1]))
with migrations._schema_lock(conn):
    print("holding", flush=True)
    time.sleep(60)
"""


def test_the_lock_of_a_process_killed_with_sigkill_is_taken_over(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real thing: a process takes the lock the target's way and is killed (SIGKILL: no cleanup runs);
    the next migration on this machine takes the lock over rather than waiting for it."""
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_THE_LOCK, json.dumps(clickhouse_native.settings)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        assert _lock_holders(clickhouse_native.conn)  # left behind by the kill below
    finally:
        holder.kill()
        holder.wait()
    assert _lock_holders(clickhouse_native.conn)
    assert apply_migrations(clickhouse_native.conn) == ALL_VERSIONS
    assert migrations.LOCK_TABLE not in _tables(clickhouse_native.conn)


def test_a_lock_held_by_a_running_process_on_this_machine_is_not_taken(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)
    conn = clickhouse_native.conn
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        identity = identity_of(running.pid)
        assert identity is not None
        holder = f"this-host pid {running.pid} since 2026-12-07 03:00:00 UTC (lock cafe; {identity.text()})"
        _hold_lock(conn, holder)
        with pytest.raises(ClickHouseError, match=f"pid {running.pid}"):
            apply_migrations(conn)
        assert _lock_holders(conn) == [f"'{holder}'"]
        assert current_version(conn) == (-1, False)
    finally:
        running.kill()
        running.wait()


def test_this_process_s_lock_records_who_it_is(clickhouse_native: NativeDatabase) -> None:
    """The holder text carries this process's identity, so that a waiter on this machine can tell."""
    conn = clickhouse_native.conn
    mine = identity_of(os.getpid())
    assert mine is not None
    with migrations._schema_lock(conn):
        (holder,) = _lock_holders(conn)
    assert f"pid {os.getpid()} " in holder
    assert mine.text() in holder


def test_a_lock_made_by_a_create_that_seemed_to_fail_is_this_process_s(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server made the lock but the answer was lost (as when the connection drops after the statement):
    the lock is this process's own, not one to wait for (a wait would end in a stale-lock error)."""
    monkeypatch.setattr(migrations, "LOCK_WAIT_SECONDS", 0.5)
    conn = clickhouse_native.conn
    _lose_the_answer_to(conn, f"CREATE TABLE {migrations.LOCK_TABLE} ", monkeypatch)
    assert apply_migrations(conn) == ALL_VERSIONS
    assert migrations.LOCK_TABLE not in _tables(conn)


def test_a_lock_taken_over_meanwhile_is_left_to_its_new_holder(clickhouse_native: NativeDatabase) -> None:
    """Someone dropped this process's lock (they took it for stale) and took it: this process's release
    must not drop theirs."""
    conn = clickhouse_native.conn
    with migrations._schema_lock(conn):
        conn.execute(f"DROP TABLE {migrations.LOCK_TABLE}")
        _hold_lock(conn, "other-host pid 9")
    assert _lock_holders(conn) == ["'other-host pid 9'"]


def test_embedded_clickhouse_needs_no_lock_table(chdb_connection: Connection) -> None:
    """One process at a time can open a chdb directory, so the lock inside the process is enough: a lock
    table left behind (by hand here) neither blocks nor is made."""
    _hold_lock(chdb_connection, "elsewhere pid 1")
    assert apply_migrations(chdb_connection) == ALL_VERSIONS
    assert _lock_holders(chdb_connection) == ["'elsewhere pid 1'"]
