"""The SQL of the metrics step: read an issue's complete history back, write the derived rows.

Metrics are always computed from what is durably stored, never from the records of one batch, so a
batch boundary inside an issue's changelog or a re-sent issue cannot change the result.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import fields
from datetime import datetime
from operator import attrgetter
from typing import Any

from target_clickhouse_agile.clickhouse.cluster import Node
from target_clickhouse_agile.clickhouse.connection import Connection
from target_clickhouse_agile.clickhouse.errors import ClickHouseError, first_line
from target_clickhouse_agile.clickhouse.identifiers import quote_literal
from target_clickhouse_agile.clickhouse.tables import describe
from target_clickhouse_agile.clickhouse.types import RowCoercer
from target_clickhouse_agile.metrics import METRIC_FIELDS, HistoryEvent, IssueSnapshot, events_from_field_rows
from target_clickhouse_agile.metrics.utc import UTC

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

DERIVED_TABLES = {
    # table → its key columns after issue_id
    "issue_status_intervals": ("seq",),
    "issue_metrics": ("status",),
    "issue_flow": (),
}
#: Every derived table's key column (after issue_id), with the value of its type that `existing_keys` reads
#: for the tables without it: the branches of its UNION ALL must have the same columns and types.
_KEY_DEFAULTS = {"seq": "toUInt32(0) AS seq", "status": "'' AS status"}


#: SQL per `ALTER TABLE ... DELETE` of retired keys (servers without `_is_deleted`): half the server's
#: default `max_query_size` (256 KiB), however many keys a recomputation retires and however long they are.
DELETE_STATEMENT_BYTES = 128 * 1024


def _in_list(values: Iterable[str]) -> str:
    return "(" + ", ".join(quote_literal(v) for v in values) + ")"


def _from_ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


class MetricsRepository:
    """Reads histories and writes derived rows through one connection (owned by the caller)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._columns: dict[str, Any] = {}

    def status_types(self) -> dict[str, str]:
        """Status key → Tracker status type, from the `statuses` table."""
        rows = self._conn.query("SELECT key, type FROM statuses FINAL")
        return {row["key"]: row["type"] or "" for row in rows if row["key"]}

    def issue_snapshots(self, issue_ids: Sequence[str]) -> dict[str, IssueSnapshot]:
        """Each issue's current state, with the time its status was entered (`statusStartTime`): where the
        history ends in another status (a changelog read before the issue's last change), the metrics
        trust the issue from then on (`intervals.py`). Every engine returns that column as an aware UTC
        datetime; servers without `DateTime64` keep it to the second."""
        if not issue_ids:  # `IN ()` is a syntax error on older servers
            return {}
        rows = self._conn.query(
            "SELECT issue_id, issue_key, queue, created_at_ms, status, status_start_time "
            f"FROM issues FINAL WHERE issue_id IN {_in_list(issue_ids)}"
        )
        return {
            row["issue_id"]: IssueSnapshot(
                issue_id=row["issue_id"],
                issue_key=row["issue_key"],
                queue=row["queue"],
                created_at=_from_ms(row["created_at_ms"]),
                status=row["status"],
                status_start_time=row["status_start_time"],
            )
            for row in rows
        }

    def histories(self, issue_ids: Sequence[str]) -> dict[str, list[HistoryEvent]]:
        """Metric-relevant changelog events per issue, in (time, id) order.

        Times come from `event_time_ms`: exact on every server, while `DateTime` on old servers has no
        milliseconds and would make same-second transitions ambiguous.
        """
        if not issue_ids:  # e.g. a checkpoint between an issue's changelog and its issue record
            return {}
        rows = self._conn.query(
            "SELECT issue_id, event_id, event_time_ms, event_type, field_id, from_value, to_value "
            f"FROM issue_changelog FINAL WHERE issue_id IN {_in_list(issue_ids)} "
            f"AND field_id IN {_in_list(METRIC_FIELDS)}"
        )
        per_issue: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:  # the rows are this method's own: completed in place, not copied
            row["event_time"] = _from_ms(row["event_time_ms"])
            per_issue[row["issue_id"]].append(row)
        return {
            issue_id: sorted(events_from_field_rows(issue_rows), key=lambda e: (e.at, e.event_id))
            for issue_id, issue_rows in per_issue.items()
        }

    def existing_keys(self, issue_ids: Sequence[str]) -> dict[str, set[tuple[Any, ...]]]:
        """Live keys of every derived table for these issues, so rows that a recomputation no longer yields
        can be retired. One query (a UNION ALL) rather than one per table: a round trip each was ~5 ms on
        loopback per chunk of issues, and a server 10 ms away makes it 10 ms more."""
        found: dict[str, set[tuple[Any, ...]]] = {table: set() for table in DERIVED_TABLES}
        if not issue_ids:
            return found
        ids = _in_list(issue_ids)
        branches = []
        for table, keys in DERIVED_TABLES.items():
            columns = ", ".join(name if name in keys else default for name, default in _KEY_DEFAULTS.items())
            branches.append(
                f"SELECT {quote_literal(table)} AS derived_table, issue_id, {columns} "
                f"FROM {table} FINAL WHERE issue_id IN {ids} AND _is_deleted = 0"
            )
        for row in self._conn.query(" UNION ALL ".join(branches)):
            table = row["derived_table"]
            found[table].add((row["issue_id"], *(row[name] for name in DERIVED_TABLES[table])))
        return found

    def write(self, table: str, rows: Sequence[Any], retired: Iterable[tuple[Any, ...]]) -> None:
        """Insert fresh rows (newest `_version` wins) and retire keys that no longer exist.

        On servers with `ReplacingMergeTree(_version, _is_deleted)` a tombstone row hides the old key
        under FINAL; older servers have no such engine, so the stale rows are deleted by a mutation.
        """
        columns = self._table_columns(table)
        coerce = RowCoercer(columns, table, unix_time=self._conn.takes_unix_time)
        version = time.time_ns()
        payload: list[tuple[Any, ...]] = []
        if rows:  # one dataclass per table: read and coerced column by column (types.py)
            names = [f.name for f in fields(rows[0])]
            as_tuple = attrgetter(*names) if len(names) > 1 else lambda row: (getattr(row, names[0]),)
            values = dict(zip(names, zip(*map(as_tuple, rows), strict=True), strict=True))
            values["_version"] = [version] * len(rows)
            payload = coerce.columns_to_rows(values, len(rows))
        retired = sorted(retired)
        key_columns = ("issue_id", *DERIVED_TABLES[table])
        if retired and self._conn.dialect.supports_is_deleted:
            payload += [
                coerce({**dict(zip(key_columns, key, strict=True)), "_version": version, "_is_deleted": 1})
                for key in retired
            ]
        if payload:
            self._conn.insert(table, list(columns), payload)
        if retired and not self._conn.dialect.supports_is_deleted:
            self._delete_keys(table, key_columns, retired)

    def _delete_keys(self, table: str, key_columns: Sequence[str], keys: Sequence[tuple[Any, ...]]) -> None:
        """Delete retired keys on a server without `_is_deleted`, in statements of bounded size, each
        started only when no other deletion runs on the table: in the tests, a deletion created on 18.16
        while another ran on the same table left rows behind (every time, on a single server; the
        replicated cluster's test did not show it)."""
        listed = self._wait_for_mutations(table)  # one left running (a run that stopped waiting) ends first
        for statement in _delete_statements(table, key_columns, keys):
            self._conn.execute_ddl(statement)
            listed = self._wait_for_mutations(table, listed)

    def _wait_for_mutations(
        self,
        table: str,
        listed_before: Mapping[Node | None, frozenset[str]] | None = None,
        timeout_s: float = 120.0,
    ) -> dict[Node | None, frozenset[str]]:
        """Old servers apply mutations in the background; wait, so that the next deletion starts alone and
        the checkpoint that follows is true. Returns the mutation ids each server lists once all are done
        (keyed by cluster node; `None` for the target's own connection).

        With `listed_before` (what the last wait returned), each server must also list an id it did not list
        then: the deletion just created. A replica lists a replicated mutation only once it has read it from
        ZooKeeper, which can be after the ALTER has returned, and until then it shows nothing pending. On
        a cluster every node is asked, since each replica applies a mutation by itself (a sharded table:
        its `_local` table); a node that does not answer is left out with a warning (it applies the
        deletion when it is back), and over HTTP only the nodes in `host`/`alt_hosts` can be asked."""
        layout = self._conn.layout
        if layout is None:
            before = None if listed_before is None else listed_before.get(None)
            return {None: _wait_until_done(self._conn, table, before, timeout_s)}
        storage = layout.storage_table(table)
        listed: dict[Node | None, frozenset[str]] = {}
        for node, opened in layout.each_node():
            before = None if listed_before is None else listed_before.get(node)
            try:
                with opened as node_conn:
                    listed[node] = _wait_until_done(node_conn, storage, before, timeout_s)
            except ClickHouseError as error:
                if not error.connection_failed:
                    raise
                logger.warning(
                    "deleting retired rows of %s: node %s:%d does not answer (%s); not waited for",
                    table,
                    node.host,
                    node.port,
                    first_line(str(error)),
                )
        return listed

    def _table_columns(self, table: str) -> Mapping[str, Any]:
        if table not in self._columns:
            described = describe(self._conn, table) or {}
            self._columns[table] = {k: v for k, v in described.items() if k != "_loaded_at"}
        return self._columns[table]


def _wait_until_done(
    conn: Connection, table: str, listed_before: frozenset[str] | None, timeout_s: float
) -> frozenset[str]:
    """Wait until every mutation of `table` that `conn`'s server lists is done and, given `listed_before`,
    it lists an id it did not list then; return the ids it lists at that moment."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = conn.query(
            "SELECT mutation_id, is_done FROM system.mutations "
            f"WHERE database = currentDatabase() AND table = {quote_literal(table)}"
        )
        listed = frozenset(str(row["mutation_id"]) for row in rows)
        new_one_listed = listed_before is None or bool(listed - listed_before)
        if new_one_listed and all(row["is_done"] for row in rows):
            return listed
        if time.monotonic() > deadline:
            waited_for = "finish deleting" if new_one_listed else "list its deletion of"
            msg = f"ClickHouse did not {waited_for} retired rows of {table} within {timeout_s:.1f}s"
            raise TimeoutError(msg)
        time.sleep(0.1)


def _delete_statements(
    table: str, key_columns: Sequence[str], keys: Sequence[tuple[Any, ...]]
) -> Iterator[str]:
    """`ALTER TABLE ... DELETE` statements for `keys`, each at most `DELETE_STATEMENT_BYTES` long (a key
    longer than that alone still gets its statement)."""
    head = f"ALTER TABLE {table} DELETE WHERE ({', '.join(key_columns)}) IN ("
    batch: list[str] = []
    size = len(head) + 1
    for key in keys:
        item = "(" + ", ".join(_sql_value(v) for v in key) + ")"
        item_size = len(item.encode()) + 2
        if batch and size + item_size > DELETE_STATEMENT_BYTES:
            yield head + ", ".join(batch) + ")"
            batch, size = [], len(head) + 1
        batch.append(item)
        size += item_size
    if batch:
        yield head + ", ".join(batch) + ")"


def _sql_value(value: Any) -> str:
    return str(int(value)) if isinstance(value, int) else quote_literal(value)
