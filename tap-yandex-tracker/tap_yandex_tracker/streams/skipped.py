"""``skipped_issues``: the issues the run set aside or resolved (see ``set_aside.py``), for the target's
``skipped_issues`` table. Synced after the issues, from what the issues stream recorded: no request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from singer_sdk import Stream

from tap_yandex_tracker import schemas


class SkippedIssuesStream(Stream):
    """One record per change of an issue's status: ``set_aside``, ``recovered`` or ``deleted``."""

    name = "skipped_issues"
    primary_keys = ("issue_id",)
    schema = schemas.SKIPPED_ISSUES

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        set_aside = getattr(self._tap.streams.get("issues"), "set_aside", None)
        yield from set_aside.changes if set_aside is not None else []
