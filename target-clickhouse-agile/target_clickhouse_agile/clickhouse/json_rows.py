"""Rows as JSON, both ways: `JSONEachRow` lines for inserts, and typed Python values from JSON output.

Embedded ClickHouse (chdb) and the HTTP interface both speak JSON, while clickhouse-driver hands back
Python values. This module turns JSON output into exactly those values (aware UTC datetimes, dates, ints,
floats, lists, None), so no caller can tell which engine or transport answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from target_clickhouse_agile.clickhouse.errors import ClickHouseError
from target_clickhouse_agile.metrics.utc import EPOCH, UTC

_WRAPPER = re.compile(r"^(Nullable|LowCardinality)\((.*)\)$")
_ARRAY = re.compile(r"^Array\((.*)\)$")
_ZONE_IN_TYPE = re.compile(r"'([^']+)'\)$")


def json_value(value: Any, *, fraction: bool = True) -> Any:
    """A Python value as `JSONEachRow` input expects it. Datetimes are UTC text with milliseconds, or
    without (`fraction=False`) for servers whose `DateTime` cannot parse a fraction (before 20.1)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ", timespec="milliseconds" if fraction else "seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (list, tuple)):
        return [json_value(item, fraction=fraction) for item in value]
    return value


def json_lines(
    table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, fraction: bool = True
) -> Iterator[str]:
    """One JSON object per row (with its newline), checked for the column count."""
    for count, row in enumerate(rows):
        values = list(row)
        if len(values) != len(columns):
            msg = f"row {count} for table {table!r} has {len(values)} values for {len(columns)} columns"
            raise ClickHouseError(msg)
        record = {
            column: json_value(value, fraction=fraction)
            for column, value in zip(columns, values, strict=True)
        }
        yield json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"


def parse_datetime(text: str, zone: tzinfo = UTC) -> datetime:
    """`'2024-01-05 10:20:30.123'` (any precision; digits past microseconds dropped), read in `zone`,
    as aware UTC."""
    whole, _, fraction = text.partition(".")
    parsed = datetime.strptime(whole, "%Y-%m-%d %H:%M:%S")
    micros = int((fraction + "000000")[:6]) if fraction else 0
    return parsed.replace(microsecond=micros, tzinfo=zone).astimezone(UTC)


def python_value(value: Any, ch_type: str, default_zone: tzinfo = UTC) -> Any:
    """A value of JSON output converted by its ClickHouse type (mirrors clickhouse-driver's results).
    A `DateTime` without a zone in its type is in `default_zone` (the server's or the session's)."""
    if value is None:
        return None
    while match := _WRAPPER.match(ch_type):
        ch_type = match.group(2)
    if match := _ARRAY.match(ch_type):
        return [python_value(item, match.group(1), default_zone) for item in value]
    if ch_type.startswith("DateTime"):
        if value.startswith("0000-00-00"):  # an old server's zero (out-of-range values became it): as
            return EPOCH  # clickhouse-driver reads it
        zone = _ZONE_IN_TYPE.search(ch_type)
        return parse_datetime(value, ZoneInfo(zone.group(1)) if zone else default_zone)
    if ch_type in ("Date", "Date32"):
        return EPOCH.date() if value == "0000-00-00" else date.fromisoformat(value)
    if ch_type.startswith(("Int", "UInt")):
        return int(value)
    if ch_type.startswith(("Float", "Decimal")):
        return float(value)
    if ch_type == "Bool":
        return bool(value)
    return value
