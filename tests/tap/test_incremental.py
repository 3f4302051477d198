"""Incremental runs: only changed and new issues come back (plus the look-back window), each with its
complete changelog, and issues sharing the bookmark's millisecond are never skipped."""

from __future__ import annotations

import pytest

from tests.support.configs import tap_config
from tests.support.tap_runs import catalog_selecting, run_inprocess
from tests.support.truth import expected_changelog, expected_issues
from tracker_simulator import TrackerSimulator


def _within_lookback(issues: dict[str, str], bookmark: str, lookback_minutes: int) -> set[str]:
    from datetime import timedelta

    from tap_yandex_tracker.timestamps import format_utc, to_datetime

    low = format_utc(to_datetime(bookmark) - timedelta(minutes=lookback_minutes))
    return {issue_id for issue_id, updated in issues.items() if updated >= low}


def test_second_run_reads_exactly_the_changes(small_sim: TrackerSimulator) -> None:
    config = tap_config(small_sim, lookback_minutes=5)
    first = run_inprocess(config)
    state = first.last_state
    bookmark = state["bookmarks"]["issues"]["replication_key_value"]
    before = expected_issues(small_sim.org)

    changed = set(small_sim.advance(minutes=90, mutate=12, create=4))
    after = expected_issues(small_sim.org)
    second = run_inprocess(config, state=state)

    emitted = second.id_counts("issues")
    assert max(emitted.values()) == 1
    allowed = changed | _within_lookback(before, bookmark, 5)
    assert changed <= set(emitted) <= allowed
    assert {r["id"]: r["updatedAt"] for r in second.records["issues"]} == {i: after[i] for i in emitted}
    # complete changelog of every emitted issue, nothing else
    wanted = expected_changelog(small_sim.org, set(emitted))
    assert second.id_counts("issue_changelog") == dict.fromkeys(wanted, 1)
    assert second.last_state["bookmarks"]["issues"]["replication_key_value"] == max(after.values())

    third = run_inprocess(config, state=second.last_state)  # nothing changed: only the look-back window
    assert set(third.ids("issues")) <= _within_lookback(after, max(after.values()), 5)


def test_issues_sharing_the_bookmark_millisecond_are_all_read(small_sim: TrackerSimulator) -> None:
    config = tap_config(small_sim, lookback_minutes=0)
    first = run_inprocess(config)
    # minutes=0: every change lands in the same millisecond (the simulator's clock moves by 1 ms)
    changed = set(small_sim.advance(minutes=0, mutate=4, create=3))
    updated = expected_issues(small_sim.org)
    same_ms = {updated[i] for i in changed}
    assert len(same_ms) == 1, "precondition: the simulator put all changes in one millisecond"

    old_bookmark = first.last_state["bookmarks"]["issues"]["replication_key_value"]
    at_old_bookmark = {i for i, u in updated.items() if u == old_bookmark and i not in changed}
    second = run_inprocess(config, state=first.last_state)
    assert set(second.ids("issues")) == changed | at_old_bookmark  # the bound is inclusive
    bookmark = second.last_state["bookmarks"]["issues"]["replication_key_value"]
    assert bookmark == same_ms.pop()

    # A run interrupted after emitting only some of them has that same bookmark: all are read again.
    state = {"bookmarks": {"issues": {"replication_key": "updatedAt", "replication_key_value": bookmark}}}
    third = run_inprocess(config, state=state)
    assert set(third.ids("issues")) == changed
    assert set(third.ids("issue_changelog")) == set(expected_changelog(small_sim.org, changed))


def test_start_date_bounds_the_first_sync(small_sim: TrackerSimulator) -> None:
    issues = expected_issues(small_sim.org)
    cutoff = sorted(issues.values())[len(issues) // 2]
    out = run_inprocess(tap_config(small_sim, start_date=cutoff, lookback_minutes=0))
    assert set(out.ids("issues")) == {i for i, u in issues.items() if u >= cutoff}


def test_an_update_that_shows_up_late_is_read_within_the_look_back(small_sim: TrackerSimulator) -> None:
    """An update stamped 3 minutes before the newest `updatedAt` the first run saw, which the API shows only
    afterwards (search index lag, clock skew): the second run's search starts `lookback_minutes` below the
    bookmark and reads it. Without the look-back it would be lost for good."""
    config = tap_config(small_sim, lookback_minutes=5)
    first = run_inprocess(config)
    bookmark = first.last_state["bookmarks"]["issues"]["replication_key_value"]
    late = small_sim.org.late_update(minutes_before_newest=3)
    updated = expected_issues(small_sim.org)[late]
    assert updated < bookmark, "precondition: the update is older than the bookmark"

    second = run_inprocess(config, state=first.last_state)
    assert {r["id"]: r["updatedAt"] for r in second.records["issues"]}.get(late) == updated
    wanted = expected_changelog(small_sim.org, {late})
    assert set(wanted) <= set(second.ids("issue_changelog")), "with its new changelog entry"


@pytest.mark.parametrize("zone_minutes", [-12 * 60, -5 * 60, 0, 3 * 60, 14 * 60])
def test_query_mode_reads_every_change_whatever_the_users_time_zone(
    small_sim: TrackerSimulator, zone_minutes: int
) -> None:
    """The query language reads the bound's date-time in the user's time zone, which the tap does not know:
    a bound written in UTC started the search hours late for a user west of UTC, and the changes between
    were never read. The bound goes 12 h earlier, and what lies below the exact bound is skipped."""
    small_sim.query_zone_minutes = zone_minutes
    small_sim.advance(minutes=0, mutate=2)  # the bookmark is now: the next changes come within hours
    with small_sim.org.lock:
        queues = sorted({r.queue for r in small_sim.org.records})
    config = tap_config(small_sim, lookback_minutes=5, query="Queue: " + ", ".join(queues))
    first = run_inprocess(config)
    bookmark = first.last_state["bookmarks"]["issues"]["replication_key_value"]
    before = expected_issues(small_sim.org)
    changed = set(small_sim.advance(minutes=90, mutate=12, create=4))
    second = run_inprocess(config, state=first.last_state)
    emitted = second.id_counts("issues")
    assert changed <= set(emitted)
    assert set(emitted) <= changed | _within_lookback(before, bookmark, 5)
    assert max(emitted.values()) == 1


def test_selecting_only_the_changelog_warns_that_no_run_is_incremental(
    small_sim: TrackerSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    """Without `issues` selected the SDK never advances its bookmark: each run reads every changelog again.
    That is said once, at the start, with what to do."""
    out = run_inprocess(tap_config(small_sim), catalog=catalog_selecting({"issue_changelog"}))
    assert out.records["issue_changelog"], "precondition: the changelog was synced"
    assert "replication_key_value" not in (out.last_state or {}).get("bookmarks", {}).get("issues", {})
    warnings = [m for m in caplog.messages if "only issue_changelog is selected" in m]
    assert len(warnings) == 1
    assert "select `issues` too" in warnings[0]
