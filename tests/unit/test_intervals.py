"""intervals.py: status visits from history, with every irregular-history rule of the data contract."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings

from target_clickhouse_agile.metrics import HistoryEvent, StatusVisit, build_visits, events_from_changelog
from tests.support.histories import event, histories, ms, snapshot, utc

CREATED = utc("2024-03-04 07:00")


def summary(visits: list[StatusVisit]) -> list[tuple[str, str, datetime, datetime | None]]:
    return [(v.status, v.queue, v.entered_at, v.left_at) for v in visits]


def codes(history) -> list[str]:
    return [w.code for w in history.warnings]


def test_ordinary_history_uses_status_start_time() -> None:
    # updatedAt is 5 s after statusStartTime.to in e2: the transition time is statusStartTime.to
    # (07:30:00.001Z), not the entry's updatedAt. e3 has no statusStartTime: its updatedAt is used.
    t1, t2 = utc("2024-03-04 07:30:00.001"), utc("2024-03-05 10:00")
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", t1 + timedelta(seconds=5), status=("open", "inProgress"),
              status_start=("2024-03-04T07:00:00.000+0000", "2024-03-04T10:30:00.001+0300")),
        event("e3", t2, status=("inProgress", "closed")),
    ]  # fmt: skip
    history = build_visits(snapshot(CREATED, "closed"), events)
    assert summary(history.visits) == [
        ("open", "TEST", CREATED, t1),
        ("inProgress", "TEST", t1, t2),
        ("closed", "TEST", t2, None),
    ]
    assert [v.entered_event_id for v in history.visits] == ["e1", "e2", "e3"]
    assert history.warnings == []


def test_no_history_gives_one_visit_in_the_current_status() -> None:
    history = build_visits(snapshot(CREATED, "inProgress"), [])
    assert summary(history.visits) == [("inProgress", "TEST", CREATED, None)]
    assert history.visits[0].entered_event_id == ""  # synthetic entry


def test_missing_issue_created_uses_from_of_earliest_change() -> None:
    # No IssueCreated: the first visit [created, t1) is in the `from` of the earliest status change ("open"),
    # even though the events are passed out of order.
    t1, t2 = utc("2024-03-04 08:00"), utc("2024-03-04 09:00")
    events = [
        event("b", t2, status=("inProgress", "review")),
        event("a", t1, status=("open", "inProgress")),
    ]
    history = build_visits(snapshot(CREATED, "review"), events)
    assert summary(history.visits) == [
        ("open", "TEST", CREATED, t1),
        ("inProgress", "TEST", t1, t2),
        ("review", "TEST", t2, None),
    ]
    assert history.visits[0].entered_event_id == ""


def test_created_directly_in_a_later_status() -> None:
    t1 = utc("2024-03-04 15:00")
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "inProgress")),
        event("e2", t1, status=("inProgress", "closed")),
    ]
    history = build_visits(snapshot(CREATED, "closed"), events)
    assert summary(history.visits) == [("inProgress", "TEST", CREATED, t1), ("closed", "TEST", t1, None)]


@pytest.mark.parametrize("skew", [ms(1), -ms(1)])
def test_issue_created_off_by_a_millisecond_still_starts_at_created_at(skew: timedelta) -> None:
    # The create event is stamped 1 ms after (or before) createdAt: it sets the initial status but is no
    # transition, so nothing is clamped and nothing is reported.
    events = [event("e1", CREATED + skew, "IssueCreated", status=(None, "open"), queue=(None, "TEST"))]
    history = build_visits(snapshot(CREATED, "open"), events)
    assert summary(history.visits) == [("open", "TEST", CREATED, None)]
    assert history.warnings == []


def test_null_from_in_earliest_change_acts_as_creation() -> None:
    # An import recorded the initial status as IssueUpdated null → "backlog": backlog is the first status.
    t1 = utc("2024-03-04 09:00")
    events = [
        event("e1", CREATED, "IssueUpdated", status=(None, "backlog")),
        event("e2", t1, status=("backlog", "inProgress")),
    ]
    history = build_visits(snapshot(CREATED, "inProgress"), events)
    assert summary(history.visits) == [("backlog", "TEST", CREATED, t1), ("inProgress", "TEST", t1, None)]
    assert history.visits[0].entered_event_id == "e1"


def test_revisits_and_reopen_give_one_visit_per_entry() -> None:
    # open → inProgress → review → inProgress → review → closed → inProgress: 7 visits.
    path = ["open", "inProgress", "review", "inProgress", "review", "closed", "inProgress"]
    times = [CREATED + timedelta(hours=h) for h in range(len(path))]
    events = [event("c", CREATED, "IssueCreated", status=(None, "open"))]
    events += [event(f"w{i}", times[i], status=(path[i - 1], path[i])) for i in range(1, len(path))]
    history = build_visits(snapshot(CREATED, "inProgress"), events)
    assert [v.status for v in history.visits] == path
    # Each visit lasts exactly one hour, except the current one.
    assert [v.left_at - v.entered_at for v in history.visits[:-1]] == [timedelta(hours=1)] * 6
    assert history.visits[-1].left_at is None


def test_move_without_status_reset_keeps_visit_then_new_visits_use_new_queue() -> None:
    # inProgress in TEST from creation; moved to NEW at t1 (status kept); closed at t2.
    t1, t2 = utc("2024-03-04 09:00"), utc("2024-03-04 11:00")
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "inProgress")),
        event("e2", t1, "IssueMoved", queue=("TEST", "NEW")),
        event("e3", t2, status=("inProgress", "closed")),
    ]
    history = build_visits(snapshot(CREATED, "closed", queue="NEW"), events)
    # The move neither closes nor splits the inProgress visit: its queue is the queue at entry.
    assert summary(history.visits) == [("inProgress", "TEST", CREATED, t2), ("closed", "NEW", t2, None)]
    assert history.warnings == []


def test_move_with_status_reset_is_a_transition_at_the_move_time() -> None:
    # Field order inside the move event: status listed before queue. The new visit is still in NEW.
    t1 = utc("2024-03-04 09:00")
    (moved,) = events_from_changelog([{
        "id": "e2", "updatedAt": "2024-03-04T12:00:00.000+0300", "type": "IssueMoved",  # 09:00Z
        "fields": [
            {"field": {"id": "status"}, "from": {"key": "inProgress"}, "to": {"key": "open"}},
            {"field": {"id": "key"}, "from": "TEST-1", "to": "NEW-7"},
            {"field": {"id": "queue"}, "from": {"key": "TEST"}, "to": {"key": "NEW"}},
        ],
    }])  # fmt: skip
    events = [event("e1", CREATED, "IssueCreated", status=(None, "inProgress")), moved]
    history = build_visits(snapshot(CREATED, "open", queue="NEW"), events)
    assert summary(history.visits) == [("inProgress", "TEST", CREATED, t1), ("open", "NEW", t1, None)]


def test_queue_before_any_move_comes_from_the_first_queue_change() -> None:
    # No IssueCreated queue info: the first visit's queue is the `from` of the earliest queue change.
    t1 = utc("2024-03-04 09:00")
    events = [event("m", t1, "IssueMoved", queue=("OLD", "NEW"), status=("open", "open2"))]
    history = build_visits(snapshot(CREATED, "open2", queue="NEW"), events)
    assert summary(history.visits) == [("open", "OLD", CREATED, t1), ("open2", "NEW", t1, None)]


def test_same_millisecond_transitions_give_zero_length_visits_ordered_by_event_id() -> None:
    # Two transitions in the same ms; ids decide the order regardless of input order: a (open → review) then
    # b (review → closed). The review visit lasts 0 s but still counts.
    t1 = utc("2024-03-04 09:00:00.123")
    events = [
        event("b", t1, status=("review", "closed")),
        event("a", t1, status=("open", "review")),
        event("c0", CREATED, "IssueCreated", status=(None, "open")),
    ]
    history = build_visits(snapshot(CREATED, "closed"), events)
    assert summary(history.visits) == [
        ("open", "TEST", CREATED, t1),
        ("review", "TEST", t1, t1),
        ("closed", "TEST", t1, None),
    ]
    assert history.warnings == []


def test_status_change_in_the_same_ms_as_created_at() -> None:
    # IssueCreated and an automatic transition share createdAt: the initial visit is zero-length, not lost.
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", CREATED, "IssueUpdated", status=("open", "triage")),
    ]
    history = build_visits(snapshot(CREATED, "triage"), events)
    assert summary(history.visits) == [("open", "TEST", CREATED, CREATED), ("triage", "TEST", CREATED, None)]


def test_duplicate_event_ids_count_once() -> None:
    # The same changelog entry delivered twice (overlapping pages) must not look like a broken chain.
    t1 = utc("2024-03-04 08:00")
    once = event("e2", t1, status=("open", "inProgress"))
    events = [event("e1", CREATED, "IssueCreated", status=(None, "open")), once, once]
    history = build_visits(snapshot(CREATED, "inProgress"), events)
    assert summary(history.visits) == [("open", "TEST", CREATED, t1), ("inProgress", "TEST", t1, None)]
    assert history.warnings == []


def test_broken_chain_trusts_to_and_warns() -> None:
    # The issue is in inProgress, but the next change claims review → closed: the visit ends, closed begins.
    t1, t2 = utc("2024-03-04 08:00"), utc("2024-03-04 09:00")
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", t1, status=("open", "inProgress")),
        event("e3", t2, status=("review", "closed")),
    ]
    history = build_visits(snapshot(CREATED, "closed"), events)
    assert [v.status for v in history.visits] == ["open", "inProgress", "closed"]
    assert history.visits[1].left_at == t2
    assert codes(history) == ["status_chain_break"]
    assert history.warnings[0].event_id == "e3"
    assert history.warnings[0].issue_id == "id-1"


def test_offsets_are_normalised_before_ordering() -> None:
    # e2 at 12:00+03:00 (09:00Z) happens BEFORE e1 at 10:00Z although its wall-clock reads later.
    entries = [
        {"id": "e1", "updatedAt": "2024-03-04T10:00:00.000Z", "type": "IssueWorkflow",
         "fields": [{"field": {"id": "status"}, "from": {"key": "inProgress"}, "to": {"key": "closed"}}]},
        {"id": "e2", "updatedAt": "2024-03-04T12:00:00.000+0300", "type": "IssueWorkflow",
         "fields": [{"field": {"id": "status"}, "from": {"key": "open"}, "to": {"key": "inProgress"}}]},
    ]  # fmt: skip
    history = build_visits(snapshot(CREATED, "closed"), events_from_changelog(entries))
    assert summary(history.visits) == [
        ("open", "TEST", CREATED, utc("2024-03-04 09:00")),
        ("inProgress", "TEST", utc("2024-03-04 09:00"), utc("2024-03-04 10:00")),
        ("closed", "TEST", utc("2024-03-04 10:00"), None),
    ]
    assert history.warnings == []


def test_transition_before_created_at_is_clamped() -> None:
    # A clock-skewed transition 2 s before createdAt: clamped to createdAt, so the first visit is 0 s long
    # instead of negative.
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", CREATED - timedelta(seconds=2), status=("open", "inProgress")),
    ]
    history = build_visits(snapshot(CREATED, "inProgress"), events)
    assert summary(history.visits) == [
        ("open", "TEST", CREATED, CREATED),
        ("inProgress", "TEST", CREATED, None),
    ]
    assert codes(history) == ["before_created"]


def test_a_transition_exactly_at_created_at_is_not_clamped() -> None:
    # The boundary of the clamp: a transition at createdAt itself is on time (no warning); 1 ms earlier is
    # before creation (clamped, warned).
    on_time = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", CREATED, status=("open", "inProgress")),
    ]
    history = build_visits(snapshot(CREATED, "inProgress"), on_time)
    assert summary(history.visits) == [
        ("open", "TEST", CREATED, CREATED),
        ("inProgress", "TEST", CREATED, None),
    ]
    assert history.warnings == []
    early = [on_time[0], event("e2", CREATED - ms(1), status=("open", "inProgress"))]
    history = build_visits(snapshot(CREATED, "inProgress"), early)
    assert summary(history.visits)[-1] == ("inProgress", "TEST", CREATED, None)
    assert codes(history) == ["before_created"]


def test_no_op_and_null_transitions_do_not_open_visits() -> None:
    t1, t2 = utc("2024-03-04 08:00"), utc("2024-03-04 09:00")
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", t1, status=("open", "open")),  # no-op: collapsed, no warning
        event("e3", t2, status=("open", None)),  # status cleared: ignored, warned
    ]
    history = build_visits(snapshot(CREATED, "open"), events)
    assert summary(history.visits) == [("open", "TEST", CREATED, None)]
    assert codes(history) == ["null_status"]


def test_history_behind_the_snapshot_uses_status_start_time() -> None:
    # The changelog ends in inProgress but the issue says closed since t2: a synthetic visit enters closed
    # at t2 (the issue's statusStartTime) and a warning explains it.
    t1, t2 = utc("2024-03-04 08:00"), utc("2024-03-04 12:00")
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", t1, status=("open", "inProgress")),
    ]
    history = build_visits(snapshot(CREATED, "closed", status_start_time=t2), events)
    assert summary(history.visits)[-2:] == [("inProgress", "TEST", t1, t2), ("closed", "TEST", t2, None)]
    assert history.visits[-1].entered_event_id == ""
    assert codes(history) == ["current_status_mismatch"]
    # Without statusStartTime nothing is invented: the history stands, with the warning.
    history = build_visits(snapshot(CREATED, "closed"), events)
    assert [v.status for v in history.visits] == ["open", "inProgress"]
    assert codes(history) == ["current_status_mismatch"]


def test_snapshot_status_since_the_same_instant_as_the_last_visit() -> None:
    # The boundary of the reconcile: statusStartTime equal to the last visit's entry is not earlier, so the
    # snapshot's status is trusted (a zero-length visit of the history's status, then the snapshot's).
    # One millisecond earlier it contradicts the history: the history stands.
    t1 = utc("2024-03-04 08:00")
    events = [
        event("e1", CREATED, "IssueCreated", status=(None, "open")),
        event("e2", t1, status=("open", "inProgress")),
    ]
    history = build_visits(snapshot(CREATED, "closed", status_start_time=t1), events)
    assert summary(history.visits)[-2:] == [("inProgress", "TEST", t1, t1), ("closed", "TEST", t1, None)]
    history = build_visits(snapshot(CREATED, "closed", status_start_time=t1 - ms(1)), events)
    assert summary(history.visits)[-1] == ("inProgress", "TEST", t1, None)
    assert codes(history) == ["current_status_mismatch"]


# -- property: visits tile [createdAt, last entry] -------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(histories())
def test_visits_tile_the_history(history_case: tuple[datetime, list[HistoryEvent], str]) -> None:
    created, events, current = history_case
    visits = build_visits(snapshot(created, current), events).visits
    assert visits[0].entered_at == created
    assert visits[-1].left_at is None
    assert all(v.left_at is not None for v in visits[:-1])
    # Consecutive visits touch (no gaps, no overlaps) and never run backwards...
    for before, after in pairwise(visits):
        assert before.left_at == after.entered_at
        assert before.entered_at <= before.left_at
        assert before.status != after.status
    # ...so the finished visits add up exactly to (last entry - createdAt).
    total = sum((v.left_at - v.entered_at for v in visits[:-1]), timedelta(0))
    assert total == visits[-1].entered_at - created
