"""One canonical form for the values the tap emits: timestamps, and numbers sent as strings.

Tracker sends ``2017-06-11T05:16:01.339+0000`` (no colon in the offset). The SDK compares replication-key
values *as strings*, so every datetime must use a single UTC format, or ``...500+0000`` would sort before
``...Z``. We use ``YYYY-MM-DDTHH:MM:SS.mmmZ`` everywhere (records, bookmarks, logs).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: A full date-time with an explicit zone (``Z``, ``+0000``, ``+03:00``). Naive or date-only strings are
#: never touched: only values that unambiguously denote an instant are rewritten.
_TIMESTAMP_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
    r"(?P<tz>Z|z|[+-]\d{2}(?::?\d{2})?)$"
)


def parse_timestamp(value: str) -> datetime | None:
    """Parse a Tracker / ISO-8601 timestamp with an explicit zone; ``None`` when it is not one."""
    match = _TIMESTAMP_RE.match(value)
    if match is None:
        return None
    frac = (match["frac"] or "0")[:6].ljust(6, "0")
    tz = match["tz"]
    if tz in ("Z", "z"):
        offset = timedelta(0)
    else:
        digits = tz[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if tz[0] == "-" else 1)
    try:
        naive = datetime.fromisoformat(f"{match['date']}T{match['h']}:{match['m']}:{match['s'] or '00'}")
        return (naive.replace(microsecond=int(frac)) - offset).replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # not a date, or an instant beyond year 1-9999 once in UTC
        return None


def utc_now() -> datetime:
    return datetime.now(UTC)


def format_utc(moment: datetime) -> str:
    """Format an aware (or naive = UTC) datetime as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (milliseconds truncated)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def to_utc_iso(value: str | datetime | None) -> str | None:
    """Canonical form of a timestamp; strings that are not zoned timestamps are returned unchanged."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return format_utc(value)
    # Fast paths for the two shapes that make up nearly every value: Tracker's own UTC form
    # (``...T05:16:01.339+0000``) and our canonical form; both are already exact to the millisecond.
    if len(value) == 28 and value.endswith("+0000") and value[19] == "." and _TIMESTAMP_RE.match(value):
        return value[:23] + "Z"
    if len(value) == 24 and value[23] == "Z" and value[19] == "." and _TIMESTAMP_RE.match(value):
        return value
    parsed = parse_timestamp(value)
    return value if parsed is None else format_utc(parsed)


def to_datetime(value: str | datetime) -> datetime:
    """Aware UTC datetime from a canonical string, a Tracker string or a datetime (naive = UTC)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    parsed = parse_timestamp(value)
    if parsed is None:
        parsed = datetime.fromisoformat(value)
        parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed


def to_tracker_filter_ts(moment: datetime) -> str:
    """The API's own format (``2024-01-05T10:20:30.123+0000``) for ``filter`` bounds."""
    moment = to_datetime(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def to_tracker_query_ts(moment: datetime) -> str:
    """Query-language form (``2024-01-05 10:20:30``), floored to the second so the bound never skips."""
    return to_datetime(moment).strftime("%Y-%m-%d %H:%M:%S")


def normalise_timestamps(value: Any) -> Any:
    """Rewrite every zoned timestamp string inside ``value`` (recursively) to the canonical form.

    Applied to whole records, so nested values (``resolvedAt``, sprint ``createdAt``, the ``from``/``to``
    of a changelog ``statusStartTime`` change, ...) are all comparable and parseable the same way.
    Dates (``2024-01-05``), durations (``P3W``) and free text are left alone. Dicts and lists are rewritten
    in place: the tap owns the JSON it parsed, and building a copy of every record cost as much as the
    rewrite itself (this walk touches every value the API sends).
    """
    if isinstance(value, dict):
        _normalise_in_place(value, value.items())
    elif isinstance(value, list):
        _normalise_in_place(value, enumerate(value))
    elif isinstance(value, str) and len(value) >= 16 and value[4] == "-" and value[10] in ("T", " "):
        return to_utc_iso(value)
    return value


def _normalise_in_place(container: Any, slots: Iterable[tuple[Any, Any]]) -> None:
    """Rewrite ``container[slot]`` for every (slot, item) of a dict's items or a list's enumeration. Types
    are tested inline: a call per value was most of the cost."""
    for slot, item in slots:
        kind = type(item)
        if kind is str:
            if len(item) >= 16 and item[4] == "-" and (item[10] == "T" or item[10] == " "):
                container[slot] = to_utc_iso(item)
        elif kind is dict:
            _normalise_in_place(item, item.items())
        elif kind is list:
            _normalise_in_place(item, enumerate(item))
        elif isinstance(item, (str, dict, list)):  # subclasses: the general path
            container[slot] = normalise_timestamps(item)


def numeric_fields(schema: dict[str, Any]) -> dict[str, type]:
    """Top-level properties typed as numbers only (not strings): name -> ``int`` or ``float``."""
    found: dict[str, type] = {}
    for name, prop in (schema.get("properties") or {}).items():
        types = prop.get("type") or []
        types = [types] if isinstance(types, str) else types
        if "string" in types:
            continue
        if "integer" in types and "number" not in types:
            found[name] = int
        elif "number" in types:
            found[name] = float
    return found


def numbers_from_strings(record: dict[str, Any], fields: dict[str, type]) -> dict[str, Any]:
    """Numbers the API sent as strings (``"checklistDone": "2"`` is documented) in the fields the product
    reads as numbers become numbers; anything else is left for the target to keep in ``raw``."""
    for name, kind in fields.items():
        value = record.get(name)
        if isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                continue
            if kind is int and number.is_integer():
                record[name] = int(number)
            elif kind is float:
                record[name] = number
    return record
