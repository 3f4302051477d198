"""Streams without a migration (`TableSink`): re-delivery, keyless append, and schema growth across runs.

A re-delivered batch is the normal case after a failed run (the tap resumes from the last STATE), so it
must never duplicate a keyed row; a keyless stream has no key to replace on, so it must append.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from target_clickhouse_agile import sinks
from target_clickhouse_agile.clickhouse.native import NativeConnection
from tests.support.clickhouse import NativeDatabase
from tests.support.singer import STATUSES, issue, record, run_target, schema_message, state
from tests.support.tables import query
from tests.target.test_target_metrics import target_settings  # noqa: F401 - both engines


def _schema(stream: str, keys: list[str], **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": keys,
        "schema": {"type": "object", "properties": properties},
    }


def _records(stream: str, *records: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "RECORD", "stream": stream, "record": r} for r in records]


INT = {"type": "integer"}
STR = {"type": ["string", "null"]}


def test_redelivered_batch_keeps_one_row_per_key(clickhouse_native: NativeDatabase) -> None:
    messages = [
        _schema("projects", ["id"], id=INT, name=STR),
        *_records("projects", {"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 1, "name": "a2"}),
        state({"bookmark": 1}),
    ]
    assert run_target(clickhouse_native.settings, messages) == [{"bookmark": 1}]
    # The same batch again (a resumed run), then once more in batches of one record.
    run_target(clickhouse_native.settings, messages)
    run_target({**clickhouse_native.settings, "batch_size_rows": 1}, messages)
    rows = clickhouse_native.conn.query("SELECT id, name FROM projects FINAL ORDER BY id")
    assert rows == [{"id": 1, "name": "a2"}, {"id": 2, "name": "b"}]


def test_keyless_stream_appends_every_record(clickhouse_native: NativeDatabase) -> None:
    messages = [
        _schema("events", [], kind=STR, n=INT),
        *_records("events", {"kind": "x", "n": 1}, {"kind": "x", "n": 1}, {"kind": "y", "n": 2}),
    ]
    run_target(clickhouse_native.settings, messages)
    run_target(clickhouse_native.settings, messages)
    conn = clickhouse_native.conn
    (engine,) = conn.query(
        "SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = 'events'"
    )
    assert engine["engine"] == "MergeTree"  # a keyless ReplacingMergeTree would collapse to one row
    rows = conn.query("SELECT kind, n, count() AS c FROM events GROUP BY kind, n ORDER BY kind")
    assert rows == [{"kind": "x", "n": 1, "c": 4}, {"kind": "y", "n": 2, "c": 2}]


def test_only_a_table_that_keeps_one_copy_may_get_a_batch_twice(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that lost the answer to an INSERT sends the rows again (clickhouse/native.py) only when
    the sink says a second copy would collapse into the first: a keyed stream's ReplacingMergeTree, not a
    keyless stream's plain MergeTree, where it would stay."""
    inserts: dict[str, set[bool]] = {}
    real_insert = NativeConnection.insert

    def insert(self: NativeConnection, table: str, *args: Any, repeatable: bool = True) -> int:
        inserts.setdefault(table, set()).add(repeatable)
        return real_insert(self, table, *args, repeatable=repeatable)

    monkeypatch.setattr(NativeConnection, "insert", insert)
    run_target(
        clickhouse_native.settings,
        [
            _schema("projects", ["id"], id=INT, name=STR),
            *_records("projects", {"id": 1, "name": "a"}),
            _schema("events", [], kind=STR, n=INT),
            *_records("events", {"kind": "x", "n": 1}),
        ],
    )
    assert inserts["projects"] == {True}
    assert inserts["events"] == {False}


def test_new_property_in_a_later_run_becomes_a_column(clickhouse_native: NativeDatabase) -> None:
    """Schema evolution must also work when the table was created by an earlier run, not only when the
    schema changes within one run."""
    run_target(
        clickhouse_native.settings,
        [_schema("projects", ["id"], id=INT, name=STR), *_records("projects", {"id": 1, "name": "a"})],
    )
    run_target(
        clickhouse_native.settings,
        [
            _schema("projects", ["id"], id=INT, name=STR, lead=STR),
            *_records("projects", {"id": 2, "name": "b", "lead": "anna"}),
        ],
    )
    rows = clickhouse_native.conn.query("SELECT id, name, lead FROM projects FINAL ORDER BY id")
    assert rows == [{"id": 1, "name": "a", "lead": None}, {"id": 2, "name": "b", "lead": "anna"}]


def test_a_table_is_set_up_through_the_targets_connection_and_each_sink_connects_once(
    clickhouse_native: NativeDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sink sets its table up (describe, create, add columns) through the target's own connection, on the
    main thread, and opens one of its own only for its INSERTs: a handshake less per stream and run, two or
    three round trips each to a distant server."""
    opened: list[Any] = []
    real_connect = sinks.connect

    def counted(settings: Any, **kwargs: Any) -> Any:
        opened.append(settings)
        return real_connect(settings, **kwargs)

    monkeypatch.setattr(sinks, "connect", counted)
    messages = [
        _schema("projects", ["id"], id=INT, name=STR),
        _schema("events", [], kind=STR, n=INT),
        *_records("projects", {"id": 1, "name": "a"}),
        *_records("events", {"kind": "x", "n": 1}),
        state({"bookmark": 1}),
    ]
    run_target(clickhouse_native.settings, messages)  # creates both tables
    assert len(opened) == 2, "one connection per sink, for its batch"
    opened.clear()
    grown = [_schema("projects", ["id"], id=INT, name=STR, owner=STR), *_records("projects", {"id": 2})]
    run_target(clickhouse_native.settings, grown)  # adds a column, then inserts
    assert len(opened) == 1
    columns = {r["name"] for r in clickhouse_native.conn.query("DESCRIBE TABLE projects")}
    assert "owner" in columns


def test_an_integer_beyond_its_column_is_left_empty_and_reported_on_every_engine(
    target_settings: dict[str, Any],  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`order: 2**70` in a status (an Int64 the metrics do not need): the native protocol failed the whole
    INSERT on it without naming the record, while chdb and the HTTP interface stored 0 silently. Now every
    engine leaves the column empty, reports the record, keeps the value in `raw`, and loads the rest."""
    too_big = 2**70
    messages = [
        schema_message("statuses"),
        record("statuses", {**STATUSES[0], "order": too_big}),
        record("statuses", {**STATUSES[1], "order": 7}),
        state({"step": 1}),
    ]
    assert run_target(target_settings, messages) == [{"step": 1}]
    rows = query(target_settings, "SELECT key, `order`, raw FROM statuses FINAL ORDER BY key")
    assert [(r["key"], r["order"]) for r in rows] == [("inProgress", 7), ("open", 0)]
    assert json.loads(rows[1]["raw"])["order"] == too_big
    assert any("field 'order'" in m and "outside the range of Int64" in m for m in caplog.messages)


def test_numbers_with_a_fraction_inside_a_text_column_stay_numbers(
    target_settings: dict[str, Any],  # noqa: F811
) -> None:
    """An array of numbers that lands in a String column is JSON whose numbers are numbers: the reader's
    `Decimal`s were written as strings ("1.5"), which ClickHouse's JSON functions read as text."""
    numbers = {"type": ["array", "null"], "items": {"type": "number"}}
    messages = [
        _schema("things", ["id"], id=STR, tags=numbers),
        *_records("things", {"id": "1", "tags": [1.5, 2, 1e-7]}),
        state({"step": 1}),
    ]
    assert run_target(target_settings, messages) == [{"step": 1}]
    (row,) = query(target_settings, "SELECT tags FROM things FINAL")
    stored = row["tags"]
    assert json.loads(stored if isinstance(stored, str) else json.dumps(stored)) == [1.5, 2, 1e-7]


def test_a_date_beyond_its_column_is_left_empty_on_every_engine(
    target_settings: dict[str, Any],  # noqa: F811
) -> None:
    """`deadline: 2200-01-01` (a Date holds up to 2149-06-06): chdb clamped it, the server stored 0000-00-00
    (which the HTTP interface then could not read back). Now every engine leaves it empty (reported; raw
    keeps it)."""
    moment = "2024-03-04T07:00:00.000Z"
    messages = [
        schema_message("issues"),
        record("issues", issue("1", "DEV-1", "open", moment, moment, deadline="2200-01-01")),
        state({"step": 1}),
    ]
    assert run_target(target_settings, messages) == [{"step": 1}]
    (row,) = query(target_settings, "SELECT deadline, raw FROM issues FINAL")
    assert row["deadline"] is None
    assert json.loads(row["raw"])["deadline"] == "2200-01-01"


def test_a_misfit_field_of_a_stream_without_raw_is_reported_as_not_stored(
    clickhouse_native: NativeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    """A stream without a migration gets a table of its properties only: no `raw` column keeps a value set
    aside for its shape, and the warning says so instead of claiming it is kept."""
    messages = [
        _schema("things", ["id"], id=STR, n={"type": ["integer", "null"]}),
        *_records("things", {"id": "1", "n": "forty-two"}),
        state({"step": 1}),
    ]
    assert run_target(clickhouse_native.settings, messages) == [{"step": 1}]
    warnings = [m for m in caplog.messages if "field 'n' has an unexpected shape" in m]
    assert len(warnings) == 1
    assert "is not stored (its table has no `raw` column)" in warnings[0]
