"""calendar.py: business seconds in local time with RU holidays, overrides and DST."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_clickhouse_agile.metrics import WorkCalendar, parse_hhmm
from tests.support.histories import msk

H = 3600
RU = WorkCalendar()  # Europe/Moscow, 09:00-18:00, Mon-Fri, RU public holidays


def local(tz: str, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


# -- hand-computed cases, Moscow 09:00-18:00 ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Mon 2024-03-04 10:00-18:00 MSK: 8 h (the seed exporter got 6 h by using UTC wall-clock).
        ("2024-03-04 10:00", "2024-03-04 18:00", 8 * H),
        # Mon 20:00-23:00: after hours → 0 (seed: 3 h).
        ("2024-03-04 20:00", "2024-03-04 23:00", 0),
        # Fri 2024-03-01 21:00 → Mon 2024-03-04 10:00: Fri after hours, weekend, Mon 09:00-10:00 → 1 h.
        ("2024-03-01 21:00", "2024-03-04 10:00", 1 * H),
        # Across midnight: Tue 17:00 → Wed 10:00 = Tue 17-18 (1 h) + Wed 9-10 (1 h) = 2 h.
        ("2024-03-05 17:00", "2024-03-06 10:00", 2 * H),
        # Whole weekend Sat 00:00 → Mon 00:00 = 0.
        ("2024-03-02 00:00", "2024-03-04 00:00", 0),
        # Whole week Mon 2024-03-11 → Mon 2024-03-18 with no holiday: 5 days x 9 h = 45 h.
        ("2024-03-11 00:00", "2024-03-18 00:00", 45 * H),
        # Inside one working day, with minutes: 09:15 → 12:45 = 3 h 30 min.
        ("2024-03-05 09:15", "2024-03-05 12:45", 3 * H + 30 * 60),
        # Starts before opening, ends after closing, same day: the whole 9 h window.
        ("2024-03-05 06:00", "2024-03-05 23:59", 9 * H),
        # New Year: Fri 2023-12-29 17:00 → Tue 2024-01-09 10:00. Dec 29 17-18 = 1 h; Dec 30-31 weekend;
        # Jan 1-8 are RU holidays; Jan 9 09-10 = 1 h. Total 2 h.
        ("2023-12-29 17:00", "2024-01-09 10:00", 2 * H),
        # May: Wed 2024-05-08 17:00 → Mon 2024-05-13 10:00. Wed 1 h; Thu 05-09 Victory Day; Fri 05-10
        # substituted day off; weekend; Mon 1 h. Total 2 h.
        ("2024-05-08 17:00", "2024-05-13 10:00", 2 * H),
        # 2024-05-09 alone, during the day: a holiday → 0.
        ("2024-05-09 09:00", "2024-05-09 18:00", 0),
    ],
)
def test_moscow_hand_computed(start: str, end: str, expected: int) -> None:
    assert RU.business_seconds(msk(start), msk(end)) == expected


def test_same_interval_without_country_holidays_counts_new_year_days() -> None:
    # Same span as the New Year case, no public holidays: Dec 29 1 h + Jan 1-5 (Mon-Fri) 5 x 9 h + Jan 8 (Mon)
    # 9 h + Jan 9 1 h = 1 + 45 + 9 + 1 = 56 h.
    plain = WorkCalendar(holidays_country=None)
    assert plain.business_seconds(msk("2023-12-29 17:00"), msk("2024-01-09 10:00")) == 56 * H


def test_working_saturday_via_extra_workdays() -> None:
    # Fri 2024-04-26 17:00 → Thu 2024-05-02 10:00.
    start, end = msk("2024-04-26 17:00"), msk("2024-05-02 10:00")
    # holidays.RU alone: Fri 1 h; Sat 04-27, Sun off; Mon 04-29, Tue 04-30 substituted days off; Wed 05-01
    # holiday; Thu 1 h → 2 h. The working Saturday is missing.
    assert RU.business_seconds(start, end) == 2 * H
    # With Saturday 2024-04-27 declared a working day: + 9 h → 11 h.
    with_saturday = WorkCalendar(extra_workdays=frozenset({date(2024, 4, 27)}))
    assert with_saturday.business_seconds(start, end) == 11 * H


def test_full_russian_year_2024_matches_the_production_calendar() -> None:
    # The official RU production calendar for 2024 has 248 working days (5-day week): 262 weekdays - 17
    # weekday holidays (Jan 1-5, 8; Feb 23; Mar 8; Apr 29-30; May 1, 9, 10; Jun 12; Nov 4; Dec 30-31) = 245,
    # + 3 working Saturdays (Apr 27, Nov 2, Dec 28) = 248.
    saturdays = frozenset({date(2024, 4, 27), date(2024, 11, 2), date(2024, 12, 28)})
    calendar = WorkCalendar(extra_workdays=saturdays)
    start, end = msk("2024-01-01 00:00"), msk("2025-01-01 00:00")
    assert calendar.business_seconds(start, end) == 248 * 9 * H
    assert RU.business_seconds(start, end) == 245 * 9 * H


def test_two_years_without_holidays() -> None:
    # 2023 starts on a Sunday: 52 weeks + 1 Sunday → 260 weekdays; 2024 (leap) starts on a Monday: 52 weeks +
    # Mon + Tue → 262. 522 days x 9 h.
    plain = WorkCalendar(holidays_country=None)
    assert plain.business_seconds(msk("2023-01-01 00:00"), msk("2025-01-01 00:00")) == 522 * 9 * H


def test_precedence_of_overrides() -> None:
    victory_day, monday = date(2024, 5, 9), date(2024, 3, 4)
    # extra_holidays beats work_days: an ordinary Monday becomes a day off.
    off = WorkCalendar(extra_holidays=frozenset({monday}))
    assert off.business_seconds(msk("2024-03-04 09:00"), msk("2024-03-04 18:00")) == 0
    # extra_workdays beats country holidays: Victory Day worked → 9 h.
    worked = WorkCalendar(extra_workdays=frozenset({victory_day}))
    assert worked.business_seconds(msk("2024-05-09 00:00"), msk("2024-05-10 00:00")) == 9 * H
    # extra_workdays beats extra_holidays when a date is in both.
    both = WorkCalendar(extra_holidays=frozenset({monday}), extra_workdays=frozenset({monday}))
    assert both.is_working_day(monday)
    assert not RU.is_working_day(victory_day)
    assert not RU.is_working_day(date(2024, 3, 2))  # Saturday


def test_custom_work_days_and_hours() -> None:
    # Weekend-only team, 10:00-14:00, no holidays. Fri 2024-03-01 00:00 → Tue 2024-03-05 00:00:
    # Sat 4 h + Sun 4 h = 8 h; Mon is not a work day.
    weekend = WorkCalendar(
        work_start=time(10), work_end=time(14), work_days=frozenset({6, 7}), holidays_country=None
    )
    assert weekend.business_seconds(msk("2024-03-01 00:00"), msk("2024-03-05 00:00")) == 8 * H


def test_other_timezone_shifts_the_window() -> None:
    # Asia/Yekaterinburg is UTC+5: 09:00-18:00 local = 04:00-13:00 UTC. The UTC span 03:00-05:00 on
    # Mon 2024-03-04 therefore holds exactly 1 h (04:00-05:00); in Moscow (06:00-08:00 local) it holds 0.
    yekb = WorkCalendar(timezone="Asia/Yekaterinburg", holidays_country=None)
    start, end = datetime(2024, 3, 4, 3, tzinfo=timezone.utc), datetime(2024, 3, 4, 5, tzinfo=timezone.utc)
    assert yekb.business_seconds(start, end) == 1 * H
    assert RU.business_seconds(start, end) == 0


# -- DST ----------------------------------------------------------------------------------------------


def test_berlin_spring_forward_weekend() -> None:
    # Europe/Berlin switches CET (+1) → CEST (+2) on Sun 2024-03-31. Fri 2024-03-29 17:00 CET (16:00Z) →
    # Mon 2024-04-01 10:00 CEST (08:00Z): Fri 17-18 = 1 h, Mon 09-10 = 1 h → 2 h. A fixed +1 offset would
    # put Monday 08:00Z at 09:00 and count only 1 h.
    berlin = WorkCalendar(timezone="Europe/Berlin", holidays_country=None)
    start = datetime(2024, 3, 29, 16, tzinfo=timezone.utc)
    end = datetime(2024, 4, 1, 8, tzinfo=timezone.utc)
    assert berlin.business_seconds(start, end) == 2 * H


def test_berlin_fall_back_weekend() -> None:
    # CEST → CET on Sun 2024-10-27. Fri 17:00 CEST (15:00Z) → Mon 2024-10-28 10:00 CET (09:00Z) → 2 h.
    berlin = WorkCalendar(timezone="Europe/Berlin", holidays_country=None)
    start = datetime(2024, 10, 25, 15, tzinfo=timezone.utc)
    end = datetime(2024, 10, 28, 9, tzinfo=timezone.utc)
    assert berlin.business_seconds(start, end) == 2 * H


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # Window 00:00-06:00 local on the DST Sundays: the spring day loses an hour (02:00-03:00 does not
        # exist) → 5 h; the autumn day repeats 02:00-03:00 → 7 h.
        ("2024-03-31", 5 * H),
        ("2024-10-27", 7 * H),
        ("2024-03-24", 6 * H),  # an ordinary Sunday
    ],
)
def test_working_window_spanning_a_dst_switch(day: str, expected: int) -> None:
    night = WorkCalendar(
        timezone="Europe/Berlin",
        work_start=time(0),
        work_end=time(6),
        work_days=frozenset({7}),
        holidays_country=None,
    )
    start = local("Europe/Berlin", f"{day} 00:00")
    end = start + timedelta(days=1)
    assert night.business_seconds(start, end) == expected


def test_new_york_spring_forward() -> None:
    # America/New_York: EST (-5) → EDT (-4) on Sun 2024-03-10. Fri 2024-03-08 17:00 EST (22:00Z) →
    # Mon 2024-03-11 10:00 EDT (14:00Z): 1 h + 1 h.
    ny = WorkCalendar(timezone="America/New_York", holidays_country=None)
    start = datetime(2024, 3, 8, 22, tzinfo=timezone.utc)
    end = datetime(2024, 3, 11, 14, tzinfo=timezone.utc)
    assert ny.business_seconds(start, end) == 2 * H


# -- truncation and degenerate input ---------------------------------------------------------------------


def test_truncates_to_whole_seconds() -> None:
    start = msk("2024-03-05 09:00:00.500")
    assert RU.business_seconds(start, msk("2024-03-05 09:00:02.400")) == 1  # 1.9 s → 1
    assert RU.business_seconds(start, msk("2024-03-05 09:00:01.499")) == 0  # 0.999 s → 0
    # Partial seconds of the two edge days add up before truncation: 0.6 s on Tue + 0.6 s on Wed = 1.2 s → 1.
    assert RU.business_seconds(msk("2024-03-05 17:59:59.400"), msk("2024-03-06 09:00:00.600")) == 1


def test_empty_and_reversed_intervals_are_zero() -> None:
    moment = msk("2024-03-05 10:00")
    assert RU.business_seconds(moment, moment) == 0
    assert RU.business_seconds(moment, moment - timedelta(hours=1)) == 0


def test_naive_datetimes_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RU.business_seconds(datetime(2024, 3, 5, 10), datetime(2024, 3, 5, 11))


# -- settings validation --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("09:00", time(9)), ("18:30", time(18, 30)), ("7:05", time(7, 5))]
)
def test_parse_hhmm(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize("bad", ["9", "24:00", "09:60", "ab:cd", "", "09:00:00", "9h"])
def test_parse_hhmm_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|hours must be"):
        parse_hhmm(bad)


def test_constructor_accepts_strings_and_normalises() -> None:
    calendar = WorkCalendar(
        work_start="08:30",  # type: ignore[arg-type]
        work_end="17:00",  # type: ignore[arg-type]
        work_days=[1, 2, 3],  # type: ignore[arg-type]
        holidays_country="ru",
        extra_holidays=["2024-03-05"],  # type: ignore[arg-type]
    )
    assert calendar.work_start == time(8, 30)
    assert calendar.work_days == frozenset({1, 2, 3})
    assert calendar.holidays_country == "RU"
    assert calendar.extra_holidays == frozenset({date(2024, 3, 5)})
    assert WorkCalendar(holidays_country="").holidays_country is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "Unknown timezone 'Mars/Olympus'.*IANA"),
        ({"timezone": ""}, "Unknown timezone"),
        ({"holidays_country": "XX"}, "Unknown holidays_country 'XX'.*ISO 3166"),
        ({"work_start": time(18), "work_end": time(9)}, "work_end 09:00 must be later than work_start 18:00"),
        ({"work_start": time(9), "work_end": time(9)}, "must be later"),
        ({"work_days": frozenset({0, 5})}, "ISO weekdays.*invalid: 0"),
        ({"work_days": frozenset({8})}, "invalid: 8"),
        ({"extra_workdays": ["27.04.2024"]}, "YYYY-MM-DD"),
    ],
)
def test_constructor_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkCalendar(**kwargs)  # type: ignore[arg-type]


# -- properties -------------------------------------------------------------------------------------------

_BASE = datetime(2023, 12, 1, tzinfo=timezone.utc)
_seconds = st.integers(min_value=0, max_value=400 * 24 * 3600)  # whole-second instants over ~13 months


@dataclass(frozen=True)
class Spec:
    """A calendar's settings as the test reads them (the reference never asks the calendar itself)."""

    timezone: str = "Europe/Moscow"
    country: str | None = "RU"
    start: time = time(9, 0)
    end: time = time(18, 0)
    days: frozenset[int] = frozenset({1, 2, 3, 4, 5})
    extra_workdays: frozenset[date] = frozenset()
    extra_holidays: frozenset[date] = frozenset()

    def calendar(self) -> WorkCalendar:
        return WorkCalendar(
            timezone=self.timezone,
            holidays_country=self.country,
            work_start=self.start,
            work_end=self.end,
            work_days=self.days,
            extra_workdays=self.extra_workdays,
            extra_holidays=self.extra_holidays,
        )


_SPECS = [
    Spec(),
    Spec(extra_workdays=frozenset({date(2024, 4, 27)}), extra_holidays=frozenset({date(2024, 3, 5)})),
    Spec(timezone="Europe/Berlin", country="DE", start=time(8, 30), end=time(17, 15)),
    Spec(timezone="America/New_York", country=None, start=time(0), end=time(6)),
    # Working hours that contain the DST switch itself (Berlin: 02:00 -> 03:00 on the last Sunday of
    # March, 03:00 -> 02:00 in October; New York at 02:00 in March and November), on every day of the week.
    Spec(
        timezone="Europe/Berlin", country=None, start=time(1, 0), end=time(4, 0), days=frozenset(range(1, 8))
    ),
    Spec(
        timezone="America/New_York", country="US", start=time(0, 30), end=time(3, 30), days=frozenset({7, 1})
    ),
]
_specs = st.sampled_from(_SPECS)


def reference_working_day(spec: Spec, day: date) -> bool:
    """The documented precedence, with the `holidays` package asked directly."""
    if day in spec.extra_workdays:
        return True
    if day in spec.extra_holidays:
        return False
    if spec.country is not None and day in holidays.country_holidays(spec.country, years=day.year):
        return False
    return day.isoweekday() in spec.days


def reference_business_seconds(spec: Spec, start: datetime, end: datetime) -> int:
    """Independent slow reference: every local day, its window as aware datetimes (zoneinfo resolves the
    hour a DST switch skips or repeats), the overlap measured in UTC."""
    tz = ZoneInfo(spec.timezone)
    total = timedelta(0)
    day = start.astimezone(tz).date() - timedelta(days=1)
    while day <= end.astimezone(tz).date() + timedelta(days=1):
        if reference_working_day(spec, day):
            opens = datetime.combine(day, spec.start, tzinfo=tz).astimezone(timezone.utc)
            closes = datetime.combine(day, spec.end, tzinfo=tz).astimezone(timezone.utc)
            overlap = min(end, closes) - max(start, opens)
            total += max(overlap, timedelta(0))
        day += timedelta(days=1)
    return int(total.total_seconds())


def test_the_dst_calendars_really_contain_a_switch_inside_working_hours() -> None:
    """Precondition of the property tests below: a working window that is an hour shorter (spring) or
    longer (autumn) than its wall-clock length, for both DST zones."""
    for spec in _SPECS[4:]:
        tz = ZoneInfo(spec.timezone)
        lengths = set()
        for offset in range(400):
            day = _BASE.date() + timedelta(days=offset)
            if reference_working_day(spec, day):
                opens = datetime.combine(day, spec.start, tzinfo=tz).astimezone(timezone.utc)
                closes = datetime.combine(day, spec.end, tzinfo=tz).astimezone(timezone.utc)
                lengths.add(closes - opens)
        assert len(lengths) == 3, (spec.timezone, lengths)


@settings(max_examples=300, deadline=None)
@given(_specs, _seconds, _seconds)
def test_matches_reference_and_never_exceeds_elapsed(spec: Spec, a: int, b: int) -> None:
    start, end = _BASE + timedelta(seconds=min(a, b)), _BASE + timedelta(seconds=max(a, b))
    result = spec.calendar().business_seconds(start, end)
    assert 0 <= result <= int((end - start).total_seconds())
    assert result == reference_business_seconds(spec, start, end)


@pytest.mark.parametrize("spec", _SPECS, ids=lambda s: f"{s.timezone}-{s.start:%H%M}-{s.end:%H%M}")
def test_whole_days_match_the_reference_around_every_switch(spec: Spec) -> None:
    """Every whole local day of the 400 (so every DST switch in them, deterministically: a random sample
    of days would find the two switch days only now and then), not only random spans."""
    tz, calendar = ZoneInfo(spec.timezone), spec.calendar()
    for offset in range(400):
        day = _BASE.date() + timedelta(days=offset)
        start = datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(timezone.utc)
        assert calendar.business_seconds(start, end) == reference_business_seconds(spec, start, end), day


@settings(max_examples=300, deadline=None)
@given(_specs, st.lists(_seconds, min_size=3, max_size=3))
def test_additive_over_a_split_point(spec: Spec, points: list[int]) -> None:
    calendar = spec.calendar()
    a, b, c = (_BASE + timedelta(seconds=p) for p in sorted(points))
    # Whole-second instants: no truncation, so splitting must not gain or lose anything.
    assert calendar.business_seconds(a, c) == calendar.business_seconds(a, b) + calendar.business_seconds(
        b, c
    )
