"""Timestamps of the simulated API.

Internally every instant is an ``int`` of milliseconds since the Unix epoch (UTC): cheap to store for
100,000 issues, exact (no float rounding), and trivially ordered. This module is the only place that
converts between that and the wire formats, so the Tracker format (``2017-06-11T05:16:01.339+0000``)
is produced in exactly one way.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000

_INPUT = re.compile(
    r"^\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)


def format_ts(ms: int) -> str:
    """Tracker wire format: always 3 fractional digits and a ``+0000`` offset without a colon."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"


def format_date(ms: int) -> str:
    """Date-only fields (sprint ``startDate``, ``deadline``) are ``YYYY-MM-DD``."""
    return time.strftime("%Y-%m-%d", time.gmtime(ms // 1000))


def to_datetime(ms: int) -> datetime:
    """An aware UTC datetime, the representation the ground truth hands to tests."""
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=ms)


def from_datetime(value: datetime) -> int:
    """Milliseconds of an aware datetime (naive ones are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def parse_ts(text: str, *, zone_minutes: int = 0) -> tuple[int, bool]:
    """Parse what clients send in filters and queries.

    Accepts the Tracker format, ISO-8601 with ``Z`` or ``±hh:mm``, ``YYYY-MM-DD HH:MM:SS`` and a bare
    date. Values without an offset are read at ``zone_minutes`` from UTC (the query language reads them in
    the user's zone, see ``search.py``; filters in UTC). Returns ``(ms, date_only)`` so that callers can
    widen a bare date to a whole day. Raises ``ValueError`` on anything else.
    """
    match = _INPUT.match(text)
    if not match:
        raise ValueError(f"unsupported date/time {text!r}")
    year, month, day, hour, minute, second, frac, offset = match.groups()
    date_only = hour is None
    micro = int((frac or "0")[:6].ljust(6, "0"))
    value = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micro,
        tzinfo=timezone.utc,
    )
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        value -= sign * shift
    elif not offset:
        value -= timedelta(minutes=zone_minutes)
    return from_datetime(value), date_only
