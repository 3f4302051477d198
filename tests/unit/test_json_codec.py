"""The plugins' JSON writers: orjson where it can, the standard library where orjson refuses a value that
`json` read - both must write every value they were given, exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tap_yandex_tracker import json_codec
from tap_yandex_tracker.json_codec import dumps_line, loads_body
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


DOCUMENTED_ANSWERS = sorted((Path(__file__).parents[1] / "fixtures" / "real_api").rglob("*.json"))

#: Bodies where orjson alone would read another value than `json`, or refuse what `json` reads.
EDGE_BODIES = [
    # one number per body: a body that falls back for another reason would hide a misread one
    b"[18446744073709551616]",
    b"[-9223372036854775809]",
    b"[1000000000000000000000000000000]",
    b'{"u64": 18446744073709551615, "i64": -9223372036854775808, "long": 9223372036854775808}',
    b"[1.5, 1e5, -0.0, 1E+2, 0.1000000000000000055511151231257827]",
    b"[1E400]",
    b"[-1e400]",
    b'{"nan": NaN, "inf": Infinity, "minus": -Infinity}',
    b'{"a": 1, "a": 2}',
    b'["\\ud800 half a pair", "\\ud83d\\ude00 a whole pair", "\\u0000"]',
    "\ufeff".encode() + b'{"bom": true}',
    '{"utf16": "Задача"}'.encode("utf-16"),
    b'{"id": "1130000000001015", "text": "1234567890123456789 in words"}',
]


def _exactly(value: object) -> str:
    """A value's JSON with its types visible: 1 and 1.0 differ, NaN equals NaN."""
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("path", DOCUMENTED_ANSWERS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_tap_reads_documented_answers_as_json_does(path: Path) -> None:
    body = path.read_bytes()
    assert _exactly(loads_body(body)) == _exactly(json.loads(body))


@pytest.mark.parametrize("body", EDGE_BODIES)
def test_the_tap_reads_what_orjson_would_read_differently_as_json_does(body: bytes) -> None:
    assert _exactly(loads_body(body)) == _exactly(json.loads(body))


@pytest.mark.parametrize("body", [b'{"cut": [1, 2', b"", b"<html>502 Bad Gateway</html>", b'{"x": "\xff"}'])
def test_the_tap_refuses_a_body_with_the_standard_librarys_error(body: bytes) -> None:
    try:
        json.loads(body)
    except ValueError as error:
        expected = error
    else:
        raise AssertionError("json.loads accepted it")
    with pytest.raises(type(expected)) as refused:
        loads_body(body)
    assert str(refused.value) == str(expected)


def test_a_typical_answer_is_read_without_the_standard_library(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path is the point: a page of issues with Cyrillic text, ids and timestamps takes it."""

    def refuse(body: bytes) -> None:
        raise AssertionError("read by json.loads")

    monkeypatch.setattr(json_codec.json, "loads", refuse)
    body = json.dumps(
        [
            {
                "id": "665cd40805abb968b3000003",
                "summary": "Задача #4",
                "passportUid": 1130000000001015,
                "updatedAt": "2024-06-02T20:20:24.825+0000",
                "storyPoints": 2.5,
            }
        ]
        * 50,
        ensure_ascii=False,
    ).encode()
    assert loads_body(body)[49]["summary"] == "Задача #4"
