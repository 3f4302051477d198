"""A short, readable summary computed from the ClickHouse tables the pipeline just wrote."""

from __future__ import annotations

from pathlib import Path

from target_clickhouse_agile.clickhouse import connect

DAY = 86400.0

QUERIES = {
    "issues": "SELECT count() AS n, countIf(is_closed = 1) AS closed FROM issues FINAL",
    "cycle": """
        SELECT queue, count() AS done,
               round(quantileExact(0.5)(cycle_time_s) / 86400, 1) AS p50_days,
               round(quantileExact(0.85)(cycle_time_s) / 86400, 1) AS p85_days
        FROM issue_flow FINAL
        WHERE _is_deleted = 0 AND cycle_time_s IS NOT NULL
        GROUP BY queue ORDER BY queue""",
    "throughput": """
        SELECT toMonday(toDate(done_at, 'Europe/Moscow')) AS week, count() AS finished
        FROM issue_flow FINAL
        WHERE _is_deleted = 0 AND done_at IS NOT NULL
        GROUP BY week ORDER BY week DESC LIMIT 8""",
    "wip": """
        SELECT queue, count() AS wip
        FROM issue_flow FINAL
        WHERE _is_deleted = 0 AND current_status_category IN ('active', 'wait')
        GROUP BY queue ORDER BY queue""",
    "slowest": """
        SELECT status, count() AS finished_visits,
               round(avg(duration_s) / 86400, 1) AS avg_days,
               round(quantileExact(0.85)(duration_s) / 86400, 1) AS p85_days
        FROM issue_status_intervals FINAL
        WHERE _is_deleted = 0 AND duration_s IS NOT NULL
          AND status_category NOT IN ('done', 'cancelled')
        GROUP BY status ORDER BY avg_days DESC LIMIT 5""",
}


def _table(rows: list[dict], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) if rows else len(c) for c in columns]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    body = ["  ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)) for r in rows]
    return "\n".join(["  " + line, *("  " + b for b in body)])


def print_summary(embedded_path: Path, database: str) -> None:
    conn = connect({"embedded_path": str(embedded_path), "database": database})
    try:
        results = {name: conn.query(sql) for name, sql in QUERIES.items()}
    finally:
        conn.close()
    totals = results["issues"][0]
    print(f"Issues loaded: {totals['n']} ({totals['closed']} closed)\n")
    print("Cycle time per queue (first start → final done, days):")
    print(_table(results["cycle"], ["queue", "done", "p50_days", "p85_days"]), "\n")
    print("Throughput per week (Europe/Moscow), latest first:")
    print(_table(results["throughput"], ["week", "finished"]), "\n")
    print("Current WIP (issues in active or wait statuses):")
    print(_table(results["wip"], ["queue", "wip"]), "\n")
    print("Slowest statuses before done (days per finished visit):")
    print(_table(results["slowest"], ["status", "finished_visits", "avg_days", "p85_days"]), "\n")
    print(f"The data is in embedded ClickHouse at {embedded_path} (database '{database}').")
    print("Query it from Python:")
    print(
        '  .venv/bin/python -c "import chdb.session as s; '
        f"print(s.Session('{embedded_path}').query('SELECT * FROM {database}.issue_flow_view LIMIT 5', "
        "'PrettyCompact'))\""
    )
