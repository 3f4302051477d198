"""Settings of the target: the JSON schema users see (`--about`), their semantic validation, and
`TargetSettings`, the typed and frozen object the target and its sinks read.

The JSON schema checks shapes; `validate_semantics` checks what a schema cannot (a real IANA timezone,
`HH:MM` times, a holiday country the `holidays` package knows) and says how to fix each problem. Every
default is written once: the connection's in `clickhouse/settings.py`, the calendar's in
`metrics/calendar.py`, batching in `batching.py`, StatsD in `telemetry.py`, the rest in the schema here;
the schema shows them all and `TargetSettings.from_config` applies them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from target_clickhouse_agile.batching import DEFAULT_BATCH_ROWS, MAX_BATCH_BYTES
from target_clickhouse_agile.clickhouse import (
    PROTOCOLS,
    ClickHouseError,
    ConnectionSettings,
    replication_setting_problems,
)
from target_clickhouse_agile.metrics.calendar import (
    DEFAULT_HOLIDAYS_COUNTRY,
    DEFAULT_TIMEZONE,
    DEFAULT_WORK_DAYS,
    DEFAULT_WORK_END,
    DEFAULT_WORK_START,
    WorkCalendar,
    load_zone,
    parse_hhmm,
)
from target_clickhouse_agile.metrics.categories import CATEGORIES
from target_clickhouse_agile.telemetry import DEFAULT_PORT as DEFAULT_STATSD_PORT
from target_clickhouse_agile.telemetry import DEFAULT_PREFIX as DEFAULT_STATSD_PREFIX
from target_clickhouse_agile.workflow import WorkflowMap, workflow_from_config

_CONNECTION = ConnectionSettings()

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "host",
        th.StringType,
        description="ClickHouse server (native protocol). Leave empty to use embedded ClickHouse (chdb) "
        "at `embedded_path`.",
    ),
    th.Property(
        "protocol",
        th.StringType,
        default=_CONNECTION.protocol,
        allowed_values=list(PROTOCOLS),
        description="`native` (clickhouse-driver, TCP) or `http` (the HTTP(S) interface, JSONEachRow): HTTP "
        "passes proxies and Yandex Cloud's serverless DB proxy.",
    ),
    th.Property(
        "port",
        th.IntegerType,
        minimum=1,
        maximum=65535,
        description="Server port; default by `protocol` and `secure`: native 9000 / 9440, http 8123 / 8443.",
    ),
    th.Property("user", th.StringType, default=_CONNECTION.user, description="ClickHouse user."),
    th.Property(
        "password",
        th.StringType,
        secret=True,
        default=_CONNECTION.password,
        description="ClickHouse password.",
    ),
    th.Property(
        "database", th.StringType, default=_CONNECTION.database, description="Database; created if missing."
    ),
    th.Property("secure", th.BooleanType, default=_CONNECTION.secure, description="Use TLS to the server."),
    th.Property(
        "verify", th.BooleanType, default=_CONNECTION.verify, description="Verify the server's certificate."
    ),
    th.Property("ca_certs", th.StringType, description="Path to a CA bundle used to verify the server."),
    th.Property(
        "compression",
        th.BooleanType,
        default=_CONNECTION.compression,
        description="Compress the traffic: lz4 on the native protocol, gzipped request bodies over HTTP.",
    ),
    th.Property(
        "connect_timeout",
        th.NumberType(exclusive_minimum=0),
        default=_CONNECTION.connect_timeout,
        description="Seconds to wait for a TCP connection to the server.",
    ),
    th.Property(
        "send_receive_timeout",
        th.NumberType(exclusive_minimum=0),
        default=_CONNECTION.send_receive_timeout,
        description="Seconds to wait for the server to take or answer one request (a large INSERT, a merge).",
    ),
    th.Property(
        "cluster",
        th.StringType,
        description="Cluster name from the servers' `remote_servers` (Managed ClickHouse: the cluster's "
        "name, or `{cluster}`). When set, DDL runs ON CLUSTER, tables are Replicated, and a cluster of "
        "several shards gets local tables plus Distributed tables sharded by issue. Empty: one server.",
    ),
    th.Property(
        "alt_hosts",
        th.ArrayType(th.StringType),
        default=[],
        description="More `host` or `host:port` endpoints of the same data (other replicas), tried in order "
        "when the current one is unreachable or dies during the run.",
    ),
    th.Property(
        "replication_path",
        th.StringType,
        default=_CONNECTION.replication_path,
        description="ZooKeeper path of each Replicated table (with `cluster`); `{database}` and `{table}` "
        "are filled in by the target, other macros by the server. Must contain `{table}`.",
    ),
    th.Property(
        "replica_name",
        th.StringType,
        default=_CONNECTION.replica_name,
        description="Replica name of each Replicated table (with `cluster`); must differ per replica, "
        "hence a macro such as `{replica}`.",
    ),
    th.Property(
        "serverless_proxy_id",
        th.StringType,
        description="Yandex Cloud serverless DB proxy: the connection id (with `protocol: http`, `secure`, "
        "`host` = `<id>.clickhouse-proxy.serverless.yandexcloud.net`; `database` = the proxy's database).",
    ),
    th.Property(
        "embedded_path",
        th.StringType,
        default=_CONNECTION.embedded_path,
        description="Data directory of embedded ClickHouse (used when `host` is empty).",
    ),
    th.Property(
        "timezone",
        th.StringType,
        default=DEFAULT_TIMEZONE,
        description="IANA timezone of the team: local day boundaries and working hours.",
    ),
    th.Property(
        "work_hours_start",
        th.StringType,
        default=f"{DEFAULT_WORK_START:%H:%M}",
        description="Start of working hours.",
    ),
    th.Property(
        "work_hours_end",
        th.StringType,
        default=f"{DEFAULT_WORK_END:%H:%M}",
        description="End of working hours.",
    ),
    th.Property(
        "work_days",
        th.ArrayType(th.IntegerType),
        default=sorted(DEFAULT_WORK_DAYS),
        description="Working ISO weekdays (1 = Monday ... 7 = Sunday).",
    ),
    th.Property(
        "holidays_country",
        th.StringType,
        default=DEFAULT_HOLIDAYS_COUNTRY,
        description="Country code for public holidays (`holidays` package); empty for none.",
    ),
    th.Property(
        "extra_holidays",
        th.ArrayType(th.DateType),
        default=[],
        description="Additional days off (YYYY-MM-DD).",
    ),
    th.Property(
        "extra_workdays",
        th.ArrayType(th.DateType),
        default=[],
        description="Working days that override weekends and holidays, e.g. working Saturdays.",
    ),
    th.Property(
        "status_categories",
        th.ObjectType(additional_properties=th.StringType),
        default={},
        description="Override of status categories: status key → todo|active|wait|done|cancelled.",
    ),
    th.Property(
        "workflow_map",
        th.ObjectType(additional_properties=th.ObjectType()),
        description="Workflow map per queue key (or `*`): {stages: [{name, statuses, category?}], start?, "
        "done?, exclude?}. Feeds the analytics views; default: status categories are the stages.",
    ),
    th.Property(
        "workflow_map_file",
        th.StringType,
        description="Path to a YAML or JSON file holding the workflow map (instead of `workflow_map`).",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=DEFAULT_BATCH_ROWS,
        minimum=1,
        description=(
            "Maximum records per INSERT batch (a batch is also flushed once its pending rows hold "
            f"{MAX_BATCH_BYTES // 2**20} MiB)."
        ),
    ),
    th.Property(
        "checkpoint_seconds",
        th.NumberType,
        default=300,
        description="Longest time between checkpoints: every sink is flushed, metrics rebuilt and the "
        "latest STATE written at least this often (a failed run replays at most this much). While the "
        "tap pauses (a slow API), a checkpoint is also made, at most every 5 s; when a batch fills up "
        "(`batch_size_rows` or 8 MiB of rows), at most every second.",
    ),
    th.Property(
        "store_state",
        th.BooleanType,
        default=False,
        description="Also keep the latest STATE in the `target_state` table (stateless runners).",
    ),
    th.Property(
        "state_id",
        th.StringType,
        default="default",
        description="Name of the STATE kept in `target_state` when `store_state` is on.",
    ),
    th.Property(
        "statsd_host",
        th.StringType,
        description="StatsD server (UDP) for monitoring metrics; empty = none are sent.",
    ),
    th.Property(
        "statsd_port",
        th.IntegerType,
        default=DEFAULT_STATSD_PORT,
        minimum=1,
        maximum=65535,
        description="StatsD UDP port.",
    ),
    th.Property(
        "statsd_prefix",
        th.StringType,
        default=DEFAULT_STATSD_PREFIX,
        description="Prefix of every StatsD metric name (`<prefix>.inserted_rows.issues`, ...).",
    ),
    th.Property(
        "sentry_dsn",
        th.StringType,
        secret=True,
        description="Sentry DSN: fatal errors and unhandled exceptions are reported there "
        "(needs the `[sentry]` extra)",
    ),
).to_dict()

#: Setting name -> default, as the schema declares it.
DEFAULTS: dict[str, Any] = {
    name: spec["default"] for name, spec in CONFIG_SCHEMA["properties"].items() if "default" in spec
}


def _parse_dates(values: Any, setting: str, errors: list[str]) -> frozenset[date]:
    parsed: set[date] = set()
    for value in values or []:
        try:
            parsed.add(date.fromisoformat(str(value)[:10]))
        except ValueError:
            errors.append(f"{setting}: '{value}' is not a date; use YYYY-MM-DD")
    return frozenset(parsed)


def build_calendar(config: Mapping[str, Any]) -> tuple[WorkCalendar | None, list[str]]:
    """The working calendar from the settings, or the list of problems that prevent building it."""
    errors: list[str] = []
    times = {}
    for setting in ("work_hours_start", "work_hours_end"):
        raw = config.get(setting) or DEFAULTS[setting]
        try:
            times[setting] = parse_hhmm(str(raw))
        except ValueError:
            errors.append(f"{setting}: '{raw}' is not a time; use HH:MM, e.g. 09:00")
    work_days = config.get("work_days") or DEFAULTS["work_days"]
    bad_days = [d for d in work_days if not isinstance(d, int) or not 1 <= d <= 7]
    if bad_days:
        errors.append(f"work_days: {bad_days} are not ISO weekdays; use 1 (Monday) to 7 (Sunday)")
    extra_holidays = _parse_dates(config.get("extra_holidays"), "extra_holidays", errors)
    extra_workdays = _parse_dates(config.get("extra_workdays"), "extra_workdays", errors)
    try:  # checked here too, so that a bad timezone is reported along with the other problems
        load_zone(str(config.get("timezone") or DEFAULTS["timezone"]))
    except ValueError as exc:
        errors.append(f"timezone: {exc}")
    if errors:
        return None, errors
    try:
        calendar = WorkCalendar(
            timezone=str(config.get("timezone") or DEFAULTS["timezone"]),
            work_start=times["work_hours_start"],
            work_end=times["work_hours_end"],
            work_days=frozenset(work_days),
            holidays_country=(config.get("holidays_country", DEFAULTS["holidays_country"]) or None),
            extra_holidays=extra_holidays,
            extra_workdays=extra_workdays,
        )
    except ValueError as exc:
        return None, [str(exc)]
    return calendar, []


def validate_semantics(config: Mapping[str, Any]) -> list[str]:
    """Every problem with the settings that the JSON schema cannot see, each with its fix."""
    return _interpret(config)[2]


def _interpret(config: Mapping[str, Any]) -> tuple[WorkCalendar | None, WorkflowMap | None, list[str]]:
    """The calendar and workflow map the settings describe, and every problem found on the way."""
    calendar, errors = build_calendar(config)
    workflow, workflow_errors = workflow_from_config(config)
    errors += workflow_errors
    overrides = config.get("status_categories") or {}
    for status, category in overrides.items():
        if category not in CATEGORIES:
            errors.append(
                f"status_categories: '{status}' → '{category}' is not a category; "
                f"use one of {', '.join(CATEGORIES)}"
            )
    for name in ("port", "statsd_port"):
        value = config.get(name)
        if value is not None and not 0 < int(value) < 65536:
            errors.append(f"{name}: {value} is not a port number (1-65535)")
    batch = config.get("batch_size_rows")
    if batch is not None and int(batch) < 1:
        errors.append(f"batch_size_rows: {batch} must be at least 1 (rows per INSERT)")
    checkpoint = config.get("checkpoint_seconds")
    if checkpoint is not None and float(checkpoint) <= 0:
        errors.append(f"checkpoint_seconds: {checkpoint} must be positive")
    protocol = str(config.get("protocol") or "native").lower()
    if protocol not in PROTOCOLS:
        errors.append(f"protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    if config.get("serverless_proxy_id") and protocol != "http":
        errors.append("serverless_proxy_id is set but protocol is not http: the proxy speaks HTTPS only")
    if config.get("ca_certs") and not config.get("secure"):
        errors.append("ca_certs is set but secure is false: set secure: true to use TLS")
    errors += cluster_setting_errors(config)
    return calendar, workflow, errors


def cluster_setting_errors(config: Mapping[str, Any]) -> list[str]:
    """What can be told about `alt_hosts` and the cluster settings without a server; the servers' side
    (the cluster exists, ZooKeeper, macros) is checked on connecting, before any data is written."""
    try:
        connection = ConnectionSettings.from_config(config)
        connection.endpoints  # noqa: B018 - parses every `alt_hosts` entry
    except ClickHouseError as exc:
        return [str(exc)]
    if not connection.cluster:
        return []
    errors = replication_setting_problems(connection.replication_path, connection.replica_name)
    if connection.embedded:
        errors.append("cluster is set but host is empty: embedded ClickHouse is a single server; set host")
    return errors


@dataclass(frozen=True)
class TargetSettings:
    """The settings of one run, typed, validated, with every default applied. Built once per run."""

    connection: ConnectionSettings
    calendar: WorkCalendar
    status_categories: Mapping[str, str]
    workflow: WorkflowMap | None
    batch_size_rows: int
    checkpoint_seconds: float
    store_state: bool
    state_id: str
    statsd_host: str
    statsd_port: int
    statsd_prefix: str

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetSettings:
        """Validate ``config`` (all problems at once, each with its fix) and build the settings."""
        calendar, workflow, errors = _interpret(config)
        if errors or calendar is None:
            raise ConfigValidationError("Invalid target settings", errors=errors)
        merged = {**DEFAULTS, **{name: value for name, value in config.items() if value is not None}}
        return cls(
            connection=ConnectionSettings.from_config(merged),
            calendar=calendar,
            status_categories=dict(merged["status_categories"]),
            workflow=workflow,
            batch_size_rows=int(merged["batch_size_rows"]),
            checkpoint_seconds=float(merged["checkpoint_seconds"]),
            store_state=bool(merged["store_state"]),
            state_id=str(merged["state_id"] or DEFAULTS["state_id"]),
            statsd_host=str(merged.get("statsd_host") or "").strip(),
            statsd_port=int(merged["statsd_port"]),
            statsd_prefix=str(merged["statsd_prefix"]),
        )
