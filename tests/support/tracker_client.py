"""A tiny HTTP helper for tests that read the simulator the way a client does (following ``Link``).

It deliberately knows nothing of the simulator's internals: tests that compare served data with the
generator's ground truth must go through the wire.
"""

from __future__ import annotations

from typing import Any

import requests


def follow_next(
    session: requests.Session, url: str, *, method: str = "GET", body: Any = None, max_pages: int = 10_000
) -> list[requests.Response]:
    """Every page from ``url`` on, following ``rel="next"`` with the same method and body."""
    pages = []
    next_url: str | None = url
    while next_url:
        response = session.request(method, next_url, json=body)
        response.raise_for_status()
        pages.append(response)
        if len(pages) >= max_pages:
            raise RuntimeError(f"more than {max_pages} pages from {url}")
        next_url = response.links.get("next", {}).get("url")
    return pages


def changelog(
    session: requests.Session,
    base: str,
    key: str,
    *,
    per_page: int = 100,
    version: str = "v3",
    params: str = "",
) -> list[dict[str, Any]]:
    """The whole changelog of ``key`` (oldest first)."""
    url = f"{base}/{version}/issues/{key}/changelog?perPage={per_page}{params}"
    return [entry for page in follow_next(session, url) for entry in page.json()]
