"""Full-table reference streams: read once per run, never per issue (no ``self`` dereferencing)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from tap_yandex_tracker import schemas
from tap_yandex_tracker.client import TrackerStream
from tap_yandex_tracker.errors import TrackerNotFoundError
from tap_yandex_tracker.pagination import IdCursorPaginator
from tap_yandex_tracker.read_ahead import ReadAhead
from tap_yandex_tracker.timestamps import normalise_timestamps, numbers_from_strings, numeric_fields


class ReferenceStream(TrackerStream):
    """A GET collection, followed through ``Link: rel="next"`` when the server pages it."""

    primary_keys: tuple[str, ...] = ("id",)
    #: Send ``perPage`` on the first request (collections the API pages).
    paged = False

    def get_url_params(self, context: dict | None, next_page_token: Any) -> dict[str, Any]:
        if self.paged and next_page_token is None:
            return {"perPage": self.settings.page_size}
        return {}

    def request_records(self, context: dict | None) -> Iterable[dict]:
        """The collection read ahead at the start of the sync (read_ahead.py), else read now."""
        early = self.run.read_ahead.take(self.name, context)
        yield from self.fetch_ahead(context) if early is None else early

    def fetch_ahead(self, context: dict | None) -> list[dict]:
        """The whole collection (the SDK's paging loop), as a list: what a read-ahead thread runs."""
        return list(super().request_records(context))

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        self.run.stats.add("reference_records")
        return numbers_from_strings(normalise_timestamps(row), self._numbers)

    @cached_property
    def _numbers(self) -> dict[str, type]:
        return numeric_fields(self.schema)


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


class CursorWalkStream(ReferenceStream):
    """A collection read with an id cursor (``?perPage=N&id=<last id>``) where the API has one, else with
    its plain paged or unpaged form (``fallback_path``), e.g. on an installation without the cursor."""

    cursor_path = ""
    fallback_path = ""
    cursor_page_size = 100
    #: Whether the plain form is paged (``perPage`` + ``Link``).
    fallback_paged = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cursor = True
        self._seen: set[str] = set()

    @property
    def path(self) -> str:  # type: ignore[override]
        return self.cursor_path if self._cursor else self.fallback_path

    @property
    def paged(self) -> bool:  # type: ignore[override]
        return not self._cursor and self.fallback_paged

    def get_new_paginator(self) -> Any:
        if self._cursor:
            return IdCursorPaginator(self.primary_keys[0], self.cursor_page_size)
        return super().get_new_paginator()

    def get_url_params(self, context: dict | None, next_page_token: Any) -> dict[str, Any]:
        if not self._cursor:
            return super().get_url_params(context, next_page_token)
        params: dict[str, Any] = {"perPage": self.cursor_page_size}
        if next_page_token is not None:
            params["id"] = next_page_token
        return params

    def get_http_request(self, *, page: Any) -> Any:
        if self._cursor:  # the cursor is a parameter, not a URL to follow
            return super(TrackerStream, self).get_http_request(page=page)
        return super().get_http_request(page=page)

    def get_records(self, context: dict | None) -> Any:
        self._cursor, self._seen = True, set()
        try:
            yield from super().get_records(context)
        except TrackerNotFoundError:
            if not self._seen:  # the cursor endpoint does not exist here: read the plain collection
                self.logger.info("%s: %s is not available; reading %s", self.name, self.cursor_path,
                                 self.fallback_path)  # fmt: skip
                self._cursor = False
                yield from super().get_records(context)
            else:
                raise

    def post_process(self, row: dict, context: dict | None = None) -> dict | None:
        ident = str(row.get(self.primary_keys[0]))
        if ident in self._seen:  # the cursor item served again at the top of the next page
            return None
        self._seen.add(ident)
        return super().post_process(row, context)


class UsersStream(CursorWalkStream):
    """``GET /users/_relative`` (every user; ``GET /users`` stops at 10,000). Keyed by ``uid``: a user
    has no ``id``; references to people carry the uid (or, in old data, the login) as theirs."""

    name = "users"
    cursor_path = "/users/_relative"
    fallback_path = "/users"
    fallback_paged = True
    primary_keys = ("uid",)
    schema = schemas.USERS


class BoardsStream(CursorWalkStream):
    """``GET /boards/_paginate`` (id cursor, big organisations), else ``GET /boards`` (the whole list in one
    response); parent of ``sprints`` (one request per board, not per issue)."""

    name = "boards"
    cursor_path = "/boards/_paginate"
    fallback_path = "/boards"
    cursor_page_size = 500
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


def read_ahead_references(streams: Mapping[str, Any], read_ahead: ReadAhead) -> None:
    """Start reading every reference collection this sync will read (selected, or the parent of a
    selected child), the sprints of each board as soon as the boards are in."""
    sprints = streams.get(SprintsStream.name)
    wants_sprints = isinstance(sprints, SprintsStream) and sprints.selected
    for stream in streams.values():
        if not isinstance(stream, ReferenceStream) or stream.parent_stream_type is not None:
            continue
        if isinstance(stream, BoardsStream) and wants_sprints:
            read_ahead.submit(stream.name, _boards_then_sprints(stream, sprints, read_ahead))
        elif stream.selected:
            read_ahead.submit(stream.name, stream.fetch_ahead)


def _boards_then_sprints(boards: BoardsStream, sprints: Any, read_ahead: ReadAhead) -> Any:
    def fetch(context: dict | None) -> list[dict]:
        records = boards.fetch_ahead(context)
        for record in records:
            if record.get("id") is not None:
                read_ahead.submit(sprints.name, sprints.fetch_ahead, boards.get_child_context(record, None))
        return records

    return fetch
