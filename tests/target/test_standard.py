"""The singer-sdk standard target tests against the real ClickHouse server, each followed by a check of
what landed in the table.

The SDK's tests only prove that the target did not crash (or crashed where it should). Every file-based
test here is subclassed with a `validate()` that reads the table back and compares it with the records of
the test's own `.singer` file, so a target that silently drops a column or a row fails.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.testing import get_target_test_class
from singer_sdk.testing.runners import TargetTestRunner
from singer_sdk.testing.suites import SingerTestSuite
from singer_sdk.testing.suites import target_tests as sdk_target_tests
from singer_sdk.testing.target_tests import (
    TargetInvalidSchemaTest,
    TargetRecordBeforeSchemaTest,
    TargetRecordMissingKeyProperty,
)
from singer_sdk.testing.templates import TargetFileTestTemplate

from target_clickhouse_agile.clickhouse.connection import Connection
from target_clickhouse_agile.clickhouse.tables import describe, table_name_for_stream
from target_clickhouse_agile.target import TargetClickhouseAgile
from tests.support.clickhouse import NativeDatabase


def expected_rows(lines: Iterator[str]) -> dict[str, list[dict[str, Any]]]:
    """Per stream, the rows a correct target keeps: the last record per key (in first-seen order), or
    every record of a keyless stream. The key in force is that of the latest SCHEMA of the stream."""
    keys: dict[str, list[str]] = {}
    kept: dict[str, dict[Any, dict[str, Any]]] = {}
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        stream = message.get("stream")
        if message["type"] == "SCHEMA":
            keys[stream] = list(message.get("key_properties") or [])
            kept.setdefault(stream, {})
        elif message["type"] == "RECORD":
            record = message["record"]
            key_props = keys.get(stream, [])
            if key_props:
                key: Any = tuple((k, json.dumps(record.get(k))) for k in key_props)
            else:
                key = ("row", len(kept[stream]))
            kept[stream][key] = record
    return {stream: list(rows.values()) for stream, rows in kept.items()}


def _same(expected: Any, stored: Any) -> bool:
    """Objects and arrays are stored as JSON text; booleans as UInt8; numbers may widen to float."""
    if isinstance(expected, (dict, list)):
        return stored is not None and json.loads(stored) == expected
    return stored == expected


def check_tables(conn: Connection, lines: Iterator[str]) -> None:
    """Every expected row is in its table (read with FINAL), column by column, and nothing more."""
    for stream, rows in expected_rows(lines).items():
        table = table_name_for_stream(stream)
        columns = describe(conn, table)
        assert columns is not None, f"no table {table} for stream {stream}"
        engine = conn.query(
            f"SELECT engine FROM system.tables WHERE database = currentDatabase() AND name = '{table}'"
        )[0]["engine"]
        final = " FINAL" if engine.startswith("Replacing") else ""  # a plain MergeTree has no FINAL
        stored = conn.query(f"SELECT * FROM `{table}`{final}")
        assert len(stored) == len(rows), (table, stored, rows)
        unmatched = list(stored)
        for record in rows:
            match = next(
                (
                    row
                    for row in unmatched
                    if all(_same(value, row.get(name)) for name, value in record.items())
                    and all(row[c] is None for c in columns if c not in record and c[0] != "_")
                ),
                None,
            )
            assert match is not None, f"{table}: {record} not stored; table holds {unmatched}"
            unmatched.remove(match)


def table_names(conn: Connection) -> set[str]:
    return {
        r["name"] for r in conn.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
    }


class ChecksTables(TargetFileTestTemplate):
    """Mix-in: after the standard run, the tables hold exactly what the test's `.singer` file says."""

    def validate(self) -> None:
        database: NativeDatabase = self.resource
        with self.singer_filepath.open(encoding="utf-8") as handle:
            check_tables(database.conn, iter(handle.read().splitlines()))


class RecordBeforeSchemaLeavesNoTable(TargetRecordBeforeSchemaTest):
    def validate(self) -> None:
        assert "test_record_before_schema" not in table_names(self.resource.conn)


class RecordMissingKeyPropertyLoadsNothing(TargetRecordMissingKeyProperty):
    def validate(self) -> None:
        conn = self.resource.conn
        if "test_record_missing_key_property" in table_names(conn):
            assert conn.query("SELECT count() AS n FROM test_record_missing_key_property")[0]["n"] == 0


class InvalidSchemaLeavesNoTable(TargetInvalidSchemaTest):
    def validate(self) -> None:
        assert "test_invalid_schema" not in table_names(self.resource.conn)


_ERROR_TESTS = {
    TargetRecordBeforeSchemaTest: RecordBeforeSchemaLeavesNoTable,
    TargetRecordMissingKeyProperty: RecordMissingKeyPropertyLoadsNothing,
    TargetInvalidSchemaTest: InvalidSchemaLeavesNoTable,
}


def _checked(test: type) -> type:
    if test in _ERROR_TESTS:
        return _ERROR_TESTS[test]
    if issubclass(test, TargetFileTestTemplate):
        return type(test.__name__, (ChecksTables, test), {})
    return test  # cli_prints: nothing lands anywhere


CHECKED_SUITE = SingerTestSuite(kind="target", tests=[_checked(t) for t in sdk_target_tests.tests])
assert len(CHECKED_SUITE.tests) == 16

StandardTests = get_target_test_class(
    TargetClickhouseAgile, config={}, custom_suites=[CHECKED_SUITE], include_target_tests=False
)


class TestStandardTargetOnServer(StandardTests):  # type: ignore[misc, valid-type]
    """16 standard tests, each on a fresh database of the real server, each with a table check."""

    @pytest.fixture
    def resource(self, clickhouse_native: NativeDatabase) -> NativeDatabase:
        return clickhouse_native

    @pytest.fixture
    def runner(self, clickhouse_native: NativeDatabase) -> TargetTestRunner:
        return TargetTestRunner(target_class=TargetClickhouseAgile, config=clickhouse_native.settings)


def test_the_table_check_notices_a_wrong_row(clickhouse_native: NativeDatabase) -> None:
    """Guard against a vacuous check: a stored value that differs from the file must fail it."""
    conn = clickhouse_native.conn
    conn.execute(
        "CREATE TABLE t (id Int64, info Nullable(String), _version UInt64) "
        "ENGINE = ReplacingMergeTree(_version) ORDER BY id"
    )
    conn.insert("t", ["id", "info", "_version"], [(1, "other", 1)])
    lines = [
        json.dumps({"type": "SCHEMA", "stream": "t", "key_properties": ["id"], "schema": {}}),
        json.dumps({"type": "RECORD", "stream": "t", "record": {"id": 1, "info": "this"}}),
    ]
    with pytest.raises(AssertionError, match="not stored"):
        check_tables(conn, iter(lines))
