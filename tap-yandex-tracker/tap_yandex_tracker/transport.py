"""HTTP plumbing shared by every stream and every changelog worker thread.

* One ``requests.Session`` per thread (a Session is not guaranteed thread-safe), all mounted with
  :class:`GatedAdapter` (keepalive.py's adapter: one kept-alive connection per thread and host), so
  *every* request of the run - SDK paging in the main thread and changelog prefetches in workers -
  passes one gate: at most as many in flight as the adaptive limit allows (concurrency.py), never more
  than ``max_concurrent_requests``.
* A 429 with ``Retry-After`` pauses all threads, not just the one that was told to slow down. The gate
  measures the round trip (a smoothed average of healthy answers), so the limit can weigh that pause in
  round trips when it decides how soon to probe again (concurrency.py).
* Worker threads carry an abort event (see :func:`bind_abort_event`): once the run is aborted their next
  request - including the next retry - fails fast instead of hammering the API after a fatal error.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from tap_yandex_tracker.concurrency import AdaptiveLimit
from tap_yandex_tracker.errors import retry_after_seconds
from tap_yandex_tracker.keepalive import KeepAliveAdapter
from tap_yandex_tracker.run_stats import RunStats

#: Answers that mean "too much": the limit on requests in flight goes down (concurrency.py).
THROTTLE_STATUSES = frozenset({429, 503})
#: The answer whose `Retry-After` pauses every thread (a 503's pauses only its own retry, client.py).
PAUSING_STATUS = 429
#: Weight of the newest healthy answer in the smoothed round trip.
ROUND_TRIP_WEIGHT = 0.1


class RunAbortedError(RuntimeError):
    """Raised in worker threads once the run has been shut down (never retried)."""


_worker = threading.local()


def bind_abort_event(event: threading.Event | None) -> None:
    """Mark the calling thread as a worker that must stop when ``event`` is set."""
    _worker.abort = event


def bind_first_in_line(first: bool) -> None:
    """Let the calling thread's requests pass the gate before every waiting request of other threads.
    For the issue search: the changelog workers' next work comes from it, and 16 workers that take a
    place back the moment they give one up would otherwise keep it waiting for many round trips."""
    _worker.first = first


def check_not_aborted() -> None:
    event: threading.Event | None = getattr(_worker, "abort", None)
    if event is not None and event.is_set():
        raise RunAbortedError("the sync was aborted; request not sent")


@dataclass(frozen=True)
class Ticket:
    """A place in flight: the limit's generation when it was taken, whether the limit was in use, and when
    (the gate's clock)."""

    generation: int
    saturated: bool
    sent_at: float


@dataclass(frozen=True)
class EnvironmentSettings:
    """What requests would read from the environment on every request, read once per run.

    With ``trust_env`` a Session looks up ``HTTP(S)_PROXY``/``NO_PROXY``, the CA bundle variables and
    ``~/.netrc`` for each request: ~10 % of the tap's CPU at 2,000 requests. The environment does not
    change during a run and every request goes to the API's host (``next`` links included), so the answer
    for ``api_url`` is taken once and the sessions stop looking. (``.netrc`` never mattered: every request
    carries the Tracker credentials.)
    """

    proxies: dict[str, str]
    verify: str | bool

    @classmethod
    def read(cls, api_url: str) -> EnvironmentSettings:
        proxies = requests.utils.get_environ_proxies(api_url) if api_url else {}
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        return cls(
            proxies={k: v for k, v in proxies.items() if k not in ("no", "no_proxy")}, verify=bundle or True
        )

    def apply(self, session: requests.Session) -> None:
        session.trust_env = False
        session.proxies.update(self.proxies)
        session.verify = self.verify


class RequestGate:
    """The limit on requests in flight (adaptive, see concurrency.py), the shared 429 pause and the abort
    flag."""

    def __init__(
        self,
        max_concurrent: int,
        stats: RunStats,
        *,
        adaptive: bool = True,
        logger: logging.Logger | None = None,
        api_url: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.environment = EnvironmentSettings.read(api_url)
        self._clock = clock
        #: Smoothed seconds from a place taken to its healthy answer (None: no answer yet).
        self.round_trip_s: float | None = None
        self.limiter = AdaptiveLimit(max_concurrent, adaptive=adaptive)
        self.max_concurrent = self.limiter.ceiling
        self._cond = threading.Condition()
        self._pause_until = 0.0
        self._local = threading.local()
        self._logger = logger or logging.getLogger("tap-yandex-tracker")
        self.stats = stats
        self.in_flight = 0
        self.max_in_flight = 0
        self._first_waiting = 0
        self._publish()

    # -- rate limiting -------------------------------------------------------------------------------
    def pause_all(self, seconds: float) -> None:
        """Ask every thread to hold new requests for ``seconds`` (from a ``Retry-After``)."""
        with self._cond:
            self._pause_until = max(self._pause_until, time.monotonic() + max(0.0, seconds))

    def wait_if_paused(self) -> None:
        while True:
            check_not_aborted()
            with self._cond:
                remaining = self._pause_until - time.monotonic()
            if remaining <= 0:
                return
            time.sleep(min(remaining, 0.25))

    def acquire(self) -> Ticket:
        """Wait for a place in flight (and out any pause); the ticket goes back with the answer. A thread
        marked first in line (`bind_first_in_line`) gets the next free place."""
        first = getattr(_worker, "first", False)
        with self._cond:
            self._first_waiting += first
            try:
                while True:
                    check_not_aborted()
                    paused = self._pause_until - time.monotonic()
                    if paused > 0:
                        self._cond.wait(min(paused, 0.25))
                    elif self.in_flight < self.limiter.limit and (first or not self._first_waiting):
                        break
                    else:
                        self._cond.wait(0.25)
            finally:
                self._first_waiting -= first
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            ticket = Ticket(
                self.limiter.generation,
                saturated=self.in_flight >= self.limiter.limit,
                sent_at=self._clock(),
            )
        self.stats.add("requests")
        return ticket

    def release(
        self,
        ticket: Ticket,
        status: int | None,
        *,
        retry_after: float | None = None,
        connecting_s: float = 0.0,
    ) -> None:
        """The answer's status (None: no answer) moves the limit; the place is given back. `retry_after`:
        the pause a 429 imposes on every thread, in seconds: it starts here. `connecting_s`: the part of
        the exchange spent opening a connection (TCP, TLS), which is not a round trip of the API: the first
        request of every thread would count it (a TLS handshake is two round trips more)."""
        answered_in = self._clock() - ticket.sent_at - connecting_s
        if status == PAUSING_STATUS and retry_after:
            self.pause_all(retry_after)
        with self._cond:
            self.in_flight -= 1
            change = None
            if status in THROTTLE_STATUSES:
                self.stats.add("refused")
                pause = self._in_round_trips(retry_after) if status == PAUSING_STATUS else 0.0
                change = self.limiter.on_throttle(ticket.generation, pause_windows=pause)
            elif status is not None and status < 500:
                self._observe_round_trip(answered_in)
                change = self.limiter.on_success(saturated=ticket.saturated, generation=ticket.generation)
            if change is not None:
                self._publish()
            self._cond.notify_all()
        if change is not None:
            self._logger.debug(
                "requests in flight: limit %d -> %d (%s)", change.old, change.new, change.reason
            )

    def _observe_round_trip(self, seconds: float) -> None:
        previous = self.round_trip_s
        self.round_trip_s = (
            seconds if previous is None else previous + ROUND_TRIP_WEIGHT * (seconds - previous)
        )
        self.stats.round_trip_s = self.round_trip_s

    def _in_round_trips(self, seconds: float | None) -> float:
        """`seconds` in round trips (0 while none has been measured, or for no pause)."""
        if not seconds or not self.round_trip_s:
            return 0.0
        return seconds / self.round_trip_s

    def _publish(self) -> None:
        self.stats.concurrency = self.limiter.limit
        self.stats.concurrency_highest = self.limiter.highest
        self.stats.concurrency_ceiling = self.limiter.ceiling

    # -- sessions ----------------------------------------------------------------------------------
    def session(self) -> requests.Session:
        """The calling thread's session (created on first use)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            self.environment.apply(session)
            adapter = GatedAdapter(self)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._local.session = session
        return session


class GatedAdapter(KeepAliveAdapter):
    """Holds a gate slot for the whole exchange, body download included."""

    def __init__(self, gate: RequestGate) -> None:
        self.gate = gate
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        ticket = self.gate.acquire()
        status = retry_after = None
        try:
            response = super().send(request, **kwargs)
            if not kwargs.get("stream"):
                _ = response.content  # read the body while holding the slot
            status = response.status_code
            if status == PAUSING_STATUS:
                retry_after = retry_after_seconds(response)
            return response
        finally:
            self.gate.release(ticket, status, retry_after=retry_after, connecting_s=self.connecting_s)
