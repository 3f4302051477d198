"""Security, through the real CLIs: TLS to ClickHouse, wrong credentials, hostile identifiers.

Every test here also runs under the autouse `secret_scan` (conftest.py): no configured or deliberately
wrong secret may appear in any output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from target_clickhouse_agile.clickhouse.connection import connect
from tests.support.clickhouse import PASSWORD, PASSWORD_USER, ClickHouseServer, NativeDatabase
from tests.support.configs import STORM_SETTINGS, password_target_config, tap_config
from tests.support.pipeline import run_pipeline, run_tap, run_target
from tests.support.secrets import SecretScan
from tests.support.singer import STATUSES, issue, record, schema_message, state, to_lines
from tracker_simulator import TrackerSimulator

STATE = {"bookmarks": {"issues": {"replication_key_value": "2024-03-05T08:00:00.250Z"}}}


def small_input(stream_names: tuple[str, ...] = ()) -> str:
    """One status, one issue, optional extra streams with one record each, then a STATE."""
    messages: list[dict[str, Any]] = [schema_message("statuses"), record("statuses", STATUSES[0])]
    messages += [
        schema_message("issues"),
        record(
            "issues", issue("i1", "DEV-1", "open", "2024-03-04T07:00:00.000Z", "2024-03-05T08:00:00.250Z")
        ),
    ]
    for name in stream_names:
        messages.append(
            {
                "type": "SCHEMA",
                "stream": name,
                "schema": {"properties": {"id": {"type": "string"}, "note": {"type": ["string", "null"]}}},
                "key_properties": ["id"],
            }
        )
        messages.append(record(name, {"id": "i1", "note": "hostile"}))
    messages.append(state(STATE))
    return to_lines(messages)


# -- TLS -----------------------------------------------------------------------------------------------


def tls_settings(db: NativeDatabase, server: ClickHouseServer, **overrides: Any) -> dict[str, Any]:
    return password_target_config(db, port=server.tcp_port_secure, secure=True, **overrides)


def test_tls_with_the_right_ca_loads(
    clickhouse_native: NativeDatabase, clickhouse_server, workdir: Path
) -> None:
    settings = tls_settings(
        clickhouse_native, clickhouse_server, ca_certs=str(clickhouse_server.ca_cert_path)
    )
    run = run_target(settings, small_input(), workdir=workdir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states == [STATE]
    with connect(settings) as conn:
        assert conn.query("SELECT issue_key FROM issues FINAL") == [{"issue_key": "DEV-1"}]


FOREIGN_CA_COMMAND = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem"]
FOREIGN_CA_COMMAND += ["-out", "ca.crt", "-days", "1", "-subj", "/CN=someone else"]


@pytest.fixture
def foreign_ca(tmp_path: Path) -> Path:
    """A CA that did not sign the server's certificate."""
    subprocess.run(
        FOREIGN_CA_COMMAND,
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return tmp_path / "ca.crt"


@pytest.mark.parametrize("ca", ["foreign", "system"])
def test_tls_refuses_an_unverifiable_server(
    clickhouse_native: NativeDatabase, clickhouse_server, foreign_ca: Path, ca: str, workdir: Path
) -> None:
    """`verify` on (the default) with a CA that did not sign the server certificate, or with only the
    system CAs: a clear message naming the fix, non-zero exit, no STATE, no rows."""
    extra = {"ca_certs": str(foreign_ca)} if ca == "foreign" else {}
    settings = tls_settings(clickhouse_native, clickhouse_server, **extra)
    run = run_target(settings, small_input(), workdir=workdir)
    assert run.returncode != 0
    assert run.states == []
    assert "could not be verified" in run.stderr
    assert "ca_certs" in run.stderr
    assert "Traceback" not in run.stderr.split("could not be verified")[-1]


def test_tls_verify_off_connects(clickhouse_native: NativeDatabase, clickhouse_server, workdir: Path) -> None:
    settings = tls_settings(clickhouse_native, clickhouse_server, verify=False)
    run = run_target(settings, small_input(), workdir=workdir)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.states == [STATE]


def test_plain_client_on_the_tls_port_is_told_so(
    clickhouse_native: NativeDatabase, clickhouse_server, workdir: Path
) -> None:
    settings = password_target_config(clickhouse_native, port=clickhouse_server.tcp_port_secure)
    run = run_target(settings, small_input(), workdir=workdir, timeout=120)
    assert run.returncode != 0
    assert run.states == []
    assert "secure" in run.stderr


# -- credentials ---------------------------------------------------------------------------------------


def test_wrong_clickhouse_password(
    clickhouse_native: NativeDatabase, secret_scan: SecretScan, workdir: Path
) -> None:
    wrong = "not-the-agile-password"
    secret_scan.add_secret(wrong)
    run = run_target(
        password_target_config(clickhouse_native, password=wrong), small_input(), workdir=workdir
    )
    assert run.returncode != 0
    assert run.states == []
    assert f"wrong user or password for user '{PASSWORD_USER}'" in run.stderr
    assert PASSWORD not in run.stderr


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"token": "wrong-oauth-token-0123"}, "authentication failed"),
        ({"org_id": "wrong-org-0456"}, "refused access"),
    ],
    ids=["wrong-token", "wrong-org"],
)
def test_wrong_tracker_credentials(
    sim: TrackerSimulator,
    clickhouse_native: NativeDatabase,
    secret_scan: SecretScan,
    overrides: dict[str, str],
    expected: str,
    workdir: Path,
) -> None:
    """The tap fails at once (401/403 are not retried) with a message naming the setting; the pipeline
    emits no STATE; the wrong token itself is never printed."""
    if "token" in overrides:
        secret_scan.add_secret(overrides["token"])
    config = tap_config(sim, **STORM_SETTINGS, **overrides)
    alone = run_tap(config, workdir=workdir / "tap")
    assert alone.returncode != 0
    assert expected in alone.stderr
    assert '"type":"STATE"' not in alone.stdout.replace(" ", "")
    run = run_pipeline(config, password_target_config(clickhouse_native), workdir=workdir / "pipe")
    assert run.tap.returncode != 0
    assert run.states == []


# -- identifiers ---------------------------------------------------------------------------------------

HOSTILE_DATABASES = ["agile`; DROP TABLE issues; --", "a'b", 'x"y', "db; DROP DATABASE default", "", "1abc"]


@pytest.mark.parametrize("database", HOSTILE_DATABASES)
def test_hostile_database_setting_is_rejected(
    clickhouse_server: ClickHouseServer, database: str, workdir: Path
) -> None:
    settings = {**clickhouse_server.settings(database=database)}
    if not database:
        settings["database"] = " "
    run = run_target(settings, small_input(), workdir=workdir)
    assert run.returncode != 0
    assert run.states == []
    assert "invalid database name" in run.stderr
    with connect(clickhouse_server.settings(database="default")) as admin:
        assert admin.query("SELECT count() AS n FROM system.databases WHERE name = 'default'") == [{"n": 1}]


HOSTILE_STREAMS = [
    "x`; DROP TABLE issues; --",
    "q'; DROP TABLE issues; --",
    'q"; DROP TABLE issues',
    "a;b",
    "a`b",
    "_issues_",
    "issues;",
    "../etc/passwd",
    "日本語",
]
#: Tables and views the target owns: no stream may write into them.
OWNED = [
    "issue_flow",
    "issue_metrics",
    "issue_status_intervals",
    "schema_migrations",
    "schema_migrations_lock",
    "target_state",
    "issues_view",
]


def _tables(settings: dict[str, Any]) -> set[str]:
    with connect(settings) as conn:
        return {
            r["name"] for r in conn.query("SELECT name FROM system.tables WHERE database = currentDatabase()")
        }


def test_hostile_stream_names_land_in_distinct_safe_tables(
    clickhouse_native: NativeDatabase, workdir: Path
) -> None:
    """Every hostile stream gets its own new table with a plain name; nothing else is touched."""
    settings = password_target_config(clickhouse_native)
    baseline = run_target(settings, small_input(), workdir=workdir / "base")
    assert baseline.returncode == 0, baseline.stderr[-2000:]
    before = _tables(settings)
    run = run_target(settings, small_input(tuple(HOSTILE_STREAMS)), workdir=workdir / "hostile")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [STATE]
    new = _tables(settings) - before
    assert len(new) == len(HOSTILE_STREAMS), f"streams shared or reused tables: {sorted(new)}"
    for name in new:
        assert all(c.isalnum() or c == "_" for c in name), name
    with connect(settings) as conn:
        assert conn.query("SELECT issue_id, summary FROM issues FINAL") == [
            {"issue_id": "i1", "summary": "Issue DEV-1"}
        ]
        for table in new:
            assert conn.query(f"SELECT id, note FROM `{table}` FINAL") == [{"id": "i1", "note": "hostile"}]


@pytest.mark.parametrize("stream", OWNED)
def test_stream_named_like_a_table_the_target_owns_is_rejected(
    clickhouse_native: NativeDatabase, stream: str, workdir: Path
) -> None:
    settings = password_target_config(clickhouse_native)
    run = run_target(settings, small_input((stream,)), workdir=workdir)
    assert run.returncode != 0
    assert run.states == []
    assert f"stream '{stream}'" in run.stderr
    assert "owns" in run.stderr
