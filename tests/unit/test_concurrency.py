"""concurrency.py: the adaptive limit on requests in flight, step by step (hand-computed)."""

from __future__ import annotations

from tap_yandex_tracker.concurrency import (
    MAX_PROBE_WINDOWS,
    PAUSE_FACTOR,
    PROBE_WINDOWS,
    START,
    AdaptiveLimit,
    LimitChange,
)


def healthy(limit: AdaptiveLimit, answers: int) -> list[LimitChange]:
    changes = [limit.on_success(saturated=True) for _ in range(answers)]
    return [change for change in changes if change is not None]


def test_slow_start_doubles_per_window_by_at_most_four_up_to_the_ceiling() -> None:
    limit = AdaptiveLimit(14, start=2)
    assert limit.limit == 2
    assert healthy(limit, 1) == []
    assert healthy(limit, 1) == [LimitChange(2, 4, "healthy answers")]  # one window of 2: doubled
    assert healthy(limit, 4) == [LimitChange(4, 8, "healthy answers")]
    assert healthy(limit, 8) == [LimitChange(8, 12, "healthy answers")]  # +4 at most
    assert healthy(limit, 12) == [LimitChange(12, 14, "healthy answers")]  # the ceiling
    assert healthy(limit, 100) == []
    assert (limit.limit, limit.highest) == (14, 14)


def test_answers_while_the_limit_is_not_reached_prove_nothing() -> None:
    limit = AdaptiveLimit(16)
    for _ in range(100):
        assert limit.on_success(saturated=False) is None
    assert limit.limit == START


def test_answers_to_requests_sent_before_a_step_do_not_count_toward_the_next() -> None:
    """At 16 in flight the limit steps to 20; the 16 requests already out answer under the old generation.
    Counting them would complete the window at 20 after 4 new answers and step to 24 before a refusal of
    the 17th-20th (sent under the new generation) could arrive."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4 + 8 + 12)  # 4 -> 8 -> 12 -> 16
    sent_at_16 = limit.generation
    healthy(limit, 16)
    assert limit.limit == 20
    for _ in range(16):  # the answers to the requests sent at 16
        assert limit.on_success(saturated=True, generation=sent_at_16) is None
    for _ in range(19):
        assert limit.on_success(saturated=True, generation=limit.generation) is None
    assert limit.on_success(saturated=True, generation=limit.generation) == LimitChange(
        20, 24, "healthy answers"
    )


def test_a_refusal_above_the_proven_level_steps_back_to_it_once_per_overload() -> None:
    """The slow start proved 12 (a healthy window there) and stepped to 16: a refusal at 16 says 16 is too
    many, not that 12 is; back to 12, then +1 per window up to just below the refused level."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4 + 8 + 12)  # 4 -> 8 -> 12 -> 16
    assert (limit.limit, limit.proven) == (16, 12)
    sent_at_16 = limit.generation
    assert limit.on_throttle(sent_at_16) == LimitChange(
        16, 12, "refused (429/503): back to the last level that worked"
    )
    assert limit.on_throttle(sent_at_16) is None  # the same overload, answered late
    assert limit.known_capacity == 15
    # Additive now: +1 per window (12 answers at 12, 13 at 13, 14 at 14) up to 15, then it holds.
    assert [c.new for c in healthy(limit, 12 + 13 + 14)] == [13, 14, 15]
    assert healthy(limit, 15 * PROBE_WINDOWS - 1) == []
    assert healthy(limit, 1) == [LimitChange(15, 16, "healthy answers")]  # the probe


def test_a_refusal_at_a_proven_level_halves_and_proves_nothing_below() -> None:
    """A refusal where a window was healthy before: the API admits less than it did. Halve, and take the
    next refusal (nothing proven since) as another overload."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4 + 8 + 12 + 16)  # 4 -> 8 -> 12 -> 16 -> 20
    assert (limit.limit, limit.proven) == (20, 16)
    limit.on_throttle(limit.generation)  # 20 -> 16, the level that worked
    assert limit.on_throttle(limit.generation) == LimitChange(16, 8, "refused (429/503)")
    assert (limit.known_capacity, limit.proven) == (15, None)
    assert limit.on_throttle(limit.generation) == LimitChange(8, 4, "refused (429/503)")
    assert limit.known_capacity == 7


def test_a_level_held_for_a_window_is_proven_so_a_refusal_there_halves() -> None:
    """Back at 12 after a refused step, the limit climbs to the known capacity, 15, and holds it: once 15
    has answered a full window, a refusal at 15 means the API admits less, not that 15 was a step too far."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4 + 8 + 12)  # 4 -> 8 -> 12 -> 16
    limit.on_throttle(limit.generation)  # 16 -> 12
    healthy(limit, 12 + 13 + 14)  # 13, 14, 15
    assert (limit.limit, limit.proven) == (15, 14)
    healthy(limit, 15)  # one window at 15: no growth (a probe waits), but 15 has worked
    assert (limit.limit, limit.proven) == (15, 15)
    assert limit.on_throttle(limit.generation) == LimitChange(15, 7, "refused (429/503)")


def test_at_the_ceiling_a_refusal_steps_back_at_once_and_halves_after_a_window() -> None:
    """The ceiling does not grow, but a window there proves it like any level."""
    at_once = AdaptiveLimit(16)
    healthy(at_once, 8 + 12)  # 8 -> 12 -> 16 (the ceiling)
    assert at_once.on_throttle(at_once.generation) == LimitChange(
        16, 12, "refused (429/503): back to the last level that worked"
    )
    held = AdaptiveLimit(16)
    healthy(held, 8 + 12 + 16)  # 8 -> 12 -> 16, then a window at 16
    assert (held.limit, held.proven) == (16, 16)
    assert held.on_throttle(held.generation) == LimitChange(16, 8, "refused (429/503)")


def test_a_refused_probe_steps_back_and_doubles_the_wait_before_the_next() -> None:
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4)  # 4 proven -> 8
    limit.on_throttle(limit.generation)  # 8 -> 4 (proven), capacity 7
    assert limit.limit == 4
    healthy(limit, 4 + 5 + 6)  # 7
    healthy(limit, 7 * PROBE_WINDOWS)  # the probe: 8
    assert limit.limit == 8
    assert limit.on_throttle(limit.generation) == LimitChange(
        8, 7, "refused (429/503): back to the last level that worked"
    )
    assert limit.probe_windows == 2 * PROBE_WINDOWS
    assert healthy(limit, 7 * 2 * PROBE_WINDOWS - 1) == []
    assert healthy(limit, 1) == [LimitChange(7, 8, "healthy answers")]


def test_a_probe_that_works_raises_the_known_capacity_and_restarts_the_wait() -> None:
    """The API admitted 7 (8 was refused twice), then more: the probe at 8 completes a window, so 8 is the
    known capacity, and the next probe (9) comes after `PROBE_WINDOWS` windows at 8, not after the wait
    the old refusals had doubled."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4)  # 4 -> 8
    limit.on_throttle(limit.generation)  # 8 refused: back to 4, capacity 7
    healthy(limit, 4 + 5 + 6)  # 7
    healthy(limit, 7 * PROBE_WINDOWS)  # the probe: 8
    limit.on_throttle(limit.generation)  # refused: back to 7, the wait doubles
    healthy(limit, 7 * 2 * PROBE_WINDOWS)  # the probe: 8 again, and this time the API admits it
    assert (limit.limit, limit.known_capacity, limit.probe_windows) == (8, 7, 2 * PROBE_WINDOWS)
    assert healthy(limit, 8) == []  # a window at 8
    assert (limit.known_capacity, limit.proven, limit.probe_windows) == (8, 8, PROBE_WINDOWS)
    assert healthy(limit, 8 * PROBE_WINDOWS - 8 - 1) == []
    assert healthy(limit, 1) == [LimitChange(8, 9, "healthy answers")]


def test_a_probe_of_a_level_that_worked_before_keeps_the_wait() -> None:
    """8 worked, 9 was refused (the wait doubled to 32), then a refusal at 8 itself (an API that now and
    then refuses at exactly its capacity) halved the limit. Climbing back, the probe of 8 works, but 8 is
    no news: the wait stays 32 windows and the known capacity 7, as before the rule for rising capacities."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4 + 8)  # 4 -> 8 -> 12: 8 worked
    limit.on_throttle(limit.generation)  # 12 refused: back to 8, capacity 11
    healthy(limit, 8)  # 9
    limit.on_throttle(limit.generation)  # 9 refused: back to 8, capacity 8
    healthy(limit, 8 * PROBE_WINDOWS)  # the probe: 9
    limit.on_throttle(limit.generation)  # refused again: back to 8, the wait doubles
    assert (limit.limit, limit.known_capacity, limit.probe_windows) == (8, 8, 2 * PROBE_WINDOWS)
    assert healthy(limit, 8) == []  # a window at 8: the refusal of 9 was a refused probe
    assert limit.on_throttle(limit.generation) == LimitChange(8, 4, "refused (429/503)")  # the race at 8
    healthy(limit, 4 + 5 + 6)  # 7, the known capacity
    healthy(limit, 7 * 2 * PROBE_WINDOWS)  # the probe: 8
    assert healthy(limit, 8) == []  # a window at 8
    assert (limit.known_capacity, limit.probe_windows, limit.highest_proven) == (7, 2 * PROBE_WINDOWS, 8)


def test_the_wait_between_refused_probes_stops_doubling_at_its_maximum() -> None:
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4)  # 4 -> 8
    limit.on_throttle(limit.generation)  # 8 refused: back to 4, capacity 7
    healthy(limit, 4 + 5 + 6)  # 7
    waits = []
    for _ in range(10):
        healthy(limit, 7 * limit.probe_windows)  # the probe: 8
        assert limit.limit == 8
        limit.on_throttle(limit.generation)  # refused: back to 7
        assert limit.limit == 7
        waits.append(limit.probe_windows)
    assert MAX_PROBE_WINDOWS == 256 * PROBE_WINDOWS
    assert waits == [32, 64, 128, 256, 512, 1024, 2048, 4096, 4096, 4096]


def test_after_a_refusal_that_pauses_everyone_the_next_probe_waits_for_many_such_pauses() -> None:
    """A refused probe that pauses every worker for 10 round trips (Retry-After: 1 at 100 ms) makes the
    next probe wait `PAUSE_FACTOR` times that, 200 windows, instead of the doubled 32: refused probes then
    cost at most 1/20 of the time. A refusal without a pause leaves the wait as it was."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4)  # 4 -> 8
    limit.on_throttle(limit.generation)  # 8 refused, no pause: back to 4, capacity 7
    assert limit.probe_windows == PROBE_WINDOWS
    healthy(limit, 4 + 5 + 6)  # 7
    healthy(limit, 7 * PROBE_WINDOWS)  # the probe: 8
    limit.on_throttle(limit.generation, pause_windows=10.0)
    assert (limit.limit, limit.probe_windows) == (7, PAUSE_FACTOR * 10)
    assert healthy(limit, 7 * PAUSE_FACTOR * 10 - 1) == []
    assert healthy(limit, 1) == [LimitChange(7, 8, "healthy answers")]


def test_after_an_overload_a_level_that_works_again_is_climbed_back_one_per_window() -> None:
    """16 worked; two refusals in a row (an overload) left the limit at 4 with a known capacity of 7. The
    probe of 8 works: 8 had worked before, so the limit climbs back one level per window to 16, instead of
    waiting `probe_windows` at every level on the way."""
    limit = AdaptiveLimit(16)
    healthy(limit, 8 + 12 + 16)  # 8 -> 12 -> 16, and a window at 16
    limit.on_throttle(limit.generation)  # 16 -> 8
    limit.on_throttle(limit.generation)  # 8 -> 4, capacity 7
    assert (limit.limit, limit.known_capacity, limit.highest_proven) == (4, 7, 16)
    healthy(limit, 4 + 5 + 6)  # 7
    assert healthy(limit, 7 * PROBE_WINDOWS) == [LimitChange(7, 8, "healthy answers")]  # the probe
    assert healthy(limit, 8) == [LimitChange(8, 9, "healthy answers")]  # it worked: no wait at 9
    assert limit.regain == 16
    assert [change.new for change in healthy(limit, sum(range(9, 16)))] == list(range(10, 17))


def test_a_refusal_on_the_way_back_counts_as_a_refused_probe() -> None:
    """Climbing back above the known capacity is probing: a refusal there doubles the wait and ends the
    climb, so an API that refuses now and then at exactly its capacity is not asked to more and more."""
    limit = AdaptiveLimit(16)
    healthy(limit, 8 + 12 + 16)  # 8 -> 12 -> 16, and a window at 16
    limit.on_throttle(limit.generation)  # 16 -> 8
    limit.on_throttle(limit.generation)  # 8 -> 4, capacity 7
    healthy(limit, 4 + 5 + 6 + 7 * PROBE_WINDOWS + 8 + 9 + 10 + 11)  # 7, the probe 8, back to 12
    assert limit.limit == 12
    assert limit.on_throttle(limit.generation) == LimitChange(
        12, 11, "refused (429/503): back to the last level that worked"
    )
    assert (limit.known_capacity, limit.probe_windows, limit.regain) == (11, 2 * PROBE_WINDOWS, None)


def test_an_overload_does_not_lengthen_the_wait_but_a_lone_refusal_does() -> None:
    """16 worked. An overload (16 refused, then 8: two refusals in a row) halves twice and the limit climbs
    back; its first refusal, above the known capacity the last overload left, looked like a refused probe
    and doubled the wait, and the second undoes that: after three overloads the wait is still 16 windows.
    A lone refusal at 16 keeps its doubling while the limit climbs back (until 15 works, which makes it
    stand; see below)."""
    limit = AdaptiveLimit(16)
    healthy(limit, 8 + 12 + 16)  # 8 -> 12 -> 16, and a window at 16
    for _overload in range(3):
        assert limit.on_throttle(limit.generation) == LimitChange(16, 8, "refused (429/503)")
        assert limit.on_throttle(limit.generation) == LimitChange(8, 4, "refused (429/503)")
        assert (limit.known_capacity, limit.probe_windows) == (7, PROBE_WINDOWS)
        healthy(limit, 4 + 5 + 6 + 7 * PROBE_WINDOWS)  # 7, then the probe of 8
        healthy(limit, sum(range(8, 17)))  # it works: back to 16 one level per window, a window there
        assert (limit.limit, limit.proven) == (16, 16)
    limit.on_throttle(limit.generation)  # a lone refusal at 16: halves
    assert healthy(limit, 8) == [LimitChange(8, 9, "healthy answers")]  # and 8 works
    assert limit.probe_windows == 2 * PROBE_WINDOWS


def test_climbed_back_to_the_highest_level_that_worked_the_limit_waits_before_trying_more() -> None:
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4 + 8 + 12 + 16)  # 4 -> 8 -> 12 -> 16 -> 20: 16 worked
    limit.on_throttle(limit.generation)  # 20 refused: back to 16, capacity 19
    limit.on_throttle(limit.generation)  # 16 refused: 8
    limit.on_throttle(limit.generation)  # 8 refused: 4, capacity 7
    healthy(limit, 4 + 5 + 6 + 7 * limit.probe_windows + sum(range(8, 16)))  # the probe of 8, back to 16
    assert limit.limit == 16
    assert healthy(limit, 16 * limit.probe_windows - 1) == []
    assert healthy(limit, 1) == [LimitChange(16, 17, "healthy answers")]


def test_a_long_pause_lengthens_the_wait_only_while_it_is_the_latest() -> None:
    """A pause of 1,000 round trips (Retry-After: 120 at 120 ms) puts the next probe 20,000 windows away;
    once the API asks for pauses of 10, a refused probe waits twice their floor, 400 windows, as if the long
    pause had never been (it used to stay in the wait), and the next refused probe, a 503 without a pause,
    doubles that."""
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4)  # 4 -> 8
    limit.on_throttle(limit.generation, pause_windows=1000.0)
    assert limit.probe_windows == PAUSE_FACTOR * 1000
    healthy(limit, 4 + 5 + 6 + 7 * PAUSE_FACTOR * 1000)  # 7, then the probe: 8
    limit.on_throttle(limit.generation, pause_windows=10.0)
    assert limit.probe_windows == 2 * PAUSE_FACTOR * 10
    healthy(limit, 7 * 2 * PAUSE_FACTOR * 10)  # the probe: 8
    limit.on_throttle(limit.generation)  # a 503: no pause
    assert limit.probe_windows == 4 * PAUSE_FACTOR * 10


def overloaded_once(limit: AdaptiveLimit) -> None:
    """16 worked; an overload took the limit to 4 (capacity 7), and it climbed back to 16."""
    healthy(limit, 8 + 12 + 16)  # 8 -> 12 -> 16, and a window at 16
    limit.on_throttle(limit.generation)  # 16 -> 8
    limit.on_throttle(limit.generation)  # 8 -> 4, capacity 7
    healthy(limit, 4 + 5 + 6 + 7 * PROBE_WINDOWS + sum(range(8, 17)))  # the probe of 8, back to 16
    assert (limit.limit, limit.known_capacity, limit.probe_windows) == (16, 7, PROBE_WINDOWS)


def test_a_shallow_overload_undoes_the_doubling_too() -> None:
    """The API drops to 10: 16 is refused (doubling the wait: above the known capacity 7), the limit halves
    to 8 and climbs; 11 is refused before 15 (the level below 16) has worked, so 16 was an overload's."""
    limit = AdaptiveLimit(16)
    overloaded_once(limit)
    limit.on_throttle(limit.generation)  # 16 -> 8
    assert limit.probe_windows == 2 * PROBE_WINDOWS
    healthy(limit, 8 + 9 + 10)  # 8, 9, 10 work: 11
    assert limit.on_throttle(limit.generation) == LimitChange(
        11, 10, "refused (429/503): back to the last level that worked"
    )
    assert limit.probe_windows == PROBE_WINDOWS


def test_an_overload_to_two_levels_below_the_refused_one_undoes_the_doubling() -> None:
    """The API drops to 14: 16 is refused, the limit halves and climbs back, and 15 is refused before it has
    worked: 16 was an overload's. (A drop to 15 would look like a refused probe at 16, and be one.)"""
    limit = AdaptiveLimit(16)
    overloaded_once(limit)
    limit.on_throttle(limit.generation)  # 16 -> 8
    healthy(limit, sum(range(8, 15)))  # back to 15
    assert (limit.limit, limit.probe_windows) == (15, 2 * PROBE_WINDOWS)
    limit.on_throttle(limit.generation)  # 15 refused
    assert (limit.limit, limit.probe_windows) == (14, PROBE_WINDOWS)


def test_once_the_level_below_the_refused_one_works_the_doubling_stands() -> None:
    """A lone refusal at 16, then 15 works: the refusal was at the capacity, and a later overload (15, then
    7) does not undo its doubling."""
    limit = AdaptiveLimit(16)
    overloaded_once(limit)
    limit.on_throttle(limit.generation)  # 16 -> 8
    healthy(limit, sum(range(8, 16)))  # back to 15, and a window there
    assert (limit.limit, limit.probe_windows) == (15, 2 * PROBE_WINDOWS)
    limit.on_throttle(limit.generation)  # 15 -> 7
    limit.on_throttle(limit.generation)  # 7 -> 3
    assert limit.probe_windows == 2 * PROBE_WINDOWS


def test_a_capacity_above_all_before_restarts_the_wait_whatever_the_pauses() -> None:
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4)  # 4 -> 8
    limit.on_throttle(limit.generation, pause_windows=10.0)  # back to 4, capacity 7, floor 200 windows
    healthy(limit, 4 + 5 + 6 + 7 * PAUSE_FACTOR * 10)  # 7, then the probe: 8
    assert healthy(limit, 8) == []  # a window at 8, more than ever before
    assert (limit.known_capacity, limit.probe_windows) == (8, PROBE_WINDOWS)


def test_a_wait_a_pause_made_longer_than_the_maximum_stays() -> None:
    limit = AdaptiveLimit(64, start=4)
    healthy(limit, 4)  # 4 -> 8
    limit.on_throttle(limit.generation, pause_windows=1000.0)  # Retry-After: 120 at 120 ms round trips
    assert limit.probe_windows == PAUSE_FACTOR * 1000 > MAX_PROBE_WINDOWS
    healthy(limit, 4 + 5 + 6 + 7 * PAUSE_FACTOR * 1000)  # 7, then the probe: 8
    limit.on_throttle(limit.generation)  # refused without a pause (a 503)
    assert limit.probe_windows == PAUSE_FACTOR * 1000


def test_capacity_two_settles_at_two() -> None:
    """Against an API that refuses a third request in flight, the limit spends its time at 2."""
    limit = AdaptiveLimit(16)
    levels = []
    for _ in range(2000):
        if limit.limit > 2:
            limit.on_throttle(limit.generation)
        else:
            limit.on_success(saturated=True)
        levels.append(limit.limit)
    assert max(levels[200:]) <= 3
    assert levels[200:].count(2) > 0.9 * len(levels[200:])


def test_fixed_level_when_not_adaptive() -> None:
    limit = AdaptiveLimit(6, adaptive=False)
    assert limit.limit == 6
    assert limit.on_throttle(limit.generation) is None
    assert healthy(limit, 100) == []
    assert limit.limit == 6
