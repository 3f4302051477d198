"""Issue search over HTTP: body forms, filters, order, query language, page mode and its 10k cap."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from tracker_simulator import TrackerSimulator
from tracker_simulator.timefmt import parse_ts


def _search(sim: TrackerSimulator, body: object, query: str = "", version: str = "v3") -> requests.Response:
    return requests.post(f"{sim.url}/{version}/issues/_search{query}", json=body, headers=sim.headers())


def _ms(ts: str) -> int:
    return parse_ts(ts)[0]


def _all_pages(sim: TrackerSimulator, body: object, per_page: int) -> list[dict]:
    """Follow rel="next" re-posting the same body, as the official client does."""
    url = f"{sim.url}/v3/issues/_search?perPage={per_page}"
    issues: list[dict] = []
    while url:
        response = requests.post(url, json=body, headers=sim.headers())
        assert response.status_code == 200, response.text
        issues += response.json()
        url = response.links.get("next", {}).get("url")
    return issues


def test_page_mode_headers_and_link(sim: TrackerSimulator) -> None:
    response = _search(sim, {"filter": {"queue": "DEV"}}, "?perPage=7&page=2&expand=transitions")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    total = int(response.headers["X-Total-Count"])
    assert total == len([r for r in sim.org.records if r.queue == "DEV"])
    assert int(response.headers["X-Total-Pages"]) == -(-total // 7)
    assert len(response.json()) == 7
    lines = response.raw.headers.getlist("Link")
    assert len(lines) == 2, "one Link header line per link, as documented"
    assert response.links["next"]["url"] == f"{sim.url}/v3/issues/_search?expand=transitions&perPage=7&page=3"
    assert (
        response.links["seek"]["url"] == f"{sim.url}/v3/issues/_search?expand=transitions&perPage=7{{&page}}"
    )


def test_default_page_size_and_last_page_has_no_next(sim: TrackerSimulator) -> None:
    first = _search(sim, {"queue": "MKT"})
    assert len(first.json()) == 50
    pages = int(first.headers["X-Total-Pages"])
    last = _search(sim, {"queue": "MKT"}, f"?page={pages}")
    assert "next" not in last.links
    assert "seek" in last.links
    assert 0 < len(last.json()) <= 50
    assert _search(sim, {"queue": "MKT"}, f"?page={pages + 1}").json() == []


def test_following_next_links_returns_every_issue_once_sorted_by_key(sim: TrackerSimulator) -> None:
    issues = _all_pages(sim, {"queue": "QA"}, per_page=100)
    keys = [issue["key"] for issue in issues]
    expected = sorted((r.key for r in sim.org.records if r.queue == "QA"), key=lambda k: int(k.split("-")[1]))
    assert keys == expected


def test_page_mode_caps_at_10000(sim_big: TrackerSimulator) -> None:
    sim = sim_big
    response = _search(sim, {"filter": {"createdAt": {"from": "2000-01-01"}}}, "?perPage=1000&page=10")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "10000"
    assert response.headers["X-Total-Pages"] == "10"
    assert len(response.json()) == 1000
    assert "next" not in response.links
    beyond = _search(sim, {"filter": {"createdAt": {"from": "2000-01-01"}}}, "?perPage=1000&page=11")
    assert beyond.status_code == 400
    assert beyond.json() == {
        "errors": {},
        "errorMessages": ["Request exceeds 10000 items limit"],
        "statusCode": 400,
    }
    # a page straddling the limit is cut at 10,000 instead of failing
    straddle = _search(sim, {"filter": {"createdAt": {"from": "2000-01-01"}}}, "?perPage=3&page=3334")
    assert straddle.status_code == 200
    assert len(straddle.json()) == 1
    count = requests.post(
        f"{sim.url}/v3/issues/_count",
        json={"filter": {"createdAt": {"from": "2000-01-01"}}},
        headers=sim.headers(),
    )
    assert count.json() == len(sim.org.records) > 10_000


def test_body_nulls_are_absent_and_combinations_are_rejected(sim: TrackerSimulator) -> None:
    body = {
        "filter": None,
        "filterId": None,
        "query": "Queue: OPS",
        "keys": None,
        "queue": None,
        "order": None,
    }
    response = _search(sim, body)
    assert response.status_code == 200
    assert {issue["queue"]["key"] for issue in response.json()} == {"OPS"}
    for bad in ({"queue": "DEV", "filter": {"queue": "DEV"}}, {"keys": ["DEV-1"], "query": "Queue: DEV"}):
        error = _search(sim, bad)
        assert error.status_code == 400
        assert error.json()["errorMessages"] == ["You can only use keys, a queue, or a search query"]
    assert _search(sim, {"filterId": 5}).status_code == 400
    assert _search(sim, {"filter": {"assignee": "Empty()"}}).status_code == 400  # unsupported, loudly


def test_keys_search_finds_current_and_old_keys(sim: TrackerSimulator) -> None:
    moved = next(r for r in sim.org.records if len(r.keys) > 1)
    plain = next(r for r in sim.org.records if len(r.keys) == 1)
    response = _search(sim, {"keys": [moved.keys[0], plain.key, "NOPE-1"]})
    assert sorted(i["id"] for i in response.json()) == sorted([moved.id, plain.id])
    single = _search(sim, {"keys": plain.key}).json()
    assert [i["key"] for i in single] == [plain.key]


@pytest.mark.parametrize(
    ("field", "bounds"),
    [
        ("updatedAt", {"from": "2026-03-01T00:00:00.000+0000", "to": "2026-04-01T00:00:00.000+0000"}),
        ("updated", {"from": "2026-03-01T03:00:00+03:00", "to": "2026-04-01T00:00:00Z"}),
        ("createdAt", {"from": "2025-01-01"}),
        ("created", {"to": "2024-12-31"}),
    ],
)
def test_filter_time_ranges(sim: TrackerSimulator, field: str, bounds: dict[str, str]) -> None:
    issues = _all_pages(sim, {"filter": {field: bounds, "queue": ["DEV", "SUP"]}}, per_page=1000)
    attr = "updated" if field.startswith("updated") else "created"
    low = _ms(bounds["from"]) if "from" in bounds else 0
    high = _ms(bounds["to"]) if "to" in bounds else 1 << 60
    if "to" in bounds and len(bounds["to"]) == 10:
        high += 86_400_000 - 1  # a bare date as upper bound covers the whole day
    expected = {
        r.id for r in sim.org.records if r.queue in ("DEV", "SUP") and low <= getattr(r, attr) <= high
    }
    assert expected, "the range must select something"
    assert {i["id"] for i in issues} == expected
    for issue in issues:
        assert low <= _ms(issue[f"{attr}At"]) <= high


@pytest.mark.parametrize("order", ["+updatedAt", ["-updated"], ["+key"], ["-createdAt", "+key"]])
def test_order(sim: TrackerSimulator, order: str | list[str]) -> None:
    issues = _search(sim, {"filter": {"queue": "SUP"}, "order": order}, "?perPage=200").json()
    first = order if isinstance(order, str) else order[0]
    field = first.lstrip("+-")
    values: list = [
        int(i["key"].split("-")[1])
        if field == "key"
        else _ms(i[field if field.endswith("At") else field + "At"])
        for i in issues
    ]
    assert values == sorted(values, reverse=first.startswith("-"))
    assert _search(sim, {"filter": {"queue": "SUP"}, "order": "+summary"}).status_code == 400


@pytest.mark.parametrize("zone_minutes", [-300, 180])
def test_query_language_reads_a_date_time_without_an_offset_in_the_users_zone(
    sim: TrackerSimulator, zone_minutes: int
) -> None:
    """`query_zone_minutes`: the user's offset, as the real API reads a zoneless date-time; a date-time with
    an offset, and filters, are unaffected."""
    sim.query_zone_minutes = zone_minutes
    dev = sorted(r.updated for r in sim.org.records if r.queue == "DEV")
    # A bound one minute past (east of UTC) or before (west) a DEV update: the two readings differ there.
    one_minute = 60_000 if zone_minutes > 0 else -60_000
    wall = datetime.fromtimestamp((dev[len(dev) // 2] + one_minute) / 1000, tz=timezone.utc)
    text = wall.strftime("%Y-%m-%d %H:%M:%S")
    utc_bound = _ms(wall.strftime("%Y-%m-%dT%H:%M:%SZ"))
    expected = {
        r.id for r in sim.org.records if r.queue == "DEV" and r.updated >= utc_bound - zone_minutes * 60_000
    }
    zoneless = {"query": f'Queue: DEV and Updated: >= "{text}"'}
    assert {i["id"] for i in _all_pages(sim, zoneless, per_page=500)} == expected
    zoned = {"query": f'Queue: DEV and Updated: >= "{wall.strftime("%Y-%m-%dT%H:%M:%S")}+00:00"'}
    in_utc = {r.id for r in sim.org.records if r.queue == "DEV" and r.updated >= utc_bound}
    assert {i["id"] for i in _all_pages(sim, zoned, per_page=500)} == in_utc
    assert expected != in_utc, "precondition: issues updated between the two readings"


def test_query_language_incremental_pattern(sim: TrackerSimulator) -> None:
    query = 'Queue: DEV, OPS and Updated: >= "2026-05-01 00:00:00" "Sort by": Updated ASC'
    issues = _all_pages(sim, {"query": query}, per_page=500)
    bound = _ms("2026-05-01T00:00:00Z")  # read in UTC
    expected = {r.id for r in sim.org.records if r.queue in ("DEV", "OPS") and r.updated >= bound}
    assert {i["id"] for i in issues} == expected
    assert expected
    updated = [_ms(i["updatedAt"]) for i in issues]
    assert updated == sorted(updated)
    desc = _search(sim, {"query": 'Queue: DEV "Sort by": Updated DESC'}, "?perPage=100").json()
    assert [_ms(i["updatedAt"]) for i in desc] == sorted((_ms(i["updatedAt"]) for i in desc), reverse=True)
    for bad in ("Queue: DEV or Queue: OPS", "Assignee: me()", "Queue DEV", 'Updated: >= "yesterday"'):
        response = _search(sim, {"query": bad})
        assert response.status_code == 400, bad
        assert response.json()["statusCode"] == 400


def test_count_returns_a_bare_integer(sim: TrackerSimulator) -> None:
    response = requests.post(
        f"{sim.url}/v2/issues/_count", json={"query": "Queue: QA"}, headers=sim.headers()
    )
    assert response.status_code == 200
    assert response.text.strip().isdigit()
    assert response.json() == sum(1 for r in sim.org.records if r.queue == "QA")


def test_v2_and_v3_serve_the_same_issues(sim: TrackerSimulator) -> None:
    v2 = _search(sim, {"queue": "OPS"}, "?perPage=20", version="v2").json()
    v3 = _search(sim, {"queue": "OPS"}, "?perPage=20", version="v3").json()
    assert [i["id"] for i in v2] == [i["id"] for i in v3]
    assert all(i["self"].startswith(f"{sim.url}/v2/") for i in v2)
    assert all(i["self"].startswith(f"{sim.url}/v3/") for i in v3)
    assert "passportUid" in v3[0]["createdBy"]
    assert "passportUid" not in v2[0]["createdBy"]
    assert [i["updatedAt"] for i in v2] == [i["updatedAt"] for i in v3]


def test_fields_param_restricts_output(sim: TrackerSimulator) -> None:
    issue = _search(sim, {"queue": "DEV"}, "?perPage=1&fields=status,updatedAt").json()[0]
    assert set(issue) == {"self", "id", "key", "status", "updatedAt"}
