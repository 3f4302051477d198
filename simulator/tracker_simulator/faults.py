"""Fault injection: what a flaky network and an overloaded Tracker do to a client.

Kinds (each with a probability per request, drawn from a seeded RNG in arrival order, so a sequential
client sees the same faults on every run):

* ``latency_ms`` (+ ``latency_jitter_ms``): every request is delayed (outside the data lock, so slow
  requests overlap like on a real server);
* ``rate_429``: ``429 Too Many Requests`` with ``Retry-After: <retry_after>`` (seconds; may be 0 or a
  fraction for fast tests);
* ``rate_500`` / ``rate_503`` / ``rate_504``: server errors in Tracker's error-body shape;
* ``rate_drop``: the connection is closed without any response;
* ``rate_truncate``: ``200`` with the JSON body cut in half (``Content-Length`` matches the cut body,
  so the client reads a complete but invalid document).

Random faults apply to routes matching ``routes`` (an ``fnmatch`` pattern over the route template such
as ``"POST /{v}/issues/_search"`` or over ``"METHOD /path"``). :meth:`FaultPlan.script` queues precise
faults: "the next N requests matching a route get X", consumed before any random draw. A faulted request
never changes the simulator's state (a truncated scroll page is served again on retry), unless its script
says `served`: then the request is served first and only its answer is lost, as when a gateway times out
or a connection breaks after the backend did the work (a scroll's cursor has moved on). The real API's
documentation does not say which of the two a failed scroll page is.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

DROP = "drop"
TRUNCATE = "truncate"
Fault = int | str  # an HTTP status, DROP or TRUNCATE


@dataclass(slots=True)
class Injected:
    """The decision for one request."""

    fault: Fault
    retry_after: float | None = None
    #: The request is served (its state change kept) before the fault replaces or cuts its answer.
    served: bool = False


@dataclass(slots=True)
class _Scripted:
    pattern: str
    fault: Fault
    remaining: int
    retry_after: float | None
    passing: int = 0
    served: bool = False


@dataclass(slots=True)
class _Rendezvous:
    pattern: str
    barrier: threading.Barrier
    timeout: float
    arrived: int = 0
    failed: bool = False


@dataclass
class FaultPlan:
    seed: int = 0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    rate_429: float = 0.0
    retry_after: float = 1.0
    rate_500: float = 0.0
    rate_503: float = 0.0
    rate_504: float = 0.0
    rate_drop: float = 0.0
    rate_truncate: float = 0.0
    routes: str = "*"
    _scripted: list[_Scripted] = field(default_factory=list, repr=False)
    _rendezvous: list[_Rendezvous] = field(default_factory=list, repr=False)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reseed(self, seed: int) -> None:
        with self._lock:
            self.seed = seed
            self._rng = random.Random(seed)

    def script(
        self,
        route: str,
        fault: Fault,
        times: int = 1,
        *,
        retry_after: float | None = None,
        after: int = 0,
        served: bool = False,
    ) -> None:
        """The next ``times`` requests matching ``route`` get ``fault`` (a status, "drop" or "truncate"),
        once ``after`` more of them have passed untouched (e.g. a scroll's first page). ``served``: each of
        them is served before its answer is lost (see the module docstring)."""
        if not (isinstance(fault, int) or fault in (DROP, TRUNCATE)):
            raise ValueError(f"unknown fault {fault!r}")
        with self._lock:
            self._scripted.append(_Scripted(route, fault, times, retry_after, after, served))

    def rendezvous(self, route: str, parties: int, timeout: float = 20.0) -> None:
        """The first ``parties`` requests matching ``route`` each wait until all of them are in flight: a
        deterministic proof that a client runs that many requests at once. If they never all arrive (a
        client that sends one at a time), the waiting ones get 503 after ``timeout`` and
        :attr:`rendezvous_failed` says so."""
        with self._lock:
            self._rendezvous.append(_Rendezvous(route, threading.Barrier(parties), timeout))

    @property
    def rendezvous_failed(self) -> bool:
        with self._lock:
            return any(r.failed for r in self._rendezvous)

    def meet(self, template: str, method: str, path: str) -> bool:
        """Wait at a matching rendezvous (outside the lock); False if it timed out."""
        names = (template, f"{method} {path}")
        with self._lock:
            found = None
            for point in self._rendezvous:
                if point.arrived < point.barrier.parties and any(
                    fnmatchcase(n, point.pattern) for n in names
                ):
                    point.arrived += 1
                    found = point
                    break
        if found is None:
            return True
        try:
            found.barrier.wait(found.timeout)
        except threading.BrokenBarrierError:
            with self._lock:
                found.failed = True
            return False
        return True

    def clear(self) -> None:
        """Back to a healthy server: no scripted or random faults, no latency."""
        with self._lock:
            self._scripted.clear()
            for point in self._rendezvous:
                point.barrier.abort()
            self._rendezvous.clear()
            self.latency_ms = self.latency_jitter_ms = 0.0
            self.rate_429 = self.rate_500 = self.rate_503 = self.rate_504 = 0.0
            self.rate_drop = self.rate_truncate = 0.0
            self.routes = "*"

    @property
    def pending_scripted(self) -> int:
        with self._lock:
            return sum(s.remaining for s in self._scripted)

    def delay_seconds(self) -> float:
        if not self.latency_ms and not self.latency_jitter_ms:
            return 0.0
        with self._lock:
            jitter = self._rng.random() * self.latency_jitter_ms if self.latency_jitter_ms else 0.0
        return max(0.0, self.latency_ms + jitter) / 1000

    def decide(self, template: str, method: str, path: str) -> Injected | None:
        """The fault for this request, if any (scripted first, then the random rates)."""
        names = (template, f"{method} {path}")
        with self._lock:
            for scripted in self._scripted:
                if any(fnmatchcase(name, scripted.pattern) for name in names):
                    if scripted.passing > 0:
                        scripted.passing -= 1
                        return None
                    scripted.remaining -= 1
                    if scripted.remaining <= 0:
                        self._scripted.remove(scripted)
                    retry = scripted.retry_after if scripted.retry_after is not None else self.retry_after
                    return Injected(scripted.fault, retry if scripted.fault == 429 else None, scripted.served)
            rates = (
                (429, self.rate_429),
                (500, self.rate_500),
                (503, self.rate_503),
                (504, self.rate_504),
                (DROP, self.rate_drop),
                (TRUNCATE, self.rate_truncate),
            )
            if not any(rate for _, rate in rates) or not any(fnmatchcase(n, self.routes) for n in names):
                return None
            roll = self._rng.random()
        for fault, rate in rates:
            if roll < rate:
                return Injected(fault, self.retry_after if fault == 429 else None)
            roll -= rate
        return None
