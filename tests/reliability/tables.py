"""What "the same data as a clean run" means, as queries: table contents under FINAL, duplicate keys,
and the status timelines checked against the simulator's ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from target_clickhouse_agile.clickhouse.connection import connect
from tests.simulator.model import IssueTruth

#: table → its logical key (what must never appear twice under FINAL).
KEYS: dict[str, tuple[str, ...]] = {
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
VOLATILE = frozenset({"_version", "_loaded_at", "_is_deleted", "computed_at"})


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
        for table in KEYS:
            columns = [r["name"] for r in conn.query(f"DESCRIBE TABLE {table}") if r["name"] not in VOLATILE]
            rows = conn.query(f"SELECT {', '.join(columns)} FROM {table} FINAL{_where(table)}")
            out[table] = sorted((tuple(_normal(row[c]) for c in columns) for row in rows), key=repr)
    return out


def diff(left: dict[str, list[tuple[Any, ...]]], right: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Human-readable differences (first few per table), empty when equal."""
    problems = []
    for table in KEYS:
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
        for table, key in KEYS.items():
            (row,) = conn.query(
                f"SELECT count() AS n, uniqExact({', '.join(key)}) AS k FROM {table} FINAL{_where(table)}"
            )
            out[table] = int(row["n"]) - int(row["k"])
    return out


def timeline_mismatches(settings: Mapping[str, Any], truth: Mapping[str, IssueTruth]) -> list[str]:
    """Issues whose stored status intervals (status, entered_at) differ from the generator's timeline,
    plus issues missing from `issue_flow` or with a wrong current status."""
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
    extra = set(stored) - set(truth)
    if extra:
        problems.append(f"{len(extra)} issues not in the ground truth, e.g. {sorted(extra)[:3]}")
    return problems
