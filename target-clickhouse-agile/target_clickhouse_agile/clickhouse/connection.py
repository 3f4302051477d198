"""`connect(settings)`: the one way the target opens ClickHouse, native server or embedded chdb.

Settings are the target's (README "Settings"): no `host` means the embedded engine at `embedded_path`.
Connections are not thread-safe: callers create one connection per sink / per thread and close it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.embedded import EmbeddedConnection
from target_clickhouse_agile.clickhouse.native import NativeConnection
from target_clickhouse_agile.clickhouse.retry import RetryPolicy
from target_clickhouse_agile.clickhouse.settings import ConnectionSettings


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
        return EmbeddedConnection(path=settings.embedded_path, database=settings.database)
    return NativeConnection(
        host=settings.host,
        port=settings.effective_port,
        user=settings.user,
        password=settings.password,
        database=settings.database,
        secure=settings.secure,
        verify=settings.verify,
        ca_certs=settings.ca_certs,
        compression=settings.compression,
        connect_timeout=settings.connect_timeout,
        send_receive_timeout=settings.send_receive_timeout,
        retry=retry,
    )
