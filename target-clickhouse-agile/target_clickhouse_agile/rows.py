"""Translate Singer records of the tap into ClickHouse rows.

Pure functions, no I/O: the sinks call them and insert what they return. Field names follow the Tracker
API (the tap keeps them); column names follow the public data contract.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from target_clickhouse_agile.clickhouse import json_text
from target_clickhouse_agile.json_codec import dumps_sorted
from target_clickhouse_agile.metrics.history import is_mapping, normalise_value, parse_timestamp
from target_clickhouse_agile.metrics.utc import EPOCH, as_utc

CLOSED_CATEGORIES = frozenset({"done", "cancelled"})

#: Per stream, the fields the metrics or the table key cannot do without: a value of the wrong shape there
#: stops the run (no STATE past the record). Every other field is liberal: see `drift.py`. A stream's key
#: properties are always required as well.
REQUIRED_FIELDS: dict[str, frozenset[str]] = {
    "issues": frozenset({"id", "key", "createdAt", "updatedAt", "status", "queue"}),
    "issue_changelog": frozenset({"id", "issue_id", "updatedAt", "type", "fields"}),
    "statuses": frozenset({"id", "key", "type"}),
}

#: Problems found while mapping one record, field name -> what was wrong (see `drift.ShapeDrift`).
Problems = dict[str, str]


def _ref_attr(value: Any, attr: str) -> str:
    """`value[attr]` for a reference object, '' for anything else (absent fields are omitted by Tracker)."""
    if is_mapping(value):
        found = value.get(attr)
        return "" if found is None else text(found)
    return ""


def _ref_key(value: Any) -> str:
    """A reference's stable identity: its `key` where Tracker has one, else its `id`."""
    return _ref_attr(value, "key") or _ref_attr(value, "id")


def _display_list(values: Any) -> list[str]:
    if not isinstance(values, list):
        values = [] if values is None else [values]
    return [
        (_display_text(_ref_attr(v, "display")) or _ref_key(v)) if is_mapping(v) else text(v)
        for v in values
        if v is not None
    ]


def text(value: Any) -> str:
    """A value as column text: strings as they are, objects and arrays as JSON, never Python's repr."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json_text(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _display_text(value: str) -> str:
    """A `display` given per language (`{"ru": ..., "en": ...}`, seen with `localized=false`): English."""
    if value.startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        if isinstance(parsed, dict):
            return str(parsed.get("en") or parsed.get("ru") or next(iter(parsed.values()), ""))
    return value


def string_list(value: Any) -> list[str]:
    """An array column: a list as texts, a lone value as a one-item list (never a string's letters)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [text(item) for item in items if item is not None]


def to_datetime(value: Any) -> datetime | None:
    """Accept what the SDK hands us (already parsed datetimes) or raw Tracker/ISO strings."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return as_utc(value)
    return parse_timestamp(str(value))


def to_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


_MS = timedelta(milliseconds=1)


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, exactly (integer arithmetic: `timestamp() * 1000` in floating point
    is 1 ms low for some instants, e.g. 2004-04-02T23:45:00.850Z)."""
    return (as_utc(moment) - EPOCH) // _MS


def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    return float(value)


def to_json(record: Mapping[str, Any]) -> str:
    return dumps_sorted(record)


def _lenient(problems: Problems | None, field: str, convert: Callable[[Any], Any], value: Any) -> Any:
    """`convert(value)` for a field the metrics do not need: a value that does not convert becomes
    `None` and a problem to report (the record's `raw` keeps it)."""
    try:
        return convert(value)
    except (ValueError, TypeError, OverflowError) as error:
        if problems is not None:
            problems[field] = f"{short_repr(value)}: {error}"
        return None


class RecordError(ValueError):
    """A record that cannot be loaded; the message names the stream, the record and the field."""


def short_repr(value: Any, limit: int = 80) -> str:
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
        detail = detail.removeprefix("data.") + f", got {short_repr(cause.value)}"
    ident = record.get("key") or record.get("id") or "?"
    return f"{stream} record {ident!s}: field '{path}': {detail} (the record does not match its schema)"


def _required(record: Mapping[str, Any], field: str, stream: str) -> Any:
    value = record.get(field)
    if value is None or value == "":
        ident = record.get("key") or record.get("id") or "?"
        msg = f"{stream} record {ident!s} has no '{field}': the tap must send it (is the schema right?)"
        raise RecordError(msg)
    return value


def _required_time(record: Mapping[str, Any], field: str, stream: str) -> datetime:
    """A timestamp the metrics cannot do without; one that does not parse fails naming the record."""
    value = _required(record, field, stream)
    try:
        moment = to_datetime(value)
    except (ValueError, OverflowError) as error:  # not a timestamp, or beyond years 1-9999 in UTC
        ident = record.get("key") or record.get("id") or "?"
        raise RecordError(f"{stream} record {ident!s}: field '{field}': {error}") from None
    assert moment is not None
    return moment


def issue_row(
    record: Mapping[str, Any],
    category_of: Callable[[str, Any], str],
    *,
    raw_record: Mapping[str, Any] | None = None,
    problems: Problems | None = None,
) -> dict[str, Any]:
    """One `issues` row. `category_of(status_key, status_type_ref)` resolves the status category.

    `record` holds the fields of the expected shape; `raw_record` (default: `record`) is what the `raw`
    column keeps. Fields the metrics do not need are converted leniently, their problems go to `problems`.
    """
    created_at = _required_time(record, "createdAt", "issues")
    updated_at = _required_time(record, "updatedAt", "issues")
    status = _ref_key(record.get("status"))
    category = category_of(status, record.get("statusType"))
    is_closed = category in CLOSED_CATEGORIES
    resolved_at = _lenient(problems, "resolvedAt", to_datetime, record.get("resolvedAt"))
    status_start = _lenient(problems, "statusStartTime", to_datetime, record.get("statusStartTime"))
    closed_at = (resolved_at or status_start) if is_closed else None
    return {
        "issue_id": text(_required(record, "id", "issues")),
        "issue_key": text(record.get("key")),
        "queue": _ref_key(record.get("queue")) or text(record.get("key")).rsplit("-", 1)[0],
        "summary": text(record.get("summary")),
        "description": text(record.get("description")),
        "type": _ref_key(record.get("type")),
        "priority": _ref_key(record.get("priority")),
        "status": status,
        "status_category": category,
        "status_start_time": status_start,
        "resolution": _ref_key(record.get("resolution")),
        "assignee_id": _ref_attr(record.get("assignee"), "id"),
        "assignee_display": _display_text(_ref_attr(record.get("assignee"), "display")),
        "author_id": _ref_attr(record.get("createdBy"), "id"),
        "author_display": _display_text(_ref_attr(record.get("createdBy"), "display")),
        "created_at": created_at,
        "created_at_ms": epoch_ms(created_at),
        "updated_at": updated_at,
        "resolved_at": resolved_at,
        "tags": string_list(record.get("tags")),
        "components": _display_list(record.get("components")),
        "sprints": _display_list(record.get("sprint")),
        "aliases": string_list(record.get("aliases")),
        "previous_queue": _ref_key(record.get("previousQueue")),
        "parent_key": _ref_key(record.get("parent")),
        "epic_key": _ref_key(record.get("epic")),
        "story_points": _lenient(problems, "storyPoints", to_float, record.get("storyPoints")),
        "deadline": _lenient(problems, "deadline", to_date, record.get("deadline")),
        "is_closed": int(is_closed),
        "closed_at": closed_at,
        "raw": to_json(record if raw_record is None else raw_record),
        "_version": epoch_ms(updated_at),
    }


def _field_id(field: Any) -> str:
    """A change's field: a reference `{id, display}`, or (liberal) the bare id."""
    return _ref_attr(field, "id") if is_mapping(field) else text(field)


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if is_mapping(value):
        return _display_text(_ref_attr(value, "display")) or _ref_key(value)
    if isinstance(value, list):
        return json.dumps(_display_list(value), ensure_ascii=False)
    return str(value)


def changelog_rows(
    record: Mapping[str, Any], *, raw_record: Mapping[str, Any] | None = None
) -> Iterator[dict[str, Any]]:
    """One row per changed field; an entry without fields (a comment, a link) gives one row with ''.
    The first row carries the whole entry as JSON (`raw`), the others ''."""
    event_id = str(_required(record, "id", "issue_changelog"))
    issue_ref = record.get("issue") if is_mapping(record.get("issue")) else {}
    issue_id = str(record.get("issue_id") or _ref_attr(issue_ref, "id"))
    if not issue_id:
        msg = f"issue_changelog record {event_id} has neither 'issue_id' nor 'issue.id'"
        raise RecordError(msg)
    issue_key = str(record.get("issue_key") or _ref_attr(issue_ref, "key"))
    event_time = _required_time(record, "updatedAt", "issue_changelog")
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
        "actor_display": _display_text(_ref_attr(record.get("updatedBy"), "display")),
        "_version": epoch_ms(event_time),
    }
    raw = to_json(record if raw_record is None else raw_record)
    fields = [f for f in record.get("fields") or [] if is_mapping(f)]
    if not fields:
        yield {**base, "field_id": "", "from_value": None, "to_value": None,
               "from_display": None, "to_display": None, "raw": raw}  # fmt: skip
        return
    for index, change in enumerate(fields):
        yield {
            **base,
            "raw": raw if index == 0 else "",
            "field_id": _field_id(change.get("field")),
            "from_value": normalise_value(change.get("from")),
            "to_value": normalise_value(change.get("to")),
            "from_display": _display(change.get("from")),
            "to_display": _display(change.get("to")),
        }
