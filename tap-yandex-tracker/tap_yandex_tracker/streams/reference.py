"""Full-table reference streams: read once per run, never per issue (no ``self`` dereferencing)."""

from __future__ import annotations

import logging
from typing import Any

from tap_yandex_tracker import schemas
from tap_yandex_tracker.client import TrackerStream
from tap_yandex_tracker.errors import TrackerNotFoundError
from tap_yandex_tracker.timestamps import normalise_timestamps


class ReferenceStream(TrackerStream):
    """A GET collection, followed through ``Link: rel="next"`` when the server pages it."""

    primary_keys: tuple[str, ...] = ("id",)
    #: Send ``perPage`` on the first request (collections the API pages).
    paged = False

    def get_url_params(self, context: dict | None, next_page_token: Any) -> dict[str, Any]:
        if self.paged and next_page_token is None:
            return {"perPage": int(self.config.get("page_size") or 100)}
        return {}

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        self._tap.stats.add("reference_records")
        return normalise_timestamps(row)


class StatusesStream(ReferenceStream):
    """``GET /statuses`` - every status with its ``type`` (new, inProgress, paused, done, cancelled)."""

    name = "statuses"
    path = "/statuses"
    schema = schemas.STATUSES


class IssueTypesStream(ReferenceStream):
    """``GET /issuetypes``."""

    name = "issue_types"
    path = "/issuetypes"
    schema = schemas.ISSUE_TYPES


class PrioritiesStream(ReferenceStream):
    """``GET /priorities``."""

    name = "priorities"
    path = "/priorities"
    schema = schemas.PRIORITIES


class ResolutionsStream(ReferenceStream):
    """``GET /resolutions``."""

    name = "resolutions"
    path = "/resolutions"
    schema = schemas.RESOLUTIONS


class QueuesStream(ReferenceStream):
    """``GET /queues`` (paged with ``perPage`` + ``Link``)."""

    name = "queues"
    path = "/queues"
    paged = True
    schema = schemas.QUEUES


class UsersStream(ReferenceStream):
    """``GET /users`` (paged). Keyed by ``uid``; issue references carry it as their ``id``."""

    name = "users"
    path = "/users"
    paged = True
    primary_keys = ("uid",)
    schema = schemas.USERS


class BoardsStream(ReferenceStream):
    """``GET /boards``; parent of ``sprints`` (one request per board, not per issue)."""

    name = "boards"
    path = "/boards"
    schema = schemas.BOARDS

    def get_child_context(self, record: dict, context: dict | None) -> dict:
        return {"board_id": record["id"]}


class SprintsStream(ReferenceStream):
    """``GET /boards/{id}/sprints`` for every board."""

    name = "sprints"
    path = "/boards/{board_id}/sprints"
    parent_stream_type = BoardsStream
    paged = True
    state_partitioning_keys: list[str] = []
    schema = schemas.SPRINTS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logger.setLevel(logging.WARNING)  # one "Beginning sync" line per board is noise

    def get_records(self, context: dict | None) -> Any:
        try:
            yield from super().get_records(context)
        except TrackerNotFoundError:
            board = (context or {}).get("board_id")
            self.logger.warning("board %s has no sprints endpoint (HTTP 404); skipped", board)
