"""The API application: route table, authentication, language and renderer selection.

Independent of sockets (see ``server.py``): ``App.handle`` maps a :class:`Request` to a
:class:`Response`. Handlers run under the organisation lock, so :meth:`Organisation.advance` from a test
thread never interleaves with a half-rendered page.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from . import auth
from . import handlers_issues as issues
from . import handlers_reference as ref
from .drift import DriftingRenderer
from .organisation import Organisation
from .render import Renderer
from .router import Route, Router
from .scroll import ScrollRegistry
from .wire import ApiError, Request, Response


def language(headers: Any) -> str:
    """``ru`` unless the client asks for another language first (Tracker's default is Russian)."""
    raw = (headers.get("Accept-Language") or "").strip()
    first = raw.split(",")[0].split(";")[0].strip().lower()
    return "ru" if not first or first == "*" or first.startswith("ru") else "en"


class App:
    def __init__(self, org: Organisation, creds: auth.Credentials, *, drift: bool = False) -> None:
        self.org = org
        self.creds = creds
        self.renderer_class: type[Renderer] = DriftingRenderer if drift else Renderer
        #: A misbehaving server: sorted scrolls come back in a scrambled order (for clients' guards).
        self.ignore_sort = False
        #: The user's offset from UTC, in minutes: the query language reads date-times without one there.
        self.query_zone_minutes = 0
        self.scrolls = ScrollRegistry()
        self.router = self._routes()
        self._renderers: dict[tuple[str, str, str], Renderer] = {}
        self.internal_errors: list[str] = []  # tracebacks of unexpected exceptions (tests assert none)

    def _routes(self) -> Router:
        router = Router()
        add = router.add
        add(
            "POST",
            "/{v}/issues/_search",
            lambda org, req, r: issues.search(
                org,
                self.scrolls,
                req,
                r,
                scramble=self.ignore_sort,
                query_zone_minutes=self.query_zone_minutes,
            ),
        )
        add(
            "POST",
            "/{v}/issues/_count",
            lambda org, req, r: issues.count(org, req, query_zone_minutes=self.query_zone_minutes),
        )
        add(
            "POST",
            "/{v}/system/search/scroll/_clear",
            lambda org, req, r: issues.scroll_clear(self.scrolls, req),
        )
        add("GET", "/{v}/issues/{key}", issues.get_issue)
        add("GET", "/{v}/issues/{key}/changelog", issues.changelog)
        add("GET", "/{v}/issues/{key}/changelog/{entry_id}", issues.changelog_entry)
        add("GET", "/{v}/issues/{key}/comments", issues.comments)
        add("GET", "/{v}/issues/{key}/comments/{comment_id}", issues.comment)
        for kind in ("statuses", "issuetypes", "priorities", "resolutions"):
            add("GET", f"/{{v}}/{kind}", ref.list_named(kind))
            add("GET", f"/{{v}}/{kind}/{{ident}}", ref.get_named(kind))
        add("GET", "/{v}/users", ref.list_users)
        add("GET", "/{v}/users/_relative", ref.users_relative)
        add("GET", "/{v}/users/{ident}", ref.get_user)
        add("GET", "/{v}/myself", ref.myself)
        add("GET", "/{v}/queues", ref.list_queues)
        add("GET", "/{v}/queues/{ident}", ref.get_queue)
        add("GET", "/{v}/boards", ref.list_boards)
        add("GET", "/{v}/boards/_paginate", ref.boards_paginate)
        add("GET", "/{v}/boards/{ident}", ref.get_board)
        add("GET", "/{v}/boards/{ident}/columns", ref.board_columns)
        add("GET", "/{v}/boards/{ident}/columns/{column}", ref.board_column)
        add("GET", "/{v}/boards/{ident}/sprints", ref.board_sprints)
        add("GET", "/{v}/countries/{ident}", ref.get_country)
        add("GET", "/{v}/sprints/{ident}", ref.get_sprint)
        add("GET", "/{v}/components", ref.list_components)
        add("GET", "/{v}/components/{ident}", ref.get_component)
        add("GET", "/{v}/projects", ref.list_projects)
        add("GET", "/{v}/projects/{ident}", ref.get_project)
        add("GET", "/{v}/fields", ref.list_fields)
        add("GET", "/{v}/fields/{ident}", ref.get_field)
        return router

    def renderer(self, base: str, version: str, lang: str) -> Renderer:
        key = (base, version, lang)
        found = self._renderers.get(key)
        if found is None:
            if len(self._renderers) > 64:  # clients addressing the server by many host names
                self._renderers.clear()
            found = self._renderers[key] = self.renderer_class(self.org, base, version, lang)
        return found

    def handle(self, req: Request, route: Route | None) -> Response:
        try:
            auth.check(req.headers, self.creds)
            if route is None:
                if self.router.allowed(req.path):
                    raise ApiError(405, f"Method {req.method} is not allowed here")
                raise ApiError(404, f"No such resource: {req.path}")
            params = dict(route.params)
            renderer = self.renderer(req.base, params.pop("v"), language(req.headers))
            with self.org.lock:
                return route.handler(self.org, req, renderer, **params)
        except ApiError as error:
            return error.response()
        except Exception as error:  # a simulator bug: answer 500 and keep it visible
            self.internal_errors.append(traceback.format_exc())
            traceback.print_exc(file=sys.stderr)
            return ApiError(500, f"Simulator bug: {type(error).__name__}: {error}").response()

    def commit(self, response: Response) -> None:
        """Apply the state change of a response that reached the client intact."""
        if response.commit is not None:
            with self.org.lock:
                response.commit()
