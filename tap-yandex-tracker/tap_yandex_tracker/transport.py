"""HTTP plumbing shared by every stream and every changelog worker thread.

* One ``requests.Session`` per thread (a Session is not guaranteed thread-safe), all mounted with
  :class:`GatedAdapter`, so *every* request of the run - SDK paging in the main thread and changelog
  prefetches in workers - passes one bounded semaphore: at most ``max_concurrent_requests`` in flight.
* A 429 with ``Retry-After`` pauses all threads, not just the one that was told to slow down.
* Worker threads carry an abort event (see :func:`bind_abort_event`): once the run is aborted their next
  request - including the next retry - fails fast instead of hammering the API after a fatal error.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from tap_yandex_tracker.run_stats import RunStats


class RunAbortedError(RuntimeError):
    """Raised in worker threads once the run has been shut down (never retried)."""


_worker = threading.local()


def bind_abort_event(event: threading.Event | None) -> None:
    """Mark the calling thread as a worker that must stop when ``event`` is set."""
    _worker.abort = event


def check_not_aborted() -> None:
    event: threading.Event | None = getattr(_worker, "abort", None)
    if event is not None and event.is_set():
        raise RunAbortedError("the sync was aborted; request not sent")


class RequestGate:
    """The concurrency bound, the shared 429 pause and the abort flag."""

    def __init__(self, max_concurrent: int, stats: RunStats) -> None:
        self.max_concurrent = max(1, int(max_concurrent))
        self._semaphore = threading.BoundedSemaphore(self.max_concurrent)
        self._pause_until = 0.0
        self._lock = threading.Lock()
        self._local = threading.local()
        self.stats = stats
        self.in_flight = 0
        self.max_in_flight = 0

    # -- rate limiting -------------------------------------------------------------------------------
    def pause_all(self, seconds: float) -> None:
        """Ask every thread to hold new requests for ``seconds`` (from a ``Retry-After``)."""
        with self._lock:
            self._pause_until = max(self._pause_until, time.monotonic() + max(0.0, seconds))

    def wait_if_paused(self) -> None:
        while True:
            check_not_aborted()
            remaining = self._pause_until - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.25))

    def acquire(self) -> None:
        self.wait_if_paused()
        while not self._semaphore.acquire(timeout=0.25):
            check_not_aborted()
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        self.stats.add("requests")

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1
        self._semaphore.release()

    # -- sessions ----------------------------------------------------------------------------------
    def session(self) -> requests.Session:
        """The calling thread's session (created on first use)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = GatedAdapter(self, pool_connections=2, pool_maxsize=self.max_concurrent + 2)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session


class GatedAdapter(HTTPAdapter):
    """Holds a gate slot for the whole exchange, body download included."""

    def __init__(self, gate: RequestGate, **kwargs: Any) -> None:
        self.gate = gate
        super().__init__(**kwargs)

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.gate.acquire()
        try:
            response = super().send(request, **kwargs)
            if not kwargs.get("stream"):
                _ = response.content  # read the body while holding the slot
            return response
        finally:
            self.gate.release()
