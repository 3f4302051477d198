"""Shared pytest fixtures: ClickHouse servers and simulators (their logic lives in ``tests/support/``)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests

from tap_yandex_tracker import termination
from tests.support import simulators as sim_fixtures
from tests.support import tmpfs
from tests.support.pipeline import CAPTURED
from tests.support.tmpfs import SESSION_DIRECTORY, memory_backed_root
from tracker_simulator import Organisation, TrackerSimulator, generate_organisation

_SESSION_PREFIX = "pytest-"
_PASSED = pytest.StashKey[bool]()


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """The session's temporary directories (the ClickHouse servers' data among them) go to a tmpfs when
    the machine has one: on this machine's disk, the files a server creates cost what other runs deleted
    minutes before (tests/support/tmpfs.py). `--basetemp` picks a directory instead. The directory is
    removed when the session passes, kept for a look when it fails, and removed by the next session once
    this one's process is gone."""
    if config.option.basetemp is not None:
        return
    root = memory_backed_root()
    if root is not None:
        tmpfs.sweep(root, _SESSION_PREFIX)
        home = tmpfs.owned_directory(root, _SESSION_PREFIX)
        config.option.basetemp = str(home / "tmp")  # pytest empties it first: the owner file stays beside
        config.stash[SESSION_DIRECTORY] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    path = config.stash.get(SESSION_DIRECTORY, None)
    if path is not None and config.stash.get(_PASSED, False):
        shutil.rmtree(path, ignore_errors=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config.stash[_PASSED] = exitstatus == 0


@pytest.fixture(autouse=True)
def _no_os_exit_in_the_test_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tap ends a SIGTERM with `os._exit(0)` (termination.py). Inside pytest that would end the whole
    session silently, with exit code 0, so in this process it raises SystemExit(0) instead, as the SDK's
    handler does, and its watchdog does nothing; tests/tap/test_termination.py checks the real exits in
    processes of its own."""

    def leave() -> None:
        raise SystemExit(0)

    monkeypatch.setattr(termination, "leave", leave)
    monkeypatch.setattr(termination, "expire", lambda: None)  # a watchdog started here does nothing


@pytest.fixture(autouse=True)
def _forget_captured_output() -> Iterator[None]:
    """What the plugins printed is kept for one test's secret scan only."""
    yield
    CAPTURED.clear()


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


from tests.support.clickhouse import (  # noqa: F401, E402 - ClickHouse fixtures for the whole suite
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


# -- what the headline count is made of -------------------------------------------------------------------

#: Tests the singer-sdk generates (its standard tap and target suites), not written for this product.
SDK_GENERATED = ("tests/tap/test_standard.py", "tests/target/test_standard.py")


def test_kind(nodeid: str) -> str:
    """`sdk` (generated by singer-sdk), `simulator` (the simulator's own tests) or `product`."""
    path = nodeid.split("::", 1)[0]
    if path in SDK_GENERATED:
        return "sdk"
    if path.startswith("tests/simulator/"):
        return "simulator"
    return "product"


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """One line that splits the passed tests by kind (the README quotes it), and where a failed session's
    temporary files are, when they are in memory (`pytest_configure`)."""
    kept = config.stash.get(SESSION_DIRECTORY, None)
    if kept is not None and exitstatus != 0:
        terminalreporter.write_line(f"temporary files kept in {kept} (memory; the next session removes them)")
    passed = terminalreporter.stats.get("passed", [])
    kinds = {"product": 0, "sdk": 0, "simulator": 0}
    for report in passed:
        if report.when == "call":
            kinds[test_kind(report.nodeid)] += 1
    terminalreporter.write_line(
        f"passed: {kinds['product']} product tests, {kinds['sdk']} SDK-generated standard tests, "
        f"{kinds['simulator']} simulator self-tests"
    )
