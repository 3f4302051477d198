"""`CategoryResolver`: the category (todo, active, wait, done, cancelled) of each status during a load.

The rule itself is pure (`metrics.categories.resolve_category`); this object holds what the load learns on
the way: the `statuses` stream's types as they arrive (so that issues later in the same run get the right
`status_category`), the configured overrides, and which unmapped statuses were already reported.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from target_clickhouse_agile.metrics import resolve_category


class CategoryResolver:
    """Status key → category: overrides, then the `statuses` stream's type, then the issue's own
    `statusType`; anything else is `todo`, reported once per run so operators can map it."""

    def __init__(self, overrides: Mapping[str, str], logger: logging.Logger) -> None:
        self._overrides = dict(overrides)
        self._types: dict[str, str] = {}
        self._reported: set[str] = set()
        self._logger = logger

    def learn_types(self, status_types: Mapping[str, str]) -> None:
        self._types.update({k: v for k, v in status_types.items() if v})

    def category(self, status: str, status_type: str | None = None) -> str:
        types = self._types
        if status_type and status not in types:
            types = {**types, status: status_type}
        resolved = resolve_category(status, types, self._overrides)
        if resolved.is_fallback and status and status not in self._reported:
            self._reported.add(status)
            self._logger.warning(
                "Status '%s' has no category (no type in the statuses stream and no override): "
                "treated as 'todo'; set status_categories to map it",
                status,
            )
        return resolved.category

    def category_for_issue(self, status: str, status_type_ref: object) -> str:
        """Category of an issue's current status; its `statusType` (v3) is a fallback for the type."""
        status_type = None
        if isinstance(status_type_ref, Mapping):
            status_type = status_type_ref.get("key") or status_type_ref.get("id")
        return self.category(status, str(status_type) if status_type else None)

    def mapping(self, statuses: Iterable[str]) -> dict[str, str]:
        return {s: self.category(s) for s in statuses}
