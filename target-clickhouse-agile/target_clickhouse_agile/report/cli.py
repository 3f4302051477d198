"""`agile-report`: the flow report of a ClickHouse database that target-clickhouse-agile loaded.

It connects exactly as the target does (`--config target.json`, or `--embedded-path DIR` for embedded
ClickHouse), reads the analytics views and writes one self-contained HTML file.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from target_clickhouse_agile.clickhouse import ClickHouseError, connect
from target_clickhouse_agile.metrics.calendar import DEFAULT_TIMEZONE
from target_clickhouse_agile.metrics.utc import as_utc
from target_clickhouse_agile.report.data import ReportOptions, collect
from target_clickhouse_agile.report.montecarlo import DEFAULT_SEED, DEFAULT_TRIALS
from target_clickhouse_agile.report.render import render


def _date(text: str) -> date:
    return date.fromisoformat(text)


def _instant(text: str) -> datetime | str:
    if text == "latest":
        return text
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return as_utc(value)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="agile-report", description=__doc__)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="the target's settings (JSON): same connection")
    source.add_argument("--embedded-path", type=Path, help="embedded ClickHouse data directory")
    p.add_argument("--database", help="database (default: the config's, else agile)")
    p.add_argument("--output", "-o", type=Path, default=Path("agile-report.html"), help="HTML file to write")
    p.add_argument("--queue", help="only this queue (default: all queues)")
    p.add_argument(
        "--from", dest="date_from", type=_date, help="first day (YYYY-MM-DD); default 90 days back"
    )
    p.add_argument("--to", dest="date_to", type=_date, help="last day (YYYY-MM-DD); default the as-of day")
    p.add_argument(
        "--asof",
        type=_instant,
        help="as-of instant (ISO 8601, UTC if no offset), or `latest`: the newest event; default now",
    )
    p.add_argument(
        "--timezone", help=f"IANA timezone of local days (default: the config's, else {DEFAULT_TIMEZONE})"
    )
    p.add_argument("--forecast-items", type=int, help="items to forecast (default: the current WIP)")
    p.add_argument("--forecast-until", type=_date, help="date for 'how many' (default: as-of day + 30)")
    p.add_argument("--history-days", type=int, default=60, help="throughput days sampled (default 60)")
    p.add_argument(
        "--trials", type=int, default=DEFAULT_TRIALS, help=f"Monte Carlo trials ({DEFAULT_TRIALS})"
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Monte Carlo seed (reproducible output)")
    return p


def write_report(settings: dict[str, Any], options: ReportOptions, output: Path) -> Path:
    """Query, render and write; returns the written path."""
    with connect(settings) as conn:
        data = collect(conn, options)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(data), encoding="utf-8")
    return output


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.config:
        settings: dict[str, Any] = json.loads(args.config.read_text(encoding="utf-8"))
    else:
        settings = {"embedded_path": str(args.embedded_path)}
    if args.database:
        settings["database"] = args.database
    options = ReportOptions(
        tz=args.timezone or settings.get("timezone") or DEFAULT_TIMEZONE,
        queue=args.queue,
        date_from=args.date_from,
        date_to=args.date_to,
        asof=args.asof,
        forecast_items=args.forecast_items,
        forecast_until=args.forecast_until,
        history_days=args.history_days,
        trials=args.trials,
        seed=args.seed,
    )
    try:
        path = write_report(settings, options, args.output)
    except (ClickHouseError, ValueError, OSError) as error:
        sys.stderr.write(f"agile-report: {error}\n")
        return 1
    sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
