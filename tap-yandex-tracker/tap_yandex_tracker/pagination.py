"""Paginators for the two ways Tracker pages results.

* ``Link: <...>; rel="next"`` (changelog with its ``id`` cursor, queues, users, ...): follow the URL
  verbatim; stop when there is no ``next`` (the SDK also stops on an empty page).
* Scroll (issue search beyond the 10 000 page-mode ceiling): continue with the *newest* ``X-Scroll-Id``
  (+ ``X-Scroll-Token``) and stop when the response carries no ``X-Scroll-Id``.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from singer_sdk.pagination import BaseAPIPaginator, HeaderLinkPaginator


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
