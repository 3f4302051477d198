"""Everything the report shows, read from the analytics views (and nothing computed around them except
zero-filling, sums over queues, histogram bins and the Monte Carlo forecast).

Keeping the figures in one plain structure lets the HTML embed them verbatim (as JSON next to each chart),
so a test can compare what the page shows with what the SQL returns.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from target_clickhouse_agile.clickhouse import Connection
from target_clickhouse_agile.metrics.calendar import DEFAULT_TIMEZONE
from target_clickhouse_agile.metrics.utc import as_utc, utc_now
from target_clickhouse_agile.report.montecarlo import (
    DEFAULT_SEED,
    DEFAULT_TRIALS,
    forecast_how_many,
    forecast_when,
)
from target_clickhouse_agile.report.queries import (
    all_of,
    days_between,
    finished_cycle_times,
    flow_efficiency_totals,
    latest_event_time,
    query_view,
    queue_is,
    time_in_status_by_assignee,
    time_in_status_totals,
    weeks_touching,
)

DAY_S = 86400
_QUEUE = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class ReportOptions:
    """What to report on. `date_to` defaults to the as-of day; `date_from` to 90 days before it."""

    tz: str = DEFAULT_TIMEZONE
    queue: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    asof: datetime | str | None = None  # None: now; "latest": the newest changelog event in the data
    forecast_items: int | None = None  # default: the current WIP
    forecast_until: date | None = None  # default: 30 days after the as-of day
    history_days: int = 60  # throughput history sampled by the forecast
    trials: int = DEFAULT_TRIALS
    seed: int = DEFAULT_SEED


def _local_day(value: datetime, tz: str) -> date:
    return value.astimezone(ZoneInfo(tz)).date()


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass
class ReportData:
    options: dict[str, Any]
    days: list[str]
    cfd: dict[str, Any]
    wip: list[int]
    scatter: list[dict[str, Any]]
    percentiles: dict[str, Any]
    histogram: list[dict[str, Any]]
    throughput: dict[str, Any]
    aging: list[dict[str, Any]]
    time_in_status: list[dict[str, Any]]
    by_assignee: list[dict[str, Any]]
    flow_efficiency: dict[str, Any]
    forecast: dict[str, Any]
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def collect(conn: Connection, options: ReportOptions) -> ReportData:
    """Query every view the report needs, for `options.queue` (or all queues) and the date range."""
    tz = options.tz
    ZoneInfo(tz)  # fail early on an unknown timezone
    if options.queue is not None and not _QUEUE.match(options.queue):
        raise ValueError(f"queue {options.queue!r} is not a queue key")
    asof = _resolve_asof(conn, options.asof)
    asof_day = _local_day(asof, tz)
    date_to = min(options.date_to or asof_day, asof_day)
    date_from = options.date_from or date_to - timedelta(days=89)
    if date_from > date_to:
        raise ValueError(f"the date range is empty: {date_from} > {date_to}")
    days = _days(date_from, date_to)
    # The end of the last reported day (or the as-of instant): the instant the snapshots are taken at.
    range_end = min(
        asof,
        as_utc(datetime.combine(date_to + timedelta(days=1), datetime.min.time(), ZoneInfo(tz))),
    )
    queue_filter = queue_is(options.queue)
    both = all_of(days_between(date_from, date_to), queue_filter)

    # CFD bands: issues per stage at each end of day, summed over queues.
    bands: dict[tuple[int, str], dict[date, int]] = defaultdict(lambda: defaultdict(int))
    in_process_stages: set[str] = set()
    for row in query_view(conn, "daily_status", {"tz": tz, "asof": range_end}, where=both):
        bands[(int(row["stage_order"]), row["stage"])][row["day"]] += int(row["issues"])
        if row["in_process"]:
            in_process_stages.add(row["stage"])
    ordered = sorted(bands)
    cfd = {
        "stages": [name for _, name in ordered],
        "in_process": sorted(in_process_stages),
        "series": {name: [bands[(o, name)].get(d, 0) for d in days] for o, name in ordered},
    }
    wip_by_day: dict[date, int] = defaultdict(int)
    for row in query_view(conn, "wip_daily", {"tz": tz, "asof": range_end}, where=both):
        wip_by_day[row["day"]] += int(row["wip"])

    # Cycle times of the issues finished in the range (elapsed: first start -> final done).
    scatter = [
        {"issue": r["issue_key"], "day": str(r["day"]), "cycle_time_s": int(r["cycle_time_s"])}
        for r in finished_cycle_times(conn, tz, options.queue)
        if date_from <= r["day"] <= date_to
    ]
    window_days = len(days)
    scope = options.queue or "*"
    pct_rows = query_view(
        conn, "cycle_time_percentiles", {"asof": range_end, "days": window_days}, where=queue_is(scope)
    )
    percentiles = {"items": 0, "p50_s": None, "p85_s": None, "p95_s": None, "window_days": window_days}
    if pct_rows:
        percentiles.update({k: int(pct_rows[0][k]) for k in ("items", "p50_s", "p85_s", "p95_s")})

    histogram = _histogram([p["cycle_time_s"] for p in scatter])

    daily: dict[date, int] = defaultdict(int)
    for row in query_view(conn, "throughput_daily", {"tz": tz}, where=both):
        daily[row["day"]] += int(row["items"])
    weekly: dict[date, int] = defaultdict(int)
    week_filter = all_of(weeks_touching(date_from, date_to), queue_filter)
    for row in query_view(conn, "throughput_weekly", {"tz": tz}, where=week_filter):
        weekly[row["week"]] += int(row["items"])
    throughput = {
        "daily": [daily.get(d, 0) for d in days],
        "weeks": [str(w) for w in sorted(weekly)],
        "weekly": [weekly[w] for w in sorted(weekly)],
    }

    aging = [
        {
            "issue": r["issue_key"],
            "stage": r["stage"],
            "stage_order": int(r["stage_order"]),
            "status": r["status"],
            "age_s": int(r["age_s"]),
        }
        for r in query_view(
            conn, "aging_wip", {"asof": asof}, where=queue_filter, order_by="age_s DESC, issue_key"
        )
    ]

    time_in_status = [
        {
            "status": r["status"],
            "stage": r["stage"],
            "category": r["category"],
            "visits": int(r["visits"]),
            "total_s": int(r["total_s"]),
        }
        for r in time_in_status_totals(conn, options.queue)
    ]
    by_assignee = [  # people by name (users table, else the changelog's display), never by raw id
        {"assignee": r["name"] or "(unassigned)", "status": r["status"], "total_s": int(r["total_s"])}
        for r in time_in_status_by_assignee(conn, options.queue)
    ]
    totals = flow_efficiency_totals(conn, options.queue)
    active, wait = int(totals["active_s"] or 0), int(totals["wait_s"] or 0)
    flow_efficiency = {
        "items": int(totals["items"] or 0),
        "active_s": active,
        "wait_s": wait,
        "efficiency": active / (active + wait) if active + wait else None,
    }

    forecast = _forecast(conn, options, asof_day, len(aging), queue_filter)
    summary = {
        "finished_in_range": len(scatter),
        "wip_now": len(aging),
        "p50_days": _days_or_none(percentiles["p50_s"]),
        "p85_days": _days_or_none(percentiles["p85_s"]),
        "p95_days": _days_or_none(percentiles["p95_s"]),
        "flow_efficiency": flow_efficiency["efficiency"],
    }
    return ReportData(
        options={
            "tz": tz,
            "queue": options.queue,
            "date_from": str(date_from),
            "date_to": str(date_to),
            "asof": asof.strftime("%Y-%m-%d %H:%M:%S UTC"),
        },
        days=[str(d) for d in days],
        cfd=cfd,
        wip=[wip_by_day.get(d, 0) for d in days],
        scatter=scatter,
        percentiles=percentiles,
        histogram=histogram,
        throughput=throughput,
        aging=aging,
        time_in_status=time_in_status,
        by_assignee=by_assignee,
        flow_efficiency=flow_efficiency,
        forecast=forecast,
        summary=summary,
    )


def _resolve_asof(conn: Connection, asof: datetime | str | None) -> datetime:
    """`latest` makes a report of historical or simulated data end where the data ends."""
    if asof is None:
        return utc_now()
    if isinstance(asof, str):
        if asof != "latest":
            raise ValueError(f"asof must be an instant or 'latest', not {asof!r}")
        latest = latest_event_time(conn)
        if latest is None:
            return utc_now()
        asof = latest
    return as_utc(asof)


def _days_or_none(seconds: int | None) -> float | None:
    return None if seconds is None else round(seconds / DAY_S, 2)


def _histogram(values: list[int]) -> list[dict[str, Any]]:
    """Whole-day bins (a bin `n` holds cycle times in [n, n+1) days)."""
    counts: dict[int, int] = defaultdict(int)
    for value in values:
        counts[value // DAY_S] += 1
    if not counts:
        return []
    return [{"days": n, "items": counts.get(n, 0)} for n in range(max(counts) + 1)]


def _forecast(
    conn: Connection, options: ReportOptions, asof_day: date, wip: int, queue_filter: str
) -> dict[str, Any]:
    """Monte Carlo from the zero-filled daily throughput of the `history_days` days before the as-of day."""
    first = asof_day - timedelta(days=options.history_days)
    last = asof_day - timedelta(days=1)
    daily: dict[date, int] = defaultdict(int)
    where = all_of(days_between(first, last), queue_filter)
    for row in query_view(conn, "throughput_daily", {"tz": options.tz}, where=where):
        daily[row["day"]] += int(row["items"])
    history = [daily.get(d, 0) for d in _days(first, last)]
    items = options.forecast_items if options.forecast_items is not None else wip
    until = options.forecast_until or asof_day + timedelta(days=30)
    result: dict[str, Any] = {
        "history_from": str(first),
        "history_to": str(last),
        "history": history,
        "items": items,
        "start": str(asof_day),
        "until": str(until),
        "trials": options.trials,
        "seed": options.seed,
        "when": None,
        "how_many": None,
    }
    if not any(history):
        result["note"] = "no item was finished in the history window: nothing to forecast from"
        return result
    when = forecast_when(history, items, asof_day, trials=options.trials, seed=options.seed)
    how_many = forecast_how_many(history, asof_day, until, trials=options.trials, seed=options.seed)
    result["when"] = {str(c): str(d) for c, d in when.dates.items()}
    result["how_many"] = {str(c): n for c, n in how_many.items.items()}
    return result
