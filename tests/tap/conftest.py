"""Fixtures and expectations for the tap tests: configs pointing at a simulator, and what the
simulator's organisation says a complete sync must contain."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.simulator import Organisation, TrackerSimulator
from tests.simulator.ids import changelog_salt, object_id
from tests.simulator.timefmt import format_ts

#: Fast retries for fault tests (a real run uses 1 s base, 60 s cap).
FAST_RETRIES = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.1}


def tap_config(sim: TrackerSimulator, **overrides: Any) -> dict[str, Any]:
    config = {"api_url": sim.url, "token": "sim-token", "org_id": "sim-org", **FAST_RETRIES}
    config.update(overrides)
    return config


def expected_issues(org: Organisation) -> dict[str, str]:
    """issue id -> updatedAt in the tap's canonical format."""
    with org.lock:
        return {r.id: format_ts(r.updated).replace("+0000", "Z") for r in org.records}


def expected_changelog(org: Organisation, issue_ids: set[str] | None = None) -> dict[str, str]:
    """changelog entry id -> issue id, for every entry of every issue (or of ``issue_ids``)."""
    out: dict[str, str] = {}
    with org.lock:
        for record in org.records:
            if issue_ids is not None and record.id not in issue_ids:
                continue
            salt = changelog_salt(org.seed, record.idx)
            for event in org.history(record.idx).events:
                out[object_id(event.at, salt, event.seq)] = record.id
    return out


def changelog_requests_needed(org: Organisation, per_page: int = 100) -> int:
    """One request per issue, plus one per extra page of a long changelog."""
    with org.lock:
        return sum(max(1, math.ceil(r.version / per_page)) for r in org.records)


@pytest.fixture
def small_sim(sim_factory: Any) -> TrackerSimulator:
    """A private 150-issue simulator (fast full syncs; free to advance and break)."""
    return sim_factory(issues=150, seed=7)
