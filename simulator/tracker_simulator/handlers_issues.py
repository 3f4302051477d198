"""Issue endpoints: get, search (page and scroll mode), count, scroll clear, changelog, comments."""

from __future__ import annotations

import re
from typing import Any

from .ids import split_comment_id
from .organisation import Organisation
from .paging import link_headers, link_url, other_params, page_headers, page_window
from .render import Renderer
from .scroll import DEFAULT_PER_SCROLL, DEFAULT_TTL_MS, MAX_PER_SCROLL, ScrollContext, ScrollRegistry
from .search import execute, parse_search
from .wire import ApiError, Request, Response

CHANGELOG_MAX_PER_PAGE = 100
_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")
_SCROLL_PARAMS = ("scrollType", "perScroll", "scrollId", "scrollToken", "scrollTTLMillis")


def _issue_index(org: Organisation, key: str) -> int:
    idx = org.resolve(key)
    if idx is None:
        raise ApiError(404, "Issue does not exist.")
    return idx


def _project(issue: dict[str, Any], req: Request) -> dict[str, Any]:
    """``fields=a,b`` keeps only those (plus self, id, key), like the real API."""
    wanted = req.param("fields")
    if not wanted:
        return issue
    keep = {"self", "id", "key", *(f.strip() for f in wanted.split(","))}
    return {k: v for k, v in issue.items() if k in keep}


def get_issue(org: Organisation, req: Request, r: Renderer, key: str, **_: Any) -> Response:
    idx = _issue_index(org, key)
    return Response.json(_project(r.issue(idx, org.state(idx)), req))


def search(
    org: Organisation,
    scrolls: ScrollRegistry,
    req: Request,
    r: Renderer,
    *,
    scramble: bool = False,
    query_zone_minutes: int = 0,
) -> Response:
    body = req.json()
    scroll_id = req.param("scrollId")
    if scroll_id:
        return _scroll_page(org, scrolls, req, r, scrolls.get(scroll_id, req.param("scrollToken")))
    spec = parse_search(body, query_zone_minutes=query_zone_minutes)
    scroll_type = req.param("scrollType")
    if scroll_type is None:
        idxs = execute(org, spec)
        window = page_window(req, len(idxs))
        issues = [_project(r.issue(i, org.state(i)), req) for i in idxs[window.start : window.stop]]
        return Response.json(issues, headers=page_headers(req, window))
    if spec.mode in ("queue", "keys"):
        raise ApiError(400, "Scroll is not supported")
    if scroll_type not in ("sorted", "unsorted"):
        raise ApiError(400, "scrollType must be sorted or unsorted", errors={"scrollType": "invalid value"})
    per_scroll = req.int_param("perScroll", DEFAULT_PER_SCROLL)
    if not 1 <= per_scroll <= MAX_PER_SCROLL:
        raise ApiError(
            400, f"perScroll must be between 1 and {MAX_PER_SCROLL}", errors={"perScroll": "invalid"}
        )
    ttl = _ttl(req, DEFAULT_TTL_MS)
    idxs = execute(org, spec, unsorted=scroll_type == "unsorted" or scramble)
    items = [(i, org.records[i].version) for i in idxs]
    context = scrolls.create(items, per_scroll, ttl)
    context.first_url = link_url(
        req,
        [
            *other_params(req, *_SCROLL_PARAMS),
            ("scrollType", scroll_type),
            ("perScroll", str(per_scroll)),
            ("scrollTTLMillis", str(ttl)),
        ],
    )
    return _scroll_page(org, scrolls, req, r, context, first=True)


def _ttl(req: Request, default: int) -> int:
    ttl = req.int_param("scrollTTLMillis", default)
    if ttl < 1:
        raise ApiError(400, "scrollTTLMillis must be positive", errors={"scrollTTLMillis": "invalid value"})
    return ttl


def _scroll_page(
    org: Organisation,
    scrolls: ScrollRegistry,
    req: Request,
    r: Renderer,
    context: ScrollContext,
    *,
    first: bool = False,
) -> Response:
    """One scroll page; the cursor moves (and the TTL renews) only once the page is delivered intact."""
    ttl = _ttl(req, context.ttl_ms)
    start = context.position
    stop = min(start + context.per_scroll, len(context.items))
    issues = [_project(r.issue(i, org.state(i, version)), req) for i, version in context.items[start:stop]]
    keep = other_params(req, *_SCROLL_PARAMS)
    headers = [("X-Total-Count", str(len(context.items)))]
    last = stop >= len(context.items)
    links = [(context.first_url, "first")]
    if not last:
        headers += [("X-Scroll-Id", context.scroll_id), ("X-Scroll-Token", context.token)]
        links.append(
            (
                link_url(
                    req,
                    [
                        *keep,
                        ("scrollTTLMillis", str(ttl)),
                        ("scrollId", context.scroll_id),
                        ("scrollToken", context.token),
                    ],
                ),
                "next",
            )
        )
    headers.extend(link_headers(*links))

    def commit() -> None:
        context.position = stop
        context.ttl_ms = ttl
        if first:
            if not last:
                scrolls.register(context)
        else:
            scrolls.touch(context)

    return Response.json(issues, headers=headers, commit=commit)


def count(org: Organisation, req: Request, *, query_zone_minutes: int = 0) -> Response:
    return Response.json(
        len(execute(org, parse_search(req.json(), query_zone_minutes=query_zone_minutes), unsorted=True))
    )


def scroll_clear(scrolls: ScrollRegistry, req: Request) -> Response:
    """Body ``{"<scrollId>": "<scrollToken>", ...}`` (a list of ids is accepted too); 200, empty body."""
    body = req.json()
    if isinstance(body, dict):
        scrolls.clear(list(body))
    elif isinstance(body, list):
        scrolls.clear([str(s) for s in body])
    elif body is not None:
        raise ApiError(400, "Body must map scroll ids to scroll tokens")
    return Response(200, b"")


def _multi(req: Request, name: str) -> set[str]:
    return {part.strip() for value in req.query.get(name, []) for part in value.split(",") if part.strip()}


def changelog(org: Organisation, req: Request, r: Renderer, key: str, **_: Any) -> Response:
    """Oldest first; ``id`` is an exclusive cursor; ``type``/``field`` filter before paging.

    ``perPage`` above 100 is served as 100 (the documented maximum is uncertain; clamping keeps a tap
    that asks for more working while still exercising its paging). No ``X-Total-Count``: only ``Link``.
    """
    idx = _issue_index(org, key)
    per_page = req.int_param("perPage", 50)
    if per_page < 1:
        raise ApiError(400, "perPage must be positive", errors={"perPage": "invalid value"})
    per_page = min(per_page, CHANGELOG_MAX_PER_PAGE)
    cursor = req.param("id")
    if cursor is not None and not _OBJECT_ID.match(cursor):
        raise ApiError(400, "id must be a changelog entry id", errors={"id": "invalid value"})
    types, fields = _multi(req, "type"), _multi(req, "field")
    selected = []
    for event in org.history(idx).events:
        if types and event.type not in types:
            continue
        if fields and not any(change[0] in fields for change in event.changes):
            continue
        entry_id = r.changelog_id(idx, event)
        if cursor is not None and entry_id <= cursor:
            continue
        selected.append(event)
        if len(selected) > per_page:
            break
    page = [r.changelog_entry(idx, event) for event in selected[:per_page]]
    keep = [*other_params(req, "id", "perPage"), ("perPage", str(per_page))]
    links = [(link_url(req, keep), "first")]
    if len(selected) > per_page:
        links.append((link_url(req, [("id", page[-1]["id"]), *keep]), "next"))
    return Response.json(page, headers=link_headers(*links))


def changelog_entry(
    org: Organisation, req: Request, r: Renderer, key: str, entry_id: str, **_: Any
) -> Response:
    idx = _issue_index(org, key)
    for event in org.history(idx).events:
        if r.changelog_id(idx, event) == entry_id:
            return Response.json(r.changelog_entry(idx, event))
    raise ApiError(404, "Changelog entry does not exist.")


def comments(org: Organisation, req: Request, r: Renderer, key: str, **_: Any) -> Response:
    idx = _issue_index(org, key)
    found = [r.comment(idx, e) for e in org.history(idx).events if e.comment]
    return Response.json(found)


def comment(org: Organisation, req: Request, r: Renderer, key: str, comment_id: str, **_: Any) -> Response:
    idx = _issue_index(org, key)
    if comment_id.isdigit():
        owner, seq = split_comment_id(int(comment_id))
        events = org.history(idx).events
        if owner == idx and seq < len(events) and events[seq].comment:
            return Response.json(r.comment(idx, events[seq]))
    raise ApiError(404, "Comment does not exist.")
