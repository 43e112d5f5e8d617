"""Working days, Dutch public holidays and deadlines: the one calendar of the bot.

A working day is Monday to Friday and not a public holiday. The public holidays
are those of the maintained `holidays` package for the Netherlands, with the
house's own policy on top (`HOUSE_WORKING_DAYS`, `liberation_day_off`):

- Good Friday is a working day here. The package lists it; it is not a general
  day off in the Netherlands (the Algemene termijnenwet does not name it).
- Liberation Day, 5 May, is a day off in lustrum years only (2025, 2030, ...),
  as in most collective labour agreements. The package says the same today; the
  rule is ours, so a change in the package cannot move our deadlines.

Everything here is pure: no clock is read; dates, moments and the time zone are
passed in.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from holidays import PUBLIC, country_holidays
from holidays.countries.netherlands import Netherlands

# Holidays of the package (by its en_US name) that are working days for the house.
# A renamed holiday would no longer match: tests/domain/test_calendar.py pins the days.
HOUSE_WORKING_DAYS = frozenset({"Good Friday"})
LIBERATION_DAY = "Liberation Day"
# The years the package knows the Dutch holidays of; outside them it would say "none".
HOLIDAY_YEARS = range(Netherlands.start_year, Netherlands.end_year + 1)

_ONE_DAY = timedelta(days=1)


def liberation_day_off(year: int) -> bool:
    """House policy: 5 May is a day off in lustrum years (divisible by 5) only."""
    return year % 5 == 0


@cache  # at most one entry per year of HOLIDAY_YEARS
def public_holidays(year: int) -> frozenset[date]:
    """The days off in `year` besides weekends: Dutch public holidays as the house keeps them.

    New Year, Easter (Sunday and Monday), King's Day (27 April, or Saturday
    26 April when the 27th is a Sunday), Liberation Day in lustrum years,
    Ascension, Whitsun (Sunday and Monday) and both Christmas days.

    Raises:
        ValueError: `year` is outside HOLIDAY_YEARS (1966 to 2100 today), where the
            package knows no holidays: better no answer than a wrong one.
    """
    if year not in HOLIDAY_YEARS:
        raise ValueError(f"no Dutch public holidays known for {year}")
    listed = country_holidays("NL", years=year, language="en_US", categories=PUBLIC)
    days = {
        day
        for day in listed
        if not set(listed.get_list(day)) <= HOUSE_WORKING_DAYS | {LIBERATION_DAY}
    }
    if liberation_day_off(year):
        days.add(date(year, 5, 5))
    return frozenset(days)


def is_public_holiday(day: date) -> bool:
    """Whether `day` is a Dutch public holiday the house takes off (`public_holidays`)."""
    return day in public_holidays(day.year)


def is_working_day(day: date) -> bool:
    """Monday to Friday, and not a public holiday."""
    return day.weekday() < 5 and not is_public_holiday(day)


def next_working_day(day: date) -> date:
    """`day` itself when it is a working day, otherwise the first working day after it.

    A meeting that falls on a public holiday moves to this day.
    """
    while not is_working_day(day):
        day += _ONE_DAY
    return day


def add_working_days(day: date, count: int) -> date:
    """The `count`-th working day after `day` (before it when `count` is negative).

    `day` itself need not be a working day: one working day after a Saturday is
    the Monday. With `count` 0 the answer is `day` itself, working day or not.
    """
    step = _ONE_DAY if count >= 0 else -_ONE_DAY
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: date, end: date) -> int:
    """How many working days after `start` up to and including `end`.

    Negative when `end` is before `start` (minus the working days after `end`
    up to and including `start`), so that for a working day `d`,
    `working_days_between(d, add_working_days(d, n)) == n`. "More than five
    working days overdue" is `working_days_between(due, today) > 5`.
    """
    if end < start:
        return -working_days_between(end, start)
    holidays_on_weekdays = sum(
        1
        for year in range(start.year, end.year + 1)
        for holiday in public_holidays(year)
        if start < holiday <= end and holiday.weekday() < 5
    )
    return _weekdays_through(end) - _weekdays_through(start) - holidays_on_weekdays


def _weekdays_through(day: date) -> int:
    """Mondays to Fridays from 1 January of year 1 (a Monday) up to and including `day`."""
    weeks, weekday = divmod(day.toordinal() - 1, 7)
    return 5 * weeks + min(weekday + 1, 5)


def working_day_deadline(
    moment: datetime, working_days: int, *, at: time, tz: ZoneInfo
) -> datetime:
    """`working_days` working days after the local day of `moment`, at `at` local time.

    The local day is `moment`'s date in `tz`; the answer is aware, in `tz`. With
    `working_days` 0 it is the same day at `at`, even when that time has passed.
    """
    local_day = moment.astimezone(tz).date()
    return datetime.combine(add_working_days(local_day, working_days), at, tzinfo=tz)
