"""Wrong settings and wrong credentials: non-zero exit, one line saying what to fix (no traceback unless
the log level is DEBUG), no token in sight."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.configs import tap_config
from tests.support.tap_runs import run_cli
from tracker_simulator import TrackerSimulator

SECRETS = ("sim-token", "wrong-token-123", "iam-token-456")


def _assert_fails(out: Any, *fragments: str) -> None:
    assert out.returncode != 0
    for fragment in fragments:
        assert fragment in out.stderr, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    errors = [line for line in out.stderr.splitlines() if "| ERROR" in line]
    assert any(all(f in line for f in fragments) for line in errors), "the cause is not on one line"
    for secret in SECRETS:
        assert secret not in out.stdout, secret
        assert secret not in out.stderr, secret


CONFIG_ERRORS = {
    "no-token": ({"token": None}, "exactly one of `token` (OAuth) or `iam_token`"),
    "two-tokens": ({"iam_token": "iam-token-456"}, "both are set"),
    "no-org": ({"org_id": None}, "exactly one of `org_id`"),
    "page-size": ({"page_size": 5000}, "page_size"),
    "api-version": ({"api_version": "v9"}, "api_version"),
    "token-not-a-string": ({"token": 123456789}, "config['token']"),
}


@pytest.mark.parametrize(("overrides", "message"), CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
def test_invalid_settings(sim: TrackerSimulator, overrides: dict[str, Any], message: str) -> None:
    config = {k: v for k, v in {**tap_config(sim), **overrides}.items() if v is not None}
    out = run_cli(config)
    _assert_fails(out, message)
    assert "123456789" not in out.stderr
    assert sim.stats.total == 0, "nothing is requested with invalid settings"


def test_wrong_token(sim: TrackerSimulator) -> None:
    _assert_fails(run_cli(tap_config(sim, token="wrong-token-123")), "authentication failed", "`token`")


def test_wrong_org(sim: TrackerSimulator) -> None:
    _assert_fails(run_cli(tap_config(sim, org_id="other-org")), "HTTP 403", "X-Org-ID", "cloud_org_id")


def test_unknown_queue(sim: TrackerSimulator) -> None:
    out = run_cli(tap_config(sim, queues=["NOPE"]))
    _assert_fails(out, "queue NOPE does not exist or is not visible")


def test_unreachable_server() -> None:
    config = {"api_url": "http://127.0.0.1:9", "token": "sim-token", "org_id": "o", "max_retries": 1}
    config.update({"backoff_base_seconds": 0.01, "request_timeout": 2})
    _assert_fails(
        run_cli(config, timeout=60), "cannot reach the Tracker API at http://127.0.0.1:9", "`api_url`"
    )


def test_a_slow_api_names_the_timeout_setting(sim: TrackerSimulator) -> None:
    sim.latency_ms = 1500
    config = tap_config(sim, request_timeout=1, max_retries=1, backoff_base_seconds=0.01)
    _assert_fails(
        run_cli(config, timeout=60), "did not answer within request_timeout=1 s", "`request_timeout`"
    )


def test_the_traceback_is_kept_at_debug_level(sim: TrackerSimulator) -> None:
    out = run_cli(tap_config(sim, token="wrong-token-123"), env={"LOGLEVEL": "DEBUG"})
    assert out.returncode == 1
    assert "Traceback" in out.stderr
    assert "wrong-token-123" not in out.stderr
