"""Singer input a hostile (or merely unusual) tap could send: each is refused by name, before any STATE
that would cover it, and loses nothing that was loaded before it.

- a BATCH message (records in files named by a manifest): refused; the files are never opened;
- a SCHEMA that changes a stream's key properties mid-stream (a row once vanished under FINAL);
- a STATE whose value is not an object (stored, it broke the tap's next run);
- a SCHEMA that is not valid JSON Schema (named by stream and line, not a dump of the metaschema).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.exceptions import InvalidInputLine

from tests.support.clickhouse import NativeDatabase
from tests.support.logs import file_log_config
from tests.support.pipeline import TARGET_CLI
from tests.support.singer import STATUSES, record, run_target, schema_message, state

GOOD = [schema_message("statuses"), *(record("statuses", s) for s in STATUSES)]


def _refused(settings: dict[str, Any], messages: list[dict[str, Any]]) -> str:
    with pytest.raises(InvalidInputLine) as refused:
        run_target(settings, messages)
    return str(refused.value)


def test_a_batch_message_is_refused_and_its_files_never_opened(
    clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    manifest = tmp_path / "never-opened.jsonl.gz"
    batch = {
        "type": "BATCH",
        "stream": "statuses",
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "manifest": [f"file://{manifest}", "file:///etc/passwd"],
    }
    message = _refused(clickhouse_native.settings, [*GOOD, state({"n": 1}), batch, state({"n": 2})])
    assert message.startswith("input line 8: BATCH message of stream 'statuses'")
    assert "batch_config" in message
    assert not manifest.exists()
    # Nothing after (or before) the BATCH was checkpointed: no STATE was written at all.
    assert clickhouse_native.conn.query("SELECT count() AS n FROM statuses") == [{"n": 0}]


def test_changing_the_key_properties_mid_stream_is_refused(clickhouse_native: NativeDatabase) -> None:
    first = {"type": "SCHEMA", "stream": "things", "schema": _schema(), "key_properties": ["id"]}
    second = {**first, "key_properties": ["id", "name"]}
    messages = [
        first,
        record("things", {"id": 1, "name": "y"}),
        second,
        record("things", {"id": 1, "name": "z"}),
        state({"n": 1}),
    ]
    message = _refused(clickhouse_native.settings, messages)
    assert "input line 3: SCHEMA of stream 'things' changes its key properties from ['id'] to" in message
    assert "['id', 'name']" in message


def test_the_same_schema_again_is_fine(clickhouse_native: NativeDatabase) -> None:
    """Taps re-send a stream's SCHEMA (our tap once per issue): only a change of key is refused."""
    first = {"type": "SCHEMA", "stream": "things", "schema": _schema(), "key_properties": ["id"]}
    messages = [first, record("things", {"id": 1, "name": "y"}), first, record("things", {"id": 2})]
    assert run_target(clickhouse_native.settings, [*messages, state({"n": 1})]) == [{"n": 1}]
    rows = clickhouse_native.conn.query("SELECT id FROM things FINAL ORDER BY id")
    assert [r["id"] for r in rows] == [1, 2]


@pytest.mark.parametrize("value", [[1, 2], "bookmark", 42, None])
def test_a_state_that_is_not_an_object_is_refused(clickhouse_native: NativeDatabase, value: Any) -> None:
    message = _refused(clickhouse_native.settings, [*GOOD, {"type": "STATE", "value": value}])
    assert message.startswith("input line 7: the value of a STATE message must be a JSON object")


def test_an_invalid_schema_is_named_by_stream_and_line(clickhouse_native: NativeDatabase) -> None:
    broken = {"type": "SCHEMA", "stream": "x", "schema": _schema(kind="wat"), "key_properties": ["id"]}
    message = _refused(clickhouse_native.settings, [*GOOD, broken, record("x", {"id": 1})])
    assert message.startswith(
        "input line 7: SCHEMA of stream 'x' is not a valid JSON schema: ['wat', 'null']"
    )
    assert "(at schema['properties']['name']['type'])" in message
    assert "metaschema" not in message
    assert len(message) < 300


def _schema(kind: str = "string") -> dict[str, Any]:
    return {"type": "object", "properties": {"id": {"type": "integer"}, "name": {"type": [kind, "null"]}}}


@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("statsd_port", 99999, "99999 is greater than the maximum of 65535 in config['statsd_port']"),
        ("batch_size_rows", 0, "0 is less than the minimum of 1 in config['batch_size_rows']"),
        ("batch_size_rows", -5, "-5 is less than the minimum of 1 in config['batch_size_rows']"),
    ],
)
def test_out_of_range_settings_are_refused_at_start(
    tmp_path: Path, setting: str, value: int, expected: str
) -> None:
    """Refused before anything is read or written (`statsd_port: 99999` once failed the load after the
    tables were written, although StatsD is promised never to fail a load)."""
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "statsd_host": "127.0.0.1", setting: value}))
    done = subprocess.run(
        [TARGET_CLI, "--config", str(config)], input="", capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_a_custom_log_config_cannot_bypass_the_password_redaction(tmp_path: Path) -> None:
    """The SDK's config error quotes a numeric password; a file handler on the target's own logger (not
    propagating to the root) receives only the masked text."""
    log_config, log_file = file_log_config(tmp_path, "target-clickhouse-agile")
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"host": "127.0.0.1", "password": 987654321}))
    done = subprocess.run(
        [TARGET_CLI, "--config", str(config)],
        input="",
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "SINGER_SDK_LOG_CONFIG": str(log_config)},
    )
    assert done.returncode == 1
    written = log_file.read_text()
    assert "password" in written, "precondition: the error went to the file"
    assert "987654321" not in written + done.stderr + done.stdout
