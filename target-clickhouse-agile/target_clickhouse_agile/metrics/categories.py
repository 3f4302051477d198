"""Status categories: the five flow buckets every metric is defined on.

Tracker gives each status a *type* (``new``, ``inProgress``, ``paused``, ``done``, ``cancelled``); the
default category follows from it, and users may override single statuses (``status_categories`` setting).
A status with no known type falls back to ``todo`` — the least harmful guess, since it neither starts nor
finishes work — and is reported so the target can log it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "CATEGORIES",
    "CATEGORY_RANK",
    "DEFAULT_CATEGORY",
    "DEFAULT_TYPE_CATEGORIES",
    "DONE",
    "TODO",
    "WAIT",
    "CategoryResolution",
    "build_category_map",
    "resolve_category",
    "validate_overrides",
]

TODO, ACTIVE, WAIT, DONE, CANCELLED = "todo", "active", "wait", "done", "cancelled"
CATEGORIES: tuple[str, ...] = (TODO, ACTIVE, WAIT, DONE, CANCELLED)
DEFAULT_CATEGORY = TODO

#: Tracker status type → category (data contract).
DEFAULT_TYPE_CATEGORIES: Mapping[str, str] = {
    "new": TODO,
    "inProgress": ACTIVE,
    "paused": WAIT,
    "done": DONE,
    "cancelled": CANCELLED,
}

#: Order used for backward moves: todo < active = wait < done = cancelled.
CATEGORY_RANK: Mapping[str, int] = {TODO: 0, ACTIVE: 1, WAIT: 1, DONE: 2, CANCELLED: 2}


@dataclass(frozen=True, slots=True)
class CategoryResolution:
    """A status's category and whether it came from the fallback (so the caller can warn)."""

    category: str
    is_fallback: bool


def resolve_category(
    status_key: str,
    status_types: Mapping[str, str | None],
    overrides: Mapping[str, str] | None = None,
) -> CategoryResolution:
    """Category of one status: the override, else the default for its Tracker type, else ``todo``."""
    if overrides and status_key in overrides:
        return CategoryResolution(overrides[status_key], False)
    category = DEFAULT_TYPE_CATEGORIES.get(status_types.get(status_key) or "")
    if category is None:
        return CategoryResolution(DEFAULT_CATEGORY, True)
    return CategoryResolution(category, False)


def build_category_map(
    status_keys: Iterable[str],
    status_types: Mapping[str, str | None],
    overrides: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], frozenset[str]]:
    """Categories for many statuses at once, plus the keys that fell back to ``todo`` (to log once each)."""
    categories: dict[str, str] = {}
    fallbacks: set[str] = set()
    for key in status_keys:
        resolved = resolve_category(key, status_types, overrides)
        categories[key] = resolved.category
        if resolved.is_fallback:
            fallbacks.add(key)
    return categories, frozenset(fallbacks)


def validate_overrides(overrides: Mapping[str, str]) -> dict[str, str]:
    """Check a ``status_categories`` setting; a bad category is a ValueError naming the allowed ones."""
    bad = {key: value for key, value in overrides.items() if value not in CATEGORIES}
    if bad:
        listed = ", ".join(f"{key!r}: {value!r}" for key, value in sorted(bad.items()))
        allowed = ", ".join(CATEGORIES)
        raise ValueError(f"status_categories has unknown categories ({listed}); allowed: {allowed}")
    return dict(overrides)
