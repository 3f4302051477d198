"""Bad records and bad settings through the real console script: non-zero exit, no STATE, and one line
that names the cause and the fix (never a traceback, never the password)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.clickhouse import NativeDatabase, free_ports
from tests.support.pipeline import ProcessResult, run_target
from tests.support.singer import STATUSES, issue, record, schema_message, state, to_lines


def _issue(**changes: Any) -> dict[str, Any]:
    data = issue(
        "65e57000000000000000b001", "DEV-1", "open", "2024-03-04T07:00:00.000Z", "2024-03-05T08:00:00.000Z"
    )
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _messages(bad_issue: dict[str, Any]) -> str:
    """A good issue and a STATE first: the target must not checkpoint them once a later record fails."""
    good = _issue(id="65e57000000000000000b000", key="DEV-0")
    return to_lines(
        [
            schema_message("statuses"),
            *(record("statuses", s) for s in STATUSES),
            schema_message("issues"),
            record("issues", good),
            state({"bookmarks": {"issues": {"replication_key_value": "2024-03-05T08:00:00.000Z"}}}),
            record("issues", bad_issue),
            state({"bookmarks": {"issues": {"replication_key_value": "2024-03-06T08:00:00.000Z"}}}),
        ]
    )


def assert_clean_failure(result: ProcessResult, *needles: str, secret: str | None = None) -> None:
    """Exit 1, no STATE, no traceback, and the last ERROR line says every `needle`."""
    assert result.returncode == 1, result.describe()
    assert result.states == []
    assert "Traceback" not in result.stderr, result.describe()
    assert result.error_lines, result.describe()
    message = result.error_lines[-1]
    for needle in needles:
        assert needle in message, (needle, message)
    if secret:
        assert secret not in result.stderr + result.stdout


@pytest.mark.parametrize(
    ("bad", "needles"),
    [
        pytest.param(
            {"updatedAt": "yesterday"}, ("issues record DEV-1", "updatedAt", "yesterday"), id="bad-timestamp"
        ),
        pytest.param(
            {"status": "open"}, ("issues record DEV-1", "status", "open"), id="status-not-a-reference"
        ),
        pytest.param({"id": None}, ("issues", "id"), id="missing-key"),
        pytest.param({"createdAt": None}, ("issues record DEV-1", "createdAt"), id="missing-createdAt"),
    ],
)
def test_bad_record_fails_without_state(
    clickhouse_native: NativeDatabase, tmp_path: Path, bad: dict[str, Any], needles: tuple[str, ...]
) -> None:
    result = run_target(clickhouse_native.settings, _messages(_issue(**bad)), workdir=tmp_path)
    assert_clean_failure(result, *needles)


def test_an_unused_field_of_another_shape_is_kept_not_fatal(
    clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    """`storyPoints: "many"` (the metrics do not need it): loaded, the value kept in `raw`, one warning."""
    result = run_target(clickhouse_native.settings, _messages(_issue(storyPoints="many")), workdir=tmp_path)
    assert result.returncode == 0, result.describe()
    assert result.states[-1]["bookmarks"]["issues"]["replication_key_value"] == "2024-03-06T08:00:00.000Z"
    warnings = [line for line in result.stderr.splitlines() if "has an unexpected shape" in line]
    assert len(warnings) == 1
    assert "issues record DEV-1: field 'storyPoints'" in warnings[0]
    rows = clickhouse_native.conn.query(
        "SELECT story_points, raw FROM issues FINAL WHERE issue_key = 'DEV-1'"
    )
    assert rows[0]["story_points"] is None
    assert json.loads(rows[0]["raw"])["storyPoints"] == "many"


def test_unreachable_host_names_the_cause(tmp_path: Path) -> None:
    (port,) = free_ports(1)
    config = {"host": "127.0.0.1", "port": port, "password": "pw-unreachable-4711"}
    result = run_target(config, _messages(_issue()), workdir=tmp_path)
    assert_clean_failure(result, f"cannot reach ClickHouse at 127.0.0.1:{port}", "host/port", secret="4711")


def test_wrong_password_names_the_cause(clickhouse_native: NativeDatabase, tmp_path: Path) -> None:
    server = clickhouse_native.server
    config = {**clickhouse_native.settings, "user": server.user, "password": "wrong-pass-4712"}
    result = run_target(config, _messages(_issue()), workdir=tmp_path)
    assert_clean_failure(result, "password", secret="4712")
    assert server.password not in result.stderr


def test_bad_calendar_settings_are_all_reported(tmp_path: Path) -> None:
    """Each problem names its setting and the fix, and one does not hide another."""
    config = {
        "host": "127.0.0.1",
        "timezone": "Mars/Olympus_Mons",
        "work_hours_end": "6pm",
        "status_categories": {"inReview": "doing"},
    }
    result = run_target(config, "", workdir=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    errors = "\n".join(result.error_lines)
    assert "timezone" in errors
    assert "Mars/Olympus_Mons" in errors
    assert "IANA" in errors
    assert "work_hours_end: '6pm' is not a time; use HH:MM" in errors
    assert "status_categories: 'inReview' → 'doing' is not a category" in errors
    assert "todo, active, wait, done, cancelled" in errors


def test_password_of_the_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    """The SDK's schema errors quote the offending value; for a secret that would print the password."""
    result = run_target({"host": "127.0.0.1", "password": 987654321}, "", workdir=tmp_path)
    assert result.returncode == 1
    assert "password" in "\n".join(result.error_lines)
    assert "987654321" not in result.stderr + result.stdout
