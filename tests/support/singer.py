"""Build Singer message streams for target tests, with the tap's own schemas (the real contract)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from contextlib import redirect_stdout
from typing import Any

from tap_yandex_tracker import schemas
from target_clickhouse_agile.target import TargetClickhouseAgile

STREAM_SCHEMAS: dict[str, tuple[dict[str, Any], list[str]]] = {
    "issues": (schemas.ISSUES, ["id"]),
    "issue_changelog": (schemas.CHANGELOG, ["id"]),
    "statuses": (schemas.STATUSES, ["id"]),
}


def schema_message(stream: str) -> dict[str, Any]:
    schema, keys = STREAM_SCHEMAS[stream]
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": keys}


def record(stream: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": dict(data)}


def state(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "STATE", "value": dict(value)}


def to_lines(messages: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in messages)


def run_target(config: Mapping[str, Any], messages: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Run the target in-process on the messages; return the STATE values it wrote, in order. If the
    target fails, the error is raised with what it had written until then as `error.states`."""
    out = io.StringIO()
    target = TargetClickhouseAgile(config=dict(config))
    try:
        with redirect_stdout(out):
            target.listen(io.StringIO(to_lines(messages)))
    except Exception as error:
        error.states = _states(out.getvalue())  # type: ignore[attr-defined]
        raise
    return _states(out.getvalue())


def _states(stdout: str) -> list[dict[str, Any]]:
    # The target prints each STATE value as a bare JSON line (the tap side wraps it, the target does not).
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def ref(key: str, *, id_: str | None = None, display: str | None = None) -> dict[str, Any]:
    return {"id": id_ or key, "key": key, "display": display or key}


STATUSES = [
    {"id": 1, "key": "open", "name": "Open", "type": "new"},
    {"id": 2, "key": "inProgress", "name": "In progress", "type": "inProgress"},
    {"id": 3, "key": "needInfo", "name": "Need info", "type": "paused"},
    {"id": 4, "key": "resolved", "name": "Resolved", "type": "done"},
    {"id": 5, "key": "closed", "name": "Closed", "type": "done"},
]


def issue(issue_id: str, key: str, status: str, created: str, updated: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": issue_id,
        "key": key,
        "summary": f"Issue {key}",
        "queue": ref(key.split("-")[0], id_="7"),
        "status": ref(status),
        "createdAt": created,
        "updatedAt": updated,
        **extra,
    }


def entry(
    entry_id: str,
    issue_id: str,
    key: str,
    at: str,
    event_type: str,
    *fields: tuple[str, Any, Any],
) -> dict[str, Any]:
    return {
        "id": entry_id,
        "issue_id": issue_id,
        "issue_key": key,
        "issue": {"id": issue_id, "key": key, "display": key},
        "updatedAt": at,
        "type": event_type,
        "transport": "front",
        "updatedBy": {"id": "u1", "display": "Анна"},
        "fields": [{"field": {"id": f, "display": f}, "from": a, "to": b} for f, a, b in fields],
    }
