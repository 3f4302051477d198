"""Scroll contexts: snapshot result sets that survive between requests until their TTL runs out.

A context stores ``(issue index, changelog length)`` pairs taken when the scroll starts; pages render
each issue as the fold over that prefix of its history, so edits made during a scroll do not change
its results (like an Elasticsearch point-in-time). TTLs run on the wall clock (``time.monotonic``),
not the simulated clock, since they model server resources; every page refreshes the TTL.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass

from .ids import mix
from .wire import ApiError

MAX_PER_SCROLL = 1000
DEFAULT_PER_SCROLL = 100
DEFAULT_TTL_MS = 60_000


@dataclass(slots=True)
class ScrollContext:
    scroll_id: str
    token: str
    items: list[tuple[int, int]]  # (issue index, number of changelog entries in the snapshot)
    per_scroll: int
    ttl_ms: int
    expires: float
    position: int = 0
    first_url: str = ""  # the Link rel="first" of every page


class ScrollRegistry:
    #: The status of a continuation with an expired or unknown scroll id. The documentation does not say
    #: which one the API sends; tests set others (400, 410, 422, ...) to check that clients cope.
    lost_status = 404
    #: Misbehave: every continuation is refused as lost (a client must not restart forever).
    lose_all = False

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._contexts: dict[str, ScrollContext] = {}
        self._counter = itertools.count(1)

    def create(self, items: list[tuple[int, int]], per_scroll: int, ttl_ms: int) -> ScrollContext:
        """A new context; it becomes visible only through :meth:`register` (after a delivered page)."""
        n = next(self._counter)
        scroll_id = f"{mix(n, 11):016x}{mix(n, 12) & 0xFFFFFFFF:08x}"
        return ScrollContext(scroll_id, f"sim-{mix(n, 13):016x}", items, per_scroll, ttl_ms, 0.0)

    def use_clock(self, clock: Callable[[], float]) -> None:
        """TTLs measured on ``clock`` (seconds), e.g. a test's manual clock instead of the wall clock."""
        self._clock = clock

    def register(self, context: ScrollContext) -> None:
        self._purge()
        self.touch(context)
        self._contexts[context.scroll_id] = context

    def touch(self, context: ScrollContext) -> None:
        context.expires = self._clock() + context.ttl_ms / 1000

    def get(self, scroll_id: str, token: str | None) -> ScrollContext:
        context = None if self.lose_all else self._contexts.get(scroll_id)
        if context is not None and context.expires < self._clock():
            del self._contexts[scroll_id]
            context = None
        if context is None:
            raise ApiError(self.lost_status, f"Scroll {scroll_id} not found or expired; start a new search")
        if token and token != context.token:
            raise ApiError(
                400, "Invalid scrollToken for this scrollId", errors={"scrollToken": "invalid value"}
            )
        return context

    def clear(self, scroll_ids: list[str]) -> None:
        for scroll_id in scroll_ids:
            self._contexts.pop(scroll_id, None)

    def __len__(self) -> int:
        self._purge()
        return len(self._contexts)

    def _purge(self) -> None:
        now = self._clock()
        for scroll_id in [s for s, c in self._contexts.items() if c.expires < now]:
            del self._contexts[scroll_id]
