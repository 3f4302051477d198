"""The latest STATE kept in ClickHouse itself, for runners without a disk (cron containers, functions).

The target writes it right before it prints the STATE message, i.e. only once the data it covers is
durable; `load_state` gives the runner what to pass to the tap's `--state` on the next run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from target_clickhouse_agile.clickhouse.connection import Connection
from target_clickhouse_agile.clickhouse.identifiers import quote_literal
from target_clickhouse_agile.metrics.utc import utc_now


def save_state(conn: Connection, state_id: str, state: Mapping[str, Any]) -> None:
    conn.insert(
        "target_state",
        ["state_id", "state", "updated_at", "_version"],
        [(state_id, json.dumps(state, sort_keys=True), utc_now(), time.time_ns())],
    )


def load_state(conn: Connection, state_id: str = "default") -> dict[str, Any] | None:
    rows = conn.query(f"SELECT state FROM target_state FINAL WHERE state_id = {quote_literal(state_id)}")
    return json.loads(rows[0]["state"]) if rows else None
