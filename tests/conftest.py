"""Shared pytest fixtures. Simulator fixtures: logic lives in ``tests/simulator/fixtures.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.simulator import Organisation, TrackerSimulator, generate_organisation
from tests.simulator import fixtures as sim_fixtures

# -- Tracker simulator ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sim_org() -> Organisation:
    """A read-only organisation (2,000 issues, seed 42) shared by the whole session."""
    return generate_organisation(sim_fixtures.SESSION_ISSUES, seed=42)


@pytest.fixture(scope="session")
def sim_server(sim_org: Organisation) -> Iterator[TrackerSimulator]:
    """The session's simulator over ``sim_org``; prefer ``sim``, which also resets faults and stats."""
    with sim_fixtures.running_simulator(sim_org) as simulator:
        yield simulator
        sim_fixtures.assert_no_internal_errors(simulator)


@pytest.fixture
def sim(sim_server: TrackerSimulator) -> Iterator[TrackerSimulator]:
    """The shared simulator, healthy and with zeroed stats. Do not ``advance()`` it: use ``fresh_sim``."""
    sim_fixtures.reset(sim_server)
    advances = sim_server.org.advances
    yield sim_server
    sim_fixtures.reset(sim_server)
    assert sim_server.org.advances == advances, "the shared simulator was advanced; use fresh_sim"
    sim_fixtures.assert_no_internal_errors(sim_server)


@pytest.fixture
def fresh_sim() -> Iterator[TrackerSimulator]:
    """A private simulator over a new 300-issue organisation (free to advance and break)."""
    with sim_fixtures.running_simulator(issues=sim_fixtures.FRESH_ISSUES) as simulator:
        yield simulator
        sim_fixtures.assert_no_internal_errors(simulator)


@pytest.fixture
def sim_factory() -> Iterator[sim_fixtures.SimulatorFactory]:
    """``sim_factory(org=None, issues=300, seed=42, **TrackerSimulator kwargs)`` -> a started simulator."""
    factory = sim_fixtures.SimulatorFactory()
    yield factory
    factory.close()


@pytest.fixture
def sim_http(sim: TrackerSimulator) -> Iterator[requests.Session]:
    """A ``requests.Session`` with working auth headers (English) for ``sim``."""
    with requests.Session() as session:
        session.headers.update(sim.headers())
        yield session


from tests.clickhouse_fixtures import (  # noqa: F401, E402 - ClickHouse fixtures for the whole suite
    chdb_connection,
    chdb_settings,
    clickhouse_any,
    clickhouse_native,
    clickhouse_server,
)


@pytest.fixture(scope="session")
def sim_big() -> Iterator[TrackerSimulator]:
    """A read-only simulator with 10,200 issues: more than the 10,000-item paging limit."""
    with sim_fixtures.running_simulator(issues=sim_fixtures.BIG_ISSUES) as simulator:
        yield simulator
        sim_fixtures.assert_no_internal_errors(simulator)
