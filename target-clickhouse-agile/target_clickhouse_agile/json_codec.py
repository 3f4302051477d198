"""The `raw` column's JSON: orjson for speed, the standard library for whatever orjson refuses.

Every record's `raw` (the whole record, keys sorted) is serialised here; with `json.dumps` that was the
largest single cost per record in the target. orjson is several times faster but refuses integers beyond
64 bits and lone UTF-16 surrogates, which `json` reads from a tap's line: such a record takes the
standard library's path, so `raw` always holds every value the record had.

Numbers with a fraction arrive as `Decimal` (the SDK's reader keeps their exact text); they are written
as JSON numbers with that exact text (`json.dumps(default=str)` made them strings).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from target_clickhouse_agile.clickhouse import json_default

_SORTED = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS


def _default(value: Any) -> Any:
    if isinstance(value, Decimal) and value.is_finite():
        return orjson.Fragment(str(value))
    return str(value)


def dumps_sorted(value: Any) -> str:
    """Canonical JSON text: keys sorted, UTF-8 kept (not escaped), anything unknown as `str()`."""
    try:
        return orjson.dumps(value, default=_default, option=_SORTED).decode()
    except orjson.JSONEncodeError:
        return json.dumps(
            value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=json_default
        )
