"""json_rows.py: JSON in and out of ClickHouse as the native driver's Python values (hand-written cases)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from target_clickhouse_agile.clickhouse import ClickHouseError
from target_clickhouse_agile.clickhouse.json_rows import json_lines, json_value, python_value

UTC = timezone.utc
MSK = timezone(timedelta(hours=3))


def test_datetimes_go_in_as_utc_text_with_or_without_milliseconds() -> None:
    moment = datetime(2024, 3, 4, 10, 30, 5, 123456, tzinfo=MSK)
    assert json_value(moment) == "2024-03-04 07:30:05.123"
    assert json_value(moment, fraction=False) == "2024-03-04 07:30:05"
    assert json_value([moment], fraction=False) == ["2024-03-04 07:30:05"]


def test_other_values_go_in_as_json_accepts_them() -> None:
    assert json_value(date(2024, 2, 29)) == "2024-02-29"
    assert json_value(True) == 1
    assert json_value(Decimal("1.25")) == 1.25
    assert json_value(None) is None


def test_rows_become_lines_and_a_short_row_is_refused() -> None:
    lines = list(json_lines("t", ["a", "b"], [(1, "x"), (2, None)]))
    assert lines == ['{"a":1,"b":"x"}\n', '{"a":2,"b":null}\n']
    with pytest.raises(ClickHouseError, match="row 0 for table 't' has 1 values for 2 columns"):
        list(json_lines("t", ["a", "b"], [(1,)]))


@pytest.mark.parametrize(
    ("value", "ch_type", "expected"),
    [
        ("5", "UInt64", 5),
        (7, "Nullable(Int32)", 7),
        (None, "Nullable(String)", None),
        ("x", "LowCardinality(String)", "x"),
        ([1, 2], "Array(UInt8)", [1, 2]),
        (1.5, "Decimal(9, 2)", 1.5),
        ("2024-03-04", "Date", date(2024, 3, 4)),
        ("2024-03-04 07:30:05", "DateTime('UTC')", datetime(2024, 3, 4, 7, 30, 5, tzinfo=UTC)),
        ("2024-03-04 07:30:05.123", "DateTime64(3, 'UTC')",
         datetime(2024, 3, 4, 7, 30, 5, 123000, tzinfo=UTC)),
        # A zone in the type wins over the server's; the result is always UTC.
        ("2024-03-04 10:30:05", "DateTime('Europe/Moscow')", datetime(2024, 3, 4, 7, 30, 5, tzinfo=UTC)),
        (["2024-03-04 07:30:05"], "Array(Nullable(DateTime('UTC')))",
         [datetime(2024, 3, 4, 7, 30, 5, tzinfo=UTC)]),
        # An old server's zero (what out-of-range values became): the epoch, as the native driver reads it.
        ("0000-00-00 00:00:00", "DateTime('UTC')", datetime(1970, 1, 1, tzinfo=UTC)),
        ("0000-00-00", "Nullable(Date)", date(1970, 1, 1)),
    ],
)  # fmt: skip
def test_json_output_becomes_the_drivers_python_values(value: object, ch_type: str, expected: object) -> None:
    assert python_value(value, ch_type) == expected


def test_a_datetime_without_a_zone_is_read_in_the_servers_zone() -> None:
    moment = python_value("2024-03-04 10:30:05", "DateTime", ZoneInfo("Europe/Moscow"))
    assert moment == datetime(2024, 3, 4, 7, 30, 5, tzinfo=UTC)
    assert moment.utcoffset() == timedelta(0)
