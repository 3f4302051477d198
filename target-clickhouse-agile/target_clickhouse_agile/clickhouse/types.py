"""ClickHouse column types: JSON-schema mapping for new tables and value coercion for inserts.

Inserts go through the native driver (which wants exact Python types per column) or chdb
(JSONEachRow); both are fed values that `coerce` made to match the column's declared type, so a record
that does not fit fails here with a message naming the column instead of deep inside a driver.

For a connection that takes them (`Connection.takes_unix_time`: the native one), `DateTime` and
`DateTime64` values are coerced to the integer the protocol carries (seconds, or units of the column's
scale, since the epoch). clickhouse-driver turns every datetime it is given into that integer itself, at
~1.6 us a value (a time-zone conversion through pytz per value), and passes integers through: ~76,000
values per 2,000 issues.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any

from dateutil import parser as date_parser

from target_clickhouse_agile.metrics.history import parse_timestamp
from target_clickhouse_agile.metrics.utc import EPOCH, UTC, as_utc

_WRAPPERS = ("Nullable", "LowCardinality")


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A parsed ClickHouse type: the base type name, whether NULL is allowed, and the array item type."""

    base: str
    nullable: bool
    item: ColumnType | None = None
    scale: int = 0  # DateTime64's digits after the second

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
    base, _, arguments = text.partition("(")
    if base == "DateTime64":
        return ColumnType(base, nullable, scale=int(arguments.split(",", 1)[0].strip(" )") or 3))
    return ColumnType(base, nullable)


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
        try:  # the grammar the validator checks `date-time` with (validation.py)
            return parse_timestamp(str(value))
        except ValueError:
            moment = date_parser.isoparse(str(value))  # other ISO-8601 forms (week dates, ...)
    return as_utc(moment)


_MICROSECOND = timedelta(microseconds=1)
#: What a `DateTime` holds: seconds since the epoch as UInt32 (1970-01-01 to 2106-02-07).
_DATETIME_SECONDS = range(2**32)
#: The instants a column of each type holds (`DateTime64`: ClickHouse's documented range). A value outside
#: is refused here, naming it: the engines do not agree on one (the native driver fails the INSERT or
#: writes 0, the HTTP interface reads it as 0 or wraps it, chdb clamps it).
_INSTANTS = {
    "DateTime": (EPOCH, EPOCH + timedelta(seconds=2**32 - 1)),
    "DateTime64": (datetime(1900, 1, 1, tzinfo=UTC), datetime(2299, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
}
_DAYS = {"Date": (date(1970, 1, 1), date(2149, 6, 6)), "Date32": (date(1900, 1, 1), date(2299, 12, 31))}


def _in_range(value: Any, low: Any, high: Any, base: str) -> None:
    if not low <= value <= high:
        msg = f"{value!r} is outside what a {base} holds ({low} to {high})"
        raise CoercionError(msg)


def _within(convert: Callable[[Any], Any], base: str, low: Any, high: Any) -> Callable[[Any], Any]:
    """`convert`, its result refused outside what a `base` column holds (`_INSTANTS`, `_DAYS`): chdb
    clamped such values (2200-01-01 became 2149-06-06), the native driver and the HTTP interface wrote 0."""

    def ranged(value: Any) -> Any:
        result = convert(value)
        _in_range(result, low, high, base)
        return result

    return ranged


def _unix_time(scale: int, *, unsigned_seconds: bool) -> Callable[[Any], int]:
    """A `DateTime` (`unsigned_seconds`) or `DateTime64(scale)` value as the native protocol carries it:
    the count of 10^-scale seconds since the epoch, in exact integer arithmetic (an instant before the
    epoch rounds down, as the text the other connections send is read). A `DateTime` outside its range
    fails here, naming the column, rather than inside the driver."""

    divisor, multiplier = (10 ** (6 - scale), 1) if scale <= 6 else (1, 10 ** (scale - 6))

    low, high = _INSTANTS["DateTime64"]

    def convert(value: Any) -> int:
        if type(value) is not datetime or value.tzinfo is None:  # an aware one subtracts as it is
            value = _to_datetime(value)
        units = (value - EPOCH) // _MICROSECOND // divisor * multiplier
        if unsigned_seconds and units not in _DATETIME_SECONDS:
            msg = f"{value!r} is outside what a DateTime holds (1970-01-01 to 2106-02-07 UTC)"
            raise CoercionError(msg)
        if not unsigned_seconds:
            _in_range(value, low, high, "DateTime64")
        return units

    return convert


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return _to_datetime(value).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def json_default(value: Any) -> Any:
    """What `json.dumps` cannot write: a number with a fraction (the Singer reader's `Decimal`) as a
    number, whole or the nearest float (`default=str` made it a string, which ClickHouse's JSON functions
    then read as text); anything else as its text."""
    if isinstance(value, Decimal) and value.is_finite():
        return int(value) if value == value.to_integral_value() else float(value)
    return str(value)


def json_text(value: Any) -> str:
    """An object or array as the text of a column: keys sorted, UTF-8 kept, numbers as numbers."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=json_default)


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json_text(value)
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


def _int_bounds(base: str) -> tuple[int, int]:
    """The smallest and largest value of an `Int<bits>` / `UInt<bits>` column."""
    bits = int(base.removeprefix("U").removeprefix("Int") or 64)
    return (0, 2**bits - 1) if base.startswith("U") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


def _ranged_int(base: str) -> Callable[[Any], int]:
    """`_to_int`, and a value beyond what the column holds is refused here, naming it: the native protocol
    fails the whole INSERT on it (without naming the record), while the HTTP interface and chdb wrap it
    silently (2**70 stored as 0), so every engine must see it refused the same way first."""
    low, high = _int_bounds(base)

    def convert(value: Any) -> int:
        number = value if type(value) is int else _to_int(value)
        if low <= number <= high:
            return number
        msg = f"{value!r} is outside the range of {base} ({low} to {high})"
        raise CoercionError(msg)

    return convert


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


def _exact(kind: type, convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`convert`, skipped for a value that already has the column's Python type (nearly every value)."""

    def fast(value: Any) -> Any:
        return value if type(value) is kind else convert(value)

    return fast


def _scalar_kind(base: str) -> type | None:
    """The Python type of a scalar column's values, where values of that type need no conversion."""
    if base in ("String", "FixedString", "UUID", "Enum8", "Enum16"):
        return str
    if base.startswith(("Int", "UInt")):
        return int
    if base.startswith(("Float", "Decimal")):
        return float
    return None


_CONVERT_TO: dict[type, Callable[[Any], Any]] = {str: _to_string, int: _to_int, float: _to_float}


def passes_unchanged(column: ColumnType) -> type | None:
    """The type whose values `converter(column)` returns as they are (`None`: every value is converted), so
    that a loop over many values can skip the call for them. Integers are converted too: their range is
    checked (`_ranged_int`)."""
    kind = None if column.item is not None else _scalar_kind(column.base)
    return None if kind is int else kind


def _scalar_converter(column: ColumnType, unix_time: bool) -> Callable[[Any], Any]:
    base = column.base
    kind = _scalar_kind(base)
    if kind is int:
        return _ranged_int(base)
    if kind is not None:
        return _exact(kind, _CONVERT_TO[kind])
    if base in ("DateTime", "DateTime64"):
        if unix_time:
            return _unix_time(column.scale, unsigned_seconds=base == "DateTime")
        return _within(_to_datetime, base, *_INSTANTS[base])
    if base in ("Date", "Date32"):
        return _within(_to_date, base, *_DAYS[base])
    if base == "Bool":
        return _to_bool
    return lambda value: value


def _empty(column: ColumnType, unix_time: bool = False) -> Any:
    if column.is_array:
        return []
    if column.base in _EMPTY:
        return _EMPTY[column.base]
    if column.base.startswith(("Int", "UInt")):
        return 0
    if column.base.startswith(("Float", "Decimal")):
        return 0.0
    if column.base in ("DateTime", "DateTime64"):
        return 0 if unix_time else EPOCH
    if column.base in ("Date", "Date32"):
        return EPOCH.date()
    msg = "NULL is not allowed here"
    raise CoercionError(msg)


@lru_cache(maxsize=512)
def converter(column: ColumnType, unix_time: bool = False) -> Callable[[Any], Any]:
    """`coerce` for one column type, with the dispatch on the type done once instead of once per value
    (an INSERT batch converts hundreds of thousands of values). `unix_time`: datetimes as the native
    protocol's integers (module docstring)."""
    if column.item is not None:
        item = converter(column.item, unix_time)

        def body(value: Any) -> Any:
            return [item(v) for v in (value if isinstance(value, list) else [value])]
    else:
        body = _scalar_converter(column, unix_time)
    nullable = column.nullable

    def convert(value: Any) -> Any:
        if value is None:
            return None if nullable else _empty(column, unix_time)
        return body(value)

    return convert


def coerce(value: Any, column: ColumnType) -> Any:
    """Convert `value` to the Python type the column wants; NULL only where the column allows it."""
    return converter(column)(value)


class _Unmatched:
    """No value is of this type."""


class RowCoercer:
    """Rows of one table as tuples in `columns` order. A value that does not fit fails, naming its table
    and column, when the column is in `strict` (all columns when `strict` is None); any other column gets
    its empty value and the problem is added to the `problems` passed in. `unix_time`: datetimes as the
    native protocol's integers, for a connection that `takes_unix_time` (module docstring)."""

    def __init__(
        self,
        columns: Mapping[str, ColumnType],
        table: str,
        *,
        strict: Collection[str] | None = None,
        unix_time: bool = False,
    ) -> None:
        self.table = table
        self._strict = strict
        self._unix_time = unix_time
        self._columns = [(name, converter(column, unix_time), column) for name, column in columns.items()]
        # Per column: the type that passes unchanged (a type no value has where every value is converted).
        self._fast = [
            (name, passes_unchanged(column) or _Unmatched, convert) for name, convert, column in self._columns
        ]

    def __call__(self, row: Mapping[str, Any], problems: dict[str, str] | None = None) -> tuple[Any, ...]:
        get = row.get
        try:
            # Most values already have their column's type: tested inline, a call per value cost more.
            return tuple(
                [
                    value if type(value := get(name)) is kind else convert(value)
                    for name, kind, convert in self._fast
                ]
            )
        except (CoercionError, ValueError, TypeError, OverflowError):
            return self._one_by_one(row, problems)

    def columns_to_rows(self, values: Mapping[str, Sequence[Any]], count: int) -> list[tuple[Any, ...]]:
        """`count` rows from column-wise `values` (a column absent from `values` is NULL, i.e. its empty
        value where NULL is not allowed, in every row): what calling the coercer on each row gives, with
        each column's type checked in one tight loop instead of a lookup and a test per value and row.
        For rows that are already columns (the metrics step's dataclasses, transposed in C). A value
        that does not fit fails as the row-by-row call fails, naming table and column."""
        if not self._fast:
            return [()] * count
        columns: list[Sequence[Any]] = []
        for name, kind, convert in self._fast:
            column = values.get(name)
            try:
                if column is None:
                    empty = convert(None)  # an array's empty list is made per row: no row shares it
                    columns.append([[] for _ in range(count)] if empty == [] else [empty] * count)
                else:
                    columns.append([value if type(value) is kind else convert(value) for value in column])
            except (CoercionError, ValueError, TypeError, OverflowError):
                names, rows = list(values), zip(*values.values(), strict=True)
                return [self(dict(zip(names, row, strict=True))) for row in rows]
        return list(zip(*columns, strict=True))

    def _one_by_one(self, row: Mapping[str, Any], problems: dict[str, str] | None) -> tuple[Any, ...]:
        """The slow path once some value did not fit: find which, and fail or record it."""
        out = []
        for name, convert, column in self._columns:
            try:
                out.append(convert(row.get(name)))
            except (CoercionError, ValueError, TypeError, OverflowError) as exc:
                if self._strict is None or name in self._strict or problems is None:
                    msg = f"cannot load {row.get(name)!r} into {self.table}.{name}: {exc}"
                    raise CoercionError(msg) from exc
                problems[name] = f"{str(row.get(name))[:60]!r} does not fit the column ({exc})"
                out.append(None if column.nullable else _empty(column, self._unix_time))
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
