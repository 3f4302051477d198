"""Fixtures of the reliability suite, and the secret scan that runs after every one of its tests.

`secret_scan` is autouse: whatever a test captured through `tests.support.pipeline` (tap and target
stderr, the target's STATE output, error messages) plus pytest's own captured logs and output is searched
for every configured secret - the simulator's token, the ClickHouse password, and any extra value a test
registers with `secret_scan.add_secret(...)` (e.g. a deliberately wrong token). A hit fails the test and
names where the secret leaked. Reuse it elsewhere with `pytest_plugins` or by importing `SecretScan`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.clickhouse import ClickHouseServer, NativeDatabase, fresh_database
from tests.support.pipeline import CAPTURED
from tests.support.secrets import SecretScan


@pytest.fixture(autouse=True)
def secret_scan(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[SecretScan]:
    """Fail the test if a configured secret appears in anything it produced (see the module docstring)."""
    CAPTURED.clear()
    scan = SecretScan()
    yield scan
    out, err = capfd.readouterr()
    scan.add_text("captured stdout", out)
    scan.add_text("captured stderr", err)
    scan.add_text("captured log", caplog.text)
    leaks = scan.leaks()
    CAPTURED.clear()
    assert not leaks, "secret(s) leaked:\n" + "\n".join(leaks)


@pytest.fixture
def second_db(clickhouse_server: ClickHouseServer) -> Iterator[NativeDatabase]:
    """Another fresh database on the session server: where the clean reference run lands."""
    with fresh_database(clickhouse_server, "r") as native:
        yield native


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
