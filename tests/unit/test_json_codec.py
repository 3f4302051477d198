"""The plugins' JSON writers: orjson where it can, the standard library where orjson refuses a value that
`json` read - both must write every value they were given, exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from tap_yandex_tracker.json_codec import dumps_line
from target_clickhouse_agile.json_codec import dumps_sorted

#: Values `json` reads and orjson refuses to write: a 65-bit integer, a lone UTF-16 surrogate.
REFUSED_BY_ORJSON = [{"big": 2**65}, {"text": "\ud800 half a pair"}]


def test_the_tap_writes_one_utf8_line_per_message() -> None:
    at = datetime(2024, 1, 5, 10, 20, tzinfo=UTC)
    line = dumps_line({"display": "Задача", "n": 1.5, "at": at, "d": Decimal("2.5"), "i": Decimal("3")})
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert "Задача".encode() in line
    assert json.loads(line) == {"display": "Задача", "n": 1.5, "at": at.isoformat(), "d": 2.5, "i": 3}


def test_the_tap_writes_what_orjson_refuses_exactly() -> None:
    for value in REFUSED_BY_ORJSON:
        line = dumps_line(value)
        assert line.endswith(b"\n")
        assert json.loads(line) == value


def test_the_targets_raw_json_is_canonical() -> None:
    text = dumps_sorted({"b": 1, "a": {"d": [1, 2.5], "c": "Задача"}, "z": None})
    assert text == '{"a":{"c":"Задача","d":[1,2.5]},"b":1,"z":null}'


def test_the_target_keeps_the_exact_text_of_decimal_numbers() -> None:
    """The SDK reads fractions as Decimal; `raw` writes them as numbers with their own digits."""
    line = '{"points": 1.50, "tiny": 0.1000000000000000055511151231257827}'
    assert dumps_sorted(json.loads(line, parse_float=Decimal)) == (
        '{"points":1.50,"tiny":0.1000000000000000055511151231257827}'
    )


def test_the_target_writes_what_orjson_refuses_exactly() -> None:
    for value in REFUSED_BY_ORJSON:
        assert json.loads(dumps_sorted(value)) == value
