"""One self-contained HTML page from `ReportData`: inline CSS and SVG, no script, no network.

Each chart sits in a `<figure>` followed by its data as `<script type="application/json">` (inert: the
page runs no code), and the headline figures are in `<table id="summary">` with `data-key`/`data-value`
attributes, so that anyone (and the tests) can check the page against the SQL it came from.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from target_clickhouse_agile.report import svg
from target_clickhouse_agile.report.data import DAY_S, ReportData

CSS = """
body { font-family: sans-serif; margin: 24px; color: #222; background: #fafafa; }
h1 { margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #ccc; }
figure { margin: 0; background: #fff; border: 1px solid #ddd; padding: 8px; display: inline-block; }
figcaption { font-size: 13px; color: #555; margin-top: 4px; max-width: 1180px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; font-size: 14px; }
.muted { color: #777; font-size: 13px; }
"""


def _json(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, default=str).replace("</", "<\\/")


def _figure(chart_id: str, title: str, chart_svg: str, data: Any, caption: str) -> str:
    return (
        f'<section id="{chart_id}"><h2>{escape(title)}</h2><figure data-figure="{chart_id}">{chart_svg}'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
        f"{_data_script(chart_id, data)}</section>"
    )


def _data_script(chart_id: str, data: Any) -> str:
    return f'<script type="application/json" class="chart-data" data-for="{chart_id}">{_json(data)}</script>'


def _days(seconds: int | None) -> float | None:
    return None if seconds is None else seconds / DAY_S


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _table(rows: list[tuple[str, str, Any]], table_id: str) -> str:
    body = "".join(
        f'<tr data-key="{escape(key)}" data-value="{escape(_json(value))}"><th>{escape(label)}</th>'
        f"<td>{escape(_fmt(value))}</td></tr>"
        for key, label, value in rows
    )
    return f'<table id="{table_id}">{body}</table>'


def render(data: ReportData) -> str:
    """The report page."""
    opts = data.options
    labels = [d[5:] for d in data.days]  # MM-DD
    scope = opts["queue"] or "all queues"
    sections = []

    cfd_series = {name: data.cfd["series"][name] for name in reversed(data.cfd["stages"])}
    sections.append(
        _figure(
            "cfd",
            "Cumulative flow",
            svg.stacked_area(labels, cfd_series, "cfd", "issues"),
            {"days": data.days, **data.cfd, "wip": data.wip},
            "Issues in each stage at the end of each local day (the last day: at the as-of instant), "
            "latest stage at the bottom. In-process stages: " + ", ".join(data.cfd["in_process"]) + ".",
        )
    )
    sections.append(
        _figure(
            "wip",
            "Work in progress",
            svg.line(labels, data.wip, "wip", "issues in process"),
            {"days": data.days, "wip": data.wip},
            "Issues between the start and the done point at the end of each day.",
        )
    )
    index = {d: i for i, d in enumerate(data.days)}
    pct = data.percentiles
    lines = {"p50": _days(pct["p50_s"]), "p85": _days(pct["p85_s"]), "p95": _days(pct["p95_s"])}
    points = [(index[p["day"]], p["cycle_time_s"] / DAY_S, p["issue"]) for p in data.scatter]
    sections.append(
        _figure(
            "scatter",
            "Cycle time scatter",
            svg.scatter(labels, points, lines, "scatter", "cycle time, days"),
            {"points": data.scatter, "percentiles": pct},
            f"Each dot is an issue finished on that day: days from its first start to its final done. "
            f"Percentile lines over the {pct['items']} issues finished in the range (nearest rank).",
        )
    )
    sections.append(
        _figure(
            "histogram",
            "Cycle time histogram",
            svg.bars(
                [str(b["days"]) for b in data.histogram],
                [b["items"] for b in data.histogram],
                "histogram",
                "issues",
            ),
            data.histogram,
            "Issues finished in the range per whole day of cycle time (bin n = n to n+1 days).",
        )
    )
    sections.append(
        _figure(
            "throughput",
            "Throughput",
            svg.bars(labels, data.throughput["daily"], "throughput", "issues finished", svg.PALETTE[4]),
            {"days": data.days, **data.throughput},
            "Issues finished per local day (final done). Weekly: "
            + ", ".join(
                f"{w}: {n}" for w, n in zip(data.throughput["weeks"], data.throughput["weekly"], strict=True)
            )
            + ".",
        )
    )
    stages = sorted({(a["stage_order"], a["stage"]) for a in data.aging})
    stage_index = {name: i for i, (_, name) in enumerate(stages)}
    aging_points = [(stage_index[a["stage"]], a["age_s"] / DAY_S, a["issue"]) for a in data.aging]
    sections.append(
        _figure(
            "aging",
            "Aging work in progress",
            svg.scatter([name for _, name in stages], aging_points, lines, "aging", "age since start, days"),
            {"items": data.aging, "percentiles": pct},
            "Open issues in process by stage and age since their first start, against the cycle-time "
            "percentiles: a dot above the 85% line is older than 85% of the finished work.",
        )
    )
    sections.append(
        _figure(
            "time-in-status",
            "Time in status",
            svg.horizontal_bars(
                [t["status"] for t in data.time_in_status],
                [t["total_s"] / DAY_S for t in data.time_in_status],
                "time-in-status",
                "total days in finished visits",
            ),
            {"statuses": data.time_in_status, "by_assignee": data.by_assignee},
            "Total time spent in each status (finished visits, all issues in scope).",
        )
    )
    assignee_rows = "".join(
        f"<tr><td>{escape(r['assignee'])}</td><td>{escape(r['status'])}</td>"
        f"<td>{r['total_s'] / DAY_S:.1f}</td></tr>"
        for r in data.by_assignee
    )
    sections.append(
        '<section id="by-assignee"><h2>Time in status per assignee</h2><table id="assignee-table">'
        f"<tr><th>assignee</th><th>status</th><th>days</th></tr>{assignee_rows}</table></section>"
    )
    fc = data.forecast
    forecast_rows: list[tuple[str, str, Any]] = [
        ("items", "Items to finish", fc["items"]),
        (
            "history",
            "Throughput history",
            f"{fc['history_from']} … {fc['history_to']} ({sum(fc['history'])} done)",
        ),
    ]
    if fc["when"]:
        forecast_rows += [(f"when_{c}", f"Done by ({c}% confidence)", d) for c, d in fc["when"].items()]
        forecast_rows += [
            (f"how_many_{c}", f"At least this many by {fc['until']} ({c}%)", n)
            for c, n in fc["how_many"].items()
        ]
    else:
        forecast_rows.append(("note", "Note", fc.get("note", "")))
    sections.append(
        '<section id="forecast"><h2>Monte Carlo forecast</h2>'
        + _table(forecast_rows, "forecast-table")
        + f'<p class="muted">{fc["trials"]} trials, seed {fc["seed"]}: days of the history sampled with '
        "replacement (zero days included). The same data, question and seed give the same answer.</p>"
        + _data_script("forecast", fc)
        + "</section>"
    )
    s = data.summary
    summary = _table(
        [
            ("finished_in_range", "Issues finished in range", s["finished_in_range"]),
            ("wip_now", "In process now", s["wip_now"]),
            ("p50_days", "Cycle time p50 (days)", s["p50_days"]),
            ("p85_days", "Cycle time p85 (days)", s["p85_days"]),
            ("p95_days", "Cycle time p95 (days)", s["p95_days"]),
            ("flow_efficiency", "Flow efficiency (finished issues)", s["flow_efficiency"]),
        ],
        "summary",
    )
    head = (
        f"<h1>Flow report: {escape(scope)}</h1><p class='muted'>{escape(opts['date_from'])} … "
        f"{escape(opts['date_to'])}, days in {escape(opts['tz'])}, as of {escape(opts['asof'])}</p>"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Flow report: {escape(scope)}</title><style>{CSS}</style></head><body>"
        f"{head}{summary}{''.join(sections)}</body></html>"
    )
