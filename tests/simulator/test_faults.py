"""Fault injection: each kind over real HTTP, scripted faults, determinism, and no state corruption."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.support.simulators import OTHER_SETTINGS, SimulatorFactory, reset, resettable
from tracker_simulator import FaultPlan, TrackerSimulator

SEARCH = "POST /{v}/issues/_search"


def _statuses(sim: TrackerSimulator, n: int) -> list[int | str]:
    out: list[int | str] = []
    with requests.Session() as session:
        for _ in range(n):
            try:
                response = session.get(f"{sim.url}/v3/statuses", headers=sim.headers())
            except requests.ConnectionError:
                out.append("drop")
                continue
            try:
                response.json()
            except ValueError:
                out.append("truncated")
                continue
            out.append(response.status_code)
    return out


@pytest.mark.parametrize("status", [429, 500, 503, 504])
def test_scripted_status_faults(sim: TrackerSimulator, status: int) -> None:
    sim.faults.script("GET /{v}/statuses", status, times=2, retry_after=0)
    responses = [requests.get(f"{sim.url}/v3/statuses", headers=sim.headers()) for _ in range(3)]
    assert [r.status_code for r in responses] == [status, status, 200]
    body = responses[0].json()
    assert body["statusCode"] == status
    assert body["errorMessages"]
    assert body["errors"] == {}
    assert responses[0].headers["Content-Type"] == "application/json;charset=utf-8"
    assert ("Retry-After" in responses[0].headers) == (status == 429)
    if status == 429:
        assert responses[0].headers["Retry-After"] == "0"
    stats = sim.stats
    assert stats.by_status == {status: 2, 200: 1}
    assert stats.faults == {str(status): 2}


def test_scripted_faults_only_hit_matching_routes(sim: TrackerSimulator) -> None:
    sim.faults.script(SEARCH, 503, times=1)
    assert requests.get(f"{sim.url}/v3/statuses", headers=sim.headers()).status_code == 200
    assert sim.faults.pending_scripted == 1
    search = requests.post(f"{sim.url}/v2/issues/_search", json={"queue": "DEV"}, headers=sim.headers())
    assert search.status_code == 503
    assert sim.faults.pending_scripted == 0
    # patterns may also name concrete paths
    sim.faults.script("GET /v2/issues/*/changelog", 500)
    key = sim.org.records[0].key
    assert requests.get(f"{sim.url}/v3/issues/{key}/changelog", headers=sim.headers()).status_code == 200
    assert requests.get(f"{sim.url}/v2/issues/{key}/changelog", headers=sim.headers()).status_code == 500


def test_retry_after_fraction(sim: TrackerSimulator) -> None:
    sim.faults.retry_after = 0.5
    sim.faults.script("*", 429)
    response = requests.get(f"{sim.url}/v3/myself", headers=sim.headers())
    assert response.status_code == 429
    assert float(response.headers["Retry-After"]) == 0.5


def test_dropped_connection(sim: TrackerSimulator) -> None:
    sim.faults.script("GET /{v}/myself", "drop")
    with requests.Session() as session:
        with pytest.raises(requests.ConnectionError):
            session.get(f"{sim.url}/v3/myself", headers=sim.headers())
        assert session.get(f"{sim.url}/v3/myself", headers=sim.headers()).status_code == 200
    assert sim.stats.dropped == 1


def test_truncated_json(sim: TrackerSimulator) -> None:
    sim.faults.script("GET /{v}/statuses", "truncate")
    response = requests.get(f"{sim.url}/v3/statuses", headers=sim.headers())
    assert response.status_code == 200
    assert int(response.headers["Content-Length"]) == len(response.content) > 0
    with pytest.raises(requests.JSONDecodeError):
        response.json()
    assert requests.get(f"{sim.url}/v3/statuses", headers=sim.headers()).json()


def test_truncated_scroll_page_does_not_advance_the_scroll(sim: TrackerSimulator) -> None:
    body = {"filter": {"queue": "DEV"}}
    first = requests.post(
        f"{sim.url}/v3/issues/_search?scrollType=sorted&perScroll=30", json=body, headers=sim.headers()
    )
    url = first.links["next"]["url"]
    sim.faults.script(SEARCH, "truncate")
    broken = requests.post(url, json=body, headers=sim.headers())
    with pytest.raises(requests.JSONDecodeError):
        broken.json()
    retried = requests.post(url, json=body, headers=sim.headers())
    reference = requests.post(
        f"{sim.url}/v3/issues/_search?perPage=30&page=2", json=body, headers=sim.headers()
    )
    assert [i["key"] for i in retried.json()] == [i["key"] for i in reference.json()]


@pytest.mark.parametrize("fault", [504, "drop", "truncate"])
def test_a_served_fault_advances_the_scroll_after_the_requests_let_pass(
    sim: TrackerSimulator, fault: int | str
) -> None:
    """`served`: the page is served, then its answer lost, so the scroll moves on (the next request with the
    same scroll id gets page 3); `after`: the first matching request (the scroll's first page) passes."""
    body = {"filter": {"queue": "DEV"}}
    sim.faults.script(SEARCH, fault, after=1, served=True)
    first = requests.post(
        f"{sim.url}/v3/issues/_search?scrollType=sorted&perScroll=30", json=body, headers=sim.headers()
    )
    assert first.status_code == 200
    url = first.links["next"]["url"]
    with requests.Session() as session:
        try:
            lost = session.post(url, json=body, headers=sim.headers())
            assert lost.status_code == 504 or fault == "truncate"
        except requests.ConnectionError:
            assert fault == "drop"
    after_the_lost_page = requests.post(url, json=body, headers=sim.headers())
    reference = requests.post(
        f"{sim.url}/v3/issues/_search?perPage=30&page=3", json=body, headers=sim.headers()
    )
    assert [i["key"] for i in after_the_lost_page.json()] == [i["key"] for i in reference.json()]
    assert sim.faults.pending_scripted == 0


def test_truncated_count_is_not_valid_json(sim: TrackerSimulator) -> None:
    sim.faults.script("POST /{v}/issues/_count", "truncate")
    response = requests.post(
        f"{sim.url}/v3/issues/_count", json={"query": "Queue: DEV"}, headers=sim.headers()
    )
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_random_faults_are_deterministic_for_a_seed(sim: TrackerSimulator) -> None:
    def run(seed: int) -> list[int | str]:
        sim.faults.clear()
        sim.faults.reseed(seed)
        sim.faults.rate_429 = sim.faults.rate_500 = sim.faults.rate_503 = 0.1
        sim.faults.rate_504 = sim.faults.rate_drop = sim.faults.rate_truncate = 0.1
        sim.faults.retry_after = 0
        return _statuses(sim, 60)

    first, second, other = run(7), run(7), run(8)
    assert first == second
    assert first != other
    assert {429, 500, 503, 504, "drop", "truncated", 200} <= set(first)
    assert 15 <= sum(1 for s in first if s != 200) <= 55


def test_random_faults_respect_the_route_pattern(sim: TrackerSimulator) -> None:
    sim.faults.rate_500 = 1.0
    sim.faults.routes = "GET /{v}/issues/*"
    assert requests.get(f"{sim.url}/v3/statuses", headers=sim.headers()).status_code == 200
    key = sim.org.records[0].key
    assert requests.get(f"{sim.url}/v3/issues/{key}", headers=sim.headers()).status_code == 500


def test_latency_and_peak_concurrency(sim_factory: SimulatorFactory) -> None:
    """Requests are served concurrently: eight that wait for each other (a rendezvous) all complete, and
    the server saw all eight in flight at once."""
    sim = sim_factory(issues=20, latency_ms=150)
    sim.faults.rendezvous("GET /{v}/myself", parties=8)
    started = time.monotonic()
    statuses: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: statuses.append(
                requests.get(f"{sim.url}/v3/myself", headers=sim.headers()).status_code
            )
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - started >= 0.15, "the latency is applied"
    assert statuses == [200] * 8
    assert not sim.faults.rendezvous_failed
    stats = sim.stats
    assert stats.total == 8
    assert stats.peak_concurrency == 8
    assert stats.in_flight == 0
    sim.faults.latency_ms = 100
    started = time.monotonic()
    requests.get(f"{sim.url}/v3/myself", headers=sim.headers())
    assert time.monotonic() - started >= 0.25  # base latency + fault latency
    sim.reset_stats()
    assert sim.stats.total == 0
    assert sim.stats.peak_concurrency == 0


def test_fault_plan_can_be_replaced_and_rejects_unknown_faults(sim: TrackerSimulator) -> None:
    sim.faults = FaultPlan(rate_503=1.0)
    try:
        assert requests.get(f"{sim.url}/v3/myself", headers=sim.headers()).status_code == 503
    finally:
        sim.faults = FaultPlan()
    with pytest.raises(ValueError, match="unknown fault"):
        sim.faults.script("*", "explode")


def test_stats_count_routes_and_statuses(sim: TrackerSimulator) -> None:
    key = sim.org.records[3].key
    requests.get(f"{sim.url}/v3/issues/{key}", headers=sim.headers())
    requests.get(f"{sim.url}/v2/issues/{key}/changelog/", headers=sim.headers())
    requests.get(f"{sim.url}/v2/issues/NOPE-404", headers=sim.headers())
    requests.get(f"{sim.url}/v2/myself")
    stats = sim.stats
    assert stats.total == 4
    assert stats.count("GET /{v}/issues/{key}") == 2
    assert stats.count("GET /{v}/issues/{key}/changelog") == 1
    assert stats.by_status == {200: 2, 404: 1, 401: 1}


def test_capacity_refuses_what_arrives_beyond_it(sim: TrackerSimulator) -> None:
    """An API with a capacity of 2: of 5 requests sent at once (each served in 1 s, long enough for all
    five to arrive on a busy machine) 2 are served and 3 refused at once with 429 and Retry-After; once
    they are done, the next request is served."""
    sim.capacity, sim.capacity_retry_after, sim.latency_ms = 2, 1.5, 1000
    barrier = threading.Barrier(5)
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def call() -> None:
        barrier.wait()
        response = requests.get(f"{sim.url}/v3/statuses", headers=sim.headers())
        with lock:
            results.append((response.status_code, response.headers.get("Retry-After")))

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(status for status, _ in results) == [200, 200, 429, 429, 429]
    assert {after for status, after in results if status == 429} == {"1.5"}
    assert sim.stats.faults == {"capacity": 3}
    assert requests.get(f"{sim.url}/v3/statuses", headers=sim.headers()).status_code == 200


def test_latency_grows_with_load(sim: TrackerSimulator) -> None:
    sim.latency_ms, sim.load_latency_ms = 500, 200  # 0.5 s: the three overlap even on a busy machine
    barrier = threading.Barrier(3)
    elapsed: list[float] = []

    def call() -> None:
        barrier.wait()
        started = time.monotonic()
        requests.get(f"{sim.url}/v3/statuses", headers=sim.headers())
        elapsed.append(time.monotonic() - started)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(elapsed) >= 0.5 + 0.2  # at least one saw another request in service


def test_reset_restores_what_a_test_changed_on_the_shared_simulator(sim_factory: SimulatorFactory) -> None:
    """A capacity (or latency, a fault plan's Retry-After...) left on the session's simulator made later
    tests meet 429s. Every constructor setting that is not part of the simulator's identity is reset."""
    changed = sim_factory(issues=5)
    fresh = sim_factory(issues=5)
    names = [*resettable(), *OTHER_SETTINGS]
    assert {"capacity", "load_latency_ms", "latency_ms", "idle_timeout"} <= set(names)
    for name in names:
        setattr(changed, name, object())
    changed.faults.retry_after = 0.5
    reset(changed)
    assert {name: getattr(changed, name) for name in names} == {name: getattr(fresh, name) for name in names}
    assert changed.faults.retry_after == fresh.faults.retry_after
    assert requests.get(f"{changed.url}/v3/statuses", headers=changed.headers()).status_code == 200
