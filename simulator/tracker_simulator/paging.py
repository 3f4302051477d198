"""Page-based output shared by issue search and the reference collections.

Tracker pages with ``perPage``/``page``, reports ``X-Total-Count``/``X-Total-Pages`` and a ``Link``
header with ``rel="next"`` and a ``rel="seek"`` URI template (``{&page}``), which the official client
expands. Nothing past 10,000 items can be reached (ES ``max_result_window``): the count is capped and a
page that starts beyond it is a 400. Each ``Link`` value is a header line of its own, as the API
documentation shows them (``Link: <...>; rel="first"`` then ``Link: <...>; rel="next"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from .wire import ApiError, Request

ITEM_LIMIT = 10_000
MAX_PER_PAGE = 1000


@dataclass(frozen=True, slots=True)
class PageWindow:
    per_page: int
    page: int
    start: int
    stop: int
    total: int  # what X-Total-Count shows (capped)
    pages: int


def page_window(req: Request, total: int, *, default_per_page: int = 50) -> PageWindow:
    """Validate ``perPage``/``page`` and locate the requested slice of ``total`` items."""
    per_page = req.int_param("perPage", default_per_page)
    page = req.int_param("page", 1)
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise ApiError(
            400, f"perPage must be between 1 and {MAX_PER_PAGE}", errors={"perPage": "invalid value"}
        )
    if page < 1:
        raise ApiError(400, "page must be >= 1", errors={"page": "invalid value"})
    start = (page - 1) * per_page
    if start >= ITEM_LIMIT:
        raise ApiError(400, f"Request exceeds {ITEM_LIMIT} items limit")
    shown = min(total, ITEM_LIMIT)
    return PageWindow(per_page, page, start, min(start + per_page, shown), shown, -(-shown // per_page))


def link_url(req: Request, params: list[tuple[str, str]], suffix: str = "") -> str:
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    return f"{req.base}{req.path}?{query}{suffix}"


def link_headers(*links: tuple[str, str]) -> list[tuple[str, str]]:
    """One ``Link`` header line per (url, rel)."""
    return [("Link", f'<{url}>; rel="{rel}"') for url, rel in links]


def other_params(req: Request, *drop: str) -> list[tuple[str, str]]:
    """The request's query parameters in order, without ``drop`` (values repeated as sent)."""
    return [(name, value) for name, values in req.query.items() if name not in drop for value in values]


def page_headers(req: Request, window: PageWindow) -> list[tuple[str, str]]:
    base = [*other_params(req, "page", "perPage"), ("perPage", str(window.per_page))]
    links = []
    if window.page < window.pages:
        links.append((link_url(req, [*base, ("page", str(window.page + 1))]), "next"))
    links.append((link_url(req, base, "{&page}"), "seek"))
    return [
        ("X-Total-Count", str(window.total)),
        ("X-Total-Pages", str(window.pages)),
        *link_headers(*links),
    ]
