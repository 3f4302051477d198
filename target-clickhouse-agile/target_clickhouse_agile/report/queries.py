"""Reading the analytics views, on any server.

The views that take parameters (timezone, as-of instant, window) are parameterized views (migration
000008), which need ClickHouse 23.1+. On older servers the migration runner skipped them; here the same
SELECT is read from the migration file and run with the parameters written in, so the SQL exists once and
every server answers the same question.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from target_clickhouse_agile.clickhouse import (
    Connection,
    default_directory,
    discover,
    quote_literal,
    split_statements,
)
from target_clickhouse_agile.metrics.utc import as_utc

PARAMETERIZED_FEATURE = "parameterized_views"
_CREATE_VIEW = re.compile(
    r"^\s*CREATE\s+VIEW\s+IF\s+NOT\s+EXISTS\s+(\w+)\s+AS\s+(.*)$", re.DOTALL | re.IGNORECASE
)
_PLACEHOLDER = re.compile(r"\{(\w+):([^{}]+?)\}")
_ARGUMENT = re.compile(r"(\w+)\s*=\s*(\{\w+:[^{}]+?\})")


@cache
def parameterized_view_bodies(directory: str | None = None) -> dict[str, str]:
    """`name -> SELECT` of every view marked `-- requires: parameterized_views` in the migrations."""
    bodies: dict[str, str] = {}
    for migration in discover(Path(directory) if directory else default_directory()):
        for statement in split_statements(migration.path.read_text(encoding="utf-8")):
            match = _CREATE_VIEW.match(statement.sql)
            if match and PARAMETERIZED_FEATURE in statement.requires:
                bodies[match.group(1)] = match.group(2)
    return bodies


def _inline_nested(sql: str, bodies: Mapping[str, str]) -> str:
    """Replace `other_view(a = {x:T}, ...)` by `(SELECT ... of other_view)` with its placeholders renamed."""

    def replace(match: re.Match[str]) -> str:
        name, arguments = match.group(1), match.group(2)
        inner = _inline_nested(bodies[name], bodies)
        renamed = dict(_ARGUMENT.findall(arguments))
        inner = _PLACEHOLDER.sub(lambda m: renamed.get(m.group(1), m.group(0)), inner)
        return f"({inner})"

    names = "|".join(map(re.escape, bodies))
    return re.sub(rf"\b({names})\s*\(((?:[^(){{}}]|\{{[^{{}}]*\}})*)\)", replace, sql) if names else sql


def _literal(value: Any, ch_type: str, with_ms: bool) -> str:
    if ch_type.startswith("DateTime"):
        if isinstance(value, str):
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        value = as_utc(value)
        text = value.strftime("%Y-%m-%d %H:%M:%S") + (f".{value.microsecond // 1000:03d}" if with_ms else "")
        return f"CAST('{text}' AS {ch_type})"
    if ch_type == "Date":
        return f"toDate('{value.isoformat() if isinstance(value, date) else value}')"
    if ch_type.startswith(("UInt", "Int", "Float")):
        return str(int(value) if ch_type[0] in "UI" else float(value))
    return quote_literal(value)


def plain_sql(
    name: str, params: Mapping[str, Any], *, with_ms: bool = True, directory: str | None = None
) -> str:
    """The SELECT of parameterized view `name` with `params` written in (runs on servers without them)."""
    bodies = parameterized_view_bodies(directory)
    sql = _inline_nested(bodies[name], bodies)

    def substitute(match: re.Match[str]) -> str:
        key, ch_type = match.group(1), match.group(2).strip()
        if key not in params:
            raise KeyError(f"view {name} needs the parameter `{key}` ({ch_type})")
        return _literal(params[key], ch_type, with_ms)

    return _PLACEHOLDER.sub(substitute, sql)


def _call_literal(name: str, key: str, value: Any) -> str:
    """A view-call argument: datetimes as `'YYYY-MM-DD hh:mm:ss.mmm'` UTC, numbers bare, the rest quoted."""
    types = {m.group(1): m.group(2) for m in _PLACEHOLDER.finditer(parameterized_view_bodies()[name])}
    ch_type = types.get(key, "String")
    if ch_type.startswith("DateTime"):
        return _literal(value, ch_type, with_ms=True).removeprefix("CAST(").split(" AS ")[0]
    if ch_type.startswith(("UInt", "Int", "Float")):
        return _literal(value, ch_type, with_ms=True)
    return quote_literal(value)


def query_view(
    conn: Connection, name: str, params: Mapping[str, Any], where: str = "", order_by: str = ""
) -> list[dict[str, Any]]:
    """Rows of parameterized view `name`: called as a view where supported, else as its inlined SELECT."""
    if conn.dialect.supports(PARAMETERIZED_FEATURE):
        arguments = ", ".join(f"{k} = {_call_literal(name, k, v)}" for k, v in params.items())
        source = f"{name}({arguments})"
    else:
        with_ms = conn.dialect.supports_datetime64
        select = conn.dialect.adapt_ddl(plain_sql(name, params, with_ms=with_ms))
        source = "(" + (conn.layout.distributed_select(select) if conn.layout else select) + ")"
    sql = f"SELECT * FROM {source}"
    if where:
        sql += f" WHERE {where}"
    if order_by:
        sql += f" ORDER BY {order_by}"
    return conn.query(sql)


# -- the report's filters and plain SELECTs ------------------------------------------------------------


def all_of(*conditions: str) -> str:
    """The conditions joined with AND (empty ones left out)."""
    return " AND ".join(c for c in conditions if c)


def queue_is(queue: str | None) -> str:
    """Only `queue` (empty: every queue)."""
    return f"queue = {quote_literal(queue)}" if queue else ""


def days_between(first: date, last: date) -> str:
    return f"day >= toDate('{first.isoformat()}') AND day <= toDate('{last.isoformat()}')"


def weeks_touching(first: date, last: date) -> str:
    """Weeks (their Monday in `week`) that overlap the days `first`..`last`."""
    return f"week >= toMonday(toDate('{first.isoformat()}')) AND week <= toDate('{last.isoformat()}')"


def finished_cycle_times(conn: Connection, tz: str, queue: str | None) -> list[dict[str, Any]]:
    """Every finished issue's cycle time and local done day, oldest first."""
    return conn.query(
        f"SELECT issue_key, queue, toDate(assumeNotNull(done_at), {quote_literal(tz)}) AS day, cycle_time_s "
        f"FROM issue_flow_facts_view WHERE {all_of('cycle_time_s IS NOT NULL', queue_is(queue))} "
        "ORDER BY day, issue_key"
    )


def _where(queue: str | None) -> str:
    return f" WHERE {queue_is(queue)}" if queue else ""


def time_in_status_totals(conn: Connection, queue: str | None) -> list[dict[str, Any]]:
    """Visits and seconds per status, in workflow order."""
    return conn.query(
        "SELECT status, any(stage) AS stage, any(category) AS category, sum(visits) AS visits, "
        f"sum(total_s) AS total_s FROM time_in_status_view{_where(queue)} "
        "GROUP BY status ORDER BY min(stage_order), status"
    )


def time_in_status_by_assignee(conn: Connection, queue: str | None, limit: int = 40) -> list[dict[str, Any]]:
    """Seconds per (assignee, status), largest first, with the assignee's display name."""
    return conn.query(
        "SELECT assignee, any(assignee_display) AS name, status, sum(total_s) AS total_s "
        f"FROM time_in_status_by_assignee_view{_where(queue)} "
        f"GROUP BY assignee, status ORDER BY total_s DESC, assignee, status LIMIT {int(limit)}"
    )


def flow_efficiency_totals(conn: Connection, queue: str | None) -> dict[str, Any]:
    """Items, active and waiting seconds summed over the finished issues."""
    rows = conn.query(
        "SELECT sum(items) AS items, sum(active_total_s) AS active_s, sum(wait_total_s) AS wait_s "
        f"FROM flow_efficiency_view{_where(queue)}"
    )
    return rows[0] if rows else {"items": 0, "active_s": 0, "wait_s": 0}


def latest_event_time(conn: Connection) -> datetime | None:
    """The newest changelog event in the data (`None` when there is none)."""
    rows = conn.query("SELECT max(event_time) AS latest, count() AS n FROM issue_changelog")
    return rows[0]["latest"] if rows and rows[0]["n"] else None
