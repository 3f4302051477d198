"""Status visits reconstructed from an issue's history (README "Metric definitions").

A *visit* is one uninterrupted stay in a status: ``[entered_at, left_at)``. The first visit starts at the
issue's ``createdAt``; each status change inside any event type closes the current visit and opens the next.
Irregular histories (missing create event, broken chains, timestamps before creation) are repaired by fixed
rules and reported as :class:`MetricsWarning` values rather than logged, so the core stays free of I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from .history import FieldChange, HistoryEvent, parse_timestamp

__all__ = [
    "IssueSnapshot",
    "MetricsWarning",
    "StatusVisit",
    "VisitHistory",
    "build_visits",
    "order_events",
    "transition_time",
]

CREATED_EVENT = "IssueCreated"


@dataclass(frozen=True, slots=True)
class IssueSnapshot:
    """The current state of an issue (from the ``issues`` stream/table); ``status`` and ``queue`` are keys."""

    issue_id: str
    issue_key: str
    queue: str
    created_at: datetime
    status: str
    status_start_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class MetricsWarning:
    """A data irregularity that was repaired by rule; the caller decides how (and how often) to log it."""

    issue_id: str
    code: str
    message: str
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class StatusVisit:
    """One stay in a status. ``left_at`` is ``None`` for the current visit.

    ``entered_event_id`` is the changelog id of the event that entered the status; ``""`` for a synthetic
    entry (the first visit without an IssueCreated status change, or a visit added to match the snapshot).
    """

    status: str
    queue: str
    entered_at: datetime
    left_at: datetime | None
    entered_event_id: str


@dataclass(frozen=True, slots=True)
class VisitHistory:
    """All visits of an issue in order (never empty) and the warnings raised while building them."""

    visits: list[StatusVisit]
    warnings: list[MetricsWarning]


def transition_time(event: HistoryEvent) -> datetime:
    """When an event's changes took effect: ``statusStartTime.to`` when present and valid, else ``at``.

    Tracker stamps ``statusStartTime`` with the exact transition instant (``updatedAt`` may differ by a
    millisecond); the whole event, including a queue change, is placed at that instant.
    """
    stamp = event.changes.get("statusStartTime")
    if stamp is not None and stamp.to_value:
        try:
            return parse_timestamp(stamp.to_value)
        except ValueError:
            return event.at
    return event.at


def order_events(events: Iterable[HistoryEvent]) -> list[tuple[datetime, HistoryEvent]]:
    """Events paired with their transition time, ordered by (time, changelog id) for determinism.

    A changelog id seen twice (a page re-read by the tap's lookback) is one event: the last copy wins.
    """
    unique = {event.event_id: event for event in events}
    timed = [(transition_time(event), event) for event in unique.values()]
    timed.sort(key=lambda pair: (pair[0], pair[1].event_id))
    return timed


def build_visits(issue: IssueSnapshot, events: Iterable[HistoryEvent]) -> VisitHistory:
    """Reconstruct the status visits of ``issue`` from its (unordered) history events."""
    builder = _VisitBuilder(issue, order_events(events))
    return builder.build()


class _VisitBuilder:
    """Single pass over ordered events; kept as a class so each rule is a small method."""

    def __init__(self, issue: IssueSnapshot, timed: Sequence[tuple[datetime, HistoryEvent]]) -> None:
        self.issue = issue
        self.timed = timed
        self.warnings: list[MetricsWarning] = []
        self.creation = _creation_event(timed)
        self.queue = self._initial_queue()
        status, event_id = self._initial_status()
        self.visits: list[StatusVisit] = []
        self.current = StatusVisit(status, self.queue, issue.created_at, None, event_id)

    def build(self) -> VisitHistory:
        for at, event in self.timed:
            if event is not self.creation:
                self._apply(at, event)
        self._reconcile_with_snapshot()
        self.visits.append(self.current)
        return VisitHistory(self.visits, self.warnings)

    # -- initial state -------------------------------------------------------------------------------

    def _initial_status(self) -> tuple[str, str]:
        """Creation ``to``, else ``from`` of the earliest status change, else the current status."""
        if self.creation is not None:
            return _status_to(self.creation), self.creation.event_id
        first = next((event for _, event in self.timed if "status" in event.changes), None)
        if first is not None and first.changes["status"].from_value is not None:
            return first.changes["status"].from_value, ""
        return self.issue.status, ""

    def _initial_queue(self) -> str:
        """Queue at creation: the creation event's ``to``, else ``from`` of the earliest queue change."""
        creation_queue = None if self.creation is None else self.creation.changes.get("queue")
        if creation_queue is not None and creation_queue.to_value is not None:
            return creation_queue.to_value
        for _, event in self.timed:
            change = event.changes.get("queue")
            if change is not None and change.from_value is not None and event is not self.creation:
                return change.from_value
        return self.issue.queue

    # -- transitions ---------------------------------------------------------------------------------

    def _apply(self, at: datetime, event: HistoryEvent) -> None:
        """Queue first, so a status reset inside a move opens its visit in the new queue."""
        queue_change = event.changes.get("queue")
        if queue_change is not None:
            self._apply_queue(queue_change, event)
        status_change = event.changes.get("status")
        if status_change is not None:
            self._apply_status(at, status_change, event)

    def _clamp(self, at: datetime, event: HistoryEvent) -> datetime:
        """A transition stamped before ``createdAt`` is moved to ``createdAt`` (no negative durations)."""
        if at < self.issue.created_at:
            self._warn("before_created", f"transition at {at.isoformat()} precedes createdAt; clamped", event)
            return self.issue.created_at
        return at

    def _apply_queue(self, change: FieldChange, event: HistoryEvent) -> None:
        if change.to_value is None:
            self._warn("null_queue", "queue change to null ignored", event)
            return
        if change.from_value is not None and change.from_value != self.queue:
            message = f"queue change from {change.from_value!r} but the issue was in {self.queue!r}"
            self._warn("queue_chain_break", message, event)
        self.queue = change.to_value

    def _apply_status(self, at: datetime, change: FieldChange, event: HistoryEvent) -> None:
        """Close the current visit and open one in ``to``; a no-op (``to`` == current) is collapsed."""
        target = change.to_value
        if target is None:
            self._warn("null_status", "status change to null ignored", event)
            return
        if change.from_value is not None and change.from_value != self.current.status:
            self._warn(
                "status_chain_break",
                f"transition from {change.from_value!r} but the issue was in {self.current.status!r}; "
                f"trusting the new status {target!r}",
                event,
            )
        if target != self.current.status:
            self._enter(target, self._clamp(at, event), event.event_id)

    def _enter(self, status: str, at: datetime, event_id: str) -> None:
        current = self.current
        finished = StatusVisit(
            current.status, current.queue, current.entered_at, at, current.entered_event_id
        )
        self.visits.append(finished)
        self.current = StatusVisit(status, self.queue, at, None, event_id)

    def _reconcile_with_snapshot(self) -> None:
        """If history ends elsewhere than the snapshot's status, trust the snapshot when it says since when.

        A missing final transition (e.g. a changelog read before the last change) would otherwise report a
        stale current status. Without ``status_start_time`` the entry time is unknown: only warn.
        """
        issue = self.issue
        if self.current.status == issue.status:
            return
        since = issue.status_start_time
        message = f"history ends in {self.current.status!r} but the issue is in {issue.status!r}"
        if since is None or since < self.current.entered_at:
            self._warn("current_status_mismatch", message + "; history kept", None)
            return
        message += f"; entered at the issue's statusStartTime {since.isoformat()}"
        self._warn("current_status_mismatch", message, None)
        self.queue = issue.queue
        self._enter(issue.status, since, "")

    def _warn(self, code: str, message: str, event: HistoryEvent | None) -> None:
        event_id = None if event is None else event.event_id
        self.warnings.append(MetricsWarning(self.issue.issue_id, code, message, event_id))


def _creation_event(timed: Sequence[tuple[datetime, HistoryEvent]]) -> HistoryEvent | None:
    """The event whose status change *sets* the initial status rather than being a transition.

    That is the first IssueCreated event with a status change; without one, the earliest status change
    when its ``from`` is null (a creation recorded under another type, e.g. by an import).
    """
    status_events = [event for _, event in timed if _sets_status(event)]
    created = next((event for event in status_events if event.event_type == CREATED_EVENT), None)
    if created is not None:
        return created
    if status_events and status_events[0].changes["status"].from_value is None:
        return status_events[0]
    return None


def _sets_status(event: HistoryEvent) -> bool:
    change = event.changes.get("status")
    return change is not None and change.to_value is not None


def _status_to(event: HistoryEvent) -> str:
    value = event.changes["status"].to_value
    assert value is not None  # guaranteed by _creation_event
    return value
