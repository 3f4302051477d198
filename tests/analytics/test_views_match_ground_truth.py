"""The analytics views against the simulator's ground truth: a realistic organisation goes through the real
pipeline (tap | target into chdb), and cycle times, throughput and end-of-day WIP are recomputed here in
plain Python from the generator's own status timelines (default map: Tracker status types as categories)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from target_clickhouse_agile.clickhouse.connection import connect
from target_clickhouse_agile.report.queries import query_view
from tests.support.configs import tap_config
from tests.support.singer import run_target
from tests.support.tap_runs import run_inprocess
from tracker_simulator.catalog import STATUS_TYPE

TZ = "Europe/Moscow"
CATEGORY = {"new": "todo", "inProgress": "active", "paused": "wait", "done": "done", "cancelled": "cancelled"}
STARTED = {"active", "wait", "done"}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _expected_flow(timeline: list[tuple[str, datetime]]) -> tuple[datetime | None, int | None]:
    """(done_at, cycle_time_s): first start -> start of the final run of done statuses, if done now."""
    categories = [CATEGORY[STATUS_TYPE[status]] for status, _ in timeline]
    if categories[-1] != "done":
        return None, None
    run_start = len(categories) - 1
    while run_start > 0 and categories[run_start - 1] == "done":
        run_start -= 1
    done_at = timeline[run_start][1]
    started = next(at for (_, at), c in zip(timeline, categories, strict=True) if c in STARTED)
    return done_at, (_ms(done_at) - _ms(started)) // 1000


def _status_at(timeline: list[tuple[str, datetime]], instant: datetime) -> str | None:
    current = None
    for status, at in timeline:
        if at > instant:
            break
        current = status
    return current


def test_views_match_the_simulator_ground_truth(sim_factory: Any, chdb_settings: dict[str, Any]) -> None:
    simulator = sim_factory(issues=150, seed=11)
    output = run_inprocess(tap_config(simulator))
    settings = {**chdb_settings, "timezone": TZ}
    run_target(settings, output.messages)
    truth = simulator.ground_truth()

    expected_ct: dict[str, int] = {}
    expected_throughput: Counter[date] = Counter()
    for issue_id, issue in truth.items():
        done_at, cycle = _expected_flow(issue.timeline)
        if done_at is not None and cycle is not None:
            expected_ct[issue_id] = cycle
            expected_throughput[done_at.astimezone(ZoneInfo(TZ)).date()] += 1
    assert len(expected_ct) > 30, "the organisation should have plenty of finished work"

    latest = max(at for issue in truth.values() for _, at in issue.timeline)
    asof = latest + timedelta(hours=1)
    with connect(settings) as conn:
        facts = conn.query("SELECT issue_id, cycle_time_s FROM issue_flow_facts_view")
        assert len(facts) == len(truth)
        assert {
            r["issue_id"]: r["cycle_time_s"] for r in facts if r["cycle_time_s"] is not None
        } == expected_ct
        throughput = query_view(conn, "throughput_daily", {"tz": TZ})
        got: Counter[date] = Counter()
        for row in throughput:
            got[row["day"]] += row["items"]
        assert got == expected_throughput
        wip_rows = query_view(conn, "wip_daily", {"tz": TZ, "asof": asof})
        wip: Counter[date] = Counter()
        for row in wip_rows:
            wip[row["day"]] += row["wip"]

    assert max(wip.values()) > 5, "the organisation should have work in process"
    last_day = asof.astimezone(ZoneInfo(TZ)).date()
    for back in range(45):
        day = last_day - timedelta(days=back)
        end = datetime.combine(day + timedelta(days=1), time(), ZoneInfo(TZ)).astimezone(timezone.utc)
        instant = min(end, asof)
        expected = sum(
            1
            for issue in truth.values()
            if (status := _status_at(issue.timeline, instant)) is not None
            and CATEGORY[STATUS_TYPE[status]] in ("active", "wait")
        )
        assert wip.get(day, 0) == expected, day
