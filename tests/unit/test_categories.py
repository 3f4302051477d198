"""categories.py: Tracker status type → category, overrides, fallback reporting."""

from __future__ import annotations

import pytest

from target_clickhouse_agile.metrics import (
    CategoryResolution,
    build_category_map,
    resolve_category,
    validate_overrides,
)

TYPES = {
    "open": "new",
    "inProgress": "inProgress",
    "needInfo": "paused",
    "closed": "done",
    "rejected": "cancelled",
    "legacy": None,  # v3 may return statusType null
}


@pytest.mark.parametrize(
    ("status", "category"),
    [
        ("open", "todo"),
        ("inProgress", "active"),
        ("needInfo", "wait"),
        ("closed", "done"),
        ("rejected", "cancelled"),
    ],
)
def test_default_mapping_from_status_type(status: str, category: str) -> None:
    assert resolve_category(status, TYPES) == CategoryResolution(category, False)


def test_override_wins_over_type() -> None:
    assert resolve_category("needInfo", TYPES, {"needInfo": "active"}) == CategoryResolution("active", False)
    # An override also classifies a status the stream never described.
    assert resolve_category("ghost", TYPES, {"ghost": "done"}) == CategoryResolution("done", False)


@pytest.mark.parametrize("status", ["legacy", "ghost"])
def test_unknown_type_or_status_falls_back_to_todo_and_says_so(status: str) -> None:
    assert resolve_category(status, TYPES) == CategoryResolution("todo", True)


def test_unknown_type_value_falls_back() -> None:
    assert resolve_category("x", {"x": "someNewType"}) == CategoryResolution("todo", True)


def test_build_category_map_reports_fallbacks() -> None:
    categories, fallbacks = build_category_map(
        ["open", "legacy", "ghost", "closed"], TYPES, {"ghost": "wait"}
    )
    assert categories == {"open": "todo", "legacy": "todo", "ghost": "wait", "closed": "done"}
    assert fallbacks == frozenset({"legacy"})


def test_validate_overrides() -> None:
    assert validate_overrides({"a": "wait"}) == {"a": "wait"}
    with pytest.raises(ValueError, match=r"'b': 'blocked'.*allowed: todo, active, wait, done, cancelled"):
        validate_overrides({"a": "wait", "b": "blocked"})
