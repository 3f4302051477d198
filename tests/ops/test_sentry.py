"""Sentry error reporting (`sentry_dsn`): the real console scripts against a loopback endpoint as the DSN.

What must hold: a fatal error is sent once, tagged (plugin, state_id, stream), before the one-line exit;
errors the SDK's command line catches itself and unhandled ones are sent too; no secret (token, IAM token,
password, the DSN or its keys) is in anything that reaches the endpoint, nor the DSN in any log line;
without `sentry_dsn` nothing is sent, nothing is imported and the output is the same.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.clickhouse import PASSWORD, NativeDatabase
from tests.support.configs import password_target_config, tap_config, write_json
from tests.support.pipeline import BIN, ProcessResult, run_tap, run_target
from tests.support.secrets import SecretScan
from tests.support.sentry import SentryEndpoint
from tests.support.singer import STATUSES, record, schema_message, to_lines
from tracker_simulator import TrackerSimulator

TAP, TARGET = "tap-yandex-tracker", "target-clickhouse-agile"
WRONG_TOKEN = "wrong-token-4711"
WRONG_PASSWORD = "wrong-db-password-4711"
STATUS_LINES = to_lines([schema_message("statuses"), *(record("statuses", s) for s in STATUSES)])


@pytest.fixture
def sentry() -> Iterator[SentryEndpoint]:
    """The endpoint; afterwards, neither the DSN nor its key is in anything the plugins printed."""
    with SentryEndpoint() as endpoint:
        yield endpoint
    scan = SecretScan(secrets={endpoint.dsn, endpoint.public_key})
    assert scan.leaks() == []


def secret_forms(*secrets: str) -> set[str]:
    """Each secret as is, JSON-escaped and URL-encoded (how it would sit in an event's JSON)."""
    return {form for s in secrets for form in (s, json.dumps(s)[1:-1], quote(s, safe=""))}


def assert_nowhere(sentry: SentryEndpoint, *secrets: str) -> None:
    bodies = sentry.bodies()
    assert bodies, "nothing reached the endpoint"
    for form in secret_forms(*secrets):
        assert not any(form.encode() in body for body in bodies), f"{form!r} was sent to Sentry"


def only_event(sentry: SentryEndpoint) -> dict[str, Any]:
    events = sentry.events(wait=True)
    assert len(events) == 1, [e.get("exception") for e in events]
    return events[0]


def message_of(line: str) -> str:
    """The message of a log line `<time> | <level> | <logger> | <message>`."""
    return line.split(" | ", 3)[3].strip()


def last_error(result: ProcessResult) -> str:
    assert result.returncode == 1, result.describe()
    return message_of(result.error_lines[-1])


def test_a_fatal_target_error_is_sent_once_tagged_and_scrubbed(
    clickhouse_native: NativeDatabase, sentry: SentryEndpoint, tmp_path: Path
) -> None:
    config = password_target_config(
        clickhouse_native, password=WRONG_PASSWORD, sentry_dsn=sentry.dsn, state_id="nightly"
    )
    result = run_target(config, STATUS_LINES, workdir=tmp_path)
    message = last_error(result)
    assert message.startswith("ClickHouse: ")
    assert "Traceback" not in result.stderr
    event = only_event(sentry)
    assert event["tags"] == {"plugin": TARGET, "state_id": "nightly"}
    assert event["release"].startswith(f"{TARGET}@")
    error = event["exception"]["values"][-1]
    assert error["type"] == "ClickHouseError"
    assert error["value"].splitlines()[0] in message
    assert sentry.envelopes[0].path == "/api/42/envelope/"
    assert_nowhere(sentry, WRONG_PASSWORD, PASSWORD, sentry.public_key, sentry.dsn)


def test_the_sink_whose_batch_failed_is_the_stream_tag(
    clickhouse_native: NativeDatabase, sentry: SentryEndpoint, tmp_path: Path
) -> None:
    """The INSERT fails in a drain worker thread; the error reported from the main thread names it."""
    config = password_target_config(clickhouse_native)
    assert run_target(config, STATUS_LINES, workdir=tmp_path).returncode == 0
    # The same columns, but a view: the next INSERT into it fails on the server.
    clickhouse_native.conn.execute("RENAME TABLE statuses TO statuses_data")
    clickhouse_native.conn.execute("CREATE VIEW statuses AS SELECT * FROM statuses_data")
    result = run_target(
        {**config, "sentry_dsn": sentry.dsn},
        STATUS_LINES,
        workdir=tmp_path,
        env={"MELTANO_STATE_ID": "dev:a-to-b"},
    )
    assert "statuses" in last_error(result)
    event = only_event(sentry)
    assert event["tags"] == {"plugin": TARGET, "state_id": "dev:a-to-b", "stream": "statuses"}
    assert_nowhere(sentry, PASSWORD, sentry.public_key)


def test_a_fatal_tap_error_is_sent_with_its_stream(
    sim: TrackerSimulator, sentry: SentryEndpoint, tmp_path: Path
) -> None:
    """A wrong token (with the newline that once made `requests` print it): 401 on the first stream."""
    config = tap_config(sim, token=f"{WRONG_TOKEN}\n", sentry_dsn=sentry.dsn)
    result = run_tap(config, workdir=tmp_path, env={"MELTANO_STATE_ID": "dev:tracker-to-clickhouse"})
    assert "authentication failed (HTTP 401" in last_error(result)
    event = only_event(sentry)
    assert event["tags"] == {"plugin": TAP, "state_id": "dev:tracker-to-clickhouse", "stream": "statuses"}
    assert [e["type"] for e in event["exception"]["values"]] == ["FatalAPIError", "ExplainedError"]
    assert "authentication failed (HTTP 401" in event["exception"]["values"][-1]["value"]
    assert_nowhere(sentry, WRONG_TOKEN, sentry.public_key, sentry.dsn)


def test_an_error_the_sdk_command_line_catches_is_sent(sentry: SentryEndpoint, tmp_path: Path) -> None:
    """Settings errors never leave `invoke`: the SDK's click command turns them into log lines and exit 1."""
    config = {"timezone": "Mars/Olympus", "password": WRONG_PASSWORD, "sentry_dsn": sentry.dsn}
    result = run_target(config, "", workdir=tmp_path)
    assert result.returncode == 1
    assert any("timezone" in line for line in result.error_lines)
    event = only_event(sentry)
    assert event["exception"]["values"][-1]["type"] == "ConfigValidationError"
    assert event["tags"]["plugin"] == TARGET
    assert_nowhere(sentry, WRONG_PASSWORD, sentry.public_key)


def test_an_unhandled_error_is_sent_once(
    sim: TrackerSimulator, sentry: SentryEndpoint, tmp_path: Path
) -> None:
    """An error nothing explains keeps its traceback, and is sent once (not again by the excepthook)."""
    bookmark = {"replication_key": "updatedAt", "replication_key_value": "not a timestamp"}
    state = {"bookmarks": {"issues": bookmark}}
    result = run_tap(tap_config(sim, sentry_dsn=sentry.dsn), workdir=tmp_path, state=state)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    event = only_event(sentry)
    assert event["exception"]["values"][-1]["type"] == "ValueError"
    assert event["tags"] == {"plugin": TAP, "stream": "issues"}


def test_without_a_dsn_nothing_is_sent_nor_imported_and_the_errors_are_the_same(
    sim: TrackerSimulator, sentry: SentryEndpoint, tmp_path: Path
) -> None:
    """`SENTRY_DSN`, which sentry-sdk would read if it were started, is set and still unused."""
    env = {"SENTRY_DSN": sentry.dsn}
    tap = tap_config(sim, token=WRONG_TOKEN)
    tap_errors = [
        last_error(run_tap(config, workdir=tmp_path / str(n), env=env))
        for n, config in enumerate([tap, {**tap, "sentry_dsn": sentry.dsn}])
    ]
    target = {"timezone": "Mars/Olympus"}
    target_errors = [
        run_target(config, "", workdir=tmp_path, env=env).error_lines
        for config in (target, {**target, "sentry_dsn": sentry.dsn})
    ]
    assert len(sentry.events(wait=True)) == 2, "the runs with sentry_dsn report"
    assert tap_errors[0] == tap_errors[1]
    assert [message_of(line) for line in target_errors[0]] == [message_of(line) for line in target_errors[1]]
    before = len(sentry.envelopes)
    run_tap(tap, workdir=tmp_path, env=env)
    run_target(target, "", workdir=tmp_path, env=env)
    assert len(sentry.envelopes) == before
    probe = (
        "import json, sys; from tap_yandex_tracker.tap import TapYandexTracker as T; "
        "from target_clickhouse_agile.target import TargetClickhouseAgile as G; "
        "T(config=json.loads(sys.argv[1])); G(config={}, validate_config=False); "
        "print('sentry_sdk' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(tap)], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


PLANT = """
import importlib, json, logging, sys
reporting = importlib.import_module(sys.argv[1])
reporting.start(json.loads(sys.argv[2]))
import sentry_sdk
planted = " ".join(json.loads(sys.argv[3]))
logging.getLogger("planted").warning("log line %s", planted)
sentry_sdk.add_breadcrumb(category="planted", message=planted, data={"value": planted, planted: 1})
sentry_sdk.set_tag("planted", planted)
sentry_sdk.set_extra("planted", {"nested": [planted, {"deeper": planted}]})
sentry_sdk.set_context("planted", {"value": planted})
request = {"url": "http://x/?q=" + planted, "headers": {"Authorization": planted}, "data": planted}
sentry_sdk.get_isolation_scope().add_event_processor(lambda event, hint: {**event, "request": request})
try:
    with reporting.reported():
        raise RuntimeError("failed with " + planted)
except RuntimeError:
    pass
sentry_sdk.capture_message("message with " + planted)
sentry_sdk.flush(5)
"""


@pytest.mark.parametrize("package", ["tap_yandex_tracker", "target_clickhouse_agile"])
def test_every_part_of_an_event_is_scrubbed(package: str, sentry: SentryEndpoint) -> None:
    """Secrets planted in the message, the exception, breadcrumbs (and their keys), extra, tags, contexts
    and request data of real events: none reaches the endpoint, in any form."""
    secret_key = "dsn-secret-key-4711"
    dsn = sentry.dsn.replace("@", f":{secret_key}@", 1)
    config = {"token": "oauth-token-4711", "iam_token": "iam-token-4711", "sentry_dsn": dsn}
    if package == "target_clickhouse_agile":
        config["password"] = "db-password-4711"
    planted = [*config.values(), sentry.public_key, secret_key, quote(config["token"]), json.dumps(dsn)]
    args = [
        sys.executable,
        "-c",
        PLANT,
        f"{package}.error_reporting",
        json.dumps(config),
        json.dumps(planted),
    ]
    env = {**os.environ, "MELTANO_STATE_ID": "planted"}
    done = subprocess.run(args, check=True, timeout=60, env=env, capture_output=True, text=True)
    assert "log line ***" in done.stderr  # the log line went out too, masked by the same secrets
    assert not [form for form in secret_forms(*config.values(), sentry.public_key) if form in done.stderr]
    events = sentry.events(wait=True)
    assert len(events) == 2
    assert all(b"***" in body for body in sentry.bodies())
    assert any(b"failed with ***" in body for body in sentry.bodies())
    assert all("trace" not in envelope.header for envelope in sentry.envelopes), "a copy of the public key"
    assert_nowhere(sentry, *config.values(), sentry.public_key, secret_key)


@pytest.mark.parametrize("plugin", [TAP, TARGET])
def test_the_dsn_is_a_secret_setting_and_a_bad_one_is_one_line(plugin: str, tmp_path: Path) -> None:
    about = subprocess.run(
        [str(BIN / plugin), "--about", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    setting = json.loads(about)["settings"]["properties"]["sentry_dsn"]
    assert setting["secret"] is True
    assert setting["writeOnly"] is True
    bad = "not-a-dsn-4711"
    config = write_json(tmp_path / "config.json", {"sentry_dsn": bad, "timezone": "UTC"})
    done = subprocess.run(
        [str(BIN / plugin), "--config", str(config)], input="", capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "sentry_dsn is not a Sentry DSN" in done.stderr
    assert "Traceback" not in done.stderr
    assert bad not in done.stderr + done.stdout


@pytest.mark.parametrize("plugin", [TAP, TARGET])
def test_without_the_extra_the_error_names_the_fix(
    plugin: str, sentry: SentryEndpoint, tmp_path: Path
) -> None:
    """A `sentry_sdk` that cannot be imported stands for an installation without `[sentry]`."""
    shadow = tmp_path / "shadow" / "sentry_sdk"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named sentry_sdk')\n")
    config = write_json(tmp_path / "config.json", {"sentry_dsn": sentry.dsn, "timezone": "UTC"})
    done = subprocess.run(
        [str(BIN / plugin), "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(shadow.parent)},
    )
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "| ERROR" in line]
    assert len(errors) == 1, done.stderr[-2000:]
    assert errors[0].endswith(f"pip install '{plugin}[sentry]'")
    assert "Traceback" not in done.stderr
    assert sentry.public_key not in done.stderr
    assert sentry.envelopes == []
