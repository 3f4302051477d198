"""Bounded-parallel changelog prefetch inside the SDK's sequential parent/child sync.

The SDK syncs the changelog child right after each issue, one at a time. To overlap the per-issue
requests, the issues stream hands every page of issues to :class:`ChangelogPrefetcher` *before* yielding
them; workers fetch the changelogs (through the same gated, retrying request path as everything else) and
the child's ``get_records`` just collects its issue's result, waiting if it is not there yet. Records
still come out in ``updatedAt`` order and the bookmark only moves after an issue's changelog was emitted.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tap_yandex_tracker.transport import bind_abort_event

Fetch = Callable[[dict], list[dict]]
#: Pages whose changelogs may be in flight at once: the one being emitted, the two the search holds ready
#: for it (`streams.issues.SEARCH_PAGES_AHEAD`) and the one it is fetching.
PAGES_KEPT = 4


class ChangelogPrefetcher:
    """Futures of in-flight changelog fetches, keyed by issue id, for the current page of issues."""

    def __init__(self, max_workers: int) -> None:
        self._max_workers = max(1, max_workers)
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[list[dict]]] = {}
        self._pages: deque[list[str]] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._abort = threading.Event()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self._max_workers, thread_name_prefix="tracker-changelog"
            )
            # Safety net: if an exception escapes while the issues generator is suspended, make the
            # interpreter's executor join (which runs queued work) find an empty, cancelled queue.
            register = getattr(threading, "_register_atexit", None)
            if register is not None:
                with contextlib.suppress(RuntimeError):  # interpreter already shutting down
                    register(self.close)
        return self._executor

    def submit_page(self, fetch: Fetch, contexts: Iterable[dict[str, Any]]) -> None:
        """Start fetching the changelogs of one page with ``fetch`` (the changelog stream's). The search
        runs up to three pages ahead of the one being emitted, so those stay; leftovers of older pages are
        dropped (issues filtered out downstream, e.g. by stream maps)."""
        with self._lock:
            if self._closed:
                return
            if len(self._pages) == PAGES_KEPT:
                for issue_id in self._pages.popleft():
                    stale = self._futures.pop(issue_id, None)
                    if stale is not None:
                        stale.cancel()
            pool = self._pool()
            page = []
            for context in contexts:
                issue_id = context["issue_id"]
                self._futures[issue_id] = pool.submit(self._run, fetch, self._abort, dict(context))
                page.append(issue_id)
            self._pages.append(page)

    @staticmethod
    def _run(fetch: Fetch, abort: threading.Event, context: dict[str, Any]) -> list[dict]:
        bind_abort_event(abort)  # requests of this worker now fail fast once the run is aborted
        try:
            return fetch(context)
        finally:
            bind_abort_event(None)

    def peek(self, issue_id: str) -> Future[list[dict]] | None:
        """The future for ``issue_id``, left in the table."""
        with self._lock:
            return self._futures.get(issue_id)

    def put(self, issue_id: str, entries: list[dict]) -> None:
        """A changelog fetched outside the pool (a set-aside issue retried), for the child to take."""
        future: Future[list[dict]] = Future()
        future.set_result(entries)
        with self._lock:
            self._futures[issue_id] = future

    def take(self, issue_id: str) -> Future[list[dict]] | None:
        """The future for ``issue_id`` (removed from the table), or ``None`` if it was not prefetched."""
        with self._lock:
            return self._futures.pop(issue_id, None)

    def close(self, *, cancel: bool = True) -> None:
        """Stop the pool; with ``cancel`` queued fetches are dropped and nothing is waited for."""
        with self._lock:
            self._closed = True
            if cancel:
                self._abort.set()
            futures, self._futures = self._futures, {}
            self._pages.clear()
            executor, self._executor = self._executor, None
        if cancel:
            for future in futures.values():
                future.cancel()
        if executor is not None:
            executor.shutdown(wait=not cancel, cancel_futures=cancel)

    def start(self) -> None:
        """A new generation (the issues stream may be synced again by the same tap, e.g. dry runs)."""
        with self._lock:
            self._closed = False
            self._abort = threading.Event()
