"""Changelog endpoint: order, cursor paging, Link headers, filters, trailing slash, aliases."""

from __future__ import annotations

import requests

from tests.support.tracker_client import changelog
from tracker_simulator import TrackerSimulator


def _long_issue(sim: TrackerSimulator) -> str:
    record = max(sim.org.records, key=lambda r: r.version)
    assert record.version > 100, "the generator makes some changelogs longer than 100 entries"
    return record.key


def test_paging_follows_next_until_the_end(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    key = _long_issue(sim)
    url = f"{sim.url}/v3/issues/{key}/changelog?perPage=40"
    pages = []
    while url:
        response = sim_http.get(url)
        assert response.status_code == 200
        assert "X-Total-Count" not in response.headers
        assert response.links["first"]["url"] == f"{sim.url}/v3/issues/{key}/changelog?perPage=40"
        pages.append(response.json())
        next_url = response.links.get("next", {}).get("url")
        if next_url:
            assert next_url == f"{sim.url}/v3/issues/{key}/changelog?id={pages[-1][-1]['id']}&perPage=40"
        url = next_url
    entries = [e for page in pages for e in page]
    assert all(len(page) == 40 for page in pages[:-1])
    assert 0 < len(pages[-1]) <= 40
    assert len(entries) == sim.org.records[sim.org.resolve(key)].version
    ids = [e["id"] for e in entries]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    times = [e["updatedAt"] for e in entries]
    assert times == sorted(times), "oldest first"
    issue = sim_http.get(f"{sim.url}/v3/issues/{key}").json()
    assert issue["updatedAt"] == entries[-1]["updatedAt"], "updatedAt is the latest changelog entry"


def test_per_page_default_and_maximum(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    key = _long_issue(sim)
    assert len(sim_http.get(f"{sim.url}/v2/issues/{key}/changelog").json()) == 50
    big = sim_http.get(f"{sim.url}/v2/issues/{key}/changelog?perPage=500")
    assert len(big.json()) == 100
    assert "perPage=100" in big.links["next"]["url"]
    assert sim_http.get(f"{sim.url}/v2/issues/{key}/changelog?perPage=0").status_code == 400


def test_id_cursor_returns_entries_after_it(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    key = _long_issue(sim)
    entries = changelog(sim_http, sim.url, key)
    cursor = entries[9]["id"]
    after = sim_http.get(f"{sim.url}/v3/issues/{key}/changelog?id={cursor}&perPage=5").json()
    assert [e["id"] for e in after] == [e["id"] for e in entries[10:15]]
    last = sim_http.get(f"{sim.url}/v3/issues/{key}/changelog?id={entries[-1]['id']}")
    assert last.json() == []
    assert "next" not in last.links
    assert sim_http.get(f"{sim.url}/v3/issues/{key}/changelog?id=not-an-id").status_code == 400


def test_trailing_slash(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    key = sim.org.records[10].key
    plain = sim_http.get(f"{sim.url}/v3/issues/{key}/changelog")
    slash = sim_http.get(f"{sim.url}/v3/issues/{key}/changelog/")
    assert slash.status_code == 200
    assert slash.json() == plain.json()


def test_type_and_field_filters(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    key = _long_issue(sim)
    everything = changelog(sim_http, sim.url, key)
    workflow = changelog(sim_http, sim.url, key, per_page=7, params="&type=IssueWorkflow")
    assert workflow
    assert [e["id"] for e in workflow] == [e["id"] for e in everything if e["type"] == "IssueWorkflow"]
    with_status = changelog(sim_http, sim.url, key, per_page=7, params="&field=status")
    expected = [e["id"] for e in everything if any(f["field"]["id"] == "status" for f in e.get("fields", []))]
    assert [e["id"] for e in with_status] == expected
    several = changelog(sim_http, sim.url, key, params="&type=IssueWorkflow,IssueCommentAdded")
    assert {e["type"] for e in several} == {"IssueWorkflow", "IssueCommentAdded"}
    next_url = sim_http.get(f"{sim.url}/v3/issues/{key}/changelog?type=IssueUpdated&perPage=2").links["next"][
        "url"
    ]
    assert "type=IssueUpdated" in next_url, "filters survive in the next link"


def test_moved_issue_is_served_under_old_and_new_key(
    sim: TrackerSimulator, sim_http: requests.Session
) -> None:
    record = next(r for r in sim.org.records if len(r.keys) > 1)
    old, new = record.keys[0], record.key
    by_old = sim_http.get(f"{sim.url}/v3/issues/{old}").json()
    by_id = sim_http.get(f"{sim.url}/v3/issues/{record.id}").json()
    assert by_old == by_id
    assert by_old["key"] == new
    assert old in by_old["aliases"]
    assert by_old["previousQueue"]["key"] == old.split("-")[0]
    entries = changelog(sim_http, sim.url, old)
    assert all(e["issue"]["key"] == new for e in entries), "the changelog shows the current key"
    moves = [e for e in entries if e["type"] == "IssueMoved"]
    fields = {f["field"]["id"]: f for f in moves[0]["fields"]}
    assert fields["key"]["from"] == old
    assert fields["queue"]["from"]["key"] == old.split("-")[0]
    assert fields["queue"]["to"]["key"] == fields["key"]["to"].split("-")[0]


def test_unknown_issue(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    response = sim_http.get(f"{sim.url}/v3/issues/NOPE-1/changelog")
    assert response.status_code == 404
    assert response.json()["errorMessages"] == ["Issue does not exist."]
