"""`connect(settings)`: the one way the target opens ClickHouse, native server or embedded chdb.

Settings are the target's (see data-contract.md): no `host` means the embedded engine at `embedded_path`.
Connections are not thread-safe: callers create one connection per sink / per thread and close it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.embedded import EmbeddedConnection
from target_clickhouse_agile.clickhouse.errors import ClickHouseError
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier, validate_identifier
from target_clickhouse_agile.clickhouse.native import NativeConnection
from target_clickhouse_agile.clickhouse.retry import NO_RETRY, RetryPolicy

__all__ = [
    "NO_RETRY",
    "ClickHouseError",
    "Connection",
    "EmbeddedConnection",
    "NativeConnection",
    "RetryPolicy",
    "connect",
    "quote_identifier",
    "validate_identifier",
]

DEFAULT_DATABASE = "agile"
DEFAULT_EMBEDDED_PATH = "./agile_clickhouse"


def _number(settings: Mapping[str, Any], key: str, default: float | None) -> Any:
    value = settings.get(key)
    if value in (None, ""):
        return default
    try:
        return float(value) if isinstance(value, float) else int(value)
    except (TypeError, ValueError):
        raise ClickHouseError(f"setting `{key}` must be a number, got {value!r}") from None


def connect(settings: Mapping[str, Any], *, retry: RetryPolicy | None = None) -> Connection:
    """Open a connection as the settings say; the database is created if missing.

    `retry` governs connection failures only (default: a few attempts with back-off, so that a restarting
    server does not fail a load); pass `NO_RETRY` to fail at once.
    """
    database = settings.get("database") or DEFAULT_DATABASE
    host = str(settings.get("host") or "").strip()
    if not host:
        return EmbeddedConnection(
            path=settings.get("embedded_path") or DEFAULT_EMBEDDED_PATH, database=database
        )
    secure = bool(settings.get("secure", False))
    return NativeConnection(
        host=host,
        port=_number(settings, "port", None),
        user=settings.get("user") or "default",
        password=settings.get("password") or "",
        database=database,
        secure=secure,
        verify=bool(settings.get("verify", True)),
        ca_certs=settings.get("ca_certs") or None,
        compression=settings.get("compression"),
        connect_timeout=_number(settings, "connect_timeout", 10),
        send_receive_timeout=_number(settings, "send_receive_timeout", 300),
        retry=retry,
    )
