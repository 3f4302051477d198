"""flow.py: interval, per-status and flow rows, hand-computed (Moscow 09:00-18:00, RU holidays)."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from fractions import Fraction

import pytest
from hypothesis import given, settings

from target_clickhouse_agile.metrics import (
    FlowRow,
    HistoryEvent,
    IntervalRow,
    StatusMetricRow,
    WorkCalendar,
    compute_issue,
    whole_seconds,
)
from tests.support.histories import event, histories, ms, msk, snapshot, utc

H = 3600
CALENDAR = WorkCalendar()
CATEGORIES = {
    "open": "todo",
    "inProgress": "active",
    "review": "active",
    "needInfo": "wait",
    "resolved": "done",
    "closed": "done",
    "cancelled": "cancelled",
}


def chain(created, path: list[tuple[str, object]], *, created_event: bool = True) -> list[HistoryEvent]:
    """IssueCreated in path[0] at ``created``, then one IssueWorkflow per later (status, time) step."""
    events = [event("c", created, "IssueCreated", status=(None, path[0][0]))] if created_event else []
    for index in range(1, len(path)):
        status, at = path[index]
        events.append(event(f"w{index:02d}", at, status=(path[index - 1][0], status)))
    return events


def run(path: list[tuple[str, object]]):
    """Compute an issue created at path[0]'s time whose current status is the last of ``path``."""
    created = path[0][1]
    return compute_issue(snapshot(created, path[-1][0]), chain(created, path), CATEGORIES, CALENDAR)


START = utc("2024-03-04 07:00")


def hourly(*statuses: str) -> list[tuple[str, object]]:
    """Status i entered at START + i hours."""
    return [(status, START + timedelta(hours=index)) for index, status in enumerate(statuses)]


# Created Mon 2024-03-04 10:00 MSK in open; work, a pause for info, more work, resolved, closed 0.5 s later.
CREATED = msk("2024-03-04 10:00")
PATH = [
    ("open", CREATED),
    ("inProgress", msk("2024-03-04 12:00")),
    ("needInfo", msk("2024-03-05 12:00")),
    ("inProgress", msk("2024-03-05 15:30")),
    ("resolved", msk("2024-03-06 11:00")),
    ("closed", msk("2024-03-06 11:00:00.500")),
]


@pytest.fixture
def main_case():
    return run(PATH)


def test_interval_rows(main_case) -> None:
    rows = main_case.intervals
    assert [(r.seq, r.status, r.status_category) for r in rows] == [
        (1, "open", "todo"),
        (2, "inProgress", "active"),
        (3, "needInfo", "wait"),
        (4, "inProgress", "active"),
        (5, "resolved", "done"),
        (6, "closed", "done"),
    ]
    # Durations: open Mon 10-12 = 2 h; inProgress Mon 12 → Tue 12 = 24 h; needInfo Tue 12:00-15:30 = 3.5 h;
    # inProgress Tue 15:30 → Wed 11:00 = 19.5 h; resolved 0.5 s → 0 (truncated); closed is current → NULL.
    assert [r.duration_s for r in rows] == [2 * H, 24 * H, 12600, 70200, 0, None]
    # Business: open 2 h; inProgress Mon 12-18 (6 h) + Tue 9-12 (3 h) = 9 h; needInfo 3.5 h;
    # inProgress Tue 15:30-18 (2.5 h) + Wed 9-11 (2 h) = 4.5 h = 16200; resolved 0; current NULL.
    assert [r.business_duration_s for r in rows] == [2 * H, 9 * H, 12600, 16200, 0, None]
    assert [r.is_current for r in rows] == [0, 0, 0, 0, 0, 1]
    assert [r.left_at for r in rows] == [p[1] for p in PATH[1:]] + [None]
    assert [r.entered_event_id for r in rows] == ["c", "w01", "w02", "w03", "w04", "w05"]
    assert {(r.issue_id, r.issue_key, r.queue) for r in rows} == {("id-1", "TEST-1", "TEST")}


def test_status_rows_sum_finished_visits(main_case) -> None:
    by_status = {r.status: r for r in main_case.statuses}
    assert list(by_status) == ["open", "inProgress", "needInfo", "resolved", "closed"]  # order of first entry
    in_progress = by_status["inProgress"]
    # Two visits: 24 h + 19.5 h = 43.5 h = 156600 s; business 9 h + 4.5 h = 13.5 h = 48600 s.
    assert (in_progress.visits, in_progress.duration_s, in_progress.business_duration_s) == (2, 156600, 48600)
    assert in_progress.first_entered_at == PATH[1][1]
    assert in_progress.last_entered_at == PATH[3][1]
    assert in_progress.is_current == 0
    closed = by_status["closed"]
    # The current visit is not finished: it adds a visit but no duration.
    assert (closed.visits, closed.duration_s, closed.business_duration_s, closed.is_current) == (1, 0, 0, 1)
    assert by_status["needInfo"].status_category == "wait"


def test_flow_row(main_case) -> None:
    flow = main_case.flow
    assert flow.started_at == PATH[1][1]  # first entry into an active/wait status: Mon 12:00
    assert flow.done_at == PATH[4][1]  # resolved → closed is one done run: done when resolved, Wed 11:00
    # lead = Wed 11:00 - Mon 10:00 = 49 h; cycle = Wed 11:00 - Mon 12:00 = 47 h.
    assert (flow.lead_time_s, flow.cycle_time_s) == (49 * H, 47 * H)
    # Business lead: Mon 10-18 (8) + Tue (9) + Wed 9-11 (2) = 19 h; cycle: Mon 12-18 (6) + 9 + 2 = 17 h.
    assert (flow.business_lead_time_s, flow.business_cycle_time_s) == (19 * H, 17 * H)
    # needInfo (wait) → inProgress (active) is the same rank: no backward move; nothing left done.
    assert (flow.reopen_count, flow.backward_moves) == (0, 0)
    # active = 156600 (two inProgress visits), wait = 12600; efficiency = 156600 / 169200.
    assert (flow.active_s, flow.wait_s) == (156600, 12600)
    assert flow.flow_efficiency == pytest.approx(float(Fraction(156600, 169200)))
    assert (flow.current_status, flow.current_status_category) == ("closed", "done")
    assert flow.current_status_since == PATH[5][1]
    assert (flow.visits_total, flow.created_at, flow.queue) == (6, CREATED, "TEST")
    assert main_case.warnings == []


def test_reopened_and_done_again_counts_from_final_done() -> None:
    # open 0 h, inProgress 1 h, closed 2 h, inProgress (reopen) 3 h, closed 4 h.
    flow = run(hourly("open", "inProgress", "closed", "inProgress", "closed")).flow
    # done_at = the last entry into done (4 h), started = first inProgress (1 h).
    assert flow.done_at == START + timedelta(hours=4)
    assert (flow.lead_time_s, flow.cycle_time_s) == (4 * H, 3 * H)
    # closed → inProgress is a reopen AND a backward move (done rank 2 → active rank 1).
    assert (flow.reopen_count, flow.backward_moves) == (1, 1)
    # Active time: 1 h (1-2) + 1 h (3-4); the first closed visit (1 h) is in neither bucket.
    assert (flow.active_s, flow.wait_s, flow.flow_efficiency) == (2 * H, 0, 1.0)


def test_reopened_and_still_open_has_no_done_at() -> None:
    flow = run(hourly("open", "closed", "open")).flow
    assert flow.done_at is None
    spans = (flow.lead_time_s, flow.cycle_time_s, flow.business_lead_time_s, flow.business_cycle_time_s)
    assert spans == (None, None, None, None)
    # closed → open: reopen (done → todo) and backward (2 → 0).
    assert (flow.reopen_count, flow.backward_moves) == (1, 1)
    assert flow.started_at is None  # never active or wait
    assert flow.flow_efficiency is None  # no active or wait time at all


def test_cancelled_is_not_done_and_leaving_it_is_a_reopen() -> None:
    flow = run(hourly("open", "cancelled")).flow
    assert (flow.done_at, flow.lead_time_s) == (None, None)
    flow = run(hourly("open", "cancelled", "inProgress")).flow
    assert (flow.reopen_count, flow.backward_moves) == (1, 1)


def test_done_then_cancelled_breaks_the_done_run() -> None:
    # closed → cancelled → resolved: the final run of done statuses starts at resolved (3 h), not closed.
    flow = run(hourly("open", "closed", "cancelled", "resolved")).flow
    assert flow.done_at == START + timedelta(hours=3)
    # done ↔ cancelled share rank 2 and are both "closed": neither a reopen nor a backward move.
    assert (flow.reopen_count, flow.backward_moves) == (0, 0)


def test_created_directly_done() -> None:
    result = run(hourly("closed"))
    flow = result.flow
    assert (flow.done_at, flow.lead_time_s, flow.business_lead_time_s) == (START, 0, 0)
    assert (flow.started_at, flow.cycle_time_s, flow.business_cycle_time_s) == (None, None, None)
    assert result.intervals[0].duration_s is None  # the only visit is current


def test_created_in_progress_starts_at_creation_and_current_active_is_not_summed() -> None:
    created = msk("2024-03-04 10:00")
    flow = run(
        [("inProgress", created), ("needInfo", msk("2024-03-04 11:00")), ("review", msk("2024-03-04 11:30"))]
    ).flow
    assert flow.started_at == created
    # Finished: inProgress 1 h (active), needInfo 30 min (wait); review is current → excluded.
    assert (flow.active_s, flow.wait_s) == (H, 1800)
    assert flow.flow_efficiency == pytest.approx(2 / 3)  # 3600 / 5400
    # active → wait → active: equal ranks, no backward move.
    assert flow.backward_moves == 0


def test_wait_counts_as_started() -> None:
    assert run(hourly("open", "needInfo", "inProgress")).flow.started_at == START + timedelta(hours=1)


def test_backward_move_from_active_to_todo() -> None:
    flow = run(hourly("open", "inProgress", "open")).flow
    assert (flow.backward_moves, flow.reopen_count) == (1, 0)
    # started_at keeps the first entry even after moving back to todo.
    assert flow.started_at == START + timedelta(hours=1)


def test_business_lead_time_over_a_weekend() -> None:
    # Created Fri 2024-03-01 17:00 MSK, closed Mon 2024-03-04 10:00 (no active status: cycle NULL).
    # Elapsed: 65 h; business: Fri 17-18 (1 h) + Mon 9-10 (1 h) = 2 h.
    flow = run([("open", msk("2024-03-01 17:00")), ("closed", msk("2024-03-04 10:00"))]).flow
    assert (flow.lead_time_s, flow.business_lead_time_s, flow.cycle_time_s) == (65 * H, 2 * H, None)


def test_unknown_status_counts_as_todo_and_is_reported_once() -> None:
    result = run(hourly("open", "mystery", "open", "mystery"))
    assert [r.status_category for r in result.intervals] == ["todo", "todo", "todo", "todo"]
    assert [(w.code, w.issue_id) for w in result.warnings] == [("unknown_category", "id-1")]
    assert "mystery" in result.warnings[0].message


def test_history_warnings_are_passed_through() -> None:
    events = [event("e1", START - timedelta(seconds=1), status=("open", "closed"))]
    result = compute_issue(snapshot(START, "closed"), events, CATEGORIES, CALENDAR)
    assert [w.code for w in result.warnings] == ["before_created"]
    assert result.flow.lead_time_s == 0  # clamped to createdAt: never negative


def test_interval_queue_follows_moves_but_aggregates_use_current_queue() -> None:
    events = [
        event("c", START, "IssueCreated", status=(None, "inProgress")),
        event(
            "m",
            START + timedelta(hours=1),
            "IssueMoved",
            queue=("TEST", "NEW"),
            status=("inProgress", "open"),
        ),
    ]
    issue = snapshot(START, "open", queue="NEW", issue_key="NEW-1")
    result = compute_issue(issue, events, CATEGORIES, CALENDAR)
    assert [(r.queue, r.issue_key) for r in result.intervals] == [("TEST", "NEW-1"), ("NEW", "NEW-1")]
    assert {r.queue for r in result.statuses} == {"NEW"}
    assert result.flow.queue == "NEW"
    assert result.flow.backward_moves == 1  # the status reset: active → todo


def test_truncation_is_per_visit() -> None:
    # Three finished visits of 1.6 s each → duration_s 1 each. inProgress's total is 1 + 1 = 2 (sum of
    # truncated visits, not trunc(3.2) = 3); lead and cycle span 4.8 s → 4; active (inProgress + review) = 3.
    # Inside working hours (Mon 10:00 MSK), so business equals elapsed.
    created, step = msk("2024-03-04 10:00"), ms(1600)
    statuses = ["inProgress", "review", "inProgress", "closed"]
    result = run([(status, created + index * step) for index, status in enumerate(statuses)])
    assert [r.duration_s for r in result.intervals] == [1, 1, 1, None]
    assert [r.business_duration_s for r in result.intervals] == [1, 1, 1, None]
    by_status = {r.status: r for r in result.statuses}
    assert (by_status["inProgress"].duration_s, by_status["inProgress"].business_duration_s) == (2, 2)
    assert (result.flow.lead_time_s, result.flow.cycle_time_s) == (4, 4)
    assert result.flow.active_s == 3


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(0.0, 0), (0.999, 0), (1.0, 1), (59.9999, 59), (-1.5, -1)],
)
def test_whole_seconds_truncates_toward_zero(seconds: float, expected: int) -> None:
    start = utc("2024-03-04 07:00")
    assert whole_seconds(start, start + timedelta(seconds=seconds)) == expected


# -- the row dataclasses are the contract's columns --------------------------------------------------------


@pytest.mark.parametrize(
    ("row_type", "columns"),
    [
        (
            IntervalRow,
            "issue_id seq issue_key queue status status_category entered_at left_at duration_s "
            "business_duration_s is_current entered_event_id",
        ),
        (
            StatusMetricRow,
            "issue_id status issue_key queue status_category visits duration_s business_duration_s "
            "first_entered_at last_entered_at is_current",
        ),
        (
            FlowRow,
            "issue_id issue_key queue created_at started_at done_at lead_time_s cycle_time_s "
            "business_lead_time_s business_cycle_time_s reopen_count backward_moves active_s wait_s "
            "flow_efficiency current_status current_status_category current_status_since visits_total",
        ),
    ],
)
def test_row_fields_are_column_names(row_type: type, columns: str) -> None:
    assert [f.name for f in dataclasses.fields(row_type)] == columns.split()


# -- property: aggregates agree with the intervals ---------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(histories())
def test_aggregates_agree_with_intervals(history_case) -> None:
    created, events, current = history_case
    result = compute_issue(snapshot(created, current), events, CATEGORIES, CALENDAR)
    rows = result.intervals
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert sum(r.is_current for r in rows) == 1
    assert sum(s.visits for s in result.statuses) == len(rows) == result.flow.visits_total
    finished = rows[:-1]
    assert sum(s.duration_s for s in result.statuses) == sum(r.duration_s for r in finished)
    assert sum(s.business_duration_s for s in result.statuses) == sum(r.business_duration_s for r in finished)
    # Per-visit truncation loses < 1 s per finished visit against the exact span createdAt → last entry.
    exact = whole_seconds(created, rows[-1].entered_at)
    assert exact - len(finished) <= sum(r.duration_s for r in finished) <= exact
    for row in finished:
        assert 0 <= row.business_duration_s <= row.duration_s
    flow = result.flow
    if flow.done_at is not None:
        assert flow.lead_time_s >= 0
        assert flow.cycle_time_s is None or 0 <= flow.cycle_time_s <= flow.lead_time_s
