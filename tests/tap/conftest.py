"""Fixtures of the tap tests."""

from __future__ import annotations

from typing import Any

import pytest

from tracker_simulator import TrackerSimulator


@pytest.fixture
def small_sim(sim_factory: Any) -> TrackerSimulator:
    """A private 150-issue simulator (fast full syncs; free to advance and break)."""
    return sim_factory(issues=150, seed=7)
