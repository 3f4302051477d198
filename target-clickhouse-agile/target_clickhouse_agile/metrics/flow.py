"""Per-issue metric rows: status intervals, per-status totals and flow facts.

Everything derives from the visits of :mod:`.intervals`, so the three tables always agree: ``issue_metrics``
sums the per-visit values of ``issue_status_intervals``, and ``issue_flow`` reads the same visits. Row field
names are the ClickHouse column names (data contract), so the target can insert ``dataclasses.astuple``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from .calendar import WorkCalendar
from .categories import ACTIVE, CANCELLED, CATEGORY_RANK, DEFAULT_CATEGORY, DONE, WAIT
from .history import HistoryEvent
from .intervals import IssueSnapshot, MetricsWarning, StatusVisit, build_visits

__all__ = ["FlowRow", "IntervalRow", "IssueMetrics", "StatusMetricRow", "compute_issue", "whole_seconds"]

_SECOND = timedelta(seconds=1)
CategoryLookup = Callable[[str], str]
Measure = Callable[[datetime, datetime], int]
_CLOSED = frozenset({DONE, CANCELLED})


@dataclass(frozen=True, slots=True)
class IntervalRow:
    """A row of ``issue_status_intervals``: one visit; durations are NULL while it is current."""

    issue_id: str
    seq: int
    issue_key: str
    queue: str
    status: str
    status_category: str
    entered_at: datetime
    left_at: datetime | None
    duration_s: int | None
    business_duration_s: int | None
    is_current: int
    entered_event_id: str


@dataclass(frozen=True, slots=True)
class StatusMetricRow:
    """A row of ``issue_metrics``: one status of one issue; durations sum the *finished* visits."""

    issue_id: str
    status: str
    issue_key: str
    queue: str
    status_category: str
    visits: int
    duration_s: int
    business_duration_s: int
    first_entered_at: datetime
    last_entered_at: datetime
    is_current: int


@dataclass(frozen=True, slots=True)
class FlowRow:
    """A row of ``issue_flow``: lead/cycle time and flow facts of one issue (see the data contract)."""

    issue_id: str
    issue_key: str
    queue: str
    created_at: datetime
    started_at: datetime | None
    done_at: datetime | None
    lead_time_s: int | None
    cycle_time_s: int | None
    business_lead_time_s: int | None
    business_cycle_time_s: int | None
    reopen_count: int
    backward_moves: int
    active_s: int
    wait_s: int
    flow_efficiency: float | None
    current_status: str
    current_status_category: str
    current_status_since: datetime
    visits_total: int


@dataclass(frozen=True, slots=True)
class IssueMetrics:
    """Everything computed for one issue, plus the irregularities met on the way."""

    intervals: list[IntervalRow]
    statuses: list[StatusMetricRow]
    flow: FlowRow
    warnings: list[MetricsWarning]


def whole_seconds(start: datetime, end: datetime) -> int:
    """Whole seconds from ``start`` to ``end``, truncated toward zero (exact integer arithmetic)."""
    delta = end - start
    return delta // _SECOND if delta >= timedelta(0) else -((-delta) // _SECOND)


def compute_issue(
    issue: IssueSnapshot,
    events: Iterable[HistoryEvent],
    categories: Mapping[str, str],
    calendar: WorkCalendar,
) -> IssueMetrics:
    """All metric rows of one issue from its snapshot and full history.

    ``categories`` maps status keys to categories; a status missing from it counts as ``todo`` and is
    reported once per issue as an ``unknown_category`` warning.
    """
    history = build_visits(issue, events)
    warnings = list(history.warnings)
    category_of = _categoriser(issue, categories, warnings)
    intervals = _interval_rows(issue, history.visits, category_of, calendar)
    return IssueMetrics(
        intervals=intervals,
        statuses=_status_rows(issue, intervals),
        flow=_flow_row(issue, intervals, calendar),
        warnings=warnings,
    )


def _categoriser(
    issue: IssueSnapshot, categories: Mapping[str, str], warnings: list[MetricsWarning]
) -> CategoryLookup:
    """A lookup that falls back to ``todo`` and records one warning per unknown status."""
    reported: set[str] = set()

    def category_of(status: str) -> str:
        category = categories.get(status)
        if category is not None:
            return category
        if status not in reported:
            reported.add(status)
            message = f"status {status!r} has no category; counted as todo"
            warnings.append(MetricsWarning(issue.issue_id, "unknown_category", message))
        return DEFAULT_CATEGORY

    return category_of


def _interval_rows(
    issue: IssueSnapshot, visits: Sequence[StatusVisit], category_of: CategoryLookup, calendar: WorkCalendar
) -> list[IntervalRow]:
    rows: list[IntervalRow] = []
    for seq, visit in enumerate(visits, start=1):
        left = visit.left_at
        business = None if left is None else calendar.business_seconds(visit.entered_at, left)
        rows.append(
            IntervalRow(
                issue_id=issue.issue_id,
                seq=seq,
                issue_key=issue.issue_key,
                queue=visit.queue,
                status=visit.status,
                status_category=category_of(visit.status),
                entered_at=visit.entered_at,
                left_at=left,
                duration_s=None if left is None else whole_seconds(visit.entered_at, left),
                business_duration_s=business,
                is_current=int(left is None),
                entered_event_id=visit.entered_event_id,
            )
        )
    return rows


def _status_rows(issue: IssueSnapshot, intervals: Sequence[IntervalRow]) -> list[StatusMetricRow]:
    """One row per status in order of first entry; sums cover finished visits only."""
    grouped: dict[str, list[IntervalRow]] = {}
    for row in intervals:
        grouped.setdefault(row.status, []).append(row)
    return [
        StatusMetricRow(
            issue_id=issue.issue_id,
            status=status,
            issue_key=issue.issue_key,
            queue=issue.queue,
            status_category=rows[-1].status_category,
            visits=len(rows),
            duration_s=sum(row.duration_s or 0 for row in rows),
            business_duration_s=sum(row.business_duration_s or 0 for row in rows),
            first_entered_at=rows[0].entered_at,
            last_entered_at=rows[-1].entered_at,
            is_current=rows[-1].is_current,
        )
        for status, rows in grouped.items()
    ]


def _flow_row(issue: IssueSnapshot, intervals: Sequence[IntervalRow], calendar: WorkCalendar) -> FlowRow:
    current = intervals[-1]
    started = next((row.entered_at for row in intervals if row.status_category in (ACTIVE, WAIT)), None)
    done = _done_at(intervals)
    active_s = _sum_finished(intervals, ACTIVE)
    wait_s = _sum_finished(intervals, WAIT)
    return FlowRow(
        issue_id=issue.issue_id,
        issue_key=issue.issue_key,
        queue=issue.queue,
        created_at=issue.created_at,
        started_at=started,
        done_at=done,
        lead_time_s=_span(issue.created_at, done, whole_seconds),
        cycle_time_s=_span(started, done, whole_seconds),
        business_lead_time_s=_span(issue.created_at, done, calendar.business_seconds),
        business_cycle_time_s=_span(started, done, calendar.business_seconds),
        reopen_count=_count_transitions(intervals, _is_reopen),
        backward_moves=_count_transitions(intervals, _is_backward),
        active_s=active_s,
        wait_s=wait_s,
        flow_efficiency=active_s / (active_s + wait_s) if active_s + wait_s else None,
        current_status=current.status,
        current_status_category=current.status_category,
        current_status_since=current.entered_at,
        visits_total=len(intervals),
    )


def _done_at(intervals: Sequence[IntervalRow]) -> datetime | None:
    """Start of the final uninterrupted run of done visits, only while the issue is still done."""
    done_at = None
    for row in reversed(intervals):
        if row.status_category != DONE:
            break
        done_at = row.entered_at
    return done_at


def _span(start: datetime | None, end: datetime | None, measure: Measure) -> int | None:
    return None if start is None or end is None else measure(start, end)


def _sum_finished(intervals: Sequence[IntervalRow], category: str) -> int:
    return sum(row.duration_s or 0 for row in intervals if row.status_category == category)


def _count_transitions(intervals: Sequence[IntervalRow], predicate: Callable[[str, str], bool]) -> int:
    pairs = pairwise(row.status_category for row in intervals)
    return sum(1 for before, after in pairs if predicate(before, after))


def _is_reopen(before: str, after: str) -> bool:
    return before in _CLOSED and after not in _CLOSED


def _is_backward(before: str, after: str) -> bool:
    return CATEGORY_RANK.get(after, 0) < CATEGORY_RANK.get(before, 0)
