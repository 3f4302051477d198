"""The ClickHouse room: connections (native server or embedded chdb), DDL dialect and schema migrations."""

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.connection import connect
from target_clickhouse_agile.clickhouse.dialect import Dialect, adapt_ddl
from target_clickhouse_agile.clickhouse.errors import ClickHouseError
from target_clickhouse_agile.clickhouse.identifiers import quote_identifier, validate_identifier
from target_clickhouse_agile.clickhouse.migrations import apply_migrations
from target_clickhouse_agile.clickhouse.retry import NO_RETRY, RetryPolicy

__all__ = [
    "NO_RETRY",
    "ClickHouseError",
    "Connection",
    "Dialect",
    "RetryPolicy",
    "adapt_ddl",
    "apply_migrations",
    "connect",
    "quote_identifier",
    "validate_identifier",
]
