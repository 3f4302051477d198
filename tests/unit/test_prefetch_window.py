"""The changelog prefetcher fetches at most a window of issues ahead of the one being emitted.

Real threads, a fetch function that records what it was asked for; no HTTP (the pool and the window are
what is tested; the tap's end-to-end tests cover the fetches themselves).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from tap_yandex_tracker.prefetch import ChangelogPrefetcher

WAIT_S = 10.0


class RecordingFetch:
    """Fetches that start at once and finish when the test says so."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.finish = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, context: dict[str, Any]) -> list[dict]:
        with self._lock:
            self.started.append(int(context["issue_id"]))
        assert self.finish.wait(WAIT_S)
        return [{"issue": context["issue_id"]}]

    def wait_for(self, count: int) -> list[int]:
        deadline = time.monotonic() + WAIT_S
        while len(self.started) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.1)  # room for any fetch beyond the window to start (none may)
        with self._lock:
            return sorted(self.started)


def _contexts(numbers: range) -> list[dict[str, Any]]:
    return [{"issue_id": str(n), "issue_key": f"K-{n}"} for n in numbers]


def test_no_fetch_starts_beyond_the_window() -> None:
    fetch, prefetcher = RecordingFetch(), ChangelogPrefetcher(max_workers=10, ahead=3)
    try:
        prefetcher.submit_page(fetch, _contexts(range(10)))
        assert fetch.wait_for(3) == [0, 1, 2], "ten idle workers, but only three issues within the window"
        fetch.finish.set()
        first = prefetcher.take("0")
        assert first is not None
        assert first.result(WAIT_S) == [{"issue": "0"}]
        assert fetch.wait_for(4) == [0, 1, 2, 3], "taking issue 0 moves the window by one"
        for n in range(1, 10):
            future = prefetcher.take(str(n))
            assert future is not None
            assert future.result(WAIT_S) == [{"issue": str(n)}]
        assert fetch.wait_for(10) == list(range(10))
    finally:
        prefetcher.close()


def test_issues_never_asked_for_do_not_hold_the_window() -> None:
    """Issues filtered out downstream are never taken: asking for a later one moves the window to it."""
    fetch, prefetcher = RecordingFetch(), ChangelogPrefetcher(max_workers=4, ahead=2)
    fetch.finish.set()
    try:
        prefetcher.submit_page(fetch, _contexts(range(8)))
        future = prefetcher.peek("6")
        assert future is not None
        assert future.result(WAIT_S) == [{"issue": "6"}]
        taken = prefetcher.take("6")
        assert taken is future
        later = prefetcher.take("7")
        assert later is not None
        assert later.result(WAIT_S) == [{"issue": "7"}]
    finally:
        prefetcher.close()


def test_close_drops_queued_fetches() -> None:
    fetch, prefetcher = RecordingFetch(), ChangelogPrefetcher(max_workers=2, ahead=2)
    prefetcher.submit_page(fetch, _contexts(range(6)))
    assert fetch.wait_for(2) == [0, 1]
    prefetcher.close()
    fetch.finish.set()
    assert fetch.wait_for(2) == [0, 1], "issues beyond the window were never handed to the pool"
    assert prefetcher.take("4") is None
