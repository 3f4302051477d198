"""Generated data over HTTP: self URLs, languages, reference collections, determinism, realism."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import requests

from tests.support.simulators import SimulatorFactory
from tests.support.tracker_client import changelog, follow_next
from tracker_simulator import TrackerSimulator, generate_organisation
from tracker_simulator.history import fold

CYRILLIC = re.compile("[\u0400-\u04ff]")


def _selfs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "self" and isinstance(item, str):
                yield item
            else:
                yield from _selfs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _selfs(item)


REFERENCE_LISTS = [
    "statuses",
    "issuetypes",
    "priorities",
    "resolutions",
    "queues",
    "users",
    "boards",
    "components",
    "projects",
    "fields",
]


def test_every_emitted_self_resolves(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    records = sim.org.records
    sample = [r for r in records if len(r.keys) > 1][:15] + records[::97]
    documents: list[Any] = []
    for record in sample:
        documents.append(sim_http.get(f"{sim.url}/v2/issues/{record.key}").json())
        documents.append(changelog(sim_http, sim.url, record.key, version="v2"))
    for name in REFERENCE_LISTS:
        documents.append(sim_http.get(f"{sim.url}/v2/{name}?perPage=1000").json())
    for board in sim_http.get(f"{sim.url}/v2/boards").json():
        documents.append(sim_http.get(f"{sim.url}/v2/boards/{board['id']}/columns").json())
        documents.append(sim_http.get(f"{sim.url}/v2/boards/{board['id']}/sprints?perPage=1000").json())
    urls = set(_selfs(documents))
    kinds = {re.sub(r"/[^/]+$", "/*", url.removeprefix(f"{sim.url}/v2/")) for url in urls}
    for expected in (
        "users/*",
        "statuses/*",
        "queues/*",
        "issuetypes/*",
        "priorities/*",
        "resolutions/*",
        "sprints/*",
        "boards/*",
        "components/*",
        "projects/*",
        "fields/*",
        "issues/*",
    ):
        assert expected in kinds, f"no {expected} link emitted in the sample"
    assert any("/changelog/" in u for u in urls)
    assert any("/comments/" in u for u in urls)
    assert any("/columns/" in u for u in urls)
    assert all(u.startswith(f"{sim.url}/v2/") for u in urls)
    for url in sorted(urls):
        response = sim_http.get(url)
        assert response.status_code == 200, url
        body = response.json()
        by_login = url.rsplit("/", 1)[-1] == body.get("login")  # old changelog entries name people by login
        assert body["self"] == url or url.endswith(tuple(body.get("aliases", []))) or by_login, url


def test_statuses_collection(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    statuses = sim_http.get(f"{sim.url}/v3/statuses").json()
    assert {s["type"] for s in statuses} == {"new", "inProgress", "paused", "done", "cancelled"}
    assert all(isinstance(s["id"], int) for s in statuses)
    by_key = {s["key"]: s for s in statuses}
    assert by_key["needInfo"]["type"] == "paused"
    assert by_key["closed"]["type"] == "done"
    issue = sim_http.get(f"{sim.url}/v3/issues/{sim.org.records[0].key}").json()
    assert isinstance(issue["status"]["id"], str)
    assert int(issue["status"]["id"]) == by_key[issue["status"]["key"]]["id"]


def test_reference_lists_page_like_the_api(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    first = sim_http.get(f"{sim.url}/v3/users?perPage=5")
    total = len(sim.org.catalog.users)
    assert first.headers["X-Total-Count"] == str(total)
    assert first.headers["X-Total-Pages"] == str(-(-total // 5))
    assert first.links["seek"]["url"] == f"{sim.url}/v3/users?perPage=5{{&page}}"
    users = [u for page in follow_next(sim_http, f"{sim.url}/v3/users?perPage=5") for u in page.json()]
    assert len({u["uid"] for u in users}) == total
    for name in REFERENCE_LISTS[:-1]:  # all but fields, which come in one piece
        if name == "boards":  # the whole list in one piece, see below
            continue
        response = sim_http.get(f"{sim.url}/v3/{name}?perPage=2")
        assert response.status_code == 200, name
        assert len(response.json()) == 2, name
    myself = sim_http.get(f"{sim.url}/v3/myself").json()
    assert sim_http.get(f"{sim.url}/v3/users/{myself['login']}").json()["uid"] == myself["uid"]
    assert sim_http.get(f"{sim.url}/v3/users/login:{myself['login']}").status_code == 200
    board = sim_http.get(f"{sim.url}/v3/boards/1/sprints?perPage=1000").json()
    statuses = {s["status"] for s in board}
    assert {"released", "in_progress", "draft"} <= statuses
    assert sim_http.get(f"{sim.url}/v3/sprints/{board[0]['id']}").json()["board"]["id"] == "1"


def walk_id_cursor(http: requests.Session, url: str, key: str, per_page: int) -> list[Any]:
    """The keys of every item of an id-cursor collection, page by page until a short page."""
    keys: list[Any] = []
    cursor = None
    while True:
        page = http.get(url, params={"perPage": per_page, "id": cursor}).json()
        keys += [item[key] for item in page]
        if len(page) < per_page:
            return keys
        cursor = page[-1][key]


def test_boards_come_whole_or_by_id_cursor(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    everything = sim_http.get(f"{sim.url}/v3/boards?perPage=2").json()
    assert [b["id"] for b in everything] == sorted(sim.org.catalog.boards), "GET /boards is not paged"
    assert all(isinstance(b["country"], dict) for b in everything), "country is documented as an object"
    walked = walk_id_cursor(sim_http, f"{sim.url}/v3/boards/_paginate", "id", per_page=2)
    assert walked == [b["id"] for b in everything]
    assert sim_http.get(f"{sim.url}/v3/boards/_paginate?perPage=501").status_code == 400


def test_users_past_ten_thousand_only_through_relative(sim_factory: Any) -> None:
    big = sim_factory(generate_organisation(20, seed=5, users=10_050))
    with requests.Session() as http:
        http.headers.update(big.headers())
        paged = http.get(f"{big.url}/v3/users?perPage=1000&page=10")
        assert paged.headers["X-Total-Count"] == "10000"
        assert http.get(f"{big.url}/v3/users?perPage=1000&page=11").status_code == 400
        uids = walk_id_cursor(http, f"{big.url}/v3/users/_relative", "uid", per_page=100)
        assert len(uids) == len(set(uids)) == 10_050
        assert uids == sorted(uids)
        assert http.get(f"{big.url}/v3/users/_relative?perPage=101").status_code == 400


def test_languages(sim: TrackerSimulator) -> None:
    key = sim.org.records[5].key

    def get(headers: dict[str, str]) -> dict[str, Any]:
        return requests.get(f"{sim.url}/v3/issues/{key}", headers=headers).json()

    english = get(sim.headers(lang="en"))
    russian = get(sim.headers(lang="ru"))
    default = get(sim.headers(lang=None))
    regional = get(sim.headers(lang="en-US,en;q=0.9"))
    assert default == russian, "Tracker's default language is Russian"
    assert regional == english
    for doc in (russian,):
        assert CYRILLIC.search(doc["createdBy"]["display"])
        assert CYRILLIC.search(doc["status"]["display"])
    assert not CYRILLIC.search(english["createdBy"]["display"])
    assert not CYRILLIC.search(english["status"]["display"])
    assert english["status"]["key"] == russian["status"]["key"]
    users = requests.get(
        f"{sim.url}/v3/users/{english['createdBy']['id']}", headers=sim.headers(lang="ru")
    ).json()
    assert CYRILLIC.search(users["firstName"])
    assert CYRILLIC.search(users["display"])


def _dump(sim: TrackerSimulator) -> str:
    with requests.Session() as session:
        session.headers.update(sim.headers())
        issues = [
            i
            for p in follow_next(session, f"{sim.url}/v3/issues/_search?perPage=100", method="POST", body={})
            for i in p.json()
        ]
        logs = [changelog(session, sim.url, i["key"]) for i in issues[::7]]
        users = session.get(f"{sim.url}/v3/users?perPage=1000").json()
    return repr((issues, logs, users)).replace(sim.url, "BASE")


def test_determinism_for_a_seed(sim_factory: SimulatorFactory) -> None:
    one = _dump(sim_factory(issues=150, seed=7))
    two = _dump(sim_factory(issues=150, seed=7))
    other = _dump(sim_factory(issues=150, seed=8))
    assert one == two
    assert one != other


def test_generation_is_lazy() -> None:
    """Histories are generated on demand, not kept (its speed is a benchmark's business)."""
    org = generate_organisation(5000, seed=3)
    assert len(org) == 5000
    assert len(org._cache) == 0


def test_cached_issue_state_equals_the_replayed_history(sim: TrackerSimulator) -> None:
    """Search pages use the state kept in the index; it must equal a replay of the served changelog."""
    org = sim.org
    for record in org.records[::7]:
        history = org.history(record.idx)
        assert org.state(record.idx) == fold(history.initial, history.events), record.key
