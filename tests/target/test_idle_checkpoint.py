"""A pause of the tap is used for a checkpoint: rows, metrics and the STATE are written while the input
waits, not only when it ends (idle_input.py, `TargetClickhouseAgile._checkpoint_if_due`).

The real console script reads a real pipe that stays open: the first STATE must come out during the pause,
with its rows and metrics already in ClickHouse; the second at the end."""

from __future__ import annotations

import json
import os
import select
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.support.clickhouse import NativeDatabase
from tests.support.configs import target_config
from tests.support.pipeline import TARGET_CLI
from tests.support.singer import STATUSES, entry, issue, record, ref, schema_message, state, to_lines

ISSUE = "65e570000000000000000c02"
OPEN, WORKING = ref("open"), ref("inProgress")
FIRST = {"bookmarks": {"issues": {"replication_key_value": "2024-03-05T08:00:00.000Z"}}}
SECOND = {"bookmarks": {"issues": {"replication_key_value": "2024-03-06T08:00:00.000Z"}}}


def first_part() -> str:
    created = entry("i1", ISSUE, "DEV-7", "2024-03-04T07:00:00.000Z", "IssueCreated", ("status", None, OPEN))
    return to_lines(
        [
            schema_message("statuses"),
            *(record("statuses", s) for s in STATUSES),
            schema_message("issue_changelog"),
            record("issue_changelog", created),
            schema_message("issues"),
            record(
                "issues",
                issue(ISSUE, "DEV-7", "open", "2024-03-04T07:00:00.000Z", "2024-03-05T08:00:00.000Z"),
            ),
            state(FIRST),
        ]
    )


def second_part() -> str:
    moved = entry(
        "i2", ISSUE, "DEV-7", "2024-03-06T08:00:00.000Z", "IssueWorkflow", ("status", OPEN, WORKING)
    )
    return to_lines(
        [
            record("issue_changelog", moved),
            record(
                "issues",
                issue(ISSUE, "DEV-7", "inProgress", "2024-03-04T07:00:00.000Z", "2024-03-06T08:00:00.000Z"),
            ),
            state(SECOND),
        ]
    )


def read_line(stream: Any, timeout: float) -> str:
    """One line of the target's stdout, or '' if none comes within `timeout`."""
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline().decode() if ready else ""


def count(db: NativeDatabase, table: str) -> int:
    return int(db.conn.query(f"SELECT count() AS n FROM {table} FINAL")[0]["n"])


def test_a_pause_of_the_tap_is_used_for_a_checkpoint(
    clickhouse_native: NativeDatabase, tmp_path: Path
) -> None:
    config = tmp_path / "target.json"
    config.write_text(json.dumps(target_config(clickhouse_native.settings, checkpoint_seconds=1)))
    target = subprocess.Popen(
        [TARGET_CLI, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    assert target.stdin is not None
    assert target.stdout is not None
    try:
        target.stdin.write(first_part().encode())
        target.stdin.flush()
        started = time.monotonic()
        line = read_line(target.stdout, timeout=30)  # the input stays open: only a pause can checkpoint
        assert json.loads(line) == FIRST, line  # a target prints the STATE's value
        assert time.monotonic() - started >= 0.5  # not before `checkpoint_seconds` had passed
        assert count(clickhouse_native, "issues") == 1
        assert count(clickhouse_native, "issue_status_intervals") == 1  # metrics before the STATE
        rest, errors = target.communicate(second_part().encode(), timeout=60)
    finally:
        if target.poll() is None:
            target.kill()
    assert target.returncode == 0, errors.decode()[-2000:]
    assert [json.loads(x) for x in rest.decode().splitlines()] == [SECOND]
    assert count(clickhouse_native, "issue_status_intervals") == 2
