"""Issue search: request bodies, ``filter`` fields, ``order`` and a minimal query language.

Supported (anything else is a 400 that names what the simulator does not support, so a tap relying on a
feature the simulator lacks fails loudly instead of getting silently unfiltered data):

* body forms ``queue`` > ``keys`` > ``filter`` > ``query`` (priority as documented); ``null`` means
  absent; ``queue``/``keys`` together with ``filter``/``query`` is a 400; ``filterId`` is a 400;
* ``filter`` fields: ``queue``, ``key``, ``status`` (a string or a list), ``updatedAt``/``updated`` and
  ``createdAt``/``created`` as ``{"from": .., "to": ..}`` (both inclusive; a bare date as ``to`` means the
  whole day) or a single value; timestamps in the Tracker format, ISO-8601 (``Z``/offset) or dates;
* ``order``: a string, a list or null of ``[+|-]field`` with fields ``updatedAt``/``updated``,
  ``createdAt``/``created``, ``key``, ``status``; without order results are sorted by key;
* query language: ``Field: value, value`` clauses for Queue, Key, Status, Created, Updated, joined by
  whitespace or ``and``; comparisons ``>=``, ``>``, ``<=``, ``<`` on dates; ``"Sort by": Updated ASC``.
  Date-times without an offset are read in the user's time zone, as the real API reads them (an
  offset in minutes, UTC unless the simulator is told otherwise: ``query_zone_minutes``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .ids import mix
from .model import IssueRecord
from .organisation import Organisation
from .timefmt import DAY_MS, parse_ts
from .wire import ApiError

Predicate = Callable[[IssueRecord], bool]
Order = list[tuple[str, bool]]  # (sort field, descending)

_ORDER_FIELDS = {
    "updatedat": "updated",
    "updated": "updated",
    "createdat": "created",
    "created": "created",
    "key": "key",
    "status": "status",
}
_TIME_FIELDS = {"updatedat": "updated", "updated": "updated", "createdat": "created", "created": "created"}
_SET_FIELDS = {"queue": "queue", "key": "key", "status": "status"}
_COMBINED = "You can only use keys, a queue, or a search query"


@dataclass(slots=True)
class SearchSpec:
    """A parsed search: which issues (``predicate``, or ``keys``) and in which order."""

    mode: str  # queue | keys | filter | query | all
    predicates: list[Predicate] = field(default_factory=list)
    order: Order = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


def parse_search(body: Any, *, query_zone_minutes: int = 0) -> SearchSpec:
    """Validate a ``_search``/``_count`` body (``null`` values count as absent). ``query_zone_minutes``:
    the user's offset from UTC, in which the query language reads date-times without one."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object")
    body = {k: v for k, v in body.items() if v is not None}
    if "filterId" in body:
        raise ApiError(400, "filterId (saved filters) is not supported by the simulator")
    simple = [k for k in ("queue", "keys") if k in body]
    complex_ = [k for k in ("filter", "query") if k in body]
    if simple and complex_:
        raise ApiError(400, _COMBINED)
    if "queue" in body:
        return SearchSpec("queue", [_in_set("queue", _strings(body["queue"], "queue"))], [("key", False)])
    if "keys" in body:
        return SearchSpec("keys", keys=_strings(body["keys"], "keys"), order=[("key", False)])
    if "filter" in body:
        spec = SearchSpec("filter", _filter_predicates(body["filter"]), parse_order(body.get("order")))
    elif "query" in body:
        if not isinstance(body["query"], str):
            raise ApiError(400, "query must be a string", errors={"query": "invalid value"})
        spec = parse_query(body["query"], zone_minutes=query_zone_minutes)
    else:
        spec = SearchSpec("all")
    if not spec.order:
        spec.order = [("key", False)]
    return spec


def _strings(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ApiError(400, f"{name} must be a string or a list of strings", errors={name: "invalid value"})


def _in_set(attr: str, values: Iterable[str]) -> Predicate:
    wanted = frozenset(values)
    if attr == "key":
        return lambda r: any(k in wanted for k in r.keys)  # old keys (aliases) still find moved issues
    if attr == "queue":
        return lambda r: r.queue in wanted
    return lambda r: r.status in wanted


def _time_range(attr: str, low: int | None, high: int | None) -> Predicate:
    lo = -(1 << 62) if low is None else low
    hi = 1 << 62 if high is None else high
    if attr == "updated":
        return lambda r: lo <= r.updated <= hi
    return lambda r: lo <= r.created <= hi


def _bound(value: Any, name: str, *, upper: bool) -> int:
    if not isinstance(value, str):
        raise ApiError(400, f"{name}: a date or date-time string is expected", errors={name: "invalid value"})
    try:
        ms, date_only = parse_ts(value)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc}", errors={name: "invalid value"}) from None
    return ms + DAY_MS - 1 if upper and date_only else ms


def _filter_predicates(flt: Any) -> list[Predicate]:
    if not isinstance(flt, dict):
        raise ApiError(400, "filter must be an object", errors={"filter": "invalid value"})
    predicates = []
    for name, value in flt.items():
        if value is None:
            continue
        lowered = name.lower()
        if lowered in _SET_FIELDS:
            predicates.append(_in_set(_SET_FIELDS[lowered], _strings(value, name)))
        elif lowered in _TIME_FIELDS:
            if isinstance(value, dict):
                unknown = set(value) - {"from", "to"}
                if unknown:
                    raise ApiError(400, f"{name}: only from/to are supported", errors={name: "invalid value"})
                low = _bound(value["from"], name, upper=False) if value.get("from") is not None else None
                high = _bound(value["to"], name, upper=True) if value.get("to") is not None else None
            else:
                low, high = _bound(value, name, upper=False), _bound(value, name, upper=True)
            predicates.append(_time_range(_TIME_FIELDS[lowered], low, high))
        else:
            raise ApiError(
                400,
                f"Filter field {name!r} is not supported by the simulator",
                errors={name: "not supported by the simulator"},
            )
    return predicates


def parse_order(order: Any) -> Order:
    """``"+updatedAt"``, ``["-updated", "+key"]`` or null."""
    if order is None:
        return []
    items = _strings(order, "order")
    result: Order = []
    for item in items:
        descending = item.startswith("-")
        name = item.lstrip("+-").strip()
        if name.lower() not in _ORDER_FIELDS:
            raise ApiError(
                400, f"Ordering by {name!r} is not supported by the simulator", errors={"order": item}
            )
        result.append((_ORDER_FIELDS[name.lower()], descending))
    return result


# -- query language --------------------------------------------------------------------------------
_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|(>=|<=|>|<|:|,|\(|\))|([^\s:,()"<>]+))')


def _tokens(query: str) -> list[tuple[str, str]]:
    """(kind, text) with kind ``str`` (quoted), ``op`` or ``word``."""
    out = []
    pos = 0
    query = query.rstrip()
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            raise _query_error(f"cannot parse near {query[pos : pos + 20]!r}")
        quoted, op, word = match.groups()
        out.append(("str", quoted) if quoted is not None else ("op", op) if op else ("word", word))
        pos = match.end()
    return out


def _query_error(detail: str) -> ApiError:
    return ApiError(
        400,
        f"Query: {detail} (the simulator supports Queue, Key, Status, Created, Updated, "
        f'"Sort by", comparisons and "and")',
    )


def parse_query(query: str, *, zone_minutes: int = 0) -> SearchSpec:
    tokens = _tokens(query)
    spec = SearchSpec("query")
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "word" and text.lower() == "and":
            i += 1
            continue
        if kind == "op" or (kind == "word" and text.lower() == "or"):
            raise _query_error(f"unsupported token {text!r}")
        if i + 1 >= len(tokens) or tokens[i + 1] != ("op", ":"):
            raise _query_error(f"expected ':' after {text!r}")
        name = text.lower()
        i += 2
        values: list[tuple[str | None, str]] = []
        while True:
            comparison = None
            if i < len(tokens) and tokens[i][0] == "op" and tokens[i][1] in (">=", "<=", ">", "<"):
                comparison = tokens[i][1]
                i += 1
            if i >= len(tokens) or tokens[i][0] == "op":
                raise _query_error(f"a value is expected after {text!r}")
            value = tokens[i][1]
            i += 1
            if name == "sort by" and i < len(tokens) and tokens[i][1].upper() in ("ASC", "DESC"):
                value = f"{value} {tokens[i][1]}"
                i += 1
            values.append((comparison, value))
            if i < len(tokens) and tokens[i] == ("op", ","):
                i += 1
                continue
            break
        _add_clause(spec, name, text, values, zone_minutes)
    return spec


def _add_clause(
    spec: SearchSpec, name: str, text: str, values: list[tuple[str | None, str]], zone_minutes: int = 0
) -> None:
    if name == "sort by":
        for _comparison, value in values:
            parts = value.split()
            field_name = parts[0].lower()
            if field_name not in _ORDER_FIELDS:
                raise _query_error(f"cannot sort by {parts[0]!r}")
            spec.order.append((_ORDER_FIELDS[field_name], len(parts) > 1 and parts[1].upper() == "DESC"))
        return
    if name in _SET_FIELDS:
        if any(comparison for comparison, _ in values):
            raise _query_error(f"comparisons are not supported for {text}")
        spec.predicates.append(_in_set(_SET_FIELDS[name], [value for _, value in values]))
        return
    if name not in _TIME_FIELDS:
        raise _query_error(f"field {text!r} is not supported")
    ranges = []
    for comparison, value in values:
        try:
            ms, date_only = parse_ts(value, zone_minutes=zone_minutes)
        except ValueError:
            raise _query_error(f"bad date {value!r}") from None
        last = ms + DAY_MS - 1 if date_only else ms
        ranges.append(
            {
                ">=": (ms, None),
                ">": (last + 1, None),
                "<=": (None, last),
                "<": (None, ms - 1),
                None: (ms, last),
            }[comparison]
        )
    attr = _TIME_FIELDS[name]
    checks = [_time_range(attr, low, high) for low, high in ranges]
    spec.predicates.append(checks[0] if len(checks) == 1 else lambda r: any(check(r) for check in checks))


def _sort_keyfunc(attr: str) -> Callable[[IssueRecord], Any]:
    if attr == "key":
        return lambda r: (r.key.partition("-")[0], int(r.key.partition("-")[2]))
    return lambda r: getattr(r, attr)


def execute(org: Organisation, spec: SearchSpec, *, unsorted: bool = False) -> list[int]:
    """Matching issue indexes in result order (``unsorted``: a stable, deliberately scrambled order)."""
    records = org.records
    if spec.mode == "keys":
        seen: dict[int, None] = {}
        for key in spec.keys:
            idx = org.resolve(key)
            if idx is not None:
                seen[idx] = None
        matched = [records[i] for i in seen]
    elif spec.predicates:
        predicates = spec.predicates
        matched = [r for r in records if all(p(r) for p in predicates)]
    else:
        matched = list(records)
    if unsorted:
        return sorted((r.idx for r in matched), key=lambda i: mix(org.seed, i, 9))
    for attr, descending in reversed(spec.order):
        matched.sort(key=_sort_keyfunc(attr), reverse=descending)
    return [r.idx for r in matched]
