"""The ClickHouse room: connections (native server or embedded chdb), the DDL dialect, schema migrations
and every SQL statement of the target. Code outside this package imports from here, never from its
modules (a test checks it), so what the room offers is this list."""

from target_clickhouse_agile.clickhouse.base import Connection
from target_clickhouse_agile.clickhouse.cluster import replication_setting_problems
from target_clickhouse_agile.clickhouse.connection import connect
from target_clickhouse_agile.clickhouse.dialect import Dialect, adapt_ddl
from target_clickhouse_agile.clickhouse.errors import ClickHouseError, first_line
from target_clickhouse_agile.clickhouse.identifiers import (
    quote_identifier,
    quote_literal,
    validate_identifier,
)
from target_clickhouse_agile.clickhouse.migrations import (
    apply_migrations,
    default_directory,
    discover,
    migration_tables,
    split_statements,
)
from target_clickhouse_agile.clickhouse.repository import DERIVED_TABLES, MetricsRepository
from target_clickhouse_agile.clickhouse.retry import NO_RETRY, RetryPolicy
from target_clickhouse_agile.clickhouse.settings import PROTOCOLS, ConnectionSettings
from target_clickhouse_agile.clickhouse.state_store import load_state, save_state
from target_clickhouse_agile.clickhouse.tables import (
    SYSTEM_COLUMNS,
    add_missing_columns,
    create_stream_table,
    describe,
    table_name_for_stream,
)
from target_clickhouse_agile.clickhouse.types import (
    CoercionError,
    ColumnType,
    RowCoercer,
    find_unencodable,
    json_default,
    json_text,
)
from target_clickhouse_agile.clickhouse.workflow_store import save_workflow_map

__all__ = [
    "DERIVED_TABLES",
    "NO_RETRY",
    "PROTOCOLS",
    "SYSTEM_COLUMNS",
    "ClickHouseError",
    "CoercionError",
    "ColumnType",
    "Connection",
    "ConnectionSettings",
    "Dialect",
    "MetricsRepository",
    "RetryPolicy",
    "RowCoercer",
    "adapt_ddl",
    "add_missing_columns",
    "apply_migrations",
    "connect",
    "create_stream_table",
    "default_directory",
    "describe",
    "discover",
    "find_unencodable",
    "first_line",
    "json_default",
    "json_text",
    "load_state",
    "migration_tables",
    "quote_identifier",
    "quote_literal",
    "replication_setting_problems",
    "save_state",
    "save_workflow_map",
    "split_statements",
    "table_name_for_stream",
    "validate_identifier",
]
