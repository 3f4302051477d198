"""More than 10,000 issues: scroll search has no page-mode ceiling; every issue arrives exactly once."""

from __future__ import annotations

import math

from tests.support.configs import tap_config
from tests.support.tap_runs import catalog_selecting, run_inprocess
from tests.support.truth import expected_issues
from tracker_simulator import TrackerSimulator


def test_more_than_ten_thousand_issues(sim_big: TrackerSimulator) -> None:
    sim_big.reset_stats()
    out = run_inprocess(tap_config(sim_big, page_size=500), catalog=catalog_selecting({"issues"}))
    issues = expected_issues(sim_big.org)
    assert len(issues) > 10_000
    counts = out.id_counts("issues")
    assert set(counts) == set(issues)
    assert max(counts.values()) == 1
    updated = [r["updatedAt"] for r in out.records["issues"]]
    assert updated == sorted(updated)
    assert sim_big.stats.count("POST /{v}/issues/_search") == math.ceil(len(issues) / 500)
    assert sim_big.stats.count("GET /{v}/issues/{key}/changelog") == 0
