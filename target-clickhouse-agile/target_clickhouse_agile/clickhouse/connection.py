"""`connect(settings)`: the one way the target opens ClickHouse: a server over the native protocol or HTTP(S),
or embedded chdb.

Settings are the target's (README "Settings"): no `host` means the embedded engine at `embedded_path`;
`protocol` picks the server transport. Each transport's module is imported when the settings pick it: the
native one brings clickhouse-driver, the HTTP one requests and urllib3 (50-65 ms under `-X importtime` at
every start of a target that never used them), the embedded one chdb when it opens.
Connections are not thread-safe: callers create one connection per sink / per thread and close it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.cluster import ClusterLayout, Node, load_layout
from target_clickhouse_agile.clickhouse.errors import ClickHouseError
from target_clickhouse_agile.clickhouse.identifiers import quote_literal
from target_clickhouse_agile.clickhouse.retry import NO_RETRY, RetryPolicy
from target_clickhouse_agile.clickhouse.settings import ConnectionSettings

if TYPE_CHECKING:
    from target_clickhouse_agile.clickhouse.http import HttpConnection
    from target_clickhouse_agile.clickhouse.native import NativeConnection

#: Server settings of every connection to a cluster: inserts into Distributed tables are written to the
#: shards before the INSERT returns (so the metrics step can read them back), prefer the replicas in their
#: configured order (writes and reads then meet on the same replica), and never skip an insert as a
#: duplicate block (a batch re-sent after a failover must land on the new replica, see sinks.py).
CLUSTER_SERVER_SETTINGS = {
    "insert_distributed_sync": 1,
    "load_balancing": "in_order",
    "insert_deduplicate": 0,
}

logger = logging.getLogger("target_clickhouse_agile.clickhouse")

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
        from target_clickhouse_agile.clickhouse.embedded import EmbeddedConnection

        return EmbeddedConnection(path=settings.embedded_path, database=settings.database)
    conn = _server(settings, settings.host, settings.effective_port, retry=retry, alt=settings.endpoints[1:])
    if settings.cluster:
        try:
            conn.layout = _layout(conn, settings)
        except BaseException:
            conn.close()
            raise
    return conn


def _server(
    settings: ConnectionSettings,
    host: str,
    port: int,
    *,
    retry: RetryPolicy | None = None,
    alt: tuple[tuple[str, int], ...] = (),
    database: str | None = None,
) -> NativeConnection | HttpConnection:
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "user": settings.user,
        "password": settings.password,
        "database": database or settings.database,
        "secure": settings.secure,
        "verify": settings.verify,
        "ca_certs": settings.ca_certs,
        "compression": settings.compression,
        "connect_timeout": settings.connect_timeout,
        "send_receive_timeout": settings.send_receive_timeout,
        "retry": retry,
        "alt_endpoints": alt,
        "server_settings": CLUSTER_SERVER_SETTINGS if settings.cluster else None,
    }
    if settings.protocol == "http":
        from target_clickhouse_agile.clickhouse.http import HttpConnection

        return HttpConnection(**common, serverless_proxy_id=settings.serverless_proxy_id)
    from target_clickhouse_agile.clickhouse.native import NativeConnection

    return NativeConnection(**common)


def _layout(conn: Connection, settings: ConnectionSettings) -> ClusterLayout:
    """The cluster's layout, read and checked once per process and settings."""
    key = (
        settings.protocol,
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
                open_node=lambda node: _server(settings, node.host, node.port, retry=NO_RETRY),
                open_system=lambda node: _server(
                    settings, node.host, node.port, retry=NO_RETRY, database="system"
                ),
                locate=_http_nodes(settings) if settings.protocol == "http" else None,
            )
        return _layouts[key]


def _http_nodes(settings: ConnectionSettings) -> Callable[[str, tuple[Node, ...]], tuple[Node, ...]]:
    """Over HTTP the nodes' own ports are unknown (`system.clusters` lists native ones): the per-node work
    goes to the configured endpoints (`host`, `alt_hosts`), each placed in its shard by what it says of
    itself (`is_local`). Nodes not among them are named in a warning: list every node in `alt_hosts`."""

    def locate(name: str, nodes: tuple[Node, ...]) -> tuple[Node, ...]:
        found: list[Node] = []
        for host, port in settings.endpoints:
            try:
                with _server(settings, host, port, retry=NO_RETRY, database="system") as conn:
                    rows = conn.query(
                        "SELECT shard_num, replica_num FROM system.clusters "
                        f"WHERE cluster = {quote_literal(name)} AND is_local ORDER BY replica_num"
                    )
            except ClickHouseError as error:
                if not error.connection_failed:
                    raise
                continue  # down now: left out, and counted in the warning below
            if rows:
                shard = int(rows[0]["shard_num"])
                # Servers before 20.x mark every replica of their own shard as local: number them in order.
                replica = (
                    int(rows[0]["replica_num"])
                    if len(rows) == 1
                    else 1 + sum(n.shard == shard for n in found)
                )
                found.append(Node(host, port, shard, replica))
        if len(found) < len(nodes):
            logger.warning(
                "cluster %s over HTTP: statements for every node (views) reach the %d endpoint(s) in host "
                "and alt_hosts, of the cluster's %d nodes; list every node in alt_hosts",
                name,
                len(found),
                len(nodes),
            )
        return tuple(found)

    return locate
