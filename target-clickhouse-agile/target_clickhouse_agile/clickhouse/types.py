"""ClickHouse column types: JSON-schema mapping for new tables and value coercion for inserts.

Inserts go through the native driver (which wants exact Python types per column) or chdb
(JSONEachRow); both are fed values that `coerce` made to match the column's declared type, so a record
that does not fit fails here with a message naming the column instead of deep inside a driver.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from dateutil import parser as date_parser

from target_clickhouse_agile.metrics.utc import EPOCH, UTC, as_utc

_WRAPPERS = ("Nullable", "LowCardinality")


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A parsed ClickHouse type: the base type name, whether NULL is allowed, and the array item type."""

    base: str
    nullable: bool
    item: ColumnType | None = None

    @property
    def is_array(self) -> bool:
        return self.item is not None


def _unwrap(text: str, wrapper: str) -> str | None:
    prefix = wrapper + "("
    if text.startswith(prefix) and text.endswith(")"):
        return text[len(prefix) : -1].strip()
    return None


@lru_cache(maxsize=512)
def parse_type(text: str) -> ColumnType:
    """Parse `Nullable(LowCardinality(String))`, `Array(String)`, `DateTime64(3, 'UTC')`, ..."""
    text = text.strip()
    nullable = False
    changed = True
    while changed:
        changed = False
        for wrapper in _WRAPPERS:
            inner = _unwrap(text, wrapper)
            if inner is not None:
                nullable = nullable or wrapper == "Nullable"
                text, changed = inner, True
    array_item = _unwrap(text, "Array")
    if array_item is not None:
        return ColumnType("Array", nullable, parse_type(array_item))
    return ColumnType(text.split("(", 1)[0], nullable)


class CoercionError(ValueError):
    """A value that does not fit its column."""


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    else:
        moment = date_parser.isoparse(str(value))
    return as_utc(moment)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return _to_datetime(value).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            msg = f"{value!r} is not a whole number"
            raise CoercionError(msg)
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return int(value.strip().lower() == "true")
    return int(value)


def _to_bool(value: Any) -> bool:
    """true/false, 1/0 or their spellings; `bool("false")` would be True, so nothing is guessed."""
    number = _to_int(value)
    if number not in (0, 1):
        msg = f"{value!r} is not a boolean"
        raise CoercionError(msg)
    return bool(number)


def _to_float(value: Any) -> float:
    return float(value)


_EMPTY: dict[str, Any] = {"String": "", "FixedString": "", "UUID": "00000000-0000-0000-0000-000000000000"}


def _scalar(value: Any, base: str) -> Any:
    if base in ("String", "FixedString", "UUID", "Enum8", "Enum16"):
        return _to_string(value)
    if base.startswith(("Int", "UInt")):
        return _to_int(value)
    if base.startswith(("Float", "Decimal")):
        return _to_float(value)
    if base in ("DateTime", "DateTime64"):
        return _to_datetime(value)
    if base in ("Date", "Date32"):
        return _to_date(value)
    if base == "Bool":
        return _to_bool(value)
    return value


def _empty(column: ColumnType) -> Any:
    if column.is_array:
        return []
    if column.base in _EMPTY:
        return _EMPTY[column.base]
    if column.base.startswith(("Int", "UInt")):
        return 0
    if column.base.startswith(("Float", "Decimal")):
        return 0.0
    if column.base in ("DateTime", "DateTime64"):
        return EPOCH
    if column.base in ("Date", "Date32"):
        return EPOCH.date()
    msg = "NULL is not allowed here"
    raise CoercionError(msg)


def coerce(value: Any, column: ColumnType) -> Any:
    """Convert `value` to the Python type the column wants; NULL only where the column allows it."""
    if value is None:
        return None if column.nullable else _empty(column)
    if column.item is not None:
        if not isinstance(value, list):
            value = [value]
        return [coerce(v, column.item) for v in value]
    return _scalar(value, column.base)


def coerce_row(
    row: Mapping[str, Any],
    columns: Mapping[str, ColumnType],
    table: str,
    *,
    strict: Collection[str] | None = None,
    problems: dict[str, str] | None = None,
) -> tuple[Any, ...]:
    """A row as a tuple in `columns` order. A value that does not fit fails, naming its table and column,
    when the column is in `strict` (all columns when `strict` is None); any other column gets its empty
    value and the problem is added to `problems`."""
    out = []
    for name, column in columns.items():
        try:
            out.append(coerce(row.get(name), column))
        except (CoercionError, ValueError, TypeError, OverflowError) as exc:
            if strict is None or name in strict or problems is None:
                msg = f"cannot load {row.get(name)!r} into {table}.{name}: {exc}"
                raise CoercionError(msg) from exc
            problems[name] = f"{str(row.get(name))[:60]!r} does not fit the column ({exc})"
            out.append(None if column.nullable else _empty(column))
    return tuple(out)


def find_unencodable(rows: Iterable[Sequence[Any]], columns: Sequence[str]) -> tuple[int, str] | None:
    """(row index, column) of the first text that UTF-8 cannot encode (a lone surrogate that a JSON
    `\\ud800` escape produced); no INSERT can carry it. Called after an INSERT failed, so it costs
    nothing on the normal path."""
    for index, row in enumerate(rows):
        for column, value in zip(columns, row, strict=False):
            for text in value if isinstance(value, list) else (value,):
                if isinstance(text, str):
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError:
                        return index, column
    return None


def clickhouse_type_for(schema: Mapping[str, Any], *, key: bool = False) -> str:
    """The column type of a new table for a JSON-schema property.

    Objects and arrays are stored as JSON text: Singer schemas are often loose (`anyOf`, missing item
    types) and a JSON string never loses data; ClickHouse's JSON functions read it back.
    """
    types = schema.get("type", [])
    if isinstance(types, str):
        types = [types]
    if not types and "anyOf" in schema:
        types = [t for option in schema["anyOf"] for t in _as_list(option.get("type", []))]
    non_null = [t for t in types if t != "null"]
    fmt = schema.get("format")
    if non_null == ["integer"]:
        base = "Int64"
    elif non_null and set(non_null) <= {"number", "integer"}:
        base = "Float64"
    elif non_null == ["boolean"]:
        base = "UInt8"
    elif non_null == ["string"] and fmt == "date-time":
        base = "DateTime64(3, 'UTC')"
    elif non_null == ["string"] and fmt == "date":
        base = "Date"
    else:
        base = "String"
    return base if key else f"Nullable({base})"


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
