"""Request statistics for tests and benchmarks (how many calls a sync costs, how parallel it ran)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """A consistent copy; ``by_route`` keys are route templates such as ``"GET /{v}/issues/{key}"``."""

    total: int
    by_route: dict[str, int]
    by_status: dict[int, int]
    peak_concurrency: int
    in_flight: int
    dropped: int
    faults: dict[str, int] = field(default_factory=dict)
    #: When requests arrived, and when 429 answers were sent (``time.monotonic()``), in order.
    arrivals: tuple[float, ...] = ()
    throttled_at: tuple[float, ...] = ()
    #: TCP connections accepted (a client that keeps its connections alive opens few).
    connections: int = 0

    def count(self, route: str) -> int:
        return self.by_route.get(route, 0)


class RequestStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero the counters; requests still in flight keep counting toward concurrency."""
        with self._lock:
            self._total = 0
            self._by_route: Counter[str] = Counter()
            self._by_status: Counter[int] = Counter()
            self._faults: Counter[str] = Counter()
            self._dropped = 0
            self._arrivals: list[float] = []
            self._throttled_at: list[float] = []
            self._connections = 0
            self._in_flight = getattr(self, "_in_flight", 0)
            self._peak = self._in_flight

    def begin(self, route: str) -> None:
        with self._lock:
            self._arrivals.append(time.monotonic())
            self._total += 1
            self._by_route[route] += 1
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def connected(self) -> None:
        with self._lock:
            self._connections += 1

    def end(self, status: int | None, fault: str | None = None) -> None:
        """``status`` None means the connection was dropped without a response."""
        with self._lock:
            self._in_flight -= 1
            if status is None:
                self._dropped += 1
            else:
                self._by_status[status] += 1
                if status == 429:
                    self._throttled_at.append(time.monotonic())
            if fault:
                self._faults[fault] += 1

    def snapshot(self) -> StatsSnapshot:
        with self._lock:
            return StatsSnapshot(
                self._total,
                dict(self._by_route),
                dict(self._by_status),
                self._peak,
                self._in_flight,
                self._dropped,
                dict(self._faults),
                tuple(self._arrivals),
                tuple(self._throttled_at),
                self._connections,
            )
