"""Connections on both engines: round trips, dedup, errors with actionable messages, TLS, restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import (
    NO_RETRY,
    ClickHouseError,
    Connection,
    RetryPolicy,
    connect,
    native,
)
from target_clickhouse_agile.clickhouse.embedded import EmbeddedConnection
from target_clickhouse_agile.clickhouse.errors import UNKNOWN_TABLE
from target_clickhouse_agile.clickhouse.native import NativeConnection
from target_clickhouse_agile.clickhouse.tables import describe
from tests.support.clickhouse import ClickHouseServer, NativeDatabase, free_ports, make_certificates

UTC = timezone.utc
TS = datetime(2024, 1, 5, 10, 20, 30, 123000, tzinfo=UTC)

ROUNDTRIP_DDL = """
CREATE TABLE IF NOT EXISTS roundtrip
(
    id        String,
    lc        LowCardinality(String),
    ns        Nullable(String),
    i64       Int64,
    u8        UInt8,
    u32       UInt32,
    u64       UInt64,
    f64       Float64,
    nf64      Nullable(Float64),
    d         Date,
    nd        Nullable(Date),
    ts        DateTime64(3, 'UTC'),
    nts       Nullable(DateTime64(3, 'UTC')),
    arr       Array(String),
    `order`   Int64,
    _version  UInt64,
    _loaded_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(_version)
ORDER BY id
"""
COLUMNS = [
    "id",
    "lc",
    "ns",
    "i64",
    "u8",
    "u32",
    "u64",
    "f64",
    "nf64",
    "d",
    "nd",
    "ts",
    "nts",
    "arr",
    "order",
    "_version",
]
ROWS = [
    (
        "a",
        "Открыт",
        "Задача «тест» 🚀",
        -(2**62),
        1,
        4_000_000_000,
        2**64 - 1,
        1.5,
        None,
        date(2024, 1, 5),
        None,
        TS,
        None,
        ["тег", "tag with 'quote'", ""],
        3,
        1,
    ),
    (
        "b",
        "",
        None,
        0,
        0,
        0,
        0,
        -0.25,
        2.75,
        date(1970, 1, 2),
        date(2030, 12, 31),
        datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC),
        TS,
        [],
        -1,
        1,
    ),
]


def _create_roundtrip(conn: Connection) -> None:
    conn.execute(conn.dialect.adapt_ddl(ROUNDTRIP_DDL))


def _expected(conn: Connection, row: tuple[Any, ...]) -> dict[str, Any]:
    return {
        column: conn.dialect.datetime_value(value) if isinstance(value, datetime) else value
        for column, value in zip(COLUMNS, row, strict=True)
    }


def test_connect_reports_version_and_database(clickhouse_any: Connection) -> None:
    version = clickhouse_any.server_version
    assert version[:2] == (18, 16) if isinstance(clickhouse_any, NativeConnection) else version[0] >= 23
    assert clickhouse_any.query("SELECT currentDatabase() AS db") == [{"db": clickhouse_any.database}]


def test_describe_is_one_statement_and_knows_a_missing_table(
    clickhouse_any: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A table is read with one `DESCRIBE` (a round trip to a distant server each); a missing one is None
    on every engine, which needs the embedded engine's errors to carry the server's code as well."""
    _create_roundtrip(clickhouse_any)
    statements: list[str] = []
    real_query = type(clickhouse_any).query

    def query(self: Connection, sql: str) -> list[dict[str, Any]]:
        statements.append(sql)
        return real_query(self, sql)

    monkeypatch.setattr(type(clickhouse_any), "query", query)
    columns = describe(clickhouse_any, "roundtrip")
    assert columns is not None
    assert list(columns)[:3] == ["id", "lc", "ns"]
    assert describe(clickhouse_any, "no_such_table") is None
    assert statements == ["DESCRIBE TABLE `roundtrip`", "DESCRIBE TABLE `no_such_table`"]
    with pytest.raises(ClickHouseError) as caught:
        clickhouse_any.query("SELECT 1 FROM no_such_table")
    assert caught.value.code == UNKNOWN_TABLE


def test_every_column_type_round_trips(clickhouse_any: Connection) -> None:
    conn = clickhouse_any
    _create_roundtrip(conn)
    assert conn.insert("roundtrip", COLUMNS, iter(ROWS)) == 2
    assert conn.insert("roundtrip", COLUMNS, []) == 0
    rows = conn.query(f"SELECT {', '.join(f'`{c}`' for c in COLUMNS)}, _loaded_at FROM roundtrip ORDER BY id")
    loaded = [row.pop("_loaded_at") for row in rows]
    assert rows == [_expected(conn, row) for row in ROWS]
    assert all(isinstance(value, datetime) and value.tzinfo == UTC for value in loaded)


def test_milliseconds_survive_where_the_engine_has_datetime64(clickhouse_any: Connection) -> None:
    _create_roundtrip(clickhouse_any)
    clickhouse_any.insert("roundtrip", COLUMNS, ROWS[:1])
    (row,) = clickhouse_any.query("SELECT ts FROM roundtrip")
    expected_ms = 123 if clickhouse_any.dialect.supports_datetime64 else 0
    assert row["ts"].microsecond == expected_ms * 1000
    if isinstance(clickhouse_any, EmbeddedConnection):
        assert row["ts"] == TS


def test_replacing_merge_tree_final_keeps_the_newest_version(clickhouse_any: Connection) -> None:
    _create_roundtrip(clickhouse_any)
    versions = [(*ROWS[0][:2], f"v{v}", *ROWS[0][3:15], v) for v in (3, 1, 2)]
    for row in versions:  # three separate parts, so FINAL has to merge
        clickhouse_any.insert("roundtrip", COLUMNS, [row])
    assert clickhouse_any.query("SELECT count() AS n FROM roundtrip")[0]["n"] == 3
    assert clickhouse_any.query("SELECT ns, _version FROM roundtrip FINAL") == [{"ns": "v3", "_version": 3}]


def test_tombstones_are_hidden_by_final_on_modern_engines(chdb_connection: Connection) -> None:
    chdb_connection.execute(
        "CREATE TABLE derived (k String, v String, _version UInt64, _is_deleted UInt8 DEFAULT 0) "
        "ENGINE = ReplacingMergeTree(_version, _is_deleted) ORDER BY k"
    )
    chdb_connection.insert("derived", ["k", "v", "_version"], [("a", "x", 1), ("b", "y", 1)])
    chdb_connection.insert("derived", ["k", "v", "_version", "_is_deleted"], [("b", "", 2, 1)])
    assert chdb_connection.query("SELECT k FROM derived FINAL ORDER BY k") == [{"k": "a"}]


def test_server_errors_name_the_statement(clickhouse_any: Connection) -> None:
    with pytest.raises(ClickHouseError, match="no_such_table") as caught:
        clickhouse_any.query("SELECT * FROM no_such_table")
    assert "Stack trace" not in str(caught.value)
    assert not caught.value.connection_failed


def test_hostile_database_name_is_rejected_before_connecting(
    clickhouse_server: ClickHouseServer, chdb_settings: dict[str, Any]
) -> None:
    hostile = "agile`; DROP DATABASE default; --"
    with pytest.raises(ClickHouseError, match="invalid database name"):
        connect(clickhouse_server.settings(database=hostile), retry=NO_RETRY)
    with pytest.raises(ClickHouseError, match="invalid database name"):
        connect({**chdb_settings, "database": hostile})


def test_missing_database_is_created(clickhouse_native: NativeDatabase) -> None:
    conn = clickhouse_native.conn
    rows = conn.query(f"SELECT name FROM system.databases WHERE name = '{clickhouse_native.database}'")
    assert rows == [{"name": clickhouse_native.database}]
    assert clickhouse_native.settings["host"] == "127.0.0.1"
    assert "password" in clickhouse_native.settings


LAZY_DATES_SCRIPT = """
import json, sys
from datetime import date
from target_clickhouse_agile.clickhouse import connect
from clickhouse_driver.columns import datecolumn
assert isinstance(datecolumn._date_lut, datecolumn.LazyLUT), "the driver built its eager date tables"
conn = connect(json.loads(sys.argv[1]))
conn.execute("CREATE TABLE lazy_dates (d Date, nd Nullable(Date)) ENGINE = Memory")
days = [date(2024, 2, 29), date(1970, 1, 1), date(2149, 6, 6), date(2025, 12, 31)]
conn.insert("lazy_dates", ["d", "nd"], [(d, d) for d in days])
rows = conn.query("SELECT d, nd FROM lazy_dates ORDER BY d")
print(json.dumps([[str(r["d"]), str(r["nd"])] for r in rows]))
"""


def test_the_drivers_date_tables_are_lazy_and_dates_round_trip(clickhouse_native: NativeDatabase) -> None:
    """Importing the target makes clickhouse-driver fill its date tables on demand (22 MB less resident
    memory): checked in a fresh interpreter, as the console script starts, with dates across the range."""
    done = subprocess.run(
        [sys.executable, "-c", LAZY_DATES_SCRIPT, json.dumps(clickhouse_native.settings)],
        capture_output=True,
        text=True,
        check=False,
        env={k: v for k, v in os.environ.items() if k != "CLICKHOUSE_DRIVER_LASY_DATE_LUT"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    expected = ["1970-01-01", "2024-02-29", "2025-12-31", "2149-06-06"]
    assert json.loads(done.stdout) == [[d, d] for d in expected]


def test_password_user_connects_and_wrong_password_is_named_without_the_password(
    clickhouse_native: NativeDatabase,
) -> None:
    server = clickhouse_native.server
    good = clickhouse_native.connect(user=server.user, password=server.password)
    assert good.query("SELECT 1 AS one") == [{"one": 1}]
    secret = "not-the-Secret-42"
    for user in (server.user, "nobody"):
        with pytest.raises(ClickHouseError) as caught:
            clickhouse_native.connect(user=user, password=secret)
        message = str(caught.value)
        assert f"wrong user or password for user '{user}'" in message
        assert secret not in message
        assert secret not in repr(caught.value.args)
        assert not caught.value.connection_failed


def test_unreachable_port_says_what_to_check() -> None:
    (port,) = free_ports(1)
    with pytest.raises(ClickHouseError) as caught:
        connect({"host": "127.0.0.1", "port": port, "database": "agile"}, retry=NO_RETRY)
    message = str(caught.value)
    assert f"cannot reach ClickHouse at 127.0.0.1:{port}" in message
    assert "is the server running" in message
    assert caught.value.connection_failed


def test_tls_with_the_right_ca_connects(clickhouse_native: NativeDatabase) -> None:
    server = clickhouse_native.server
    conn = clickhouse_native.connect(
        port=server.tcp_port_secure, secure=True, ca_certs=str(server.ca_cert_path)
    )
    assert conn.query("SELECT 1 AS one") == [{"one": 1}]


def test_tls_without_verification_connects(clickhouse_native: NativeDatabase) -> None:
    conn = clickhouse_native.connect(port=clickhouse_native.server.tcp_port_secure, secure=True, verify=False)
    assert conn.server_version[:2] == (18, 16)


def test_tls_verification_failures_point_at_ca_certs_and_verify(
    clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    other_ca = make_certificates(tmp_path)["ca.crt"]
    port = clickhouse_native.server.tcp_port_secure
    for extra in ({}, {"ca_certs": str(other_ca)}):
        with pytest.raises(ClickHouseError) as caught:
            clickhouse_native.connect(port=port, secure=True, **extra)
        message = str(caught.value)
        assert not caught.value.connection_failed, "an untrusted certificate is not retried"
        assert "could not be verified" in message
        assert "`ca_certs`" in message
        assert "`verify: false`" in message


def test_tls_against_a_plain_port_says_so(clickhouse_native: NativeDatabase) -> None:
    with pytest.raises(ClickHouseError, match=r"TLS handshake .* failed"):
        clickhouse_native.connect(secure=True, verify=False, connect_timeout=3)


def test_plain_against_the_tls_port_fails_with_a_hint(clickhouse_native: NativeDatabase) -> None:
    with pytest.raises(ClickHouseError, match="secure: true"):
        clickhouse_native.connect(port=clickhouse_native.server.tcp_port_secure, connect_timeout=3)


def test_server_restart_mid_load(clickhouse_native: NativeDatabase) -> None:
    """Rows inserted before a stop survive; while down inserts fail fast (no retry) or wait (retry)."""
    server = clickhouse_native.server
    conn = clickhouse_native.conn
    _create_roundtrip(conn)
    conn.insert("roundtrip", COLUMNS, ROWS[:1])

    server.stop()
    with pytest.raises(ClickHouseError) as caught:
        NativeConnection(host=server.host, port=server.port, database=conn.database, retry=NO_RETRY)
    assert caught.value.connection_failed
    assert "cannot reach" in str(caught.value)

    server.start()
    conn.insert("roundtrip", COLUMNS, ROWS[1:])  # the same connection reconnects transparently
    assert [row["id"] for row in conn.query("SELECT id FROM roundtrip ORDER BY id")] == ["a", "b"]

    patient = clickhouse_native.connect(retry=RetryPolicy(attempts=40, base_delay=0.25, max_delay=0.25))
    server.stop()
    restarter = threading.Timer(1.0, server.start)
    restarter.start()
    try:
        patient.insert("roundtrip", COLUMNS, [("c", *ROWS[0][1:])])
    finally:
        restarter.join()
    assert patient.query("SELECT count() AS n FROM roundtrip FINAL") == [{"n": 3}]


def _count_pings(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per Ping packet sent by the driver's connections made after this call."""
    from clickhouse_driver.connection import Connection as DriverConnection

    sent: list[None] = []
    real_ping = DriverConnection.ping

    def ping(self: DriverConnection) -> bool | None:
        sent.append(None)
        return real_ping(self)

    monkeypatch.setattr(DriverConnection, "ping", ping)
    return sent


def test_statements_close_together_send_no_ping(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver pinged before every statement, and the connection once more before that: two round trips
    per statement, which a server 10 ms away turns into seconds per load. A statement within FRESH_SECONDS
    of the last exchange sends no ping; one after a longer pause sends one."""
    pings = _count_pings(monkeypatch)
    monkeypatch.setattr(native, "FRESH_SECONDS", 3600.0)  # every statement comes within it
    conn = clickhouse_native.connect()
    _create_roundtrip(conn)
    before = len(pings)
    for _ in range(5):
        conn.insert("roundtrip", COLUMNS, ROWS[:1])
        assert conn.query("SELECT count() AS n FROM roundtrip FINAL") == [{"n": 1}]
    assert len(pings) == before
    conn.execute("CREATE TABLE IF NOT EXISTS pinged (x String) ENGINE = Memory")
    assert len(pings) == before + 1, "a statement that may not run twice pings however fresh the connection"
    conn.insert("roundtrip", COLUMNS, ROWS[:1], repeatable=False)  # into a table that would keep a copy
    assert len(pings) == before + 2

    monkeypatch.setattr(native, "FRESH_SECONDS", 0.0)  # every statement comes after a pause
    conn.query("SELECT 1 AS one")  # (still within the hour the last statement granted)
    before = len(pings)
    for _ in range(5):
        conn.query("SELECT 1 AS one")
    assert len(pings) == before + 5


def test_a_dead_connection_taken_as_fresh_is_replaced_and_the_statement_rerun(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The server restarts between two statements while the connection counts as fresh (no ping): the
    second statement meets the dead socket, and runs again on a new connection instead of failing."""
    server = clickhouse_native.server
    monkeypatch.setattr(native, "FRESH_SECONDS", 3600.0)
    conn = clickhouse_native.connect(retry=RetryPolicy(attempts=40, base_delay=0.25, max_delay=0.25))
    _create_roundtrip(conn)
    conn.insert("roundtrip", COLUMNS, ROWS[:1])
    server.stop()
    server.start()
    with caplog.at_level("INFO", logger="target_clickhouse_agile.clickhouse"):
        conn.insert("roundtrip", COLUMNS, ROWS[1:])
    assert "running `INSERT INTO" in caplog.text
    assert "again on a new one" in caplog.text
    assert [row["id"] for row in conn.query("SELECT id FROM roundtrip FINAL ORDER BY id")] == ["a", "b"]

    # DDL (like mutations and the migration lock) is not run twice: it pings first, finds the socket
    # dead and reconnects before anything is sent.
    server.stop()
    server.start()
    caplog.clear()
    with caplog.at_level("INFO", logger="target_clickhouse_agile.clickhouse"):
        conn.execute("CREATE TABLE IF NOT EXISTS after_restart (x String) ENGINE = Memory")
    assert "again on a new one" not in caplog.text
    assert conn.query("EXISTS TABLE after_restart") == [{"result": 1}]


def test_a_statement_that_times_out_is_not_run_again(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that does not answer in time was there: a fresh connection's statement that times out fails
    (once), instead of waiting as long again on a new socket. (18.16 sends no progress packet during
    `sleep`, so the 1 s socket timeout fires; newer servers may keep the socket busy.)"""
    monkeypatch.setattr(native, "FRESH_SECONDS", 3600.0)
    conn = clickhouse_native.connect(send_receive_timeout=1)
    conn.query("SELECT 1 AS one")  # fresh from here on
    with caplog.at_level("INFO", logger="target_clickhouse_agile.clickhouse"), pytest.raises(ClickHouseError):
        conn.query("SELECT sleep(3) AS slept")
    assert "again on a new one" not in caplog.text


def test_embedded_without_chdb_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, chdb_settings: dict[str, Any]
) -> None:
    monkeypatch.setitem(sys.modules, "chdb", None)  # as if the optional extra were not installed
    with pytest.raises(ClickHouseError, match=r"pip install 'target-clickhouse-agile\[embedded\]'"):
        connect(chdb_settings)


def test_embedded_connections_share_a_path_and_see_each_others_rows(chdb_settings: dict[str, Any]) -> None:
    with connect(chdb_settings) as first, connect(chdb_settings) as second:
        first.execute("CREATE TABLE shared (x String) ENGINE = MergeTree ORDER BY x")
        first.insert("shared", ["x"], [("Ёж",)])
        assert second.query("SELECT x FROM shared") == [{"x": "Ёж"}]
    with connect(chdb_settings) as reopened:
        assert reopened.query("SELECT x FROM shared") == [{"x": "Ёж"}]


def test_inline_insert_values_are_refused_at_once_on_the_native_protocol(
    clickhouse_native: NativeDatabase,
) -> None:
    conn = clickhouse_native.conn
    _create_roundtrip(conn)
    with pytest.raises(ClickHouseError, match=r"use `Connection.insert\(table, columns, rows\)`"):
        conn.execute("INSERT INTO roundtrip (id, _version) VALUES ('x', 1)")
    conn.execute("INSERT INTO roundtrip (id, _version) SELECT 'y', 2")  # INSERT ... SELECT is fine
    assert conn.query("SELECT id FROM roundtrip") == [{"id": "y"}]
