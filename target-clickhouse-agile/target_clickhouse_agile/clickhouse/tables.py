"""Table introspection and the tables of streams the schema does not know.

The known tables come from `migrations/`; a stream without a migration (any tap's stream can be piped
in) gets a table made from its Singer schema: a keyed `ReplacingMergeTree` when it has key properties,
a plain `MergeTree` when it has none (a keyless ReplacingMergeTree would collapse to one row).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.errors import UNKNOWN_TABLE, ClickHouseError
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier
from target_clickhouse_agile.clickhouse.types import ColumnType, clickhouse_type_for, parse_type

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

# Columns every table written by the target carries; never taken from a record.
SYSTEM_COLUMNS = ("_version", "_loaded_at")

_TABLE_NAME = re.compile(r"[^0-9A-Za-z_]+")
_CREATES = re.compile(r"CREATE\s+(?:TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(\w+)`?", re.IGNORECASE)

#: Tables of the migrations that the stream of the same name writes (the tap's streams). Every other table
#: or view the migrations define (derived metrics, workflow map, STATE, views) belongs to the target itself.
STREAM_TABLES = frozenset(
    {"issues", "issue_changelog", "statuses", "queues", "users", "issue_types", "priorities"}
    | {"resolutions", "boards", "sprints", "skipped_issues"}
)


@functools.lru_cache(maxsize=1)
def owned_tables() -> frozenset[str]:
    """Tables and views no stream may write: what the migrations create, minus `STREAM_TABLES`."""
    from target_clickhouse_agile.clickhouse.migrations import (
        LOCK_TABLE,
        MIGRATIONS_TABLE,
        default_directory,
        discover,
    )

    created = {
        match.group(1)
        for migration in discover(default_directory())
        for match in _CREATES.finditer(migration.path.read_text())
    }
    return frozenset(created - STREAM_TABLES) | {MIGRATIONS_TABLE, LOCK_TABLE}


def table_name_for_stream(stream_name: str) -> str:
    """A safe table name for a stream: Singer names may hold dashes, dots, quotes or worse.

    A name that had to be changed gets a short hash of the original, so two different hostile names
    (`a;b`, `a`b`) never share a table and a name such as `_issues_` cannot land in `issues`. A stream
    named like a table the target owns (`issue_flow`, `target_state`, ...) is refused: its rows would
    corrupt the metrics or the checkpoints.
    """
    name = _TABLE_NAME.sub("_", stream_name).strip("_")[:100] or "stream"
    if name[0].isdigit():
        name = f"s_{name}"
    if name != stream_name:
        name = f"{name}_{hashlib.sha256(stream_name.encode('utf-8', 'surrogatepass')).hexdigest()[:8]}"
    if name in owned_tables():
        raise ClickHouseError(
            f"stream {stream_name!r} would be written into the table `{name}`, which the target owns "
            "(derived metrics, checkpoints or schema bookkeeping): rename the stream, e.g. with a stream map"
        )
    return name


def describe(conn: Connection, table: str) -> dict[str, ColumnType] | None:
    """Column name → parsed type of an existing table, or None when the table does not exist.

    One statement: a `DESCRIBE` of a missing table fails with UNKNOWN_TABLE (on every engine; the embedded
    one's message carries the code). A lookup in `system.tables` first cost one more round trip per table
    read, and on 18.16 such a lookup failed while another loader created or dropped a table of the
    database. DESCRIBE keeps declaration order on every version (system.columns has no `position` on
    18.16)."""
    try:
        rows = conn.query(f"DESCRIBE TABLE {quote_identifier(table)}")
    except ClickHouseError as error:
        if error.code == UNKNOWN_TABLE:
            return None
        raise
    return {row["name"]: parse_type(row["type"]) for row in rows}


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
    conn.execute_ddl(
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
        conn.execute_ddl(
            f"ALTER TABLE {quote_identifier(table)} ADD COLUMN {quote_identifier(name)} "
            f"{clickhouse_type_for(prop)}",
        )
        added.append(name)
    if added:
        logger.info("Added columns %s to %s (new properties in the stream's schema)", added, table)
    return added
