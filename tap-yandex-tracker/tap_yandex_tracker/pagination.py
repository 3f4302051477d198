"""Paginators for the three ways Tracker pages results.

* ``Link: <...>; rel="next"`` (changelog with its ``id`` cursor, queues, users, ...): follow the URL
  verbatim; stop when there is no ``next`` (the SDK also stops on an empty page). The API sends each
  ``Link`` value as a header line of its own; requests joins repeated lines, so both forms are read.
* Id cursor (``users/_relative``, ``boards/_paginate``): ask for the page after the last id seen.
* Scroll (issue search beyond the 10 000 page-mode ceiling): continue with the *newest* ``X-Scroll-Id``
  (+ ``X-Scroll-Token``) and stop when the response carries no ``X-Scroll-Id``.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from singer_sdk.pagination import BaseAPIPaginator, HeaderLinkPaginator

from tap_yandex_tracker.json_codec import response_json


class TrackerLinkPaginator(HeaderLinkPaginator):
    """``rel="next"`` from the ``Link`` header (requests merges repeated ``Link`` headers)."""


@dataclass(frozen=True)
class ScrollToken:
    """Where a scroll continues. ``page`` makes tokens distinct even when the server reuses an id."""

    scroll_id: str
    scroll_token: str | None
    page: int


class ScrollPaginator(BaseAPIPaginator[ScrollToken | None]):
    """Follows ``X-Scroll-Id``/``X-Scroll-Token``; remembers every id seen so they can be cleared."""

    def __init__(self) -> None:
        super().__init__(None)
        self.seen: dict[str, str] = {}

    def has_more(self, response: requests.Response) -> bool:
        return bool(response.headers.get("X-Scroll-Id"))

    def continue_if_empty(self, response: requests.Response) -> bool:
        """A page can be empty after de-duplication (a restarted scroll re-serving emitted issues)."""
        return self.has_more(response)

    def get_next(self, response: requests.Response) -> ScrollToken | None:
        scroll_id = response.headers.get("X-Scroll-Id")
        if not scroll_id:
            return None
        scroll_token = response.headers.get("X-Scroll-Token")
        self.seen[scroll_id] = scroll_token or ""
        return ScrollToken(scroll_id, scroll_token, self.count)


class IdCursorPaginator(BaseAPIPaginator[str | None]):
    """``?perPage=N&id=<last id>`` (``GET /users/_relative``, ``GET /boards/_paginate``): the next page
    starts after the last item's id. The documentation does not say whether the cursor item itself is
    served again, so the stream skips ids it has already emitted; a short page ends the walk."""

    def __init__(self, key: str, per_page: int) -> None:
        super().__init__(None)
        self.key = key
        self.per_page = per_page

    def get_next(self, response: requests.Response) -> str | None:
        try:
            items = response_json(response)  # parsed once, by the client's validation
        except ValueError:
            return None
        if not isinstance(items, list) or len(items) < self.per_page:
            return None
        last = items[-1].get(self.key) if isinstance(items[-1], dict) else None
        return None if last is None else str(last)
