"""``skipped_issues``: the issues the run set aside or resolved (see ``set_aside.py``), for the target's
``skipped_issues`` table. Synced after the issues, from what the issues stream recorded: no request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from singer_sdk.streams.core import Stream
from singer_sdk.tap_base import Tap

from tap_yandex_tracker import schemas
from tap_yandex_tracker.run_context import TapRun
from tap_yandex_tracker.singer_writer import FlushedSync


class SkippedIssuesStream(FlushedSync, Stream):
    """One record per change of an issue's status: ``set_aside``, ``recovered`` or ``deleted``."""

    name = "skipped_issues"
    primary_keys = ("issue_id",)
    schema = schemas.SKIPPED_ISSUES

    def __init__(self, tap: Tap, *, run: TapRun, **kwargs: Any) -> None:
        self.run = run
        super().__init__(tap, **kwargs)

    def get_records(self, context: dict | None) -> Iterable[dict[str, Any]]:
        yield from self.run.set_aside.changes
