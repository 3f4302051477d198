"""Ground truth vs. the served changelog, generator realism, and live changes through ``advance``.

The reconstruction below follows the public data contract (statuses by key; a ``status`` change in any
event type is a transition; its time is ``statusStartTime.to`` when present, else ``updatedAt``; the
first interval starts at ``createdAt``) and uses nothing but HTTP responses, so it checks the
simulator's encoding of its own event model.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from itertools import pairwise
from typing import Any

import requests

from tests.support.simulators import SimulatorFactory
from tests.support.tracker_client import changelog
from tracker_simulator import IssueTruth, TrackerSimulator, generate_organisation
from tracker_simulator.catalog import CLOSED_TYPES, STATUS_TYPE
from tracker_simulator.timefmt import parse_ts, to_datetime


def _at(value: str) -> datetime:
    return to_datetime(parse_ts(value)[0])


def reconstruct(issue: dict[str, Any], entries: list[dict[str, Any]]) -> list[tuple[str, datetime]]:
    """The status timeline a consumer derives from an issue and its changelog."""
    initial: str | None = None
    transitions: list[tuple[datetime, int, str]] = []
    earliest_from: str | None = None
    for n, entry in enumerate(entries):
        fields = {f["field"]["id"]: f for f in entry.get("fields", [])}
        if "status" not in fields:
            continue
        change = fields["status"]
        if entry["type"] == "IssueCreated":
            initial = change["to"]["key"]
            continue
        if earliest_from is None and change["from"] is not None:
            earliest_from = change["from"]["key"]
        start = fields.get("statusStartTime", {}).get("to")
        transitions.append((_at(start or entry["updatedAt"]), n, change["to"]["key"]))
    transitions.sort()  # by (time, position): served order is by changelog id
    first = initial or earliest_from or issue["status"]["key"]
    return [(first, _at(issue["createdAt"])), *((status, at) for at, _n, status in transitions)]


def _check_issue(session: requests.Session, base: str, truth: IssueTruth) -> dict[str, Any]:
    issue = session.get(f"{base}/v3/issues/{truth.id}").json()
    assert issue["key"] == truth.key
    assert issue["queue"]["key"] == truth.queue
    assert _at(issue["createdAt"]) == truth.created_at
    assert issue["status"]["key"] == truth.current_status
    assert reconstruct(issue, changelog(session, base, truth.key)) == truth.timeline, truth.key
    return issue


def _reopened(truth: IssueTruth) -> bool:
    types = [STATUS_TYPE[s] for s, _ in truth.timeline]
    return any(a in CLOSED_TYPES and b not in CLOSED_TYPES for a, b in pairwise(types))


def test_ground_truth_matches_served_changelog(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    truths = sim.ground_truth()
    assert len(truths) == len(sim.org.records)
    records = sim.org.records
    moved = [r.id for r in records if len(r.keys) > 1][:80]
    reopened = [t.id for t in truths.values() if _reopened(t)][:80]
    sample = list(dict.fromkeys(moved + reopened + [r.id for r in records[::15]]))
    assert len(moved) >= 40
    assert len(reopened) >= 40
    assert len(sample) >= 250
    for issue_id in sample:
        _check_issue(sim_http, sim.url, truths[issue_id])


def test_reconstruction_notices_a_wrong_truth(sim: TrackerSimulator, sim_http: requests.Session) -> None:
    """Guard against a tautology: a perturbed truth must not match."""
    record = next(r for r in sim.org.records if r.version > 8)
    truth = sim.ground_truth([record.id])[record.id]
    issue = sim_http.get(f"{sim.url}/v3/issues/{record.id}").json()
    served = reconstruct(issue, changelog(sim_http, sim.url, record.key))
    assert served == truth.timeline
    status, at = truth.timeline[-1]
    assert served != [
        *truth.timeline[:-1],
        (status, at.replace(microsecond=(at.microsecond + 1000) % 1_000_000)),
    ]


def test_generated_history_has_the_real_world_irregularities(
    sim: TrackerSimulator, sim_http: requests.Session
) -> None:
    """Each irregularity a consumer must survive appears in the served data of the session organisation."""
    examples: dict[str, str] = {}
    org = sim.org
    for record in org.records:  # find candidates in the model, then verify each over HTTP
        history = org.history(record.idx)
        if history.events and history.events[0].type != "IssueCreated":
            examples.setdefault("no IssueCreated", record.key)
        if record.version > 100:
            examples.setdefault("long changelog", record.key)
        for event in history.events:
            names = [c[0] for c in event.changes]
            if event.type == "IssueWorkflow" and names[0] == "resolution":
                examples.setdefault("resolution first", record.key)
            if event.type == "IssueWorkflow" and "statusStartTime" not in names:
                examples.setdefault("no statusStartTime", record.key)
            if event.type == "IssueMoved" and "status" in names:
                examples.setdefault("status reset in move", record.key)
            if event.type == "IssueUpdated" and "status" in names:
                examples.setdefault("status in IssueUpdated", record.key)
        times = [at for _s, at in history.timeline]
        if len(times) != len(set(times)):
            examples.setdefault("same-millisecond transitions", record.key)
        if (
            history.events
            and history.events[0].type == "IssueCreated"
            and history.timeline[0][0] != "open"
            and (history.timeline[0][0] != "backlog")
        ):
            examples.setdefault("created in a later status", record.key)
    assert len(examples) == 8, examples
    for what, key in examples.items():
        entries = changelog(sim_http, sim.url, key)
        issue = sim_http.get(f"{sim.url}/v3/issues/{key}").json()
        fields = [[f["field"]["id"] for f in e.get("fields", [])] for e in entries]
        if what == "no IssueCreated":
            assert all(e["type"] != "IssueCreated" for e in entries)
        elif what == "long changelog":
            assert len(entries) > 100
        elif what == "resolution first":
            assert any(
                e["type"] == "IssueWorkflow" and f[0] == "resolution"
                for e, f in zip(entries, fields, strict=True)
            )
        elif what == "no statusStartTime":
            assert any(
                e["type"] == "IssueWorkflow" and "statusStartTime" not in f
                for e, f in zip(entries, fields, strict=True)
            )
        elif what == "status reset in move":
            assert any(
                e["type"] == "IssueMoved" and {"queue", "key", "status"} <= set(f)
                for e, f in zip(entries, fields, strict=True)
            )
        elif what == "status in IssueUpdated":
            assert any(
                e["type"] == "IssueUpdated" and "status" in f for e, f in zip(entries, fields, strict=True)
            )
        elif what == "same-millisecond transitions":
            times = [t for _s, t in reconstruct(issue, entries)]
            assert len(times) != len(set(times))
        elif what == "created in a later status":
            assert entries[0]["fields"][0]["to"]["key"] not in ("open", "backlog")
    # other fields change too, and comments are events
    sample_types = Counter(
        f["field"]["id"]
        for r in org.records[:60]
        for e in changelog(sim_http, sim.url, r.key)
        if e["type"] == "IssueUpdated"
        for f in e["fields"]
    )
    assert {"assignee", "tags", "followers", "priority"} <= set(sample_types)
    some = [sim_http.get(f"{sim.url}/v3/issues/{r.key}").json() for r in org.records[:300]]
    for attribute in (
        "parent",
        "epic",
        "storyPoints",
        "sprint",
        "components",
        "tags",
        "resolution",
        "aliases",
    ):
        assert any(attribute in issue for issue in some), attribute


def test_advance_changes_issues_and_truth(fresh_sim: TrackerSimulator) -> None:
    sim = fresh_sim
    session = requests.Session()
    session.headers.update(sim.headers())
    old_now = to_datetime(sim.org.now)
    before = {r.id: (r.updated, r.version) for r in sim.org.records}
    last_ids = {r.id: changelog(session, sim.url, r.key)[-1]["id"] for r in sim.org.records}
    changed = sim.advance(minutes=45, mutate=40, create=5)
    assert len(changed) == len(set(changed)) == 45
    created = [c for c in changed if c not in before]
    assert len(created) == 5
    body = {"filter": {"updatedAt": {"from": old_now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}}}
    found = session.post(f"{sim.url}/v3/issues/_search?perPage=100", json=body).json()
    assert {i["id"] for i in found} == set(changed), "exactly the changed issues are newer than the old now"
    truths = sim.ground_truth(changed)
    for issue_id in changed:
        issue = _check_issue(session, sim.url, truths[issue_id])
        assert old_now < _at(issue["updatedAt"]) <= to_datetime(sim.org.now)
        if issue_id in before:
            new_entries = session.get(
                f"{sim.url}/v3/issues/{issue_id}/changelog?id={last_ids[issue_id]}"
            ).json()
            assert (
                1
                <= len(new_entries)
                == sim.org.records[sim.org.resolve(issue_id)].version - before[issue_id][1]
            )
            assert new_entries[-1]["updatedAt"] == issue["updatedAt"]
    untouched = next(i for i in before if i not in changed)
    assert sim.org.records[sim.org.resolve(untouched)].updated == before[untouched][0]
    kinds = Counter(
        e["type"]
        for i in changed
        if i in before
        for e in session.get(f"{sim.url}/v3/issues/{i}/changelog?id={last_ids[i]}").json()
    )
    assert kinds["IssueWorkflow"] + kinds["IssueUpdated"] >= 10


def test_advance_is_deterministic_and_moves_keep_old_keys(sim_factory: SimulatorFactory) -> None:
    results = []
    for _ in range(2):
        org = generate_organisation(120, seed=11)
        changed = [org.advance(minutes=10, mutate=30, create=2) for _ in range(6)]
        results.append((changed, [(r.keys, r.updated, r.status) for r in org.records]))
    assert results[0] == results[1]
    sim = sim_factory(org)
    moved_live = [r for r in org.records if len(r.keys) > 1 and r.idx < 120]
    assert moved_live
    for record in moved_live:
        for key in record.keys:
            response = requests.get(f"{sim.url}/v2/issues/{key}", headers=sim.headers())
            assert response.json()["id"] == record.id
    truths = org.ground_truth()
    with requests.Session() as session:
        session.headers.update(sim.headers())
        for record in org.records:
            _check_issue(session, sim.url, truths[record.id])
