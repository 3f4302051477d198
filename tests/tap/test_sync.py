"""A full sync against the simulator: complete, exactly once, canonical timestamps, ~1 request per issue."""

from __future__ import annotations

import json
import math
import re
from collections import Counter

import pytest

from tap_yandex_tracker.streams import IssueChangelogStream
from tap_yandex_tracker.tap import TapYandexTracker
from tests.support.configs import tap_config
from tests.support.tap_runs import run_cli, run_inprocess
from tests.support.truth import changelog_requests_needed, expected_changelog, expected_issues
from tracker_simulator import TrackerSimulator

CANONICAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
REFERENCE_STREAMS = (
    *("statuses", "queues", "users", "issue_types"),
    *("priorities", "resolutions", "boards", "sprints"),
)
REFERENCE_ROUTES = (
    "GET /{v}/statuses",
    "GET /{v}/issuetypes",
    "GET /{v}/priorities",
    "GET /{v}/resolutions",
    "GET /{v}/queues",
    "GET /{v}/users/_relative",
    "GET /{v}/boards/_paginate",
)


def test_full_sync_is_complete_exactly_once_and_cheap(small_sim: TrackerSimulator) -> None:
    # The first four changelog requests wait for each other: they complete only if the tap really sends
    # them at once (a sequential tap would time out the rendezvous).
    small_sim.faults.rendezvous("GET /{v}/issues/{key}/changelog", parties=4)
    out = run_inprocess(tap_config(small_sim, page_size=40, max_concurrent_requests=4))
    org = small_sim.org

    issues = expected_issues(org)
    counts = out.id_counts("issues")
    assert set(counts) == set(issues)
    assert max(counts.values()) == 1
    updated = [r["updatedAt"] for r in out.records["issues"]]
    assert updated == sorted(updated), "issues must come out in updatedAt order"
    assert {r["id"]: r["updatedAt"] for r in out.records["issues"]} == issues

    changelog = expected_changelog(org)
    entry_counts = out.id_counts("issue_changelog")
    assert set(entry_counts) == set(changelog)
    assert max(entry_counts.values()) == 1
    for entry in out.records["issue_changelog"]:
        assert entry["issue_id"] == changelog[entry["id"]]
        assert entry["issue_key"]
        assert CANONICAL.match(entry["updatedAt"])
        for change in entry.get("fields") or []:
            if change["field"]["id"] == "statusStartTime" and change["to"] is not None:
                assert CANONICAL.match(change["to"]), change
    for issue in out.records["issues"]:
        for name in ("createdAt", "updatedAt", "statusStartTime", "resolvedAt"):
            if issue.get(name) is not None:
                assert CANONICAL.match(issue[name]), (name, issue[name])

    bookmark = out.last_state["bookmarks"]["issues"]["replication_key_value"]
    assert bookmark == max(issues.values())
    assert "partitions" not in out.last_state["bookmarks"].get("issue_changelog", {})

    stats = small_sim.stats
    assert stats.count("GET /{v}/issues/{key}/changelog") == changelog_requests_needed(org)
    assert stats.count("POST /{v}/issues/_search") == math.ceil(len(issues) / 40)
    assert stats.count("GET /{v}/issues/{key}") == 0, "no self dereferencing"
    assert stats.count("GET /{v}/users/{ident}") == 0, "no self dereferencing"
    for route in REFERENCE_ROUTES:
        assert stats.count(route) == 1, route
    per_board = Counter(str(s["board"]["id"]) for s in out.records["sprints"])
    pages = sum(max(1, math.ceil(per_board[str(b["id"])] / 40)) for b in out.records["boards"])
    assert stats.count("GET /{v}/boards/{ident}/sprints") == pages, "sprints: one request per board page"
    assert not small_sim.faults.rendezvous_failed, "four changelog requests were in flight at once"
    assert stats.peak_concurrency == 4, "and never more than max_concurrent_requests"
    assert stats.total <= changelog_requests_needed(org) + math.ceil(len(issues) / 40) + 20

    for stream in REFERENCE_STREAMS:
        assert out.records[stream], stream
    assert all(s.get("type") for s in out.records["statuses"])
    assert len(out.records["sprints"]) == len({s["id"] for s in out.records["sprints"]})


def test_v2_and_queue_filter(small_sim: TrackerSimulator) -> None:
    org = small_sim.org
    with org.lock:
        queue = org.records[0].queue
        wanted = {r.id for r in org.records if r.queue == queue}
    out = run_inprocess(tap_config(small_sim, api_version="v2", queues=[queue]))
    assert set(out.ids("issues")) == wanted
    assert set(out.ids("issue_changelog")) == set(expected_changelog(org, wanted))
    assert all("/v2/" in r["self"] for r in out.records["issues"])


def test_query_mode(small_sim: TrackerSimulator) -> None:
    org = small_sim.org
    with org.lock:
        queue = org.records[0].queue
        wanted = {r.id for r in org.records if r.queue == queue}
    out = run_inprocess(tap_config(small_sim, query=f"Queue: {queue}"))
    assert set(out.ids("issues")) == wanted
    assert len(out.ids("issues")) == len(wanted)


def _metric_points(stderr: str) -> list[dict]:
    return [json.loads(line.split("METRIC: ", 1)[1]) for line in stderr.splitlines() if "METRIC: " in line]


def test_changelog_metrics_are_totals_not_one_line_per_issue(small_sim: TrackerSimulator) -> None:
    """The SDK logs three METRIC lines per child sync; the tap sums the changelog's into one per metric."""
    out = run_cli(tap_config(small_sim))
    assert out.returncode == 0, out.stderr[-2000:]
    changelog = [p for p in _metric_points(out.stderr) if p["tags"].get("stream") == "issue_changelog"]
    assert not [p for p in changelog if "context" in p["tags"]], "per-issue points must be summed"
    by_metric = Counter(p["metric"] for p in changelog)
    assert by_metric == {"record_count": 1, "http_request_count": 1, "sync_duration": 1}
    totals = {p["metric"]: p["value"] for p in changelog}
    assert totals["record_count"] == len(out.records["issue_changelog"])
    assert totals["http_request_count"] == small_sim.stats.count("GET /{v}/issues/{key}/changelog")
    assert totals["sync_duration"] > 0
    issues = [p for p in _metric_points(out.stderr) if p["tags"].get("stream") == "issues"]
    assert any(p["metric"] == "record_count" for p in issues), "other streams' points pass untouched"


def test_a_deselected_property_is_left_out_and_the_rest_is_intact(small_sim: TrackerSimulator) -> None:
    """The tap skips the SDK's per-record selection walk when the catalog deselects nothing; a catalog that
    deselects one property must still have it removed, from every record, and only it."""
    everything = run_inprocess(tap_config(small_sim))
    catalog = TapYandexTracker(config={"token": "x", "org_id": "x"}, validate_config=False).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if entry["tap_stream_id"] == "issues" and item["breadcrumb"] == ["properties", "description"]:
                item["metadata"]["selected"] = False
    narrowed = run_inprocess(tap_config(small_sim), catalog=catalog)

    assert any("description" in record for record in everything.records["issues"])
    assert not any("description" in record for record in narrowed.records["issues"])
    for stream, records in everything.records.items():
        expected = [
            {key: value for key, value in record.items() if not (stream == "issues" and key == "description")}
            for record in records
        ]
        assert narrowed.records[stream] == expected, stream


def _comparable(messages: list[dict]) -> list[dict]:
    """The messages without the moments of a run: when each record was extracted, when the run started
    (the bookmark's signpost)."""
    comparable = []
    for message in messages:
        message = {key: value for key, value in message.items() if key != "time_extracted"}
        if message["type"] == "STATE":
            message["value"]["bookmarks"].get("issues", {}).pop("replication_key_signpost", None)
        comparable.append(message)
    return comparable


@pytest.fixture
def sync_issue_calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How often `IssueChangelogStream.sync_issue` stood in for the SDK's child sync."""
    calls: Counter = Counter()
    sync_issue = IssueChangelogStream.sync_issue

    def counted(stream: IssueChangelogStream, context: dict) -> None:
        calls["sync_issue"] += 1
        sync_issue(stream, context)

    monkeypatch.setattr(IssueChangelogStream, "sync_issue", counted)
    return calls


#: Tap settings under which both child syncs must write the same messages.
CHILD_SYNC_CASES = {
    "defaults": {},
    "a stream map filters the changelog": {
        "stream_maps": {"issue_changelog": {"__filter__": "type != 'IssueWorkflow'"}}
    },
    "a stream map aliases the changelog": {"stream_maps": {"issue_changelog": {"__alias__": "history"}}},
}


@pytest.mark.parametrize("case", [*CHILD_SYNC_CASES, "a STATE every 3 records"])
def test_the_changelog_child_sync_writes_what_the_sdks_own_would(
    small_sim: TrackerSimulator, sync_issue_calls: Counter, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    """`IssueChangelogStream.sync_issue` stands in for the SDK's per-issue child sync: the same messages in
    the same order (SCHEMA once, entries, the STATEs the SDK writes within and after each issue's
    changelog), with stream maps applied the same way."""
    if case == "a STATE every 3 records":
        monkeypatch.setattr(IssueChangelogStream, "STATE_MSG_FREQUENCY", 3)
    config = tap_config(small_sim, state_interval_seconds=0, **CHILD_SYNC_CASES.get(case, {}))
    direct = run_inprocess(config)
    assert sync_issue_calls["sync_issue"] == len(expected_issues(small_sim.org))

    monkeypatch.setattr(IssueChangelogStream, "syncs_issue_directly", property(lambda _: False))
    sync_issue_calls.clear()
    through_sdk = run_inprocess(config)
    assert not sync_issue_calls, "the SDK's own child sync this time"

    assert _comparable(direct.messages) == _comparable(through_sdk.messages)
    states = sum(1 for m in through_sdk.messages if m["type"] == "STATE")
    assert states > len(expected_issues(small_sim.org))
    changelog = [m for m in direct.messages if m["type"] == "RECORD" and "issue_id" in m["record"]]
    assert changelog, "the changelog was written"
    if case != "defaults":
        assert {m["stream"] for m in changelog} == {"history" if "aliases" in case else "issue_changelog"}
        if "filters" in case:
            assert not [m for m in changelog if m["record"]["type"] == "IssueWorkflow"]


def test_the_changelog_child_sync_sums_the_sdks_metrics(
    small_sim: TrackerSimulator, sync_issue_calls: Counter
) -> None:
    out = run_cli(tap_config(small_sim))
    assert out.returncode == 0, out.stderr[-2000:]
    totals = {
        p["metric"]: p["value"]
        for p in _metric_points(out.stderr)
        if p["tags"].get("stream") == "issue_changelog"
    }
    assert totals["record_count"] == len(out.records["issue_changelog"]) > 0
    assert totals["sync_duration"] > 0


def test_a_changelog_made_incremental_by_the_catalog_takes_the_sdks_child_sync(
    small_sim: TrackerSimulator, sync_issue_calls: Counter
) -> None:
    catalog = TapYandexTracker(config={"token": "x", "org_id": "x"}, validate_config=False).catalog_dict
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == "issue_changelog")
    entry["replication_key"] = "updatedAt"
    entry["replication_method"] = "INCREMENTAL"
    out = run_inprocess(tap_config(small_sim), catalog=catalog)
    assert not sync_issue_calls, "a bookmark is the SDK's to keep"
    assert out.last_state["bookmarks"]["issue_changelog"]["replication_key_value"]
