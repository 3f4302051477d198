"""examples/serverless/main.py: `handler(event, context)` configured from environment variables, called
twice like a timer trigger would; the second call resumes from the STATE in `target_state`."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse import ClickHouseError
from target_clickhouse_agile.clickhouse.state_store import load_state
from tests.support.clickhouse import PASSWORD, PASSWORD_USER, ClickHouseServer, NativeDatabase
from tests.support.modules import load_module_from_file
from tests.support.simulators import CHANGELOG_ROUTE
from tests.support.tables import count
from tests.support.truth import bookmark_value
from tracker_simulator import TrackerSimulator

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serverless" / "main.py"


@pytest.fixture(scope="module")
def function() -> ModuleType:
    return load_module_from_file(EXAMPLE, "serverless_main")


class FunctionContext:
    """What Yandex Cloud Functions passes: the remaining time, and the service account's IAM token when
    the function runs as one."""

    def __init__(self, remaining_ms: int, iam_token: str | None = None) -> None:
        self.remaining_ms = remaining_ms
        if iam_token is not None:
            self.token = {"access_token": iam_token, "expires_in": 43200, "token_type": "Bearer"}

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _env(monkeypatch: pytest.MonkeyPatch, sim: TrackerSimulator, db: NativeDatabase) -> None:
    for name in ("AGILE_MAX_SECONDS", "AGILE_RESERVE_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    settings = db.settings
    values = {
        "TAP_YANDEX_TRACKER_API_URL": sim.url,
        "TAP_YANDEX_TRACKER_TOKEN": "sim-token",
        "TAP_YANDEX_TRACKER_ORG_ID": "sim-org",
        "TAP_YANDEX_TRACKER_MAX_CONCURRENT_REQUESTS": "4",
        "TARGET_CLICKHOUSE_AGILE_HOST": settings["host"],
        "TARGET_CLICKHOUSE_AGILE_PORT": str(settings["port"]),
        "TARGET_CLICKHOUSE_AGILE_USER": settings["user"],
        "TARGET_CLICKHOUSE_AGILE_PASSWORD": settings["password"],
        "TARGET_CLICKHOUSE_AGILE_DATABASE": settings["database"],
        "TARGET_CLICKHOUSE_AGILE_STATE_ID": "function",
        "TARGET_CLICKHOUSE_AGILE_WORK_DAYS": "1,2,3,4,5",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def _call(function: ModuleType, remaining_ms: int = 600_000, iam_token: str | None = None) -> dict[str, Any]:
    response = function.handler({"trigger": "timer"}, FunctionContext(remaining_ms, iam_token))
    assert response["statusCode"] == 200
    return json.loads(response["body"])


def test_handler_twice_second_call_is_incremental(
    function: ModuleType,
    fresh_sim: TrackerSimulator,
    clickhouse_native: NativeDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _env(monkeypatch, fresh_sim, clickhouse_native)
    settings = clickhouse_native.settings
    issues = len(fresh_sim.ground_truth())

    first = _call(function)
    assert first["completed"]
    assert not first["incremental"]
    assert count(settings, "issues") == issues
    assert load_state(clickhouse_native.conn, "function") == first["state"]

    changed = fresh_sim.advance(minutes=45, mutate=6, create=4)
    fresh_sim.reset_stats()
    second = _call(function)
    assert second["completed"]
    assert second["incremental"]
    assert len(set(changed)) <= fresh_sim.stats.count(CHANGELOG_ROUTE) < issues // 2
    assert bookmark_value(second["state"]) > bookmark_value(first["state"])
    assert load_state(clickhouse_native.conn, "function") == second["state"]
    assert count(settings, "issues") == issues + 4
    assert count(settings, "issue_flow") == issues + 4


def test_budget_from_the_environment(
    function: ModuleType,
    fresh_sim: TrackerSimulator,
    clickhouse_native: NativeDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AGILE_MAX_SECONDS wins over the function's remaining time; a spent budget is not an error."""
    _env(monkeypatch, fresh_sim, clickhouse_native)
    monkeypatch.setenv("AGILE_MAX_SECONDS", "0.000000001")
    cut = _call(function)
    assert not cut["completed"]
    monkeypatch.delenv("AGILE_MAX_SECONDS")
    done = _call(function)
    assert done["completed"]
    assert not done["incremental"]
    assert count(clickhouse_native.settings, "issues") == len(fresh_sim.ground_truth())


def test_config_from_env_types_values_by_schema(function: ModuleType) -> None:
    schema = {
        "properties": {
            "queues": {"type": ["array", "null"], "items": {"type": ["string"]}},
            "work_days": {"type": ["array", "null"], "items": {"type": ["integer"]}},
            "port": {"type": ["integer", "null"]},
            "secure": {"type": ["boolean", "null"]},
            "timeout": {"type": ["number", "null"]},
            "status_categories": {"type": ["object", "null"]},
            "host": {"type": ["string", "null"]},
        }
    }
    env = {
        "P_QUEUES": "DEV, OPS",
        "P_WORK_DAYS": "1,2,3",
        "P_PORT": "9440",
        "P_SECURE": "true",
        "P_TIMEOUT": "2.5",
        "P_STATUS_CATEGORIES": '{"review": "wait"}',
        "P_HOST": "",
    }
    assert function.config_from_env(schema, "P_", env) == {
        "queues": ["DEV", "OPS"],
        "work_days": [1, 2, 3],
        "port": 9440,
        "secure": True,
        "timeout": 2.5,
        "status_categories": {"review": "wait"},
    }


def test_through_the_serverless_proxy_with_the_context_iam_token(
    function: ModuleType,
    fresh_sim: TrackerSimulator,
    clickhouse_native: NativeDatabase,
    clickhouse_server: ClickHouseServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The proxy's setup against the HTTPS server (CA-verified): protocol http, the proxy id where the
    interface expects a database (here the database's own name, as the proxy would map it), no password:
    the handler authenticates with the context's IAM token, read again at every invocation."""
    _env(monkeypatch, fresh_sim, clickhouse_native)
    monkeypatch.delenv("TARGET_CLICKHOUSE_AGILE_PASSWORD")
    clickhouse_native.conn.execute("SELECT 1")  # the proxy's database exists; through it none is created
    proxy = {
        "PROTOCOL": "http",
        "SECURE": "true",
        "PORT": str(clickhouse_server.https_port),
        "CA_CERTS": str(clickhouse_server.ca_cert_path),
        "USER": PASSWORD_USER,
        "SERVERLESS_PROXY_ID": clickhouse_native.database,
    }
    for name, value in proxy.items():
        monkeypatch.setenv(f"TARGET_CLICKHOUSE_AGILE_{name}", value)
    first = _call(function, iam_token=PASSWORD)
    assert first["completed"]
    assert count(clickhouse_native.settings, "issues") == len(fresh_sim.ground_truth())
    # An expired token in the next invocation's context is used as given, and refused: nothing is cached.
    with pytest.raises(ClickHouseError, match="wrong user or password"):
        _call(function, iam_token="expired-iam-token")
    fresh_sim.advance(minutes=45, mutate=3, create=2)
    again = _call(function, iam_token=PASSWORD)
    assert again["completed"]
    assert again["incremental"]
    assert load_state(clickhouse_native.conn, "function") == again["state"]
