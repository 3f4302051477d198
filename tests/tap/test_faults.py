"""A flaky, rate-limited server changes nothing in the output: same records, every one exactly once."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support.configs import tap_config
from tests.support.tap_runs import SyncOutput, run_cli, run_inprocess
from tests.support.truth import expected_issues
from tracker_simulator import DROP, TRUNCATE, TrackerSimulator, generate_organisation

STREAMS = ("issues", "issue_changelog", "statuses", "queues", "users", "boards", "sprints")


def _by_id(out: SyncOutput) -> dict[str, dict[Any, Any]]:
    key = {"users": "uid"}
    return {s: {r[key.get(s, "id")]: r for r in out.records[s]} for s in STREAMS}


@pytest.fixture
def baseline(small_sim: TrackerSimulator) -> dict[str, dict[Any, Any]]:
    return _by_id(run_inprocess(tap_config(small_sim)))


FAULTS = {
    "429-retry-after-0": {"rate_429": 0.3, "retry_after": 0},
    "5xx": {"rate_500": 0.1, "rate_503": 0.05, "rate_504": 0.05},
    "dropped-connections": {"rate_drop": 0.1},
    "truncated-json": {"rate_truncate": 0.1},
    "everything": {"rate_429": 0.1, "retry_after": 0, "rate_500": 0.05, "rate_drop": 0.05}
    | {"rate_truncate": 0.05},
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
def test_faults_do_not_change_the_output(
    small_sim: TrackerSimulator, baseline: dict[str, dict[Any, Any]], faults: dict[str, float]
) -> None:
    for name, value in faults.items():
        setattr(small_sim.faults, name, value)
    out = run_inprocess(tap_config(small_sim))
    assert small_sim.stats.faults, "precondition: faults were injected"
    for stream in ("issues", "issue_changelog"):
        assert max(out.id_counts(stream).values()) == 1, stream
    assert _by_id(out) == baseline


def test_retry_after_is_honoured_and_logged(small_sim: TrackerSimulator) -> None:
    small_sim.faults.script("GET /{v}/issues/{key}/changelog", 429, times=2, retry_after=1)
    small_sim.faults.script("POST /{v}/issues/_search", 503, times=1)
    small_sim.faults.script("GET /{v}/statuses", TRUNCATE, times=1)
    small_sim.faults.script("GET /{v}/queues", DROP, times=1)
    started = time.monotonic()
    out = run_cli(tap_config(small_sim))
    assert out.returncode == 0, out.stderr[-2000:]
    assert time.monotonic() - started >= 1.0, "Retry-After: 1 must be waited for"
    assert set(out.ids("issues")) == set(expected_issues(small_sim.org))
    assert "HTTP 429 (Retry-After: 1)" in out.stderr
    assert "HTTP 503" in out.stderr
    assert "truncated or non-JSON body" in out.stderr
    assert "ConnectionError" in out.stderr
    assert "sync finished:" in out.stderr
    assert "sim-token" not in out.stderr + out.stdout  # type: ignore[attr-defined]


def test_persistent_truncation_fails_clearly(small_sim: TrackerSimulator) -> None:
    small_sim.faults.script("GET /{v}/statuses", TRUNCATE, times=10)
    out = run_cli(tap_config(small_sim, max_retries=2))
    assert out.returncode != 0
    assert "truncated or non-JSON body on GET /v3/statuses" in out.stderr


@pytest.mark.parametrize("lost_status", [404, 400, 410, 422])
def test_expired_scrolls_are_restarted_without_gaps_or_duplicates(sim_factory: Any, lost_status: int) -> None:
    """The status of an expired scroll id is not documented: any 4xx but 401/403/429 restarts. A restart
    resumes after the issues already emitted at the last millisecond (seven share one here, and page
    boundaries fall inside them); the request budget makes a client that re-reads them forever fail in
    seconds instead of hanging."""
    sim = sim_factory(issues=40, seed=11)
    sim.scroll_lost_status = lost_status
    sim.request_budget = 400
    sim.advance(minutes=0, create=7)  # seven issues in one millisecond: page boundaries fall inside it
    sim.latency_ms = 25  # a page takes longer to process than the scroll lives
    out = run_inprocess(tap_config(sim, page_size=3, scroll_ttl_ms=100, max_concurrent_requests=1))
    counts = out.id_counts("issues")
    assert set(counts) == set(expected_issues(sim.org))
    assert max(counts.values()) == 1
    updated = [r["updatedAt"] for r in out.records["issues"]]
    assert updated == sorted(updated)
    assert sim.stats.by_status.get(lost_status, 0) >= 2, "precondition: scrolls expired"


SEARCH_ROUTE = "POST /{v}/issues/_search"


@pytest.mark.parametrize("fault", [504, 503, DROP, TRUNCATE, 429])
def test_a_scroll_page_lost_after_the_api_served_it_is_read_again(sim_factory: Any, fault: Any) -> None:
    """A continuation whose answer is lost after the API moved the scroll on (a gateway timeout, a broken
    connection, a cut body): sent again with the same scroll id it would get the page after, and the lost
    page's issues would be skipped without an error while the bookmark moved past them. The search
    restarts after the last issue emitted instead (a new scroll, one more request than a retry). A 429,
    refused before it was read, is retried in place."""
    sim = sim_factory(issues=40, seed=11)
    served = fault != 429
    sim.faults.script(SEARCH_ROUTE, fault, after=2, served=served, retry_after=0)  # the third page's answer
    out = run_inprocess(tap_config(sim, page_size=5, max_concurrent_requests=1))
    counts = out.id_counts("issues")
    assert set(counts) == set(expected_issues(sim.org))
    assert max(counts.values()) == 1
    assert sim.faults.pending_scripted == 0, "precondition: the fault was injected"

    def pages(issues: int) -> int:
        return -(-issues // 5)

    if fault == 429:  # every page, and the refused one again
        assert sim.stats.count(SEARCH_ROUTE) == pages(len(counts)) + 1
    else:  # two pages, the lost one, then a new scroll from the last emitted issue's updatedAt on
        assert sim.stats.count(SEARCH_ROUTE) == 2 + 1 + pages(len(counts) - 2 * 5 + 1)


def test_users_and_boards_fall_back_without_cursor_endpoints(
    small_sim: TrackerSimulator,
) -> None:
    """An installation without ``users/_relative`` or ``boards/_paginate`` (404): the plain lists."""
    small_sim.faults.script("GET /{v}/users/_relative", 404)
    small_sim.faults.script("GET /{v}/boards/_paginate", 404)
    out = run_inprocess(tap_config(small_sim))
    assert set(out.ids("users")) == {int(u.uid) for u in small_sim.org.catalog.users}
    assert set(out.ids("boards")) == set(small_sim.org.catalog.boards)
    assert small_sim.stats.count("GET /{v}/users") >= 1
    assert small_sim.stats.count("GET /{v}/boards") == 1


def test_every_user_of_a_big_organisation_once(sim_factory: Any) -> None:
    """10,050 users: more than GET /users can page through (10,000), all of them through _relative."""
    sim = sim_factory(generate_organisation(5, seed=2, users=10_050))
    out = run_inprocess(tap_config(sim))
    counts = out.id_counts("users")
    assert len(counts) == 10_050
    assert max(counts.values()) == 1


def test_a_scroll_that_keeps_being_lost_gives_up(sim_factory: Any) -> None:
    """Every continuation refused, and seven issues in one millisecond, more than a page: a restart at that
    millisecond serves only issues already emitted, so restarts make no progress; after 5 of them the tap
    gives up with a clear error (not an endless loop: the request budget would end that with another)."""
    sim = sim_factory(issues=40, seed=11)
    sim.advance(minutes=0, create=7)
    sim.lose_scrolls = True
    sim.request_budget = 300
    out = run_cli(tap_config(sim, page_size=3), timeout=120)
    assert out.returncode == 1
    assert "issue search scroll keeps failing without progress" in out.stderr
    assert "request budget" not in out.stderr
