"""Monte Carlo forecasts: reproducible with a seed, and obvious where the history leaves no doubt."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from target_clickhouse_agile.report.montecarlo import forecast_how_many, forecast_when, nearest_rank

START = date(2024, 3, 11)


def test_constant_throughput_forecasts_the_obvious_date() -> None:
    when = forecast_when([2] * 30, 10, START, trials=500, seed=7)
    # 2 a day: 10 items take 5 days, the start day being the first: done by the end of 03-15.
    assert when.days == {50: 5, 85: 5, 95: 5}
    assert set(when.dates.values()) == {START + timedelta(days=4)}
    many = forecast_how_many([2] * 30, START, START + timedelta(days=9), trials=500, seed=7)
    assert many.items == {50: 20, 85: 20, 95: 20}


def test_a_fixed_seed_gives_the_same_forecast_and_confidence_orders_it() -> None:
    history = [0, 1, 0, 3, 2, 0, 0, 1, 4, 0, 2, 1, 0, 0, 5]
    first = forecast_when(history, 25, START, trials=2000, seed=42)
    again = forecast_when(history, 25, START, trials=2000, seed=42)
    assert first == again
    assert first.days[50] <= first.days[85] <= first.days[95]
    other_seeds = {
        tuple(forecast_when(history, 25, START, trials=2000, seed=s).days.values()) for s in range(5)
    }
    assert len(other_seeds) > 1  # the seed really drives the sampling
    many = forecast_how_many(history, START, START + timedelta(days=20), trials=2000, seed=42)
    assert many == forecast_how_many(history, START, START + timedelta(days=20), trials=2000, seed=42)
    # More confidence, fewer items promised.
    assert many.items[50] >= many.items[85] >= many.items[95]


def test_edges() -> None:
    assert forecast_when([1, 0], 0, START).days == {50: 0, 85: 0, 95: 0}
    with pytest.raises(ValueError, match="no finished item"):
        forecast_when([0, 0, 0], 3, START)
    with pytest.raises(ValueError, match="no throughput history"):
        forecast_how_many([], START, START)
    assert nearest_rank([1, 3, 4], 50) == 3
    assert nearest_rank([1, 3, 4], 85) == 4
