"""The tap's JSON: orjson for speed, the standard library wherever the two would differ.

Writing: every RECORD and STATE message is serialised here, ~20,000 per 2,000 issues; with the standard
library's encoder (and its `default` hook for the `time_extracted` datetime) that was a tenth of the tap's
CPU, orjson does it several times faster. orjson refuses integers beyond 64 bits and lone UTF-16
surrogates (``"\\ud800"``), both of which `json` reads from an API response: such a message takes the
standard library's path, so every value the tap read is written exactly.

Reading: every API answer is parsed here (`loads_body`), ~23 MB per 2,000 issues; the standard library's
parser was a sixth of the tap's instructions, and orjson reads UTF-8 bytes about twice as fast without
decoding them into a `str` first. Where the two parsers could give different values, the standard
library reads the body, as it did before: orjson turns an integer beyond 64 bits into a float (silently),
so a body holding a run of 19 or more digits (such an integer has one; ids and timestamps do not) goes to
`json`; and what orjson refuses (`NaN`, `1e400`, lone surrogates, a BOM, UTF-16, a cut body) is read, or
refused with the usual `ValueError`, by `json`. Fractions are floats in both. (One difference is left:
arrays or objects nested ~1,000 deep, where `json` runs out of stack with a `RecursionError` and orjson,
which allows 1,024 levels, does not. No Tracker answer nests like that.)
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson


def _default(value: Any) -> Any:
    """What neither encoder writes natively: numbers parsed as Decimal, dates, anything else as text."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


#: Maps every ASCII digit to "0", so that a run of digits is found by a substring search (in C) instead of
#: a regular expression, which cost more than the parse it guards.
_DIGITS_AS_ZEROS = bytes.maketrans(b"123456789", b"000000000")
#: The shortest integer orjson may not read exactly: -9223372036854775809 and beyond have 19 digits.
_LONG_DIGIT_RUN = b"0" * 19


def loads_body(body: bytes) -> Any:
    """An API answer's JSON, the same value `json.loads(body)` gives (see the module's docstring)."""
    if _LONG_DIGIT_RUN not in body.translate(_DIGITS_AS_ZEROS):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # the standard library accepts it or raises its own error
    return json.loads(body)


def response_json(response: Any) -> Any:
    """An API answer's JSON, parsed once per response: the client's validation parses it (a body that is
    not JSON raises ValueError there), and the stream's records and the id-cursor paginator read the value
    it kept on the response."""
    cached = getattr(response, "_tracker_payload", None)
    if cached is None:
        cached = response._tracker_payload = loads_body(response.content)
    return cached


_stdlib_encode = json.JSONEncoder(default=_default, separators=(",", ":")).encode


def dumps_line(value: Any) -> bytes:
    """`value` as one line of UTF-8 JSON, newline included (a Singer message on stdout)."""
    try:
        return orjson.dumps(value, default=_default, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        return _stdlib_encode(value).encode("ascii") + b"\n"  # non-ASCII escaped: surrogates too
