"""Bounded-parallel changelog prefetch inside the SDK's sequential parent/child sync.

The SDK syncs the changelog child right after each issue, one at a time. To overlap the per-issue
requests, the issues stream hands every page of issues to :class:`ChangelogPrefetcher` *before* yielding
them; workers fetch the changelogs (through the same gated, retrying request path as everything else) and
the child's ``get_records`` just collects its issue's result, waiting if it is not there yet. Records
still come out in ``updatedAt`` order and the bookmark only moves after an issue's changelog was emitted.

Workers run at most a window of issues ahead of the one being emitted. When the API answers faster than the
tap can write (a nearby API, or one that admits many requests at once), the changelogs of every page the
search holds ready would otherwise pile up as parsed JSON: up to four pages, 400 issues.
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
#: How many issues a worker may fetch ahead of the one being emitted, per worker: enough to keep every worker
#: busy while the emitter catches up (16 workers: 64 changelogs held at most), few enough to bound memory.
AHEAD_PER_WORKER = 4


class ChangelogPrefetcher:
    """Futures of in-flight changelog fetches, keyed by issue id, for the current page of issues."""

    def __init__(self, max_workers: int, *, ahead: int | None = None) -> None:
        self._max_workers = max(1, max_workers)
        self._ahead = max(1, ahead if ahead is not None else AHEAD_PER_WORKER * self._max_workers)
        self._executor: ThreadPoolExecutor | None = None
        self._futures: dict[str, Future[list[dict]]] = {}
        self._pages: deque[list[str]] = deque()
        self._lock = threading.Lock()
        self._closed = False
        self._abort = threading.Event()
        # The window: issues are numbered in the order submitted; number n goes to the pool once
        # n < _reached + _ahead, _reached being the number of the issue the emitter asked for last.
        self._numbers: dict[str, int] = {}
        self._waiting: deque[tuple[int, str, Fetch, dict[str, Any]]] = deque()
        self._submitted = 0
        self._reached = 0

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
        """Queue the changelogs of one page for ``fetch`` (the changelog stream's); those within the window
        start at once. The search runs up to three pages ahead of the one being emitted, so those stay;
        leftovers of older pages are dropped (issues filtered out downstream, e.g. by stream maps)."""
        with self._lock:
            if self._closed:
                return
            if len(self._pages) == PAGES_KEPT:
                stale_ids = set(self._pages.popleft())
                self._waiting = deque(item for item in self._waiting if item[1] not in stale_ids)
                for issue_id in stale_ids:
                    self._numbers.pop(issue_id, None)
                    stale = self._futures.pop(issue_id, None)
                    if stale is not None:
                        stale.cancel()
            page = []
            for context in contexts:
                issue_id, number = context["issue_id"], self._submitted
                self._submitted += 1
                self._numbers[issue_id] = number
                self._waiting.append((number, issue_id, fetch, dict(context)))
                page.append(issue_id)
            self._pages.append(page)
            self._start_within_window()

    def _start_within_window(self) -> None:
        """Hand the queued fetches that are now within the window to the pool (lock held)."""
        limit = self._reached + self._ahead
        while self._waiting and self._waiting[0][0] < limit:
            _number, issue_id, fetch, context = self._waiting.popleft()
            self._futures[issue_id] = self._pool().submit(self._run, fetch, self._abort, context)

    @staticmethod
    def _run(fetch: Fetch, abort: threading.Event, context: dict[str, Any]) -> list[dict]:
        bind_abort_event(abort)  # requests of this worker now fail fast once the run is aborted
        try:
            return fetch(context)
        finally:
            bind_abort_event(None)

    def _reach(self, issue_id: str, *, taken: bool) -> None:
        """The emitter is at ``issue_id`` (lock held): the window moves up to it, or past it once taken.
        Issues before it that were never asked for (filtered out downstream) no longer hold the window."""
        number = self._numbers.pop(issue_id, None) if taken else self._numbers.get(issue_id)
        if number is None:
            return
        reached = number + 1 if taken else number
        if reached > self._reached:
            self._reached = reached
            self._start_within_window()

    def peek(self, issue_id: str) -> Future[list[dict]] | None:
        """The future for ``issue_id``, left in the table (its fetch starts now if it was still queued)."""
        with self._lock:
            self._reach(issue_id, taken=False)
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
            self._reach(issue_id, taken=True)
            return self._futures.pop(issue_id, None)

    def close(self, *, cancel: bool = True) -> None:
        """Stop the pool. Fetches not yet started are dropped; with ``cancel`` nothing is waited for, without
        it the fetches already running are."""
        with self._lock:
            self._closed = True
            if cancel:
                self._abort.set()
            futures, self._futures = self._futures, {}
            self._pages.clear()
            self._numbers.clear()
            self._waiting.clear()
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
            self._reached = self._submitted  # numbers of an earlier generation hold nothing back
