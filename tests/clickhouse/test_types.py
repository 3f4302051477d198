"""Values converted for their column: what is refused, and nothing guessed."""

from __future__ import annotations

import pytest

from target_clickhouse_agile.clickhouse.types import CoercionError, coerce, find_unencodable, parse_type


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


def test_find_unencodable_points_at_the_first_lone_surrogate() -> None:
    rows = [("a", ["b", "c"], 1), ("d", ["e", "broken \udc80"], 2), ("\ud800", [], 3)]
    assert find_unencodable(rows, ["x", "tags", "n"]) == (1, "tags")
    assert find_unencodable(rows[:1], ["x", "tags", "n"]) is None
