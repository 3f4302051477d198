"""Reference collections requested all at once when the sync starts, instead of one after another.

The SDK syncs streams one at a time, so the reference data (statuses, types, priorities, resolutions,
queues, users, boards and every board's sprints: a dozen requests) costs a dozen round trips before the
first issue is searched, ~1.2 s at 100 ms of latency. Here they are requested in parallel at the start
(through the same gate, retries and abort event as every request); each stream then takes its answer
instead of asking again, and the sprints of every board are requested as soon as the boards are known.

A read-ahead only saves time, it never changes an outcome: a collection whose read failed for any reason
but "not found" is read again by its stream where it always was, so retries, error messages and the
one-line explanations are those of the sequential sync. A 404 is the API's answer and is raised as it
is (the cursor walks fall back to their plain path on it).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tap_yandex_tracker.errors import TrackerNotFoundError
from tap_yandex_tracker.transport import bind_abort_event

Fetch = Callable[[dict | None], list[dict]]
Key = tuple[str, str]
#: Threads reading ahead: the gate decides how many requests really are in flight.
WORKERS = 8

logger = logging.getLogger("tap-yandex-tracker")


def key_for(stream: str, context: dict[str, Any] | None) -> Key:
    """A top-level stream has no context; a child's is its parent's id (``board_id`` for sprints)."""
    return stream, ",".join(f"{k}={v}" for k, v in sorted((context or {}).items()))


class ReadAhead:
    """Futures of reference reads started early, keyed by (stream, context)."""

    def __init__(self) -> None:
        self._futures: dict[Key, Future[list[dict]]] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._abort = threading.Event()

    def submit(self, stream: str, fetch: Fetch, context: dict | None = None) -> Future[list[dict]] | None:
        """Start reading one collection; ``None`` once closed."""
        with self._lock:
            if self._abort.is_set():
                return None
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=WORKERS, thread_name_prefix="tracker-reference"
                )
            future = self._executor.submit(self._run, fetch, context)
            self._futures[key_for(stream, context)] = future
            return future

    def _run(self, fetch: Fetch, context: dict | None) -> list[dict]:
        bind_abort_event(self._abort)  # retries of this thread stop once the run is aborted
        try:
            return fetch(context)
        finally:
            bind_abort_event(None)

    def take(self, stream: str, context: dict | None) -> list[dict] | None:
        """The records read ahead for this stream and context, waiting for them if needed; ``None`` when
        nothing was read ahead or the read failed (the stream then reads as usual). Taken once."""
        with self._lock:
            future = self._futures.pop(key_for(stream, context), None)
        if future is None:
            return None
        try:
            return future.result()
        except TrackerNotFoundError:
            raise
        except Exception as error:  # read again in the stream, where errors are retried and explained
            logger.debug("%s read ahead failed (%s); reading it again", stream, error)
            return None

    def close(self) -> None:
        """Drop reads not started, make running ones give up at their next request; waits for none."""
        with self._lock:
            self._abort.set()
            futures, self._futures = self._futures, {}
            executor, self._executor = self._executor, None
        for future in futures.values():
            future.cancel()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
