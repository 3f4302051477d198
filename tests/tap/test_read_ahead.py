"""Reference collections are requested at once when the sync starts (read_ahead.py), and a read-ahead
never changes what a sync emits or how it fails."""

from __future__ import annotations

from typing import Any

from tests.support.configs import tap_config
from tests.support.tap_runs import SyncOutput, run_cli
from tracker_simulator import TrackerSimulator

REFERENCE_STREAMS = ("statuses", "issue_types", "priorities", "resolutions", "queues", "users", "boards")


def _sync(sim: TrackerSimulator, **overrides: Any) -> SyncOutput:
    config = tap_config(sim, **overrides)
    config.pop("max_concurrent_requests")  # the defaults of a real run (adaptive, from START in flight)
    out = run_cli(config, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def _reference_ids(out: SyncOutput) -> dict[str, list[Any]]:
    return {stream: sorted(map(str, out.ids(stream))) for stream in (*REFERENCE_STREAMS, "sprints")}


def test_the_collections_are_in_flight_together(sim_factory: Any) -> None:
    """Statuses, priorities and resolutions wait for each other at the API: they meet only if the tap
    requested them at the same time (one after another, the first would time out alone); so do the sprints
    of two boards."""
    sim = sim_factory(issues=20, seed=11)
    sim.faults.rendezvous("GET /{v}/[spr]*", parties=3, timeout=5)
    sim.faults.rendezvous("GET /{v}/boards/{id}/sprints", parties=2, timeout=5)
    out = _sync(sim)
    assert not sim.faults.rendezvous_failed
    for stream in REFERENCE_STREAMS:
        assert out.records[stream], stream
    assert out.records["sprints"]


def test_a_read_ahead_emits_what_the_sequential_sync_emits(sim_factory: Any) -> None:
    sim = sim_factory(issues=20, seed=12)
    ahead = _sync(sim)
    requests_ahead = sim.stats.by_route
    sim.reset_stats()
    one_at_a_time = _sync(sim, adaptive_concurrency=False, max_concurrent_requests=1)
    assert _reference_ids(ahead) == _reference_ids(one_at_a_time)
    assert requests_ahead == sim.stats.by_route, "no collection is requested twice"
    # The target classifies statuses before the first issue: reference streams still come first.
    streams = [m["stream"] for m in ahead.messages if m["type"] == "RECORD"]
    assert streams.index("issues") > max(streams.index(s) for s in REFERENCE_STREAMS)


def test_a_read_that_failed_ahead_is_read_again_by_its_stream(sim_factory: Any) -> None:
    """The read ahead of statuses gives up (two 500s, max_retries 1); the stream reads it again where it
    always did, and the sync completes exactly."""
    sim = sim_factory(issues=20, seed=13)
    sim.faults.script("GET /{v}/statuses", 500, times=2)
    out = _sync(sim, max_retries=1)
    assert sim.stats.count("GET /{v}/statuses") == 3
    assert out.records["statuses"]
    assert _reference_ids(out) == _reference_ids(_sync(sim))
