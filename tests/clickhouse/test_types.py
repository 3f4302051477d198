"""Values converted for their column: what is refused, and nothing guessed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from target_clickhouse_agile.clickhouse import Connection
from target_clickhouse_agile.clickhouse.tables import describe
from target_clickhouse_agile.clickhouse.types import (
    CoercionError,
    RowCoercer,
    coerce,
    converter,
    find_unencodable,
    parse_type,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (1, True), (0, False), ("true", True), ("false", False), (" TRUE ", True)],
)
def test_bool_columns_take_booleans_and_their_spellings(value: object, expected: bool) -> None:
    assert coerce(value, parse_type("Bool")) is expected


@pytest.mark.parametrize("value", ["yes", "maybe", 2, -1, 0.5])
def test_bool_columns_refuse_anything_else(value: object) -> None:
    with pytest.raises((CoercionError, ValueError)):
        coerce(value, parse_type("Bool"))


@pytest.mark.parametrize(
    ("ch_type", "fits", "does_not_fit"),
    [
        ("Int64", [-(2**63), 2**63 - 1, "42", 3.0], [2**63, -(2**63) - 1, 2**70]),
        ("UInt64", [0, 2**64 - 1], [-1, 2**64]),
        ("UInt8", [0, 255, True], [256, -1]),
        ("Nullable(Int32)", [None, 2**31 - 1], [2**31]),
    ],
)
def test_integers_are_checked_against_what_their_column_holds(
    ch_type: str, fits: list[object], does_not_fit: list[object]
) -> None:
    """A value beyond the column is refused by name, as on every engine (the native protocol fails the
    whole INSERT on it, HTTP and chdb wrap it silently); the row coercer's loop does not skip integers."""
    column = parse_type(ch_type)
    for value in fits:
        assert coerce(value, column) == (None if value is None else int(value))  # type: ignore[call-overload]
    for value in does_not_fit:
        with pytest.raises(CoercionError, match="outside the range"):
            coerce(value, column)
    coercer = RowCoercer({"n": column}, "t", strict=set())
    problems: dict[str, str] = {}
    assert coercer({"n": does_not_fit[0]}, problems) == (None if column.nullable else 0,)
    assert "n" in problems


@pytest.mark.parametrize(
    ("ch_type", "outside"),
    [
        ("Date", ["2200-01-01", "1960-01-01"]),
        ("Nullable(Date32)", ["2300-01-01", "1850-06-01"]),
        ("DateTime('UTC')", ["2300-01-01T00:00:00Z", "1969-12-31T23:59:59.500Z"]),
        ("DateTime64(3, 'UTC')", ["2300-01-01T00:00:00Z", "1850-01-01T00:00:00Z"]),
    ],
)
@pytest.mark.parametrize("unix_time", [True, False])
def test_a_date_or_instant_outside_its_column_is_refused_by_name(
    ch_type: str, outside: list[str], unix_time: bool
) -> None:
    """The engines disagreed on such values (0, a wrapped value, a clamped one), without a report: refused
    here, the same for every connection, so the row coercer leaves the column empty and reports it."""
    convert = converter(parse_type(ch_type), unix_time)
    for value in outside:
        with pytest.raises(CoercionError, match="outside what a"):
            convert(value)
    assert convert("2024-01-05T10:20:30.000Z") is not None


def test_a_timestamp_in_the_validators_grammar_fills_a_datetime_column() -> None:
    """A space before the zone and a lowercase `t` pass the schema check (validation.py): the column takes
    them too, instead of leaving them empty."""
    convert = converter(parse_type("DateTime64(3, 'UTC')"))
    expected = datetime(2024, 1, 5, 7, 20, 30, 123000, tzinfo=timezone.utc)
    assert convert("2024-01-05 10:20:30.123 +03:00") == expected
    assert convert("2024-01-05t07:20:30.123Z") == expected


def test_find_unencodable_points_at_the_first_lone_surrogate() -> None:
    rows = [("a", ["b", "c"], 1), ("d", ["e", "broken \udc80"], 2), ("\ud800", [], 3)]
    assert find_unencodable(rows, ["x", "tags", "n"]) == (1, "tags")
    assert find_unencodable(rows[:1], ["x", "tags", "n"]) is None


#: 2024-01-02 03:04:05.678912 at +03:00 = 2024-01-02 00:04:05.678912 UTC = 1704153845 s (hand-computed).
MOMENT = datetime(2024, 1, 2, 3, 4, 5, 678912, tzinfo=timezone(timedelta(hours=3)))


@pytest.mark.parametrize(
    ("ch_type", "expected"),
    [
        ("DateTime('UTC')", 1704153845),
        ("DateTime64(3, 'UTC')", 1704153845678),
        ("DateTime64(6)", 1704153845678912),
        ("Nullable(DateTime64(3, 'UTC'))", 1704153845678),
        ("DateTime64(9, 'Europe/Moscow')", 1704153845678912000),  # beyond microseconds: still exact
    ],
)
def test_unix_time_is_the_count_of_the_columns_units_since_the_epoch(ch_type: str, expected: int) -> None:
    convert = converter(parse_type(ch_type), unix_time=True)
    assert convert(MOMENT) == expected
    assert type(convert(MOMENT)) is int
    assert convert(MOMENT.astimezone(timezone.utc).replace(tzinfo=None)) == expected  # naive is UTC
    assert convert("2024-01-02T00:04:05.678912Z") == expected
    unit = 10 ** parse_type(ch_type).scale
    assert convert(1704153845) == expected // unit * unit  # a number is whole seconds
    assert convert(None) == (None if ch_type.startswith("Nullable") else 0)


def test_a_misfit_datetime_left_empty_is_the_epoch_in_unix_time() -> None:
    columns = {"at": parse_type("DateTime('UTC')"), "id": parse_type("String")}
    problems: dict[str, str] = {}
    coerced = RowCoercer(columns, "t", strict={"id"}, unix_time=True)(
        {"at": "not a time", "id": "x"}, problems
    )
    assert coerced == (0, "x")
    assert set(problems) == {"at"}


def test_datetimes_go_in_as_the_connection_takes_them(clickhouse_any: Connection) -> None:
    """The same instants, given every way the rows builders give them, read back the same on each engine
    (the native connection takes unix time, chdb datetimes)."""
    conn = clickhouse_any
    conn.execute(
        conn.dialect.adapt_ddl(
            "CREATE TABLE moments (id UInt32, at DateTime64(3, 'UTC'), maybe Nullable(DateTime64(3, 'UTC')))"
            " ENGINE = MergeTree ORDER BY id"
        )
    )
    columns = describe(conn, "moments")
    assert columns is not None
    coerce = RowCoercer(columns, "moments", unix_time=conn.takes_unix_time)
    given = [MOMENT, MOMENT.astimezone(timezone.utc).replace(tzinfo=None), "2024-01-02T00:04:05.678+00:00"]
    rows = [coerce({"id": n, "at": value, "maybe": value if n else None}) for n, value in enumerate(given)]
    conn.insert("moments", list(columns), rows)
    stored = conn.query("SELECT id, at, maybe FROM moments ORDER BY id")
    instant = conn.dialect.datetime_value(MOMENT.replace(microsecond=678000))
    assert stored == [{"id": n, "at": instant, "maybe": instant if n else None} for n in range(len(given))]


def test_unix_time_before_the_epoch_rounds_down_as_the_text_would_be_read() -> None:
    half_past = datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=timezone.utc)  # 1.5 s before the epoch
    assert converter(parse_type("DateTime64(3)"), unix_time=True)(half_past) == -1500
    assert converter(parse_type("DateTime64(0)"), unix_time=True)(half_past) == -2


@pytest.mark.parametrize(
    "moment", [datetime(1969, 12, 31, 23, 59, 59, tzinfo=timezone.utc), "2106-02-08T00:00:00Z"]
)
def test_a_datetime_outside_what_the_column_holds_is_refused_by_name(moment: object) -> None:
    columns = {"at": parse_type("DateTime('UTC')")}
    with pytest.raises(CoercionError, match=r"cannot load .* into t\.at: .*outside what a DateTime holds"):
        RowCoercer(columns, "t", unix_time=True)({"at": moment})


#: One column of each kind the metrics step writes: text, integers, an instant in the protocol's units, a
#: Nullable one, a float, and a column the rows do not carry (its empty value in every row).
MIXED = {
    "issue_id": "String",
    "seq": "UInt32",
    "at": "DateTime64(3, 'UTC')",
    "left": "Nullable(DateTime64(3, 'UTC'))",
    "hours": "Nullable(Float64)",
    "_is_deleted": "UInt8",
}


@pytest.mark.parametrize("unix_time", [True, False])
def test_columns_to_rows_gives_what_the_row_by_row_call_gives(unix_time: bool) -> None:
    columns = {name: parse_type(kind) for name, kind in MIXED.items()}
    coerce = RowCoercer(columns, "t", unix_time=unix_time)
    rows = [
        {"issue_id": "a", "seq": 1, "at": MOMENT, "left": None, "hours": 1.5},
        {"issue_id": "b", "seq": "2", "at": "2024-01-02T00:04:05.678Z", "left": MOMENT, "hours": 2},
        {"issue_id": "c", "seq": 3, "at": MOMENT.replace(tzinfo=None), "left": None, "hours": None},
    ]
    values = {name: [row[name] for row in rows] for name in rows[0]}
    assert coerce.columns_to_rows(values, len(rows)) == [coerce(row) for row in rows]
    assert coerce.columns_to_rows(values, len(rows))[1][1] == 2  # a numeric string became the number
    assert [row[-1] for row in coerce.columns_to_rows(values, len(rows))] == [0, 0, 0]


def test_columns_to_rows_names_the_value_that_does_not_fit() -> None:
    columns = {name: parse_type(kind) for name, kind in MIXED.items()}
    values = {"issue_id": ["a", "b"], "seq": [1, "many"]}
    with pytest.raises(CoercionError, match=r"cannot load 'many' into t\.seq"):
        RowCoercer(columns, "t", unix_time=True).columns_to_rows(values, 2)


def test_columns_to_rows_gives_each_row_its_own_empty_array() -> None:
    columns = {"id": parse_type("String"), "tags": parse_type("Array(String)")}
    rows = RowCoercer(columns, "t").columns_to_rows({"id": ["a", "b"]}, 2)
    assert rows == [("a", []), ("b", [])]
    assert rows[0][1] is not rows[1][1]
