"""Fixture logic for pytest (``tests/conftest.py`` only wires these up).

Generating an organisation costs ~0.15 s per 1,000 issues, so the shared, read-only organisation is
built once per session; tests that change data (``advance``) get a fresh, small one.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tracker_simulator.faults import FaultPlan
from tracker_simulator.generator import generate_organisation
from tracker_simulator.organisation import Organisation
from tracker_simulator.server import TrackerSimulator

#: The route template of the changelog endpoint (what request statistics count it under).
CHANGELOG_ROUTE = "GET /{v}/issues/{key}/changelog"

SESSION_ISSUES = 2000
FRESH_ISSUES = 300
BIG_ISSUES = 10_200


@contextmanager
def running_simulator(
    org: Organisation | None = None, *, issues: int = FRESH_ISSUES, seed: int = 42, **kwargs: Any
) -> Iterator[TrackerSimulator]:
    """A started simulator over ``org`` (or a newly generated one), stopped on exit."""
    simulator = TrackerSimulator(
        org if org is not None else generate_organisation(issues, seed=seed), **kwargs
    )
    with simulator:
        yield simulator


#: Constructor arguments that make a simulator what it is; every other one is a setting a test may change on
#: the shared simulator, which `reset` restores to the constructor's default.
FIXED = frozenset(
    {"org", "host", "port", "token", "org_id", "cloud_org_id", "iam_token", "faults", "drift", "tls"}
)


#: Settings that are not constructor arguments, with the value `reset` gives them.
OTHER_SETTINGS = {
    "scroll_lost_status": 404,
    "ignore_sort": False,
    "lose_scrolls": False,
    "request_budget": None,
    "query_zone_minutes": 0,
}


def resettable() -> dict[str, Any]:
    """The constructor settings `reset` restores, with their defaults."""
    parameters = inspect.signature(TrackerSimulator).parameters
    return {name: parameter.default for name, parameter in parameters.items() if name not in FIXED}


def reset(simulator: TrackerSimulator) -> None:
    """Healthy server, zeroed statistics: what every test using the shared simulator starts from (a
    capacity left by one test made later ones meet 429s). The fault plan is replaced, not only cleared:
    its Retry-After and random seed would stay."""
    simulator.faults.clear()  # releases any request waiting at a rendezvous of the old plan
    simulator.faults = FaultPlan()
    for name, value in {**resettable(), **OTHER_SETTINGS}.items():
        setattr(simulator, name, value)
    simulator.reset_stats()


def assert_no_internal_errors(simulator: TrackerSimulator) -> None:
    """A 500 from a simulator bug must fail the test that triggered it, not hide as a "server fault"."""
    errors = simulator.app.internal_errors
    assert not errors, "simulator bug(s):\n" + "\n".join(errors)


class SimulatorFactory:
    """Starts simulators with custom options (credentials, latency...) and stops them all at teardown."""

    def __init__(self) -> None:
        self._started: list[TrackerSimulator] = []

    def __call__(
        self, org: Organisation | None = None, *, issues: int = FRESH_ISSUES, seed: int = 42, **kwargs: Any
    ) -> TrackerSimulator:
        simulator = TrackerSimulator(
            org if org is not None else generate_organisation(issues, seed=seed), **kwargs
        )
        self._started.append(simulator.start())
        return simulator

    def close(self) -> None:
        started, self._started = self._started, []
        for simulator in started:
            simulator.stop()
        for simulator in started:
            assert_no_internal_errors(simulator)
