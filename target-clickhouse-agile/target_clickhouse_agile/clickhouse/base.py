"""The interface every ClickHouse connection offers (native server or embedded chdb).

The rest of the target talks to ClickHouse only through these five operations, so the same sinks and metric
writers run against a production server and against the embedded engine used by the demo.

A connection is NOT thread-safe (a clickhouse-driver client holds one socket and one in-flight query): create
one connection per sink / per thread, and close it when the sink is cleaned up.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

from target_clickhouse_agile.clickhouse.cluster import ClusterLayout, Planned
from target_clickhouse_agile.clickhouse.dialect import Dialect


class Connection(ABC):
    """A connection bound to one database; see the module docstring for the threading rule."""

    database: str
    """The database all unqualified table names refer to (created by `connect` if missing)."""
    layout: ClusterLayout | None = None
    """The cluster this connection writes to (the `cluster` setting), or None for one server."""
    one_process_only: bool = False
    """Whether only one process at a time can open what this connects to (embedded chdb's data directory):
    then a lock inside the process is all that keeps two migrations apart (migrations.py)."""
    takes_unix_time: bool = False
    """Whether `insert` takes `DateTime`/`DateTime64` values as the protocol's integers (types.py): the
    native protocol does; the text formats of the others want datetimes."""

    @property
    @abstractmethod
    def server_version(self) -> tuple[int, ...]:
        """The engine's version, e.g. `(18, 16, 1)` or `(26, 9, 2, 1)`."""

    @property
    def address(self) -> str:
        """Where this connection is now (`host:port`, or the embedded data directory), for messages."""
        return getattr(self, "path", "") or "embedded"

    @property
    def dialect(self) -> Dialect:
        """Feature flags and DDL adaptation for this server."""
        return Dialect.for_version(self.server_version)

    def execute_ddl(self, sql: str) -> None:
        """Run a schema statement written for one modern server: adapted to this server's version
        (`dialect.py`), then to the cluster (`cluster.py`): ON CLUSTER, replicated and sharded tables."""
        adapted = self.dialect.adapt_ddl(sql)
        if self.layout is None:
            self.execute(adapted)
            return
        comments = self.dialect.supports_replicated_column_comments
        for planned in self.layout.rewrite(adapted, column_comments=comments):
            self._run_planned(planned)

    def _run_planned(self, planned: Planned) -> None:
        if not planned.every_node:
            self.execute(planned.sql)
            return
        assert self.layout is not None
        for _node, opened in self.layout.each_node():
            with opened as node_conn:
                node_conn.execute(planned.sql)

    @abstractmethod
    def execute(self, sql: str) -> None:
        """Run one statement that returns no rows (DDL, mutations, `INSERT ... SELECT`).

        Rows go through `insert()`: an `INSERT ... VALUES (...)` statement is refused by the native
        connection (clickhouse-driver cannot send inline data; the server would wait for a data block).
        """

    @abstractmethod
    def query(self, sql: str) -> list[dict[str, Any]]:
        """Run one SELECT; rows as dicts of Python values (aware UTC datetimes, dates, ints, lists, None)."""

    @abstractmethod
    def insert(
        self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, repeatable: bool = True
    ) -> int:
        """Insert `rows` (tuples in `columns` order, typed Python values) into `table`; return the row count.

        Columns not listed get their DEFAULT (e.g. `_loaded_at`). Iterates `rows` once. `repeatable`: the
        table keeps one copy of a row sent twice (a ReplacingMergeTree keyed on the logical key), so the
        native connection may send the rows again when a connection it took as up lost the answer.
        """

    @abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call twice."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
