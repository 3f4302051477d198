"""Fixtures of the reliability suite, and the secret scan that runs after every one of its tests.

`secret_scan` is autouse: whatever a test captured through `tests.reliability.pipeline` (tap and target
stderr, the target's STATE output, error messages) plus pytest's own captured logs and output is searched
for every configured secret - the simulator's token, the ClickHouse password, and any extra value a test
registers with `secret_scan.add_secret(...)` (e.g. a deliberately wrong token). A hit fails the test and
names where the secret leaked. Reuse it elsewhere with `pytest_plugins` or by importing `SecretScan`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.clickhouse_fixtures import PASSWORD, PASSWORD_USER, ClickHouseServer, NativeDatabase
from tests.reliability import pipeline
from tests.simulator import TrackerSimulator

SIM_TOKEN = "sim-token"
#: Small, fast retries: storms finish in seconds, the retry logic is the same as in production.
FAST_RETRIES = {"backoff_base_seconds": 0.01, "backoff_max_seconds": 0.2, "max_retries": 12}


@dataclass
class SecretScan:
    """Collects secrets and texts; `check()` lists every (where, which secret) leak."""

    secrets: set[str] = field(default_factory=lambda: {SIM_TOKEN, PASSWORD})
    texts: list[tuple[str, str]] = field(default_factory=list)

    def add_secret(self, value: str) -> None:
        self.secrets.add(value)

    def add_text(self, label: str, text: str) -> None:
        self.texts.append((label, text))

    def leaks(self) -> list[str]:
        found = []
        for label, text in [*self.texts, *pipeline.CAPTURED]:
            for secret in sorted(self.secrets):
                if secret and secret in text:
                    line = next(li for li in text.splitlines() if secret in li)
                    found.append(f"{secret!r} leaked in {label}: {line[:300]}")
        return found


@pytest.fixture(autouse=True)
def secret_scan(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> Iterator[SecretScan]:
    """Fail the test if a configured secret appears in anything it produced (see the module docstring)."""
    pipeline.CAPTURED.clear()
    scan = SecretScan()
    yield scan
    out, err = capfd.readouterr()
    scan.add_text("captured stdout", out)
    scan.add_text("captured stderr", err)
    scan.add_text("captured log", caplog.text)
    leaks = scan.leaks()
    pipeline.CAPTURED.clear()
    assert not leaks, "secret(s) leaked:\n" + "\n".join(leaks)


def tap_config(sim: TrackerSimulator, **overrides: Any) -> dict[str, Any]:
    """Tap settings for a simulator: its credentials, fast retries, small pages (many requests)."""
    return {
        "api_url": sim.url,
        "token": SIM_TOKEN,
        "org_id": "sim-org",
        "page_size": 50,
        "max_concurrent_requests": 4,
        "request_timeout": 10,
        **FAST_RETRIES,
        **overrides,
    }


def target_config(db: NativeDatabase, **overrides: Any) -> dict[str, Any]:
    """Target settings for a fresh database, as the password user (so the scan has a password to find)."""
    return {
        **db.settings,
        "user": PASSWORD_USER,
        "password": PASSWORD,
        "holidays_country": "RU",
        **overrides,
    }


@pytest.fixture
def second_db(clickhouse_server: ClickHouseServer) -> Iterator[NativeDatabase]:
    """Another fresh database on the session server: where the clean reference run lands."""
    import uuid

    from target_clickhouse_agile.clickhouse import NO_RETRY, connect, quote_identifier

    clickhouse_server.start()
    database = f"r_{uuid.uuid4().hex[:12]}"
    native = NativeDatabase(clickhouse_server, database, clickhouse_server.settings(database=database))
    try:
        yield native
    finally:
        native.close()
        clickhouse_server.start()
        with connect(clickhouse_server.settings(database="default"), retry=NO_RETRY) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {quote_identifier(database)}")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
