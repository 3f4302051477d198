"""Working calendar: business seconds between two instants, in the team's local time.

Business time is the part of ``[start, end)`` that falls inside working hours of working days, evaluated in
the configured IANA timezone (so DST shifts move the UTC window, not the local hours). It runs for every
finished status visit, i.e. millions of times per sync, so each local year is precomputed once into
per-day UTC windows and a running total: a call then costs two window look-ups and a subtraction,
whatever the length of the interval.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from .country_holidays import country_holidays
from .utc import EPOCH

__all__ = ["WorkCalendar", "parse_hhmm"]

_EPOCH = EPOCH
_US = timedelta(microseconds=1)
_US_PER_S = 1_000_000
_HHMM_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_hhmm(text: str) -> time:
    """``"09:00"`` → ``time(9, 0)``; anything else is a ValueError that says what is expected."""
    match = _HHMM_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"Invalid time of day {text!r}: expected 24-hour HH:MM such as '09:00' or '18:30'")
    hours, minutes = int(match[1]), int(match[2])
    if hours > 23 or minutes > 59:
        raise ValueError(f"Invalid time of day {text!r}: hours must be 00-23 and minutes 00-59")
    return time(hours, minutes)


@dataclass(frozen=True, slots=True)
class _Year:
    """Per-day UTC working windows of one local year (``None`` = day off) and their running totals."""

    first_ordinal: int  # date(year, 1, 1).toordinal(): day index = day.toordinal() - first_ordinal
    windows: tuple[tuple[int, int] | None, ...]
    cumulative: tuple[int, ...]  # cumulative[i] = working µs of days 0..i-1 of the year

    @property
    def total(self) -> int:
        return self.cumulative[-1]


#: The defaults of the calendar settings (the target's settings schema shows these).
DEFAULT_TIMEZONE = "Europe/Moscow"
DEFAULT_WORK_START = time(9, 0)
DEFAULT_WORK_END = time(18, 0)
DEFAULT_WORK_DAYS = frozenset({1, 2, 3, 4, 5})
DEFAULT_HOLIDAYS_COUNTRY = "RU"


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Working hours and days in a timezone, with public holidays and explicit overrides.

    Precedence for a local date: ``extra_workdays`` > ``extra_holidays`` > country holidays > ``work_days``
    (ISO weekdays, Monday = 1). ``holidays.RU`` includes substituted days off but not the working Saturdays
    that pay for them; list those in ``extra_workdays``.
    """

    timezone: str = DEFAULT_TIMEZONE
    work_start: time = DEFAULT_WORK_START
    work_end: time = DEFAULT_WORK_END
    work_days: frozenset[int] = DEFAULT_WORK_DAYS
    holidays_country: str | None = DEFAULT_HOLIDAYS_COUNTRY
    extra_holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _holidays: holidays.HolidayBase | None = field(init=False, repr=False, compare=False)
    _years: dict[int, _Year] = field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        """Validate and normalise settings (strings for times, lists for sets) with actionable messages."""
        set_ = object.__setattr__
        set_(self, "_tz", load_zone(self.timezone))
        start, end = _as_time(self.work_start, "work_start"), _as_time(self.work_end, "work_end")
        if end <= start:
            raise ValueError(
                f"work_end {end:%H:%M} must be later than work_start {start:%H:%M} (working hours cannot "
                "wrap past midnight); fix work_hours_start/work_hours_end"
            )
        set_(self, "work_start", start)
        set_(self, "work_end", end)
        set_(self, "work_days", _weekdays(self.work_days))
        set_(self, "extra_holidays", frozenset(_as_date(d) for d in self.extra_holidays))
        set_(self, "extra_workdays", frozenset(_as_date(d) for d in self.extra_workdays))
        country = (self.holidays_country or "").strip().upper() or None
        set_(self, "holidays_country", country)
        set_(self, "_holidays", None if country is None else _country_holidays(country))

    # -- public API ----------------------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether a local date is a working day, by the precedence documented on the class."""
        if day in self.extra_workdays:
            return True
        if day in self.extra_holidays:
            return False
        if self._holidays is not None and day in self._holidays:
            return False
        return day.isoweekday() in self.work_days

    def business_seconds(self, start: datetime, end: datetime) -> int:
        """Whole seconds (truncated) of ``[start, end)`` inside working time; 0 when ``end <= start``."""
        if start.tzinfo is None or end.tzinfo is None:
            raise ValueError("business_seconds needs timezone-aware datetimes (UTC inside the project)")
        if end <= start:
            return 0
        start_us, end_us = _epoch_us(start), _epoch_us(end)
        first, last = start.astimezone(self._tz).date(), end.astimezone(self._tz).date()
        if first == last:
            return self._clip(first, start_us, end_us) // _US_PER_S
        total = self._clip(first, start_us, end_us) + self._clip(last, start_us, end_us)
        total += self._full_days(first + timedelta(days=1), last)
        return total // _US_PER_S

    # -- internals -----------------------------------------------------------------------------------

    def _clip(self, day: date, start_us: int, end_us: int) -> int:
        """Working µs of ``day`` that fall inside ``[start_us, end_us)``."""
        year = self._year(day.year)
        window = year.windows[day.toordinal() - year.first_ordinal]
        if window is None:
            return 0
        return max(0, min(end_us, window[1]) - max(start_us, window[0]))

    def _full_days(self, first: date, stop: date) -> int:
        """Working µs of the whole local days ``first .. stop-1`` from the per-year running totals."""
        if first >= stop:
            return 0
        if first.year == stop.year:
            return self._before(stop) - self._before(first)
        total = self._year(first.year).total - self._before(first)
        for year in range(first.year + 1, stop.year):
            total += self._year(year).total
        return total + self._before(stop)

    def _before(self, day: date) -> int:
        """Working µs from 1 January of ``day.year`` up to (excluding) ``day``."""
        year = self._year(day.year)
        return year.cumulative[day.toordinal() - year.first_ordinal]

    def _year(self, year: int) -> _Year:
        cached = self._years.get(year)
        if cached is None:
            cached = self._years[year] = self._build_year(year)
        return cached

    def _build_year(self, year: int) -> _Year:
        day, stop = date(year, 1, 1), date(year + 1, 1, 1)
        windows: list[tuple[int, int] | None] = []
        cumulative = [0]
        while day < stop:
            window = self._window(day) if self.is_working_day(day) else None
            windows.append(window)
            cumulative.append(cumulative[-1] + (0 if window is None else window[1] - window[0]))
            day += timedelta(days=1)
        return _Year(date(year, 1, 1).toordinal(), tuple(windows), tuple(cumulative))

    def _window(self, day: date) -> tuple[int, int]:
        """UTC µs of the local working hours of ``day``; zoneinfo resolves the day's own UTC offset."""
        start = datetime.combine(day, self.work_start, tzinfo=self._tz)
        end = datetime.combine(day, self.work_end, tzinfo=self._tz)
        return _epoch_us(start), _epoch_us(end)


def _epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // _US


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or a ValueError that says how to fix the name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(
            f"Unknown timezone {name!r}: use an IANA name such as 'Europe/Moscow' or 'UTC' "
            "(if the name is right, install the tzdata package)"
        ) from None


def _country_holidays(country: str) -> holidays.HolidayBase:
    """The country's holidays; an unknown code is refused by name. (Asked directly: listing the supported
    countries first imports every country's module, a tenth of a second at each start; and only the
    country's own module is loaded, see country_holidays.py.)"""
    try:
        return country_holidays(country)
    except NotImplementedError:
        raise ValueError(
            f"Unknown holidays_country {country!r}: use an ISO 3166-1 alpha-2 code supported by the "
            "'holidays' package (e.g. 'RU', 'DE', 'US'), or an empty value for no public holidays"
        ) from None


def _as_time(value: time | str, name: str) -> time:
    if isinstance(value, time):
        return value
    if isinstance(value, str):
        return parse_hhmm(value)
    raise ValueError(f"{name} must be a time or an 'HH:MM' string, got {value!r}")


def _weekdays(values: Iterable[int]) -> frozenset[int]:
    days = frozenset(values)
    bad = sorted(str(d) for d in days if not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 7)
    if bad:
        raise ValueError(f"work_days must be ISO weekdays 1 (Monday)..7 (Sunday); invalid: {', '.join(bad)}")
    return days


def _as_date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"Invalid date {value!r} in extra_holidays/extra_workdays: use YYYY-MM-DD") from None
