"""Sinks: one per kind of stream. They translate records into rows and insert them; metric semantics
live in `metrics/`, SQL in `clickhouse/`.

Every sink owns its own ClickHouse connection because the SDK drains sinks in parallel threads and a
native client is not thread-safe. `process_batch` returns only after ClickHouse acknowledged the INSERT,
which is what lets the target write a STATE message afterwards.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

from target_clickhouse_agile import error_reporting
from target_clickhouse_agile.batching import MAX_BATCH_BYTES, pending_size
from target_clickhouse_agile.clickhouse import (
    SYSTEM_COLUMNS,
    ClickHouseError,
    ColumnType,
    Connection,
    RowCoercer,
    add_missing_columns,
    connect,
    create_stream_table,
    describe,
    find_unencodable,
    table_name_for_stream,
)
from target_clickhouse_agile.load_context import HasLoadContext, LoadContext
from target_clickhouse_agile.rows import (
    REQUIRED_FIELDS,
    Problems,
    RecordError,
    changelog_rows,
    invalid_record_message,
    issue_row,
    short_repr,
    to_json,
)
from target_clickhouse_agile.validation import CompiledSchemaValidator

#: Columns that name a row for a person, most specific first.
IDENTIFYING_COLUMNS = ("issue_key", "event_id", "issue_id", "key", "id")


class ClickHouseSink(BatchSink):
    """Common machinery: a private connection, row conversion at record time, byte-capped batches."""

    table_name: str = ""
    #: Columns that must hold exactly what the record says (keys, timestamps the metrics read): a value
    #: that does not fit stops the run. Every other column takes what fits and leaves the rest to `raw`.
    strict_columns: frozenset[str] = frozenset({"_version"})
    #: Keep the connection open between batches. A native connection holds 2 MiB of driver buffers, so
    #: sinks that see one batch per run (reference streams) close theirs after each use.
    keeps_connection: bool = True

    def __init__(self, target: HasLoadContext, *args: Any, **kwargs: Any) -> None:
        #: What this sink shares with the rest of the load (it never calls the target itself).
        self.load: LoadContext = target.load_context
        super().__init__(target, *args, **kwargs)  # type: ignore[arg-type]
        self._conn: Connection | None = None
        self._columns: dict[str, ColumnType] | None = None
        self._positions: dict[str, int] = {}
        self._row_numbers = itertools.count()
        self._batch_bytes = 0
        self.table = self.table_name or table_name_for_stream(self.stream_name)
        self.required_fields = REQUIRED_FIELDS.get(self.stream_name, frozenset()) | set(self.key_properties)
        #: Fields of the record being processed that had an unexpected shape (taken out of the record by
        #: `_validate_and_parse`, put back for its `raw` JSON by `process_record`).
        self._set_aside: dict[str, Any] = {}
        self._problems: Problems = {}

    @property
    def keeps_one_copy(self) -> bool:
        """Whether the table keeps one copy of a row sent twice: every table a migration defines, and a
        stream's own table when the stream has a key, is a ReplacingMergeTree; a keyless stream's table is
        a plain MergeTree. (A batch sent again is then never resent on a new socket: see native.py.)"""
        return self.table in self.load.migrated_tables or bool(self.key_properties)

    @property
    def max_size(self) -> int:
        return self.load.settings.batch_size_rows

    @property
    def is_full(self) -> bool:
        return super().is_full or self._batch_bytes >= MAX_BATCH_BYTES

    @property
    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = connect(self.load.settings.connection)
        return self._conn

    @property
    def columns(self) -> dict[str, ColumnType]:
        """The table's columns in INSERT order (read once per sink)."""
        if self._columns is None:
            self.refresh_columns()
            assert self._columns is not None
        return self._columns

    def refresh_columns(
        self, described: Mapping[str, ColumnType] | None = None, *, via: Connection | None = None
    ) -> None:
        """The table's columns read again (or `described`, a description just read), through `via` or else
        the sink's own connection."""
        conn = via if via is not None else self.connection
        if described is None:
            described = describe(conn, self.table)
        if described is None:
            msg = f"table {self.table} does not exist: did the migrations run?"
            raise RuntimeError(msg)
        self._columns = {k: v for k, v in described.items() if k != "_loaded_at"}
        self._positions = {name: n for n, name in enumerate(self._columns)}
        self._coerce = RowCoercer(
            self._columns,
            self.table,
            strict=self.strict_columns,
            unix_time=conn.takes_unix_time,
        )

    def rows_for(self, record: dict[str, Any], raw_record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        """The table rows of one record; `raw_record` is what a `raw` column keeps."""
        raise NotImplementedError

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        return CompiledSchemaValidator(self.schema) if self.validate_schema else None

    def _validate_and_parse(self, record: dict) -> dict:
        """The schema check, liberal: a field of an unexpected shape that the metrics do not need is set
        aside (its value still goes to `raw`) and reported; one they need fails with a message naming the
        stream, the record and the field (the SDK's names neither, and logs a traceback first)."""
        self._set_aside, self._problems = {}, {}
        if self._validator is not None:
            for _attempt in range(len(record) + 1):
                try:
                    self._validator.validate(record)
                    break
                except InvalidRecord as error:
                    field = _top_level_field(error)
                    if field is None or field in self.required_fields or field not in record:
                        raise RecordError(invalid_record_message(self.stream_name, record, error)) from None
                    self._problems[field] = _what_is_wrong(error, record[field])
                    self._set_aside[field] = record.pop(field)
        # Timestamps stay strings (the validator checked their format; the row builders parse what they
        # read), so `raw` keeps them exactly as they were sent.
        return record

    def process_record(self, record: dict, context: dict) -> None:
        """Convert the record into its table's rows right away and keep only those: a pending row is a
        tuple in column order, a fraction of the memory of the record or of a dict per row."""
        rows = context.setdefault("rows", {})
        for row in self.rows_for(record, self._raw_record(record)):
            self.refuse_surrogates(row, record)
            rows[self.row_key(row)] = self.encode(row)
            self._batch_bytes += pending_size(row)
        self._report_problems(record)

    def _raw_record(self, record: dict) -> dict:
        """What `raw` keeps: the record with the fields set aside for their shape put back."""
        return {**record, **self._set_aside} if self._set_aside else record

    def _report_problems(self, record: Mapping[str, Any]) -> None:
        if self._problems:
            ident = (
                record.get("key")
                or record.get("id")
                or next((record.get(k) for k in self.key_properties), "?")
            )
            kept = self._columns is None or "raw" in self._columns
            self.load.drift.note(self.stream_name, str(ident), self._problems, kept=kept)
            self._problems, self._set_aside = {}, {}

    def encode(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """A row as the INSERT sends it. A value that does not fit a strict column fails here, naming table
        and column; in any other column it is left empty (and reported: `raw` keeps it)."""
        if self._columns is None:
            self.refresh_columns()
        return self._coerce(row, self._problems)

    def column_index(self, column: str) -> int:
        """Where `column` sits in an encoded row."""
        if self._columns is None:
            self.refresh_columns()
        return self._positions[column]

    def row_key(self, row: Mapping[str, Any]) -> Any:
        """In-batch de-duplication key: the table's logical key, so the last version wins. Without one
        every row is kept (a running number: the row itself is dropped once encoded)."""
        return next(self._row_numbers)

    def process_batch(self, context: dict) -> None:
        """The batch's rows in one INSERT; an error escaping it is reported to Sentry with the stream."""
        with error_reporting.in_stream(self.stream_name):
            self._insert_batch(context)

    def _insert_batch(self, context: dict) -> None:
        data = list(context.get("rows", {}).values())
        self._batch_bytes = 0
        if not data:
            return
        started = time.monotonic()
        try:
            self.connection.insert(self.table, list(self.columns), data, repeatable=self.keeps_one_copy)
        except ClickHouseError:
            self.refuse_unencodable(data)
            raise
        elapsed = time.monotonic() - started
        self.logger.info("Inserted %d rows into %s in %.2fs", len(data), self.table, elapsed)
        self.load.statsd.inserted(self.table, len(data), elapsed)
        if self.load.journal is not None:
            self.load.journal.record(
                self.table, list(self.columns), data, self.connection.address, self.issue_ids(data)
            )
        self.after_insert(data)
        if not self.keeps_connection:
            self.close_connection()

    def refuse_surrogates(self, row: Mapping[str, Any], record: Mapping[str, Any]) -> None:
        """Text no INSERT can carry (a lone surrogate from a JSON `\\ud800` escape), found in the row's
        `raw` JSON before anything is sent, so both engines refuse the record the same way, by name."""
        raw = row.get("raw")
        if not isinstance(raw, str) or raw.isascii():
            return
        try:
            raw.encode("utf-8")
        except UnicodeEncodeError:
            field = next((k for k, v in record.items() if _holds_surrogate(v)), "?")
            ident = (
                record.get("key")
                or record.get("id")
                or next((record.get(k) for k in self.key_properties), "?")
            )
            raise RecordError(_surrogate_message(self.stream_name, f"{ident}", f"field '{field}'")) from None

    def refuse_unencodable(self, data: list[tuple[Any, ...]]) -> None:
        """If the failed batch holds text no INSERT can carry, say which record and field."""
        found = find_unencodable(data, list(self.columns))
        if found is None:
            return
        index, column = found
        row = data[index]
        names = [name for name in IDENTIFYING_COLUMNS if name in self.columns]
        ident = f"{names[0]} {row[self.column_index(names[0])]}" if names else f"#{index + 1} in the batch"
        raise RecordError(_surrogate_message(self.stream_name, f"({ident})", f"column '{column}'")) from None

    def after_insert(self, rows: list[tuple[Any, ...]]) -> None:
        """Hook run once the rows are durable."""

    def issue_ids(self, rows: list[tuple[Any, ...]]) -> frozenset[str]:
        """The issues these rows belong to (whose metrics depend on them); none for most tables."""
        return frozenset()

    def close_connection(self) -> None:
        """Close this sink's connection. Safe against a drain thread closing it at the same moment (the
        target closes every connection when a load fails, while another sink may still be draining):
        the connection is taken out of the sink first, so only one caller ever closes it."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def clean_up(self) -> None:
        self.close_connection()
        super().clean_up()


class IssueRowsSink(ClickHouseSink):
    """A table whose rows belong to an issue: once they are durable, the issue's metrics are rebuilt."""

    def after_insert(self, rows: list[tuple[Any, ...]]) -> None:
        self.load.mark_issues_dirty(self.issue_ids(rows))

    def issue_ids(self, rows: list[tuple[Any, ...]]) -> frozenset[str]:
        issue_id = self.column_index("issue_id")
        return frozenset(row[issue_id] for row in rows)


class IssuesSink(IssueRowsSink):
    """`issues`: one row per issue; marks each issue for the metrics step."""

    table_name = "issues"
    strict_columns = frozenset(
        {"issue_id", "issue_key", "queue", "status", "status_category", "created_at", "created_at_ms"}
        | {"updated_at", "_version"}
    )

    def rows_for(self, record: dict[str, Any], raw_record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        category_of = self.load.categories.category_for_issue
        return [issue_row(record, category_of, raw_record=raw_record, problems=self._problems)]

    def row_key(self, row: Mapping[str, Any]) -> Any:
        return row["issue_id"]

    def process_record(self, record: dict, context: dict) -> None:
        rows = context.setdefault("rows", {})
        (row,) = self.rows_for(record, self._raw_record(record))
        self.refuse_surrogates(row, record)
        previous = rows.get(row["issue_id"])
        if previous is None or previous[self.column_index("_version")] <= row["_version"]:
            rows[row["issue_id"]] = self.encode(row)
        self._batch_bytes += pending_size(row)
        self._report_problems(record)


class ChangelogSink(IssueRowsSink):
    """`issue_changelog`: one row per changed field of each entry."""

    table_name = "issue_changelog"
    strict_columns = frozenset(
        {"event_id", "field_id", "issue_id", "event_time", "event_time_ms", "event_type", "from_value"}
        | {"to_value", "_version"}
    )

    def rows_for(self, record: dict[str, Any], raw_record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        return changelog_rows(record, raw_record=raw_record)

    def row_key(self, row: Mapping[str, Any]) -> Any:
        return (row["event_id"], row["field_id"])


class TableSink(ClickHouseSink):
    """Reference streams (a migration defines their table) and any stream the schema does not know
    (its table is made from the Singer schema and grows with it)."""

    keeps_connection = False

    def setup(self) -> None:
        # Through the target's connection when it is open: a connection of the sink's own, opened for this
        # and closed until the first batch, was a handshake more per stream and run (eight reference
        # streams; two or three round trips each to a distant server).
        with self.load.main_connection_in_use() as shared:
            conn = shared if shared is not None else self.connection
            existing = describe(conn, self.table)
            if existing is None:
                create_stream_table(conn, self.table, self.schema, self.key_properties)
            elif self.table not in self.load.migrated_tables and add_missing_columns(
                conn, self.table, self.schema, existing
            ):
                existing = None  # columns added: read the table again
            # The final table, read now (a description that nothing changed since is kept: two statements
            # less per stream, round trips to a distant server). Every connection of a load has the same
            # engine and server, so this one's `takes_unix_time` holds for the sink's INSERTs too.
            self.refresh_columns(existing, via=conn)
        self.close_connection()  # one of its own, where the target had none open (a sink made alone)
        self._version_base = time.time_ns()
        self._sequence = 0

    @property
    def strict_columns(self) -> frozenset[str]:  # type: ignore[override]
        """The table's key: the stream's key properties (by column name) and the version."""
        return frozenset({"_version", *self.key_properties, *(_snake(k) for k in self.key_properties)})

    def rows_for(self, record: dict[str, Any], raw_record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        # A later record of the same key must win even inside one nanosecond: count them.
        self._sequence += 1
        row: dict[str, Any] = {"_version": self._version_base + self._sequence}
        for column in self.columns:
            if column in SYSTEM_COLUMNS:
                continue
            if column == "raw":
                row["raw"] = to_json(raw_record)
            else:
                row[column] = _lookup(record, column)
        return [row]

    def row_key(self, row: Mapping[str, Any]) -> Any:
        if not self.key_properties:
            return super().row_key(row)
        return tuple(json.dumps(row.get(k), default=str) for k in self.key_properties)


class StatusesSink(TableSink):
    """`statuses`: also teaches the category resolver each status's Tracker type as it arrives, so
    issues later in the same run get the right `status_category`."""

    def rows_for(self, record: dict[str, Any], raw_record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        if record.get("key") and record.get("type"):
            self.load.categories.learn_types({str(record["key"]): str(record["type"])})
        return super().rows_for(record, raw_record)


class SkippedIssuesSink(TableSink):
    """`skipped_issues`: issues the tap set aside (or resolved); counted for the run's summary."""

    def rows_for(self, record: dict[str, Any], raw_record: dict[str, Any]) -> Iterable[dict[str, Any]]:
        self.load.note_skipped_issue(str(record.get("status") or ""), str(record.get("issue_key") or ""))
        return super().rows_for(record, raw_record)


def _surrogate_message(stream: str, ident: str, where: str) -> str:
    return (
        f"{stream} record {ident}: {where} holds text that is not valid Unicode (a lone surrogate such as "
        "a JSON '\\ud800' escape), which ClickHouse cannot store; fix the value at the source or drop the "
        "field with a stream map"
    )


def _holds_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_holds_surrogate(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_surrogate(v) for v in value)
    return False


def _top_level_field(error: InvalidRecord) -> str | None:
    """The record's own field a validation error is about (`None`: the record as a whole)."""
    path = list(getattr(error.__cause__, "path", ()) or ())[1:]  # fastjsonschema: ["data", field, ...]
    return str(path[0]) if path else None


def _what_is_wrong(error: InvalidRecord, value: Any) -> str:
    cause = error.__cause__
    message = str(getattr(cause, "message", "") or error).removeprefix("data.")
    return f"{message}, got {short_repr(value)}"


def _snake(name: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in name)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _lookup(record: Mapping[str, Any], column: str) -> Any:
    """Find a column's value in a record: same name, camelCase (`first_name` ← `firstName`), or the
    `id`/`key` of a reference (`board_id` ← `board.id`, `lead_id` ← `lead.id`)."""
    for name in (column, _camel(column)):
        if name in record:
            return record[name]
    for suffix in ("_id", "_key", "_display"):
        if column.endswith(suffix):
            ref = record.get(_camel(column[: -len(suffix)]))
            if isinstance(ref, Mapping):
                return ref.get(suffix[1:])
    return None
