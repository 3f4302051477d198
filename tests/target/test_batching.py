"""Pending batches are bounded by the memory their rows hold, not by their row count or characters.

Issue rows carry their raw JSON; Python keeps any string with a Cyrillic letter at two bytes per character,
so a cap counted in characters let the target hold twice what it meant to.
"""

from __future__ import annotations

import logging
import re
import sys

import pytest

from target_clickhouse_agile.batching import MAX_BATCH_BYTES, ROW_OVERHEAD_BYTES, pending_size
from tests.support.clickhouse import NativeDatabase
from tests.support.singer import issue, record, run_target, schema_message, state


def test_pending_size_measures_memory_not_characters() -> None:
    ascii_row, cyrillic_row = {"raw": "a" * 10_000}, {"raw": "я" * 10_000}
    assert pending_size(ascii_row) == ROW_OVERHEAD_BYTES + sys.getsizeof("a" * 10_000)
    assert pending_size(cyrillic_row) >= ROW_OVERHEAD_BYTES + 20_000
    assert pending_size({"event_id": "e1"}) == ROW_OVERHEAD_BYTES


def test_issue_batches_flush_at_the_memory_cap(
    clickhouse_native: NativeDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    # Issues with a 100,000-letter Cyrillic description (~200 KB of raw JSON each in memory), 1.5 times
    # the cap in all: the cap must split them (counted in characters, 0.75 of it, they would go in one).
    description = "описание " * 11_112
    count = int(1.5 * MAX_BATCH_BYTES / (2 * len(description))) + 1
    issues = [
        issue(f"id-{n}", f"DEV-{n}", "open", "2024-06-03T09:00:00.000Z", "2024-06-03T10:00:00.000Z",
              description=description)
        for n in range(1, count + 1)
    ]  # fmt: skip
    assert sum(pending_size({"raw": i["description"]}) for i in issues) > MAX_BATCH_BYTES
    assert sum(len(i["description"]) for i in issues) < MAX_BATCH_BYTES
    caplog.set_level(logging.INFO)
    messages = [schema_message("issues"), *(record("issues", i) for i in issues), state({"done": True})]

    assert run_target({**clickhouse_native.settings, "batch_size_rows": 10_000}, messages) == [{"done": True}]

    inserted = [int(n) for n in re.findall(r"Inserted (\d+) rows into issues", caplog.text)]
    assert len(inserted) >= 2, inserted
    assert sum(inserted) == count
    assert max(inserted) * (2 * len(description)) <= MAX_BATCH_BYTES + 2 * 2 * len(description)
    loaded = clickhouse_native.conn.query(
        "SELECT count() AS n, max(lengthUTF8(description)) AS d FROM issues"
    )
    assert loaded == [{"n": count, "d": len(description)}]
