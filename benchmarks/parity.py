"""Metric parity: our `issue_metrics` against the old exporter's `issue_metrics`, every difference explained.

Both systems read the same simulated organisation. Old rows are keyed by issue key and status display
name; they are mapped to our issue id (through the simulator's keys) and status key (through the
simulator's statuses, with the exporter's own snake_case rule). Then, per (issue, status):

* ours: `visits`, `duration_s`, `business_duration_s` (finished visits only);
* old: `status_transitions_count`, `duration`, `busdays_duration`.

Differences are not classified by guessing. `model()` replays the served changelog of every issue with a
set of the old exporter's rules switched on; each rule (`RULES`) is one documented behaviour of its code
(`tracker_exporter/models/issue.py`, `utils/helpers.py`). With no rule on, the model must reproduce our
rows exactly; with every rule on, it must reproduce the old exporter's rows exactly. Rules are then switched
on one at a time, in `RULES` order, and a differing pair is attributed to every rule whose step changed
its modelled value. Pairs that no rule touches must agree to the second.

Standalone: `python -m benchmarks.parity --scratch DIR` on a directory kept by `benchmarks.run --keep`.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

from benchmarks import old_exporter
from benchmarks.old_exporter import clickhouse_http
from benchmarks.pipeline import CALENDAR
from benchmarks.reporting import RESULTS
from target_clickhouse_agile.clickhouse import connect
from target_clickhouse_agile.metrics.calendar import WorkCalendar
from tracker_simulator import Organisation, generate_organisation
from tracker_simulator.catalog import STATUSES
from tracker_simulator.model import Event

# rule id -> (cause as reported, what the rule does in the model)
RULES: dict[str, tuple[str, str]] = {
    "moved": (
        "ignores status changes inside IssueMoved",
        "a status reset in an IssueMoved entry closes no visit",
    ),
    "updated": (
        "ignores status changes inside IssueUpdated",
        "a status set directly through the API (IssueUpdated) closes no visit",
    ),
    "status_first": (
        "skips transitions whose first field is not `status`",
        "an IssueWorkflow entry listing `resolution` before `status` is ignored",
    ),
    "start_time_second": (
        "skips transitions without `statusStartTime` as second field",
        "an IssueWorkflow entry whose second field is not statusStartTime closes no visit",
    ),
    "drops_issue": (
        "drops the whole issue when the second field is a reference",
        "`convert_datetime(Reference)` raises TypeError: the issue gets no rows at all",
    ),
    "drops_untransported": (
        "drops the whole issue when a changelog entry has no `transport`",
        "an entry of the documented older shape (no `transport`) with a changed field fails its pydantic "
        "changelog model (`transport: str`, changelog export on): ValidationError, the issue gets no rows",
    ),
    "interval_from_field": (
        "takes the visit's start from `statusStartTime.from`",
        "start = statusStartTime.from (createdAt if null), end = statusStartTime.to",
    ),
    "drops_current": (
        "drops the current status",
        "a status gets a row only once a visit to it has finished",
    ),
    "counts_exits": (
        "counts exits not entries",
        "status_transitions_count = finished visits it measured, not entries",
    ),
    "utc_clock": (
        "business hours use UTC clock time",
        "09:00-22:00 evaluated on the UTC clock instead of Europe/Moscow",
    ),
    "calendar": (
        "holiday calendar of holidays==0.34, no working Saturdays",
        "holidays.RU() of holidays 0.34, Monday-Friday only (no transferred working Saturdays)",
    ),
}
ALL = frozenset(RULES)


def snake(name: str) -> str:
    """The exporter's `to_snake_case(name.lower())` (utils/helpers.py), reproduced."""
    text = name.lower()
    lower = "a-z\u0430-\u044f\u0451"  # Latin and Cyrillic lower case, as in its regular expressions
    text = re.sub(rf"(?<=[{lower}])(?=\d)", "_", text)
    text = re.sub(rf"(?<=\d)(?=[{lower}])", "_", text)
    return re.sub(rf"[^{lower}A-Z\u0410-\u042f\u04010-9_]", "_", text)


STATUS_BY_NAME = {snake(status.en): status.key for status in STATUSES}


@dataclass(frozen=True)
class Values:
    """One (issue, status) row reduced to what both systems report."""

    count: int
    duration: int
    busdays: int


def _old_holidays() -> frozenset[date]:
    """The holiday dates `holidays.RU()` of the old exporter's pinned holidays==0.34 knows (2015-2030)."""
    years = "range(2015, 2031)"
    code = f"import holidays, json; print(json.dumps([d.isoformat() for d in holidays.RU(years={years})]))"
    out = subprocess.run([str(old_exporter.PYTHON), "-c", code], capture_output=True, text=True, check=True)
    return frozenset(date.fromisoformat(day) for day in json.loads(out.stdout))


class Calendars:
    """Four business-time calendars: (UTC clock or MSK) x (old calendar or ours)."""

    def __init__(self) -> None:
        self.old_days = _old_holidays()
        self._cache: dict[tuple[bool, bool], WorkCalendar] = {}

    def get(self, utc: bool, old_calendar: bool) -> WorkCalendar:
        key = (utc, old_calendar)
        if key not in self._cache:
            common = {"work_start": time(9), "work_end": time(22), "work_days": frozenset({1, 2, 3, 4, 5})}
            tz = "UTC" if utc else CALENDAR["timezone"]
            if old_calendar:
                calendar = WorkCalendar(tz, holidays_country=None, extra_holidays=self.old_days, **common)
            else:
                workdays = frozenset(date.fromisoformat(day) for day in CALENDAR["extra_workdays"])
                calendar = WorkCalendar(tz, holidays_country="RU", extra_workdays=workdays, **common)
            self._cache[key] = calendar
        return self._cache[key]


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _trunc_seconds(start_ms: int, end_ms: int) -> int:
    delta = end_ms - start_ms
    return delta // 1000 if delta >= 0 else -((-delta) // 1000)


def model(
    created: int,
    initial: str,
    events: Iterable[Event],
    rules: frozenset[str],
    calendars: Calendars,
    legacy_before: int | None = None,
) -> dict[str, Values] | None:
    """Per status, the values the given rules produce from one issue's served changelog (None: dropped).

    With no rule on this is our definition (any status change is a transition at statusStartTime.to or
    updatedAt, ordered by time then changelog order, clamped to createdAt; every entered status has a row).
    `legacy_before`: entries older than this are served in the older shape, without `transport`.
    """
    events = list(events)
    if (
        "drops_untransported" in rules
        and legacy_before is not None
        and any(
            event.at < legacy_before and any(old or new for _field, old, new in event.changes)
            for event in events
        )
    ):
        return None  # its changelog export builds a model per changed field: transport=None fails it
    calendar = calendars.get("utc_clock" in rules, "calendar" in rules)
    entries: Counter[str] = Counter({initial: 1})
    exits: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    timed = []
    for event in events:
        changes = event.changes
        status = next((c for c in changes if c[0] == "status"), None)
        if status is None or status[2] is None:
            continue
        start_time = next((c for c in changes if c[0] == "statusStartTime"), None)
        at = start_time[2] if start_time is not None and start_time[2] is not None else event.at
        timed.append((max(at, created), event.seq, event, status, start_time))
    timed.sort(key=lambda item: item[:2])
    current, since = initial, created
    for at, _seq, event, (_field, _old, new), _start_time in timed:
        if new == current:
            continue
        interval: tuple[int, int] | None = (since, at)
        if (event.type == "IssueMoved" and "moved" in rules) or (
            event.type == "IssueUpdated" and "updated" in rules
        ):
            interval = None
        elif event.type == "IssueWorkflow":
            first, second = event.changes[0], event.changes[1] if len(event.changes) > 1 else None
            if first[0] != "status" and "status_first" in rules:
                interval = None
            elif second is None or second[0] != "statusStartTime":
                if second is not None and second[2] is not None and "drops_issue" in rules:
                    return None
                if "start_time_second" in rules:
                    interval = None
            elif "interval_from_field" in rules:
                origin = second[1] if second[1] is not None else created
                interval = (origin, second[2])
        if interval is not None:
            start, end = interval
            values = exits[current]
            values[0] += 1
            if "interval_from_field" in rules:  # abs(int(seconds)) in calculate_time_spent
                values[1] += abs(_trunc_seconds(start, end))
                values[2] += calendar.business_seconds(_dt(min(start, end)), _dt(max(start, end)))
            else:
                values[1] += _trunc_seconds(start, end)
                values[2] += calendar.business_seconds(_dt(start), _dt(end))
        current, since = new, at
        entries[new] += 1
    statuses = exits.keys() if "drops_current" in rules else entries.keys()
    result = {}
    for status in statuses:
        measured = exits.get(status, [0, 0, 0])
        count = measured[0] if "counts_exits" in rules else entries[status]
        result[status] = Values(count, measured[1], measured[2])
    return result


def _initial_status(org: Organisation, idx: int) -> str:
    return org.history(idx).initial.status


def read_old(http_url: str, database: str, key_to_id: dict[str, str]) -> dict[tuple[str, str], Values]:
    """The old exporter's rows (FINAL), keyed by (our issue id, status key)."""
    sql = (
        "SELECT issue_key, status_name, status_transitions_count, duration, busdays_duration "
        f"FROM {database}.issue_metrics FINAL FORMAT JSONEachRow"
    )
    rows: dict[tuple[str, str], Values] = {}
    for line in clickhouse_http(http_url, sql).splitlines():
        row = json.loads(line)
        key = (key_to_id[row["issue_key"]], STATUS_BY_NAME[row["status_name"]])
        values = Values(
            int(row["status_transitions_count"]), int(row["duration"]), int(row["busdays_duration"])
        )
        rows[key] = values
    return rows


def read_ours(settings: dict[str, Any]) -> dict[tuple[str, str], Values]:
    """Our issue_metrics (FINAL, without tombstones), keyed by (issue id, status key)."""
    with connect(settings) as conn:
        database = settings["database"]
        rows = conn.query(
            "SELECT issue_id, status, visits, duration_s, business_duration_s "
            f"FROM `{database}`.issue_metrics FINAL WHERE _is_deleted = 0"
        )
    return {
        (row["issue_id"], row["status"]): Values(
            int(row["visits"]), int(row["duration_s"]), int(row["business_duration_s"])
        )
        for row in rows
    }


def compare(
    org: Organisation, old: dict[tuple[str, str], Values], ours: dict[tuple[str, str], Values]
) -> dict[str, Any]:
    """Model both sides, check the models, attribute every difference; returns the report's numbers.

    Rules are switched on one at a time in `RULES` order (step k = the first k rules): a differing pair
    is attributed to every step that changed its modelled value. Step 0 must equal our rows and the last
    step the old exporter's rows, so every difference is covered by at least one named rule.
    """
    calendars = Calendars()
    order = list(RULES)
    steps = [frozenset(order[:k]) for k in range(len(order) + 1)]
    modelled: list[dict[tuple[str, str], Values]] = [{} for _ in steps]
    dropped: list[set[str]] = [set() for _ in steps]
    for idx, record in enumerate(org.records):
        history = org.history(idx)
        for step, rules in enumerate(steps):
            result = model(
                record.created,
                history.initial.status,
                history.events,
                rules,
                calendars,
                legacy_before=org.legacy_before,
            )
            if result is None:
                dropped[step].add(record.id)
                continue
            for status, values in result.items():
                modelled[step][(record.id, status)] = values

    def mismatches(left: dict, right: dict) -> list[tuple[str, str]]:
        return sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))

    report: dict[str, Any] = {
        "issues": len(org.records),
        "pairs_ours": len(ours),
        "pairs_old": len(old),
        "model_vs_ours": mismatches(modelled[0], ours),
        "model_vs_old": mismatches(modelled[-1], old),
        "dropped_issues_model": len(dropped[-1]),
    }
    differing = mismatches(ours, old)
    report["pairs_total"] = len(ours.keys() | old.keys())
    report["pairs_differing"] = len(differing)
    per_rule: dict[str, Counter[str]] = {rule: Counter() for rule in RULES}
    combos: Counter[tuple[str, ...]] = Counter()
    unexplained = []
    zero = Values(0, 0, 0)
    for pair in differing:
        causes = []
        for step, rule in enumerate(order, start=1):
            before, after = modelled[step - 1].get(pair), modelled[step].get(pair)
            if before == after:
                continue
            causes.append(rule)
            stats = per_rule[rule]
            stats["pairs"] += 1
            if (before is None) != (after is None):
                stats["row_missing"] += 1
            elif before is not None and after is not None:
                stats["duration"] += before.duration != after.duration
                stats["busdays"] += before.busdays != after.busdays
                stats["count"] += before.count != after.count
            stats["duration_s"] += abs((before or zero).duration - (after or zero).duration)
            stats["busdays_s"] += abs((before or zero).busdays - (after or zero).busdays)
        if not causes or modelled[-1].get(pair) != old.get(pair) or modelled[0].get(pair) != ours.get(pair):
            unexplained.append(pair)
        else:
            combos[tuple(causes)] += 1
    untouched = [p for p in ours.keys() & old.keys() if all(m.get(p) == modelled[0].get(p) for m in modelled)]
    report["untouched_pairs"] = len(untouched)
    report["untouched_agree"] = sum(ours[p] == old[p] for p in untouched)
    report["per_rule"] = {rule: dict(stats) for rule, stats in per_rule.items()}
    report["combos"] = [(list(k), v) for k, v in combos.most_common()]
    report["unexplained"] = unexplained
    report["equal_pairs"] = sum(ours.get(k) == old.get(k) for k in ours.keys() & old.keys())
    return report


def render(report: dict[str, Any], context: dict[str, Any]) -> str:
    """parity.md"""
    lines = [
        "# Metric parity: tracker-exporter 2.0.0 vs target-clickhouse-agile",
        "",
        f"Organisation: {report['issues']} simulated issues (seed {context.get('seed', 42)}); "
        "old rows from its `issue_metrics FINAL` on ClickHouse 18.16 "
        f"(database `{context['old_database']}`), "
        f"ours from `issue_metrics FINAL` (database `{context['new_database']}`). Business time: both "
        "09:00-22:00 Monday-Friday with RU holidays; ours in Europe/Moscow with the transferred working "
        "Saturdays.",
        "",
        "## Summary",
        "",
        f"- (issue, status) pairs: {report['pairs_total']} ({report['pairs_ours']} ours, "
        f"{report['pairs_old']} old); identical in all three numbers: {report['equal_pairs']}; differing: "
        f"{report['pairs_differing']}.",
        f"- Model with every old rule on vs the old exporter's real rows: "
        f"**{len(report['model_vs_old'])} mismatching pairs**. Model with no rule on vs our rows: "
        f"**{len(report['model_vs_ours'])} mismatching pairs**.",
        f"- Differences not explained by a named cause: **{len(report['unexplained'])}**.",
        f"- Pairs no rule touches: {report['untouched_pairs']}; of those, equal to the second (count, "
        f"duration and business duration): **{report['untouched_agree']}**.",
        f"- Issues dropped whole by the old exporter (modelled): {report['dropped_issues_model']}; "
        f"logged by its run: {context.get('failed_logged', '?')}.",
        "",
        "## Causes",
        "",
        "Rules are switched on one at a time in this order, starting from our definition; a pair counts "
        "for every step that changed it (so a pair can have several causes). *seconds* = total "
        "|difference| the step made (duration / business duration).",
        "",
        "| cause | rule reproduced on our data | pairs | row missing | duration differs | business differs "
        "| count differs | seconds (duration / business) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for rule, (cause, how) in RULES.items():
        s = report["per_rule"].get(rule, {})
        lines.append(
            f"| {cause} | {how} | {s.get('pairs', 0)} | {s.get('row_missing', 0)} | {s.get('duration', 0)} "
            f"| {s.get('busdays', 0)} | {s.get('count', 0)} "
            f"| {s.get('duration_s', 0)} / {s.get('busdays_s', 0)} |"
        )
    lines += [
        f"| drops issues beyond 10,000 | page-mode search (`X-Total-Count` capped) stops at 10,000 issues, "
        f"no error | measured in the {context.get('big_size', 20000)}-issue run: "
        f"{context.get('beyond', '?')} issues never exported | | | | | |",
        "| keys by issue key (moves) | rows keyed by the key at export time; a re-export after a move "
        "leaves the old key's rows | 0 here (one export) | | | | | |",
        "| double counts revisited statuses under FINAL | `ORDER BY (issue_key, status_name, last_seen)`: "
        "a re-export after a revisit adds a row FINAL keeps | 0 here (one export) | | | | | |",
        "| drops issues on 429 | the client raises on 429 (no retry by default), the issue is skipped | "
        "0 here (no faults injected) | | | | | |",
        "| identifies statuses by display name | `status_name` = snake_case of the English name | "
        "0 here (no two statuses share a name; the join uses this rule) | | | | | |",
        "",
        "## Most frequent cause combinations",
        "",
        "| causes | pairs |",
        "|---|---:|",
    ]
    for causes, count in report["combos"][:15]:
        lines.append(f"| {', '.join(RULES[c][0] for c in causes)} | {count} |")
    if report["model_vs_old"] or report["model_vs_ours"] or report["unexplained"]:
        lines += ["", "## Unexplained (first 20)", ""]
        for label in ("model_vs_old", "model_vs_ours", "unexplained"):
            for pair in report[label][:20]:
                lines.append(f"- {label}: {pair}")
    lines.append("")
    return "\n".join(lines)


def write_report(
    org: Organisation,
    http_url: str,
    native: dict[str, Any],
    *,
    old_database: str,
    new_database: str,
    old_log: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Read both sides, compare, write `results/parity.md` (and raw JSON); returns the report."""
    key_to_id = {record.key: record.id for record in org.records}
    old = read_old(http_url, old_database, key_to_id)
    ours = read_ours({**native, "database": new_database})
    report = compare(org, old, ours)
    context: dict[str, Any] = {"old_database": old_database, "new_database": new_database, **(extra or {})}
    if old_log is not None and old_log.exists():
        context["failed_logged"] = old_log.read_text(errors="replace").count("can't be transformed")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "raw").mkdir(exist_ok=True)
    (RESULTS / "raw" / "parity.json").write_text(json.dumps(report, indent=1, default=str))
    (RESULTS / "parity.md").write_text(render(report, context))
    return report


def main(argv: list[str] | None = None) -> int:
    """Standalone: restart the kept ClickHouse data of a `benchmarks.run --keep` directory and report."""
    from tests.support.clickhouse import ClickHouseServer

    parser = argparse.ArgumentParser(prog="python -m benchmarks.parity", description=__doc__.split("\n")[0])
    parser.add_argument("--scratch", required=True, type=Path, help="directory kept by benchmarks.run --keep")
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=0)
    parser.add_argument("--big-size", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    server = ClickHouseServer(args.scratch / "clickhouse")
    server.start()
    try:
        tag = f"{args.size}-{args.latency}ms"
        big_log = args.scratch / f"{args.big_size}-0ms" / "old" / "old-exporter.log"
        extra: dict[str, Any] = {"seed": args.seed, "big_size": args.big_size}
        if big_log.exists():
            found = re.search(r"Found (\d+) issues", big_log.read_text(errors="replace"))
            planned = re.search(r"Processed \d+ of ~(\d+) issues", big_log.read_text(errors="replace"))
            if found and planned:
                extra["beyond"] = (
                    f"{int(found[1]) - int(planned[1])} (found {found[1]}, processes {planned[1]})"
                )
        report = write_report(
            generate_organisation(args.size, seed=args.seed),
            f"http://{server.host}:{server.http_port}/",
            {"host": server.host, "port": server.port},
            old_database=f"old_{args.size}_{args.latency}",
            new_database=f"new_{args.size}_{args.latency}",
            old_log=args.scratch / tag / "old" / "old-exporter.log",
            extra=extra,
        )
    finally:
        server.stop()
    print(
        f"parity: {report['pairs_differing']} differing pairs, {len(report['unexplained'])} unexplained, "
        f"model/old mismatches {len(report['model_vs_old'])}, "
        f"model/ours mismatches {len(report['model_vs_ours'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
