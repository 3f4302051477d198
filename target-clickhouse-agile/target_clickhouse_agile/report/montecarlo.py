"""Monte Carlo forecasts from daily throughput, in pure Python (no numpy: the target stays lean).

Both questions sample whole days of past throughput uniformly with replacement (zero days included), the
method of jira-agile-metrics and ActionableAgile (README "Analytics and report"):
* "when will these N items be done": days until the sampled throughput adds up to N, per trial;
* "how many by this date": the sum of sampled days up to the date, per trial.
A seeded `random.Random` makes a forecast reproducible: the same history, question and seed give the same
answer on every machine. Percentiles use the nearest-rank method (a value that some trial really produced).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

DEFAULT_TRIALS = 10_000
DEFAULT_SEED = 20240308
CONFIDENCES = (50, 85, 95)
MAX_DAYS = 3650


def nearest_rank(sorted_values: Sequence[int], percent: float) -> int:
    """The value at or below which `percent` % of the (sorted) values lie."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, math.ceil(percent / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


@dataclass(frozen=True)
class WhenForecast:
    """Days (from `start`, which counts as day 1) until `items` are done, at each confidence."""

    items: int
    start: date
    trials: int
    seed: int
    days: dict[int, int] = field(default_factory=dict)

    @property
    def dates(self) -> dict[int, date]:
        """The day by whose end the items are done with that confidence."""
        return {c: self.start + timedelta(days=d - 1) for c, d in self.days.items()}


@dataclass(frozen=True)
class HowManyForecast:
    """Items done from `start` to `until` (inclusive): at least `items[c]` with confidence `c` %."""

    start: date
    until: date
    trials: int
    seed: int
    items: dict[int, int] = field(default_factory=dict)


def _check(history: Sequence[int]) -> list[int]:
    values = [int(v) for v in history]
    if not values:
        raise ValueError("no throughput history to sample from")
    if any(v < 0 for v in values):
        raise ValueError("throughput cannot be negative")
    return values


def forecast_when(
    history: Sequence[int],
    items: int,
    start: date,
    *,
    trials: int = DEFAULT_TRIALS,
    seed: int = DEFAULT_SEED,
    confidences: Sequence[int] = CONFIDENCES,
) -> WhenForecast:
    """When `items` will be done: `confidences` % of the trials finish within `days[c]` days."""
    values = _check(history)
    if items <= 0:
        return WhenForecast(items, start, trials, seed, dict.fromkeys(confidences, 0))
    if not any(values):
        raise ValueError("the history has no finished item: nothing to forecast from")
    rng = random.Random(seed)
    outcomes: list[int] = []
    for _ in range(trials):
        remaining, day = items, 0
        while remaining > 0 and day < MAX_DAYS:
            day += 1
            remaining -= rng.choice(values)
        outcomes.append(day)
    outcomes.sort()
    return WhenForecast(items, start, trials, seed, {c: nearest_rank(outcomes, c) for c in confidences})


def forecast_how_many(
    history: Sequence[int],
    start: date,
    until: date,
    *,
    trials: int = DEFAULT_TRIALS,
    seed: int = DEFAULT_SEED,
    confidences: Sequence[int] = CONFIDENCES,
) -> HowManyForecast:
    """How many items will be done by `until`: at least `items[c]` in `c` % of the trials."""
    values = _check(history)
    days = (until - start).days + 1
    rng = random.Random(seed)
    outcomes = sorted(sum(rng.choice(values) for _ in range(max(days, 0))) for _ in range(trials))
    # "at least X with c % confidence" = the (100 - c)th percentile of the outcomes.
    return HowManyForecast(
        start, until, trials, seed, {c: nearest_rank(outcomes, max(100 - c, 0.0001)) for c in confidences}
    )
