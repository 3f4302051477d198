"""Issue history as the metrics core sees it: events with normalised field changes.

The Tracker changelog carries many value shapes (references, arrays, timestamps, numbers). Metrics only need a
few fields, and only as comparable strings, so everything is reduced here to ``HistoryEvent`` objects whose
values are plain strings. The target builds the same objects from ``issue_changelog`` rows read back from
ClickHouse (:func:`events_from_field_rows`), so both paths must normalise values identically.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from .utc import UTC, as_utc

__all__ = [
    "METRIC_FIELDS",
    "FieldChange",
    "HistoryEvent",
    "events_from_changelog",
    "events_from_field_rows",
    "is_mapping",
    "normalise_value",
    "parse_timestamp",
]

#: The changelog fields that influence metrics; every other field is dropped when events are built.
METRIC_FIELDS: frozenset[str] = frozenset({"status", "statusStartTime", "queue", "key"})

_TIMESTAMP_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?"
    r"\s*(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field's change inside an event; values are normalised strings (see :func:`normalise_value`)."""

    from_value: str | None
    to_value: str | None


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One changelog entry reduced to what metrics need.

    ``at`` is the entry's ``updatedAt`` as an aware UTC datetime; ``changes`` maps a field id to its change.
    """

    event_id: str
    at: datetime
    event_type: str
    changes: dict[str, FieldChange]


_NEVER_MAPPINGS = frozenset({str, int, float, bool, list, type(None)})


def is_mapping(value: Any) -> bool:
    """`isinstance(value, Mapping)` for JSON values, without the ABC check for a dict or a scalar (the
    common cases): that check was called for every value of every changelog row."""
    kind = type(value)
    return kind is dict or (kind not in _NEVER_MAPPINGS and isinstance(value, Mapping))


def normalise_value(value: Any) -> str | None:
    """Reduce a changelog value to a comparable string.

    A reference object becomes its ``key`` (statuses and queues are identified by key, never by display
    name), else its ``id``; a list becomes a compact JSON array of its normalised items; booleans become
    ``true``/``false`` (JSON spelling, so arrays and scalars agree); other scalars become ``str(value)``.
    """
    if value is None:
        return None
    if is_mapping(value):
        return _normalise_reference(value)
    if isinstance(value, (list, tuple)):
        items = [normalise_value(item) for item in value]
        return json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _normalise_reference(ref: Mapping[str, Any]) -> str:
    """A reference's ``key``, else its ``id``; an unknown object is kept whole as sorted JSON."""
    for name in ("key", "id"):
        found = ref.get(name)
        if found is not None:
            return str(found)
    return json.dumps(ref, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def parse_timestamp(value: str | datetime) -> datetime:
    """Parse a Tracker/ISO-8601 timestamp into an aware UTC datetime.

    Accepts ``2017-06-11T05:16:01.339+0000``, ``...Z``, ``...+03:00``, ``+03``, any number of fractional
    digits (truncated to microseconds) and no seconds. Python 3.10's ``fromisoformat`` rejects ``+0000``
    and ``Z``, hence the explicit grammar. A string without an offset, or a naive datetime (as read back
    from ``DateTime64(3, 'UTC')``), is taken as UTC.
    """
    if isinstance(value, datetime):
        return as_utc(value)
    if type(value) is str and len(value) == 24 and value[23] == "Z" and value[19] == "." and value[10] == "T":
        # The tap's canonical form (``2024-01-05T10:20:30.123Z``), nearly every value: one C call.
        with suppress(ValueError):  # not digits where they belong: the full grammar decides (and says why)
            return datetime.fromisoformat(value[:23]).replace(tzinfo=UTC)
    match = _TIMESTAMP_RE.match(value.strip()) if isinstance(value, str) else None
    try:
        if match is None:
            raise ValueError("no match")
        frac = (match["frac"] or "")[:6].ljust(6, "0")
        naive = datetime.fromisoformat(
            f"{match['date']}T{match['h']}:{match['m']}:{match['s'] or '00'}.{frac}"
        )
        return naive.replace(tzinfo=_parse_offset(match["tz"])).astimezone(UTC)
    except ValueError:
        raise ValueError(
            f"Unrecognised timestamp {value!r}: expected ISO-8601 such as '2024-01-05T10:20:30.123+0000'"
        ) from None


def _parse_offset(text: str | None) -> timezone:
    """``Z``/``+0000``/``+03:00``/``+03`` → a fixed-offset tzinfo; no offset means UTC."""
    if text is None or text in ("Z", "z"):
        return UTC
    digits = text[1:].replace(":", "")
    minutes = int(digits[:2]) * 60 + int(digits[2:4] or 0)
    sign = -1 if text[0] == "-" else 1
    return timezone(sign * timedelta(minutes=minutes))


def events_from_changelog(entries: Iterable[Mapping[str, Any]]) -> list[HistoryEvent]:
    """Build events from raw changelog entries (API or tap records), keeping only :data:`METRIC_FIELDS`.

    Entries without any metric field are dropped: they cannot change a status or a queue. The result is in
    input order; :mod:`.intervals` does the ordering because it depends on ``statusStartTime``.
    """
    events: list[HistoryEvent] = []
    for entry in entries:
        changes: dict[str, FieldChange] = {}
        for item in entry.get("fields") or ():
            field_id = _field_id(item.get("field"))
            if field_id in METRIC_FIELDS:
                from_value, to_value = normalise_value(item.get("from")), normalise_value(item.get("to"))
                changes[field_id] = FieldChange(from_value, to_value)
        if changes:
            events.append(
                HistoryEvent(
                    event_id=str(entry["id"]),
                    at=parse_timestamp(entry["updatedAt"]),
                    event_type=str(entry.get("type") or ""),
                    changes=changes,
                )
            )
    return events


def _field_id(field: Any) -> str | None:
    """``{"id": "status", ...}`` → ``"status"``; a bare string is accepted as the id itself."""
    if is_mapping(field):
        found = field.get("id")
        return None if found is None else str(found)
    return field if isinstance(field, str) else None


def events_from_field_rows(rows: Iterable[Mapping[str, Any]]) -> list[HistoryEvent]:
    """Build events from ``issue_changelog`` rows (one row per changed field), as stored in ClickHouse.

    Rows need ``event_id``, ``event_time``, ``event_type``, ``field_id``, ``from_value``, ``to_value``; the
    values are already normalised strings. Rows of one event are grouped by ``event_id``.
    """
    grouped: dict[str, HistoryEvent] = {}
    for row in rows:
        field_id = row.get("field_id")
        if field_id not in METRIC_FIELDS:
            continue
        event_id = row["event_id"]
        if type(event_id) is not str:
            event_id = str(event_id)
        event = grouped.get(event_id)
        if event is None:
            at = row["event_time"]
            if type(at) is not datetime or at.tzinfo is not UTC:  # read back from ClickHouse: already is
                at = parse_timestamp(at)
            event = grouped[event_id] = HistoryEvent(event_id, at, str(row.get("event_type") or ""), {})
        change = FieldChange(_optional_str(row.get("from_value")), _optional_str(row.get("to_value")))
        event.changes[field_id] = change
    return list(grouped.values())


def _optional_str(value: Any) -> str | None:
    return value if type(value) is str else None if value is None else str(value)
