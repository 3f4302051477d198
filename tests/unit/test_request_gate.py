"""transport.RequestGate: the round trip it measures, and a 429's pause weighed in round trips for the
limit (concurrency.py). The gate's clock is a counter here, so every number is hand-computed."""

from __future__ import annotations

import pytest

from tap_yandex_tracker.concurrency import PAUSE_FACTOR, PROBE_WINDOWS
from tap_yandex_tracker.run_stats import RunStats
from tap_yandex_tracker.transport import RequestGate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answer(gate: RequestGate, clock: Clock, seconds: float, status: int, **kwargs: float) -> None:
    ticket = gate.acquire()
    clock.now += seconds
    gate.release(ticket, status, **kwargs)


def test_the_round_trip_is_a_smoothed_average_of_healthy_answers() -> None:
    clock = Clock()
    gate = RequestGate(16, RunStats(), clock=clock)
    assert gate.round_trip_s is None
    answer(gate, clock, 0.25, 200)
    assert gate.round_trip_s == pytest.approx(0.25)
    answer(gate, clock, 1.25, 200)  # one slow answer moves the average by a tenth of the difference
    assert gate.round_trip_s == pytest.approx(0.35)
    answer(gate, clock, 5.0, 500)  # failures and refusals say nothing about the round trip
    answer(gate, clock, 5.0, 429, retry_after=1.0)
    assert gate.round_trip_s == pytest.approx(0.35)
    assert gate.stats.round_trip_s == gate.round_trip_s  # for the end-of-run summary


def test_opening_a_connection_is_not_part_of_the_round_trip() -> None:
    clock = Clock()
    gate = RequestGate(16, RunStats(), clock=clock)
    answer(gate, clock, 0.75, 200, connecting_s=0.5)  # a TLS handshake before the request
    assert gate.round_trip_s == pytest.approx(0.25)
    answer(gate, clock, 0.5, 200)
    assert gate.round_trip_s == pytest.approx(0.275)


def test_the_summary_tells_the_round_trip() -> None:
    stats = RunStats()
    assert stats.summary().endswith("0 refused (429/503), round trip not measured")
    stats.round_trip_s = 0.125
    assert stats.summary().endswith("0 refused (429/503), round trip 125 ms")


def test_a_429_pause_counts_in_round_trips_for_the_next_probe() -> None:
    """Retry-After: 2.5 at 0.125 s round trips is 20 round trips: the next probe waits 20 x `PAUSE_FACTOR`
    windows. A 503 pauses only its own request (client.py), so its Retry-After costs the others nothing.
    (Times in binary fractions: the arithmetic is exact.)"""
    clock = Clock()
    gate = RequestGate(16, RunStats(), clock=clock)
    for _ in range(5):
        answer(gate, clock, 0.125, 200)
    answer(gate, clock, 0.125, 503, retry_after=2.5)
    assert gate.limiter.probe_windows == PROBE_WINDOWS
    answer(gate, clock, 0.125, 429, retry_after=2.5)
    assert gate.limiter.probe_windows == 20 * PAUSE_FACTOR


def test_a_429_before_any_round_trip_is_known_leaves_the_wait() -> None:
    clock = Clock()
    gate = RequestGate(16, RunStats(), clock=clock)
    answer(gate, clock, 0.1, 429, retry_after=2.0)
    assert gate.limiter.probe_windows == PROBE_WINDOWS
