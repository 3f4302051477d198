"""Translate Singer records of the tap into ClickHouse rows.

Pure functions, no I/O: the sinks call them and insert what they return. Field names follow the Tracker
API (the tap keeps them); column names follow the public data contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timezone
from typing import Any

from target_clickhouse_agile.metrics.history import normalise_value, parse_timestamp

CLOSED_CATEGORIES = frozenset({"done", "cancelled"})


def _ref_attr(value: Any, attr: str) -> str:
    """`value[attr]` for a reference object, '' for anything else (absent fields are omitted by Tracker)."""
    if isinstance(value, Mapping):
        found = value.get(attr)
        return "" if found is None else str(found)
    return ""


def _ref_key(value: Any) -> str:
    """A reference's stable identity: its `key` where Tracker has one, else its `id`."""
    return _ref_attr(value, "key") or _ref_attr(value, "id")


def _display_list(values: Any) -> list[str]:
    if not isinstance(values, list):
        return []
    return [
        (_ref_attr(v, "display") or _ref_key(v)) if isinstance(v, Mapping) else str(v)
        for v in values
        if v is not None
    ]


def to_datetime(value: Any) -> datetime | None:
    """Accept what the SDK hands us (already parsed datetimes) or raw Tracker/ISO strings."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return parse_timestamp(str(value))


def to_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def to_json(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, default=str, sort_keys=True)


class RecordError(ValueError):
    """A record that cannot be loaded; the message names the stream, the record and the field."""


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def invalid_record_message(stream: str, record: Mapping[str, Any], error: Exception) -> str:
    """`stream record X: field 'a.b': <what is wrong>` for a record that fails its stream's schema."""
    cause = error.__cause__
    # jsonschema errors carry `absolute_path`; compiled (fastjsonschema) ones a `path` starting at "data".
    parts = list(getattr(cause, "absolute_path", ()) or getattr(cause, "path", ())[1:])
    path = ".".join(str(p) for p in parts) or "?"
    detail = getattr(cause, "message", None) or getattr(error, "error_message", None) or str(error)
    if hasattr(cause, "value") and hasattr(cause, "path"):  # compiled validator: say what was sent
        detail = detail.removeprefix("data.") + f", got {_short_repr(cause.value)}"
    ident = record.get("key") or record.get("id") or "?"
    return f"{stream} record {ident!s}: field '{path}': {detail} (the record does not match its schema)"


def _required(record: Mapping[str, Any], field: str, stream: str) -> Any:
    value = record.get(field)
    if value is None or value == "":
        ident = record.get("key") or record.get("id") or "?"
        msg = f"{stream} record {ident!s} has no '{field}': the tap must send it (is the schema right?)"
        raise RecordError(msg)
    return value


def issue_row(record: Mapping[str, Any], category_of: Callable[[str, Any], str]) -> dict[str, Any]:
    """One `issues` row. `category_of(status_key, status_type_ref)` resolves the status category."""
    created_at = to_datetime(_required(record, "createdAt", "issues"))
    updated_at = to_datetime(_required(record, "updatedAt", "issues"))
    assert created_at is not None
    assert updated_at is not None
    status = _ref_key(record.get("status"))
    category = category_of(status, record.get("statusType"))
    is_closed = category in CLOSED_CATEGORIES
    resolved_at = to_datetime(record.get("resolvedAt"))
    status_start = to_datetime(record.get("statusStartTime"))
    closed_at = (resolved_at or status_start) if is_closed else None
    return {
        "issue_id": str(_required(record, "id", "issues")),
        "issue_key": str(record.get("key") or ""),
        "queue": _ref_key(record.get("queue")) or str(record.get("key") or "").rsplit("-", 1)[0],
        "summary": str(record.get("summary") or ""),
        "description": str(record.get("description") or ""),
        "type": _ref_key(record.get("type")),
        "priority": _ref_key(record.get("priority")),
        "status": status,
        "status_category": category,
        "status_start_time": status_start,
        "resolution": _ref_key(record.get("resolution")),
        "assignee_id": _ref_attr(record.get("assignee"), "id"),
        "assignee_display": _ref_attr(record.get("assignee"), "display"),
        "author_id": _ref_attr(record.get("createdBy"), "id"),
        "author_display": _ref_attr(record.get("createdBy"), "display"),
        "created_at": created_at,
        "created_at_ms": epoch_ms(created_at),
        "updated_at": updated_at,
        "resolved_at": resolved_at,
        "tags": [str(t) for t in record.get("tags") or []],
        "components": _display_list(record.get("components")),
        "sprints": _display_list(record.get("sprint")),
        "aliases": [str(a) for a in record.get("aliases") or []],
        "previous_queue": _ref_key(record.get("previousQueue")),
        "parent_key": _ref_key(record.get("parent")),
        "epic_key": _ref_key(record.get("epic")),
        "story_points": to_float(record.get("storyPoints")),
        "deadline": to_date(record.get("deadline")),
        "is_closed": int(is_closed),
        "closed_at": closed_at,
        "raw": to_json(record),
        "_version": epoch_ms(updated_at),
    }


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return _ref_attr(value, "display") or _ref_key(value)
    if isinstance(value, list):
        return json.dumps(_display_list(value), ensure_ascii=False)
    return str(value)


def changelog_rows(record: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """One row per changed field; an entry without fields (a comment, a link) gives one row with ''."""
    event_id = str(_required(record, "id", "issue_changelog"))
    issue_ref = record.get("issue") if isinstance(record.get("issue"), Mapping) else {}
    issue_id = str(record.get("issue_id") or _ref_attr(issue_ref, "id"))
    if not issue_id:
        msg = f"issue_changelog record {event_id} has neither 'issue_id' nor 'issue.id'"
        raise RecordError(msg)
    issue_key = str(record.get("issue_key") or _ref_attr(issue_ref, "key"))
    event_time = to_datetime(_required(record, "updatedAt", "issue_changelog"))
    assert event_time is not None
    base = {
        "event_id": event_id,
        "issue_id": issue_id,
        "issue_key": issue_key,
        "queue": issue_key.rsplit("-", 1)[0] if "-" in issue_key else "",
        "event_time": event_time,
        "event_time_ms": epoch_ms(event_time),
        "event_type": str(record.get("type") or ""),
        "transport": str(record.get("transport") or ""),
        "actor_id": _ref_attr(record.get("updatedBy"), "id"),
        "actor_display": _ref_attr(record.get("updatedBy"), "display"),
        "_version": epoch_ms(event_time),
    }
    fields = [f for f in record.get("fields") or [] if isinstance(f, Mapping)]
    if not fields:
        yield {**base, "field_id": "", "from_value": None, "to_value": None,
               "from_display": None, "to_display": None}  # fmt: skip
        return
    for change in fields:
        yield {
            **base,
            "field_id": _ref_attr(change.get("field"), "id"),
            "from_value": normalise_value(change.get("from")),
            "to_value": normalise_value(change.get("to")),
            "from_display": _display(change.get("from")),
            "to_display": _display(change.get("to")),
        }
