"""Table introspection and the tables of streams the schema does not know.

The known tables come from `migrations/`; a stream without a migration (any tap's stream can be piped
in) gets a table made from its Singer schema: a keyed `ReplacingMergeTree` when it has key properties,
a plain `MergeTree` when it has none (a keyless ReplacingMergeTree would collapse to one row).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier
from target_clickhouse_agile.clickhouse.types import ColumnType, clickhouse_type_for, parse_type

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

# Columns every table written by the target carries; never taken from a record.
SYSTEM_COLUMNS = ("_version", "_loaded_at")

_TABLE_NAME = re.compile(r"[^0-9A-Za-z_]+")


def table_name_for_stream(stream_name: str) -> str:
    """A safe table name for a stream: Singer names may hold dashes, dots or worse."""
    name = _TABLE_NAME.sub("_", stream_name).strip("_") or "stream"
    return name if not name[0].isdigit() else f"s_{name}"


def describe(conn: Connection, table: str) -> dict[str, ColumnType] | None:
    """Column name → parsed type of an existing table, or None when the table does not exist."""
    exists = conn.query(
        f"SELECT name FROM system.tables WHERE database = currentDatabase() AND name = '{_escape(table)}'"
    )
    if not exists:
        return None
    # DESCRIBE keeps declaration order on every version (system.columns has no `position` on 18.16).
    rows = conn.query(f"DESCRIBE TABLE {quote_identifier(table)}")
    return {row["name"]: parse_type(row["type"]) for row in rows}


def _execute_ddl(conn: Connection, sql: str) -> None:
    conn.execute(conn.dialect.adapt_ddl(sql))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def create_stream_table(
    conn: Connection,
    table: str,
    schema: Mapping[str, Any],
    key_properties: Sequence[str],
) -> None:
    """CREATE TABLE for a stream without a migration (keys non-NULL, everything else Nullable)."""
    properties = schema.get("properties") or {}
    columns = [
        f"{quote_identifier(name)} {clickhouse_type_for(prop, key=name in key_properties)}"
        for name, prop in properties.items()
        if name not in SYSTEM_COLUMNS
    ]
    for key in key_properties:
        if key not in properties:
            columns.append(f"{quote_identifier(key)} String")
    columns += ["`_version` UInt64", "`_loaded_at` DateTime64(3, 'UTC') DEFAULT now64(3)"]
    if key_properties:
        engine = "ReplacingMergeTree(_version)"
        order_by = "(" + ", ".join(quote_identifier(k) for k in key_properties) + ")"
    else:
        engine, order_by = "MergeTree", "tuple()"
    _execute_ddl(
        conn,
        f"CREATE TABLE IF NOT EXISTS {quote_identifier(table)} (\n  "
        + ",\n  ".join(columns)
        + f"\n) ENGINE = {engine} ORDER BY {order_by}",
    )
    logger.info("Created table %s for a stream without a migration (%s)", table, engine)


def add_missing_columns(
    conn: Connection, table: str, schema: Mapping[str, Any], existing: Mapping[str, ColumnType]
) -> list[str]:
    """Schema evolution: a new property becomes a new Nullable column; nothing is ever narrowed."""
    added = []
    for name, prop in (schema.get("properties") or {}).items():
        if name in existing or name in SYSTEM_COLUMNS:
            continue
        _execute_ddl(
            conn,
            f"ALTER TABLE {quote_identifier(table)} ADD COLUMN {quote_identifier(name)} "
            f"{clickhouse_type_for(prop)}",
        )
        added.append(name)
    if added:
        logger.info("Added columns %s to %s (new properties in the stream's schema)", added, table)
    return added
