"""Path templates to handlers. The template string (``"GET /{v}/issues/{key}"``) is also the key under
which request statistics and scripted faults address a route, so it is part of the public surface."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Handler = Callable[..., Any]
UNMATCHED = "UNMATCHED"


@dataclass(frozen=True, slots=True)
class Route:
    template: str
    handler: Handler
    params: dict[str, str]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], str, Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` like ``/{v}/issues/{key}/changelog`` (``{v}``: v2|v3); a trailing slash is optional."""
        regex = re.escape(pattern).replace(r"\{v\}", "(?P<v>v2|v3)")
        regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", regex)
        self._routes.append((method, re.compile(f"^{regex}/?$"), f"{method} {pattern}", handler))

    def match(self, method: str, path: str) -> Route | None:
        for route_method, regex, template, handler in self._routes:
            if route_method == method:
                found = regex.match(path)
                if found:
                    return Route(template, handler, found.groupdict())
        return None

    def allowed(self, path: str) -> bool:
        """Whether some method serves ``path`` (405 rather than 404)."""
        return any(regex.match(path) for _method, regex, _template, _handler in self._routes)
