"""What landed in ClickHouse, read back as plain Python values (embedded ClickHouse in a child process),
and what "the same data as a clean run" means: table contents under FINAL, duplicate keys, status timelines.

python -m tests.support.tables run-queries < {"settings": ..., "queries": {name: sql}}
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from target_clickhouse_agile.clickhouse.connection import connect
from tests.support.truth import expected_changelog, expected_issues, issues_bookmark, parse_utc
from tracker_simulator import IssueTruth, TrackerSimulator

# --- what landed ---------------------------------------------------------------------------------

LIVE = "FINAL WHERE _is_deleted = 0"
TABLE_QUERIES = {
    "issues": "SELECT * FROM issues FINAL",
    "issue_changelog": "SELECT * FROM issue_changelog FINAL",
    "issue_status_intervals": f"SELECT * FROM issue_status_intervals {LIVE}",
    "issue_metrics": f"SELECT * FROM issue_metrics {LIVE}",
    "issue_flow": f"SELECT * FROM issue_flow {LIVE}",
}
#: Columns that legitimately differ between two loads of the same data (load and computation times).
VOLATILE = frozenset({"_version", "_loaded_at", "computed_at"})
KEYS = {
    "issues": ("issue_id",),
    "issue_changelog": ("event_id", "field_id"),
    "issue_status_intervals": ("issue_id", "seq"),
    "issue_metrics": ("issue_id", "status"),
    "issue_flow": ("issue_id",),
}


def read_tables(settings: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The five core tables as the dashboards see them (FINAL, tombstones hidden), sorted by key."""
    tables = run_queries(settings, TABLE_QUERIES)
    return {
        table: sorted(rows, key=lambda r, t=table: tuple(str(r[k]) for k in KEYS[t]))
        for table, rows in tables.items()
    }


def run_queries(settings: Mapping[str, Any], queries: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Rows of each named query. Embedded ClickHouse is read in a child process: chdb opens one data
    directory per process, and the calling process may already hold another one (e.g. from an in-process
    target test)."""
    if str(settings.get("host") or "").strip():
        return _run_queries_here(settings, queries)
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.tables", "run-queries"],
        input=json.dumps({"settings": dict(settings), "queries": dict(queries)}).encode(),
        capture_output=True,
        check=False,
        timeout=300,
        cwd=Path(__file__).resolve().parents[2],
    )
    if done.returncode != 0:
        raise RuntimeError(f"reading {settings} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return pickle.loads(done.stdout)  # noqa: S301 - our own child process


def _run_queries_here(
    settings: Mapping[str, Any], queries: Mapping[str, str]
) -> dict[str, list[dict[str, Any]]]:
    with connect(settings) as conn:
        return {name: conn.query(sql) for name, sql in queries.items()}


def comparable(tables: Mapping[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Tables without the columns that record *when* something was loaded or computed."""
    return {
        t: [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows] for t, rows in tables.items()
    }


def table_differences(
    left: Mapping[str, list[dict[str, Any]]], right: Mapping[str, list[dict[str, Any]]], limit: int = 10
) -> list[str]:
    """Readable differences between two `comparable()` snapshots (empty when equal)."""
    problems: list[str] = []
    for table in sorted(set(left) | set(right)):
        a = {tuple(str(r[k]) for k in KEYS[table]): r for r in left.get(table, [])}
        b = {tuple(str(r[k]) for k in KEYS[table]): r for r in right.get(table, [])}
        for key in sorted(set(a) ^ set(b))[:limit]:
            problems.append(f"{table} {key}: only in {'left' if key in a else 'right'}")
        for key in sorted(set(a) & set(b)):
            if a[key] != b[key] and len(problems) < limit * 5:
                diff = {c: (a[key].get(c), b[key].get(c)) for c in a[key] if a[key].get(c) != b[key].get(c)}
                problems.append(f"{table} {key}: {diff}")
    return problems


def max_stored_updated_at(settings: Mapping[str, Any]) -> datetime | None:
    """The newest `updated_at` durably stored in `issues` (what a STATE bookmark may cover at most)."""
    with connect(settings) as conn:
        rows = conn.query("SELECT count() AS n, max(updated_at) AS m FROM issues")
    return rows[0]["m"] if rows[0]["n"] else None


def covered_but_not_stored(
    settings: Mapping[str, Any], states: list[dict[str, Any]], simulator: TrackerSimulator
) -> list[str]:
    """What the STATEs vouch for that the tables lack. For the STATE with the latest issues bookmark B
    (the look-back can move a bookmark back), every issue the API has with an `updatedAt` before B (issues
    of B's own millisecond may still be on their way) must be stored with that `updatedAt` (to the second:
    old servers keep seconds), every changelog entry of it, and the status intervals and current status
    of the ground truth (its metrics were rebuilt). Issues that STATE holds as set aside are exempt.
    Assumes a tap that reads every queue of a simulator unchanged since the run. Empty when all holds."""
    marked = [(bookmark, state) for state in states if (bookmark := issues_bookmark(state)) is not None]
    if not marked:
        return []
    latest, state = max(marked, key=lambda pair: pair[0])
    set_aside = state["bookmarks"]["issues"].get("set_aside") or {}
    covered = {
        issue_id: parse_utc(updated).replace(microsecond=0)
        for issue_id, updated in expected_issues(simulator.org).items()
        if parse_utc(updated) < latest and issue_id not in set_aside
    }
    with connect(settings) as conn:
        rows = conn.query("SELECT issue_id, updated_at FROM issues FINAL")
        entries = {row["event_id"] for row in conn.query("SELECT DISTINCT event_id FROM issue_changelog")}
    stored = {
        row["issue_id"]: row["updated_at"].astimezone(timezone.utc).replace(microsecond=0) for row in rows
    }
    problems = [
        f"issue {issue_id}: stored updated_at {stored.get(issue_id)} != {updated}"
        for issue_id, updated in covered.items()
        if stored.get(issue_id) != updated
    ]
    missing = set(expected_changelog(simulator.org, set(covered))) - entries
    if missing:
        problems.append(
            f"{len(missing)} changelog entries of covered issues not stored, e.g. {sorted(missing)[:3]}"
        )
    truth = simulator.ground_truth(covered)
    return problems + timeline_mismatches(settings, truth, others_stored=True)


def query(settings: Mapping[str, Any], sql: str) -> list[dict[str, Any]]:
    """Rows of one query through a new connection, closed at once (chdb allows one open data directory
    per process; use `run_queries` when the test process may hold another one)."""
    with connect(settings) as conn:
        return conn.query(sql)


def count(settings: Mapping[str, Any], table: str) -> int:
    return int(query(settings, f"SELECT count() AS n FROM {table} FINAL")[0]["n"])


# --- every data table, for "the same data as a clean run" ----------------------------------------------

#: table → its logical key (what must never appear twice under FINAL).
DATA_KEYS: dict[str, tuple[str, ...]] = {
    "issues": ("issue_id",),
    "issue_changelog": ("event_id", "field_id"),
    "issue_status_intervals": ("issue_id", "seq"),
    "issue_metrics": ("issue_id", "status"),
    "issue_flow": ("issue_id",),
    "statuses": ("id",),
    "queues": ("id",),
    "users": ("uid",),
    "issue_types": ("id",),
    "priorities": ("id",),
    "resolutions": ("id",),
}
DERIVED = frozenset({"issue_status_intervals", "issue_metrics", "issue_flow"})
#: Columns that legitimately differ between two loads of the same data (load time, computation time).
SNAPSHOT_VOLATILE = frozenset({"_version", "_loaded_at", "_is_deleted", "computed_at"})


def _where(table: str) -> str:
    return " WHERE _is_deleted = 0" if table in DERIVED else ""


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return "NaN"
    if isinstance(value, list | tuple):
        return tuple(_normal(v) for v in value)
    return value


def snapshot(settings: Mapping[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every data table under FINAL (tombstones excluded), volatile columns dropped, rows sorted."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with connect(settings) as conn:
        for table in DATA_KEYS:
            columns = [
                r["name"] for r in conn.query(f"DESCRIBE TABLE {table}") if r["name"] not in SNAPSHOT_VOLATILE
            ]
            rows = conn.query(f"SELECT {', '.join(columns)} FROM {table} FINAL{_where(table)}")
            out[table] = sorted((tuple(_normal(row[c]) for c in columns) for row in rows), key=repr)
    return out


def diff(left: dict[str, list[tuple[Any, ...]]], right: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Human-readable differences (first few per table), empty when equal."""
    problems = []
    for table in DATA_KEYS:
        a, b = set(left.get(table, [])), set(right.get(table, []))
        if a != b or len(left.get(table, [])) != len(right.get(table, [])):
            only_a, only_b = sorted(a - b, key=repr), sorted(b - a, key=repr)
            detail = ""
            if only_a and only_b:  # show the differing columns of the first mismatching pair
                x, y = (
                    only_a[0],
                    min(only_b, key=lambda row: sum(p != q for p, q in zip(row, only_a[0], strict=False))),
                )
                changed = [(i, p, q) for i, (p, q) in enumerate(zip(x, y, strict=False)) if p != q]
                detail = f"; e.g. column values {changed}"
            problems.append(
                f"{table}: {len(left.get(table, []))} vs {len(right.get(table, []))} rows, "
                f"{len(only_a)} only left, {len(only_b)} only right{detail}; "
                f"only left {only_a[:1]!r:.600}; only right {only_b[:1]!r:.600}"
            )
    return problems


def duplicate_keys(settings: Mapping[str, Any]) -> dict[str, int]:
    """table → rows under FINAL minus distinct logical keys (0 everywhere when nothing is duplicated)."""
    out = {}
    with connect(settings) as conn:
        for table, key in DATA_KEYS.items():
            (row,) = conn.query(
                f"SELECT count() AS n, uniqExact({', '.join(key)}) AS k FROM {table} FINAL{_where(table)}"
            )
            out[table] = int(row["n"]) - int(row["k"])
    return out


def timeline_mismatches(
    settings: Mapping[str, Any], truth: Mapping[str, IssueTruth], *, others_stored: bool = False
) -> list[str]:
    """Issues whose stored status intervals (status, entered_at) differ from the generator's timeline,
    plus issues missing from `issue_flow` or with a wrong current status, plus (unless `others_stored`:
    `truth` is a part of what is stored) issues stored that `truth` does not have."""
    with connect(settings) as conn:
        rows = conn.query(
            "SELECT issue_id, seq, status, entered_at FROM issue_status_intervals FINAL "
            "WHERE _is_deleted = 0 ORDER BY issue_id, seq"
        )
        flow = {
            r["issue_id"]: r["current_status"]
            for r in conn.query("SELECT issue_id, current_status FROM issue_flow FINAL WHERE _is_deleted = 0")
        }
    stored: dict[str, list[tuple[str, datetime]]] = {}
    for row in rows:
        at = row["entered_at"].astimezone(timezone.utc).replace(microsecond=0)
        stored.setdefault(row["issue_id"], []).append((row["status"], at))
    problems = []
    for issue_id, expected in truth.items():
        want = [
            (status, at.astimezone(timezone.utc).replace(microsecond=0)) for status, at in expected.timeline
        ]
        if stored.get(issue_id) != want:
            problems.append(f"{expected.key}: stored {stored.get(issue_id)} != truth {want}")
        if flow.get(issue_id) != expected.current_status:
            problems.append(f"{expected.key}: flow current {flow.get(issue_id)} != {expected.current_status}")
    extra = set() if others_stored else set(stored) - set(truth)
    if extra:
        problems.append(f"{len(extra)} issues not in the ground truth, e.g. {sorted(extra)[:3]}")
    return problems


if __name__ == "__main__":  # `python -m tests.support.tables run-queries < {"settings", "queries"}`
    if sys.argv[1:] != ["run-queries"]:
        raise SystemExit("usage: python -m tests.support.tables run-queries < request.json (see run_queries)")
    request = json.loads(sys.stdin.read())
    sys.stdout.buffer.write(pickle.dumps(_run_queries_here(request["settings"], request["queries"])))
