"""What the simulator says must have landed, computed independently of the target's metrics core: from the
simulator's ground truth (each issue's status timeline) and its own status types, with a separate,
deliberately simple business-time walk (`SimpleCalendar`). Also what a complete tap run must emit.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import holidays

from tests.support.configs import CALENDAR
from tracker_simulator import IssueTruth, Organisation, TrackerSimulator
from tracker_simulator.catalog import STATUS_TYPE
from tracker_simulator.ids import changelog_salt, object_id
from tracker_simulator.timefmt import format_ts

#: Tracker status type → category, as the data contract defines it (independent of the target's table).
CATEGORY_OF_TYPE = {
    "new": "todo",
    "inProgress": "active",
    "paused": "wait",
    "done": "done",
    "cancelled": "cancelled",
}
CLOSED = frozenset({"done", "cancelled"})


def issues_bookmark(state: Mapping[str, Any]) -> datetime | None:
    """The `issues` replication bookmark of a STATE value (None before the first issue)."""
    value = (state.get("bookmarks") or {}).get("issues", {}).get("replication_key_value")
    return parse_utc(value) if value else None


def parse_utc(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


# --- what should have landed ---------------------------------------------------------------------


def category(status: str) -> str:
    return CATEGORY_OF_TYPE[STATUS_TYPE[status]]


def whole_seconds(start: datetime, end: datetime) -> int:
    """Truncated whole seconds, as the contract defines `duration_s`."""
    delta = end - start
    return delta.days * 86400 + delta.seconds


@dataclass(frozen=True)
class ExpectedVisit:
    seq: int
    status: str
    entered_at: datetime
    left_at: datetime | None

    @property
    def duration_s(self) -> int | None:
        return None if self.left_at is None else whole_seconds(self.entered_at, self.left_at)


@dataclass
class ExpectedIssue:
    """One issue as the contract says the tables must show it, computed from the simulator's truth."""

    truth: IssueTruth
    changelog_entries: int
    visits: list[ExpectedVisit]
    started_at: datetime | None
    done_at: datetime | None
    reopen_count: int

    @property
    def lead_time_s(self) -> int | None:
        return None if self.done_at is None else whole_seconds(self.truth.created_at, self.done_at)

    @property
    def cycle_time_s(self) -> int | None:
        if self.done_at is None or self.started_at is None:
            return None
        return whole_seconds(self.started_at, self.done_at)


def expected_issue(truth: IssueTruth, changelog_entries: int) -> ExpectedIssue:
    """Visits, start, done and reopens from a truth timeline, straight from the data contract."""
    timeline: list[tuple[str, datetime]] = []
    for status, at in truth.timeline:
        if not timeline or timeline[-1][0] != status:  # a no-op transition is not a visit
            timeline.append((status, at))
    ends: list[datetime | None] = [at for _s, at in timeline[1:]]
    visits = [
        ExpectedVisit(seq, status, at, end)
        for seq, ((status, at), end) in enumerate(zip(timeline, [*ends, None], strict=True), start=1)
    ]
    categories = [category(v.status) for v in visits]
    started = next(
        (v.entered_at for v, c in zip(visits, categories, strict=True) if c in ("active", "wait")), None
    )
    done_at = None
    if categories[-1] == "done":
        first = len(visits) - 1
        while first > 0 and categories[first - 1] == "done":
            first -= 1
        done_at = visits[first].entered_at
    reopens = sum(1 for a, b in pairwise(categories) if a in CLOSED and b not in CLOSED)
    return ExpectedIssue(truth, changelog_entries, visits, started, done_at, reopens)


def expected_from_simulator(sim: TrackerSimulator) -> dict[str, ExpectedIssue]:
    """Per issue id, the expectation for every issue the simulator holds right now."""
    org = sim.org
    truths = sim.ground_truth()
    with org.lock:
        entries = {record.id: record.version for record in org.records}
    return {issue_id: expected_issue(truth, entries[issue_id]) for issue_id, truth in truths.items()}


# --- an independent business-time calculation -------------------------------------------------------


@dataclass(frozen=True)
class SimpleCalendar:
    """Working hours of working days in a timezone, walked one local day at a time.

    Deliberately naive (no caching, no day ordinals) so that it shares no code or shortcut with the
    target's `WorkCalendar`; it only shares the public-holiday data (the `holidays` package).
    """

    timezone: str = CALENDAR["timezone"]
    start: time = time(9, 0)
    end: time = time(18, 0)
    work_days: frozenset[int] = frozenset(CALENDAR["work_days"])
    country: str | None = CALENDAR["holidays_country"]

    def is_working(self, day: date) -> bool:
        if day.isoweekday() not in self.work_days:
            return False
        return not (self.country and day in holidays.country_holidays(self.country, years=day.year))

    def business_seconds_by_day(self, start: datetime, end: datetime) -> int:
        """Truncated seconds of [start, end) inside working hours of working days."""
        zone = ZoneInfo(self.timezone)
        total = timedelta(0)
        day = start.astimezone(zone).date()
        last = end.astimezone(zone).date()
        while day <= last:
            if self.is_working(day):
                open_at = datetime.combine(day, self.start, zone)
                close_at = datetime.combine(day, self.end, zone)
                overlap = min(end, close_at) - max(start, open_at)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total.days * 86400 + total.seconds


# --- comparing ---------------------------------------------------------------------------------------


def _by(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row[key]].append(row)
    return grouped


Stamp = Callable[[datetime | None], datetime | None]


def _exact(value: datetime | None) -> datetime | None:
    return value


def _to_second(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(microsecond=0)


def compare_with_truth(
    tables: Mapping[str, list[dict[str, Any]]],
    expected: Mapping[str, ExpectedIssue],
    *,
    business_sample: Iterable[str] = (),
    calendar: SimpleCalendar | None = None,
    seconds_only: bool = False,
) -> list[str]:
    """Every difference between the stored tables and the expectation, one readable line each.

    Checks issue and changelog-entry counts, each issue's visits (status, category, entered/left, exact
    `duration_s`), per-status visits and sums, and the flow facts. For the issues in `business_sample`
    the business seconds of every visit, of each status's sum and of lead/cycle time are recomputed with
    `calendar`. `seconds_only`: the server stores `DateTime` (old servers), so timestamps are compared to
    the second; durations must still be exact, because the target computes them from milliseconds.
    """
    ts: Stamp = _to_second if seconds_only else _exact
    problems: list[str] = []
    issues = {r["issue_id"]: r for r in tables["issues"]}
    missing, extra = set(expected) - set(issues), set(issues) - set(expected)
    if missing or extra:
        problems.append(f"issues: {len(missing)} missing, {len(extra)} extra")
    entries = {
        k: len({r["event_id"] for r in v}) for k, v in _by(tables["issue_changelog"], "issue_id").items()
    }
    intervals = _by(tables["issue_status_intervals"], "issue_id")
    metrics = _by(tables["issue_metrics"], "issue_id")
    flows = {r["issue_id"]: r for r in tables["issue_flow"]}
    sample = set(business_sample)
    calendar = calendar or SimpleCalendar()
    for issue_id, want in sorted(expected.items()):
        issue = issues.get(issue_id)
        where = f"{want.truth.key} ({issue_id})"
        if issue is None:
            continue
        if (issue["issue_key"], issue["status"]) != (want.truth.key, want.truth.current_status):
            problems.append(f"{where}: issue row {issue['issue_key']}/{issue['status']}")
        if entries.get(issue_id, 0) != want.changelog_entries:
            problems.append(
                f"{where}: {entries.get(issue_id, 0)} changelog entries, want {want.changelog_entries}"
            )
        visits = sorted(intervals.get(issue_id, []), key=lambda r: r["seq"])
        problems += _compare_visits(where, visits, want, ts)
        problems += _compare_metrics(where, metrics.get(issue_id, []), want, ts)
        problems += _compare_flow(where, flows.get(issue_id), want, ts)
        if issue_id in sample:
            problems += _compare_business(
                where, visits, metrics.get(issue_id, []), flows.get(issue_id), want, calendar
            )
    return problems


def _compare_visits(where: str, rows: list[dict[str, Any]], want: ExpectedIssue, ts: Stamp) -> list[str]:
    got = [
        (r["seq"], r["status"], r["status_category"], ts(r["entered_at"]), ts(r["left_at"]), r["duration_s"])
        for r in rows
    ]
    wanted = [
        (v.seq, v.status, category(v.status), ts(v.entered_at), ts(v.left_at), v.duration_s)
        for v in want.visits
    ]
    if got != wanted:
        return [f"{where}: intervals\n  got  {got}\n  want {wanted}"]
    return []


def _compare_metrics(where: str, rows: list[dict[str, Any]], want: ExpectedIssue, ts: Stamp) -> list[str]:
    wanted: dict[str, dict[str, Any]] = {}
    for visit in want.visits:
        entry = wanted.setdefault(
            visit.status,
            {"visits": 0, "duration_s": 0, "first_entered_at": ts(visit.entered_at), "is_current": 0},
        )
        entry["visits"] += 1
        entry["duration_s"] += visit.duration_s or 0
        entry["last_entered_at"] = ts(visit.entered_at)
        entry["is_current"] = int(visit.left_at is None)
    got = {
        r["status"]: {
            "visits": r["visits"],
            "duration_s": r["duration_s"],
            "first_entered_at": ts(r["first_entered_at"]),
            "is_current": r["is_current"],
            "last_entered_at": ts(r["last_entered_at"]),
        }
        for r in rows
    }
    if got != wanted:
        return [f"{where}: issue_metrics\n  got  {got}\n  want {wanted}"]
    return []


def _compare_flow(where: str, row: dict[str, Any] | None, want: ExpectedIssue, ts: Stamp) -> list[str]:
    if row is None:
        return [f"{where}: no issue_flow row"]
    got = (
        ts(row["created_at"]),
        ts(row["started_at"]),
        ts(row["done_at"]),
        row["lead_time_s"],
        row["cycle_time_s"],
        row["reopen_count"],
    )
    wanted = (
        ts(want.truth.created_at),
        ts(want.started_at),
        ts(want.done_at),
        want.lead_time_s,
        want.cycle_time_s,
        want.reopen_count,
    )
    if got != wanted:
        return [
            f"{where}: issue_flow (created, started, done, lead, cycle, reopens)\n"
            f"  got  {got}\n  want {wanted}"
        ]
    return []


def _compare_business(
    where: str,
    rows: list[dict[str, Any]],
    metric_rows: list[dict[str, Any]],
    flow: dict[str, Any] | None,
    want: ExpectedIssue,
    calendar: SimpleCalendar,
) -> list[str]:
    problems = []
    stored = {r["seq"]: r["business_duration_s"] for r in rows}
    sums: dict[str, int] = defaultdict(int)
    for visit in want.visits:
        expected = None
        if visit.left_at is not None:
            expected = calendar.business_seconds_by_day(visit.entered_at, visit.left_at)
        sums[visit.status] += expected or 0
        if stored.get(visit.seq) != expected:
            problems.append(f"{where}: visit {visit.seq} business {stored.get(visit.seq)}, want {expected}")
    stored_sums = {r["status"]: r["business_duration_s"] for r in metric_rows}
    if stored_sums != dict(sums):
        problems.append(f"{where}: business sums per status {stored_sums}, want {dict(sums)}")
    if flow is not None and want.done_at is not None:
        lead = calendar.business_seconds_by_day(want.truth.created_at, want.done_at)
        cycle = (
            None
            if want.started_at is None
            else calendar.business_seconds_by_day(want.started_at, want.done_at)
        )
        if (flow["business_lead_time_s"], flow["business_cycle_time_s"]) != (lead, cycle):
            problems.append(
                f"{where}: business lead/cycle "
                f"{flow['business_lead_time_s']}/{flow['business_cycle_time_s']}, want {lead}/{cycle}"
            )
    return problems


# --- what a complete tap run emits ------------------------------------------------------------------------


def expected_issues(org: Organisation) -> dict[str, str]:
    """issue id -> updatedAt in the tap's canonical format."""
    with org.lock:
        return {r.id: format_ts(r.updated).replace("+0000", "Z") for r in org.records}


def expected_changelog(org: Organisation, issue_ids: set[str] | None = None) -> dict[str, str]:
    """changelog entry id -> issue id, for every entry of every issue (or of ``issue_ids``)."""
    out: dict[str, str] = {}
    with org.lock:
        for record in org.records:
            if issue_ids is not None and record.id not in issue_ids:
                continue
            salt = changelog_salt(org.seed, record.idx)
            for event in org.history(record.idx).events:
                out[object_id(event.at, salt, event.seq)] = record.id
    return out


def changelog_requests_needed(org: Organisation, per_page: int = 100) -> int:
    """One request per issue, plus one per extra page of a long changelog."""
    with org.lock:
        return sum(max(1, math.ceil(r.version / per_page)) for r in org.records)


def bookmark_value(state: Mapping[str, Any] | None) -> str | None:
    """The tap's `issues` bookmark inside a STATE, as stored (also inside Meltano's `singer_state`)."""
    if not state:
        return None
    state = state.get("singer_state", state)
    return state.get("bookmarks", {}).get("issues", {}).get("replication_key_value")
