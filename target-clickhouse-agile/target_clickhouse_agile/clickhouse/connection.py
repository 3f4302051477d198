"""`connect(settings)`: the one way the target opens ClickHouse, native server or embedded chdb.

Settings are the target's (README "Settings"): no `host` means the embedded engine at `embedded_path`.
Connections are not thread-safe: callers create one connection per sink / per thread and close it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.cluster import ClusterLayout, load_layout
from target_clickhouse_agile.clickhouse.embedded import EmbeddedConnection
from target_clickhouse_agile.clickhouse.errors import ClickHouseError
from target_clickhouse_agile.clickhouse.native import NativeConnection
from target_clickhouse_agile.clickhouse.retry import NO_RETRY, RetryPolicy
from target_clickhouse_agile.clickhouse.settings import ConnectionSettings

#: Server settings of every connection to a cluster: inserts into Distributed tables are written to the
#: shards before the INSERT returns (so the metrics step can read them back), prefer the replicas in their
#: configured order (writes and reads then meet on the same replica), and never skip an insert as a
#: duplicate block (a batch re-sent after a failover must land on the new replica, see sinks.py).
CLUSTER_SERVER_SETTINGS = {
    "insert_distributed_sync": 1,
    "load_balancing": "in_order",
    "insert_deduplicate": 0,
}

_layouts: dict[tuple[object, ...], ClusterLayout] = {}
_layouts_lock = threading.Lock()


def connect(
    settings: Mapping[str, Any] | ConnectionSettings, *, retry: RetryPolicy | None = None
) -> Connection:
    """Open a connection as the settings say (the target's settings mapping, or `ConnectionSettings`);
    the database is created if missing.

    `retry` governs connection failures only (default: a few attempts with back-off, so that a restarting
    server does not fail a load); pass `NO_RETRY` to fail at once.
    """
    if not isinstance(settings, ConnectionSettings):
        settings = ConnectionSettings.from_config(settings)
    if settings.embedded:
        if settings.cluster:
            raise ClickHouseError(
                "`cluster` needs a ClickHouse server: set `host` (embedded ClickHouse is one)"
            )
        return EmbeddedConnection(path=settings.embedded_path, database=settings.database)
    conn = _native(settings, settings.host, settings.effective_port, retry=retry, alt=settings.endpoints[1:])
    if settings.cluster:
        try:
            conn.layout = _layout(conn, settings)
        except BaseException:
            conn.close()
            raise
    return conn


def _native(
    settings: ConnectionSettings,
    host: str,
    port: int,
    *,
    retry: RetryPolicy | None = None,
    alt: tuple[tuple[str, int], ...] = (),
    database: str | None = None,
) -> NativeConnection:
    return NativeConnection(
        host=host,
        port=port,
        user=settings.user,
        password=settings.password,
        database=database or settings.database,
        secure=settings.secure,
        verify=settings.verify,
        ca_certs=settings.ca_certs,
        compression=settings.compression,
        connect_timeout=settings.connect_timeout,
        send_receive_timeout=settings.send_receive_timeout,
        retry=retry,
        alt_endpoints=alt,
        server_settings=CLUSTER_SERVER_SETTINGS if settings.cluster else None,
    )


def _layout(conn: Connection, settings: ConnectionSettings) -> ClusterLayout:
    """The cluster's layout, read and checked once per process and settings."""
    key = (
        settings.endpoints,
        settings.cluster,
        settings.database,
        settings.replication_path,
        settings.replica_name,
    )
    with _layouts_lock:
        if key not in _layouts:
            _layouts[key] = load_layout(
                conn,
                name=settings.cluster,
                replication_path=settings.replication_path,
                replica_name=settings.replica_name,
                open_node=lambda node: _native(settings, node.host, node.port, retry=NO_RETRY),
                open_system=lambda node: _native(
                    settings, node.host, node.port, retry=NO_RETRY, database="system"
                ),
            )
        return _layouts[key]
