"""Small builders for metrics tests: readable timestamps and history events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from target_clickhouse_agile.metrics import FieldChange, HistoryEvent, IssueSnapshot

MSK = ZoneInfo("Europe/Moscow")


def utc(text: str) -> datetime:
    """``"2024-03-04 07:00"`` (or with seconds/fraction) as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def msk(text: str) -> datetime:
    """A Moscow wall-clock time (UTC+3 all year since 2014) converted to UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=MSK).astimezone(timezone.utc)


def ms(count: int) -> timedelta:
    return timedelta(milliseconds=count)


def event(
    event_id: str,
    at: datetime,
    event_type: str = "IssueWorkflow",
    *,
    status: tuple[str | None, str | None] | None = None,
    queue: tuple[str | None, str | None] | None = None,
    status_start: tuple[str | None, str | None] | None = None,
) -> HistoryEvent:
    """A history event with only the given field changes (values already normalised)."""
    changes: dict[str, FieldChange] = {}
    if status is not None:
        changes["status"] = FieldChange(*status)
    if queue is not None:
        changes["queue"] = FieldChange(*queue)
    if status_start is not None:
        changes["statusStartTime"] = FieldChange(*status_start)
    return HistoryEvent(event_id, at, event_type, changes)


def snapshot(
    created_at: datetime,
    status: str,
    *,
    queue: str = "TEST",
    issue_id: str = "id-1",
    issue_key: str = "TEST-1",
    status_start_time: datetime | None = None,
) -> IssueSnapshot:
    return IssueSnapshot(issue_id, issue_key, queue, created_at, status, status_start_time)


STATUSES = ["open", "inProgress", "review", "needInfo", "closed", "cancelled"]
TYPES = ["IssueCreated", "IssueWorkflow", "IssueMoved", "IssueUpdated"]


@st.composite
def histories(draw: st.DrawFn) -> tuple[datetime, list[HistoryEvent], str]:
    """Random, possibly glitchy histories: any types, shared milliseconds, changes before createdAt.

    Returns ``(created_at, events, current status)``.
    """
    created = utc("2023-12-01 00:00") + ms(draw(st.integers(min_value=0, max_value=400 * 24 * 3600 * 1000)))
    count = draw(st.integers(min_value=0, max_value=12))
    events = []
    for index in range(count):
        # Tiny offsets make same-millisecond and pre-creation events common.
        offset_ms = draw(st.integers(-2, 2) | st.integers(min_value=-5_000, max_value=30 * 24 * 3600 * 1000))
        at = created + ms(offset_ms)
        old = draw(st.sampled_from([None, *STATUSES]))
        new = draw(st.sampled_from([None, *STATUSES]))
        with_start = draw(st.booleans())
        start = (None, (at + ms(draw(st.integers(0, 3)))).isoformat()) if with_start else None
        queue = draw(st.sampled_from([None, ("A", "B"), ("B", "A")]))
        events.append(
            event(
                f"{index:03d}",
                at,
                draw(st.sampled_from(TYPES)),
                status=(old, new),
                status_start=start,
                queue=queue,
            )
        )
    return created, events, draw(st.sampled_from(STATUSES))
