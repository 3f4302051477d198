"""`records.epoch_ms`: exact milliseconds since the epoch (the `*_ms` columns the metrics order events by).

It once multiplied a float `timestamp()` by 1000: about 4-5 % of the millisecond instants in 2004-2007 and
2030-2039 came out 1 ms low (`2004-04-02T23:45:00.850Z` -> ...849). The oracle here is calendar arithmetic
on integers, independent of `datetime.timestamp` and of the code under test.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

from target_clickhouse_agile.rows import epoch_ms

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def calendar_ms(moment: datetime) -> int:
    utc = moment.astimezone(timezone.utc)
    days = utc.date().toordinal() - EPOCH_ORDINAL
    clock = ((utc.hour * 60 + utc.minute) * 60 + utc.second) * 1000 + utc.microsecond // 1000
    return days * 86_400_000 + clock


def _instants(first: int, last: int) -> st.SearchStrategy[datetime]:
    low = datetime(first, 1, 1, tzinfo=timezone.utc)
    span_ms = int((datetime(last + 1, 1, 1, tzinfo=timezone.utc) - low) / timedelta(milliseconds=1))
    return st.integers(0, span_ms - 1).map(lambda n: low + timedelta(milliseconds=n))


def test_the_instant_that_was_one_millisecond_low() -> None:
    assert epoch_ms(datetime(2004, 4, 2, 23, 45, 0, 850_000, tzinfo=timezone.utc)) == 1_080_949_500_850


@settings(max_examples=2000, deadline=None)
@given(_instants(2004, 2007) | _instants(2030, 2039))
@example(datetime(2004, 4, 2, 23, 45, 0, 850_000, tzinfo=timezone.utc))
def test_every_millisecond_of_the_problem_years_is_exact(moment: datetime) -> None:
    assert epoch_ms(moment) == calendar_ms(moment)


@settings(max_examples=300, deadline=None)
@given(_instants(1970, 2100), st.integers(-14 * 60, 14 * 60))
def test_the_offset_of_an_aware_datetime_does_not_matter(moment: datetime, offset_minutes: int) -> None:
    local = moment.astimezone(timezone(timedelta(minutes=offset_minutes)))
    assert epoch_ms(local) == calendar_ms(moment)
