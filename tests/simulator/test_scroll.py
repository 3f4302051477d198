"""Scroll mode: continuation, last-page headers, snapshot semantics, TTL expiry and _clear."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from tracker_simulator import TrackerSimulator
from tracker_simulator.timefmt import format_ts

BODY = {"filter": {"queue": ["DEV", "SUP", "QA"]}, "order": "+key"}


def _start(
    sim: TrackerSimulator, body: object = BODY, params: str = "scrollType=sorted&perScroll=200"
) -> requests.Response:
    return requests.post(f"{sim.url}/v3/issues/_search?{params}", json=body, headers=sim.headers())


def _continue(sim: TrackerSimulator, first: requests.Response, body: object = BODY) -> requests.Response:
    scroll_id, token = first.headers["X-Scroll-Id"], first.headers["X-Scroll-Token"]
    url = f"{sim.url}/v3/issues/_search?scrollId={scroll_id}&scrollToken={token}&scrollTTLMillis=60000"
    return requests.post(url, json=body, headers=sim.headers())


def _scroll_all(
    sim: TrackerSimulator, body: object, params: str
) -> tuple[list[dict], list[requests.Response]]:
    """Continue with the newest X-Scroll-Id until it disappears."""
    responses = [_start(sim, body, params)]
    while "X-Scroll-Id" in responses[-1].headers:
        assert responses[-1].status_code == 200, responses[-1].text
        responses.append(_continue(sim, responses[-1], body))
    return [issue for r in responses for issue in r.json()], responses


def test_scroll_returns_everything_once_and_headers_only_while_not_last(sim: TrackerSimulator) -> None:
    issues, responses = _scroll_all(sim, BODY, "scrollType=sorted&perScroll=250")
    expected = [r for r in sim.org.records if r.queue in ("DEV", "SUP", "QA")]
    assert len(issues) == len(expected) == len({i["id"] for i in issues})
    assert [i["key"] for i in issues] == sorted(
        (i["key"] for i in issues), key=lambda k: (k.split("-")[0], int(k.split("-")[1]))
    )
    assert len(responses) == -(-len(expected) // 250)
    for response in responses:
        assert response.headers["X-Total-Count"] == str(len(expected))
        assert response.links["first"]["url"].endswith(
            "scrollType=sorted&perScroll=250&scrollTTLMillis=60000"
        )
    for response in responses[:-1]:
        assert "next" in response.links
        assert "X-Scroll-Token" in response.headers
    last = responses[-1]
    assert "X-Scroll-Id" not in last.headers
    assert "X-Scroll-Token" not in last.headers
    assert "next" not in last.links


def test_scroll_next_link_works_and_default_page_size_is_100(sim: TrackerSimulator) -> None:
    first = _start(sim, {"query": "Queue: DEV"}, "scrollType=unsorted")
    assert len(first.json()) == 100
    second = requests.post(first.links["next"]["url"], json={"query": "Queue: DEV"}, headers=sim.headers())
    assert second.status_code == 200
    assert not {i["id"] for i in first.json()} & {i["id"] for i in second.json()}


def test_scroll_total_is_not_capped(sim_big: TrackerSimulator) -> None:
    body = {"filter": {"createdAt": {"from": "2000-01-01"}}}
    issues, responses = _scroll_all(sim_big, body, "scrollType=unsorted&perScroll=1000")
    assert responses[0].headers["X-Total-Count"] == str(len(sim_big.org.records))
    assert len({i["id"] for i in issues}) == len(sim_big.org.records) > 10_000


def test_scroll_rejects_queue_keys_and_bad_sizes(sim: TrackerSimulator) -> None:
    for body in ({"queue": "DEV"}, {"keys": ["DEV-1"]}):
        response = _start(sim, body)
        assert response.status_code == 400
        assert response.json() == {
            "errors": {},
            "errorMessages": ["Scroll is not supported"],
            "statusCode": 400,
        }
    assert _start(sim, BODY, "scrollType=sorted&perScroll=1001").status_code == 400
    assert _start(sim, BODY, "scrollType=sideways").status_code == 400


def test_scroll_is_a_snapshot(fresh_sim: TrackerSimulator) -> None:
    sim = fresh_sim
    body = {"filter": {"queue": ["DEV", "SUP", "OPS", "MKT", "QA"]}}
    first = _start(sim, body, "scrollType=sorted&perScroll=50")
    before = {r.id: (r.updated, r.key) for r in sim.org.records}
    changed = set(sim.advance(minutes=30, mutate=150, create=20))
    rest = []
    response = first
    while "X-Scroll-Id" in response.headers:
        response = _continue(sim, response, body)
        rest += response.json()
    served = first.json() + rest
    assert len(served) == len(before), "issues created during the scroll are not in it"
    stale = [i for i in served if i["id"] in changed]
    assert stale, "some changed issues come after the first page"
    for issue in served:
        updated, key = before[issue["id"]]
        assert issue["updatedAt"] == format_ts(updated)
        assert issue["key"] == key
    # a new search sees the changes
    fresh = {i["id"]: i for i in _scroll_all(sim, body, "scrollType=sorted&perScroll=1000")[0]}
    assert len(fresh) == len(before) + 20
    assert all(fresh[i]["updatedAt"] != format_ts(before[i][0]) for i in changed if i in before)


class ManualClock:
    """The scroll registry's clock, moved by the test (TTLs without sleeping or racing the scheduler)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(sim: TrackerSimulator) -> Iterator[ManualClock]:
    manual = ManualClock()
    sim.app.scrolls.use_clock(manual)
    yield manual
    sim.app.scrolls.use_clock(time.monotonic)


def test_scroll_ttl_expiry(sim: TrackerSimulator, clock: ManualClock) -> None:
    alive = _start(sim, BODY, "scrollType=sorted&perScroll=10&scrollTTLMillis=150")
    first = _start(sim, BODY, "scrollType=sorted&perScroll=10&scrollTTLMillis=150")
    clock.now += 0.149
    assert _continue(sim, alive).status_code == 200, "still alive 149 ms later"
    clock.now += 0.002
    expired = _continue(sim, first)
    assert expired.status_code == 404
    assert expired.json()["statusCode"] == 404
    assert "expired" in expired.json()["errorMessages"][0]


def test_scroll_ttl_is_renewed_by_each_page(sim: TrackerSimulator, clock: ManualClock) -> None:
    response = _start(sim, BODY, "scrollType=sorted&perScroll=10&scrollTTLMillis=400")
    for _ in range(4):
        clock.now += 0.3  # 1.2 s in total: three TTLs, but never 400 ms without a page
        scroll_id, token = response.headers["X-Scroll-Id"], response.headers["X-Scroll-Token"]
        response = requests.post(
            f"{sim.url}/v3/issues/_search?scrollId={scroll_id}&scrollToken={token}",
            json=BODY,
            headers=sim.headers(),
        )
        assert response.status_code == 200


def test_scroll_clear(sim: TrackerSimulator) -> None:
    first = _start(sim, BODY)
    scroll_id, token = first.headers["X-Scroll-Id"], first.headers["X-Scroll-Token"]
    cleared = requests.post(
        f"{sim.url}/v3/system/search/scroll/_clear", json={scroll_id: token}, headers=sim.headers()
    )
    assert cleared.status_code == 200
    assert cleared.content == b""
    assert cleared.headers["Content-Length"] == "0"
    assert _continue(sim, first).status_code == 404


def test_wrong_scroll_token_is_rejected(sim: TrackerSimulator) -> None:
    first = _start(sim, BODY)
    url = f"{sim.url}/v3/issues/_search?scrollId={first.headers['X-Scroll-Id']}&scrollToken=forged"
    assert requests.post(url, json=BODY, headers=sim.headers()).status_code == 400
    assert _continue(sim, first).status_code == 200  # the scroll itself is unharmed
