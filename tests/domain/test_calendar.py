from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import calendar
from bot.domain.calendar import (
    add_working_days,
    is_public_holiday,
    is_working_day,
    next_working_day,
    public_holidays,
    working_day_deadline,
    working_days_between,
)

TZ = ZoneInfo("Europe/Amsterdam")
NOON = time(12, 0)


def test_the_holidays_of_2026() -> None:
    assert public_holidays(2026) == {
        date(2026, 1, 1),  # New Year
        date(2026, 4, 5),  # Easter Sunday
        date(2026, 4, 6),  # Easter Monday
        date(2026, 4, 27),  # King's Day, a Monday
        date(2026, 5, 14),  # Ascension
        date(2026, 5, 24),  # Whit Sunday
        date(2026, 5, 25),  # Whit Monday
        date(2026, 12, 25),
        date(2026, 12, 26),
    }


def test_the_holidays_of_2027() -> None:
    assert public_holidays(2027) == {
        date(2027, 1, 1),
        date(2027, 3, 28),  # Easter Sunday
        date(2027, 3, 29),  # Easter Monday
        date(2027, 4, 27),  # King's Day, a Tuesday
        date(2027, 5, 6),  # Ascension
        date(2027, 5, 16),  # Whit Sunday
        date(2027, 5, 17),  # Whit Monday
        date(2027, 12, 25),  # a Saturday: no day off in its place
        date(2027, 12, 26),
    }
    assert is_working_day(date(2027, 12, 27))


def test_good_friday_is_a_working_day() -> None:
    # The package lists it; the house works.
    assert is_working_day(date(2026, 4, 3))
    assert is_working_day(date(2027, 3, 26))
    assert is_working_day(date(2030, 4, 19))


def test_kings_day_on_a_sunday_is_kept_on_saturday_the_26th() -> None:
    assert date(2025, 4, 26) in public_holidays(2025)
    assert date(2025, 4, 27) not in public_holidays(2025)
    assert date(2031, 4, 26) in public_holidays(2031)
    # Saturday anyway: the Friday before and the Monday after are working days.
    assert is_working_day(date(2025, 4, 25))
    assert is_working_day(date(2025, 4, 28))


def test_liberation_day_is_a_day_off_in_lustrum_years_only() -> None:
    assert not is_working_day(date(2025, 5, 5))  # Monday, lustrum
    assert is_public_holiday(date(2030, 5, 5))  # Sunday, lustrum
    assert is_working_day(date(2026, 5, 5))  # Tuesday
    assert is_working_day(date(2027, 5, 5))  # Wednesday
    # Ascension on 5 May 2016 stays a holiday though 2016 is no lustrum year.
    assert is_public_holiday(date(2016, 5, 5))


@pytest.fixture
def package_with_liberation_day_every_year(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The package as it would be if it listed 5 May as a public holiday every year."""

    def every_year(country: str, **options: Any) -> holidays.HolidayBase:
        options["categories"] = (holidays.PUBLIC, holidays.OPTIONAL)
        return holidays.country_holidays(country, **options)

    public_holidays.cache_clear()
    monkeypatch.setattr(calendar, "country_holidays", every_year)
    yield
    public_holidays.cache_clear()


@pytest.mark.usefixtures("package_with_liberation_day_every_year")
def test_the_liberation_day_rule_is_the_houses_not_the_packages() -> None:
    assert date(2026, 5, 5) not in public_holidays(2026)
    assert is_working_day(date(2027, 5, 5))
    assert not is_working_day(date(2025, 5, 5))
    assert is_public_holiday(date(2016, 5, 5))  # Ascension that year


def test_weekends_are_not_working_days() -> None:
    assert is_working_day(date(2026, 11, 27))  # Friday
    assert not is_working_day(date(2026, 11, 28))
    assert not is_working_day(date(2026, 11, 29))
    assert is_working_day(date(2026, 11, 30))  # Monday


def _easter_sunday(year: int) -> date:
    """Meeus/Jones/Butcher, as the bot computed it itself before it used the package."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def test_the_days_off_are_the_houses_rules_in_every_year_since_kings_day() -> None:
    # Weekdays off by the rules the bot kept itself until it used the package.
    for year in range(2014, 2101):
        easter = _easter_sunday(year)
        kings_day = date(year, 4, 27) if date(year, 4, 27).weekday() != 6 else date(year, 4, 26)
        rules = {
            date(year, 1, 1),
            easter + timedelta(days=1),
            kings_day,
            easter + timedelta(days=39),
            easter + timedelta(days=50),
            date(year, 12, 25),
            date(year, 12, 26),
        } | ({date(year, 5, 5)} if year % 5 == 0 else set())
        weekdays_off = {day for day in public_holidays(year) if day.weekday() < 5}
        assert weekdays_off == {day for day in rules if day.weekday() < 5}, year


def test_years_the_package_does_not_know_are_refused() -> None:
    with pytest.raises(ValueError, match="2101"):
        is_working_day(date(2101, 1, 3))
    with pytest.raises(ValueError, match="1965"):
        public_holidays(1965)


def test_next_working_day() -> None:
    assert next_working_day(date(2026, 11, 24)) == date(2026, 11, 24)  # a Tuesday itself
    assert next_working_day(date(2026, 11, 28)) == date(2026, 11, 30)  # Saturday -> Monday
    # A meeting on a public holiday moves to the next working day.
    assert next_working_day(date(2026, 12, 25)) == date(2026, 12, 28)  # Christmas, Friday
    assert next_working_day(date(2026, 4, 27)) == date(2026, 4, 28)  # King's Day, Monday
    assert next_working_day(date(2026, 5, 14)) == date(2026, 5, 15)  # Ascension, Thursday
    assert next_working_day(date(2025, 5, 5)) == date(2025, 5, 6)  # Liberation Day 2025
    assert next_working_day(date(2026, 5, 5)) == date(2026, 5, 5)  # no lustrum year


def test_working_days_skip_the_weekend() -> None:
    assert add_working_days(date(2026, 11, 27), 1) == date(2026, 11, 30)
    assert add_working_days(date(2026, 11, 28), 1) == date(2026, 11, 30)
    assert add_working_days(date(2026, 11, 23), 5) == date(2026, 11, 30)
    assert add_working_days(date(2026, 11, 28), 0) == date(2026, 11, 28)  # 0: the day itself


def test_working_days_skip_the_holidays_and_cross_the_year() -> None:
    assert add_working_days(date(2026, 4, 24), 1) == date(2026, 4, 28)  # over King's Day
    assert add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 15)  # over Ascension
    assert add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 3)  # Good Friday works
    assert add_working_days(date(2026, 4, 3), 1) == date(2026, 4, 7)  # over Easter
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 4)  # New Year, a Friday
    assert add_working_days(date(2026, 12, 24), 2) == date(2026, 12, 29)
    # Backwards: "2 working days before" a Tuesday meeting after Christmas and New Year.
    assert add_working_days(date(2027, 1, 5), -2) == date(2026, 12, 31)
    assert add_working_days(date(2026, 12, 28), -1) == date(2026, 12, 24)


def test_working_days_between() -> None:
    assert working_days_between(date(2026, 11, 23), date(2026, 11, 23)) == 0
    assert working_days_between(date(2026, 11, 27), date(2026, 11, 30)) == 1
    assert working_days_between(date(2026, 11, 28), date(2026, 11, 29)) == 0  # the weekend
    # After Thursday 24 December to Monday 4 January: 28, 29, 30, 31 December and 4 January.
    assert working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 5
    assert working_days_between(date(2027, 1, 4), date(2026, 12, 24)) == -5
    # Due Friday 24 April 2026: on Monday 4 May it is 5 working days overdue, on the 5th 6.
    assert working_days_between(date(2026, 4, 24), date(2026, 5, 4)) == 5
    assert working_days_between(date(2026, 4, 24), date(2026, 5, 5)) == 6
    # All of 2026 (New Year 2027 is a holiday): 261 weekdays, 6 of them holidays (not 26 Dec).
    assert working_days_between(date(2025, 12, 31), date(2027, 1, 1)) == 255


def test_deadline_in_working_days_at_a_local_time() -> None:
    tuesday = datetime(2026, 11, 24, 16, 0, tzinfo=TZ)
    assert working_day_deadline(tuesday, 1, at=NOON, tz=TZ) == datetime(
        2026, 11, 25, 12, 0, tzinfo=TZ
    )
    # 23:30 UTC on Monday is already Tuesday in Amsterdam: the day counts from Tuesday.
    late = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)
    assert working_day_deadline(late, 1, at=NOON, tz=TZ) == datetime(2026, 11, 25, 12, 0, tzinfo=TZ)
    # Over Christmas and the weekend, 17:00 local.
    christmas_eve = datetime(2026, 12, 24, 9, 0, tzinfo=TZ)
    assert working_day_deadline(christmas_eve, 1, at=time(17, 0), tz=TZ) == datetime(
        2026, 12, 28, 17, 0, tzinfo=TZ
    )
    # Across the change to summer time (Sunday 29 March 2026): still 12:00 local.
    friday = datetime(2026, 3, 27, 10, 0, tzinfo=TZ)
    deadline = working_day_deadline(friday, 1, at=NOON, tz=TZ)
    assert deadline == datetime(2026, 3, 30, 12, 0, tzinfo=TZ)
    assert deadline.utcoffset() == timedelta(hours=2)
    # With 0 working days: the same day.
    assert working_day_deadline(tuesday, 0, at=NOON, tz=TZ) == datetime(
        2026, 11, 24, 12, 0, tzinfo=TZ
    )


DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


@given(DAYS, st.integers(min_value=1, max_value=400))
def test_adding_working_days_lands_on_a_working_day(day: date, count: int) -> None:
    assert is_working_day(add_working_days(day, count))
    assert is_working_day(add_working_days(day, -count))


@given(DAYS, st.integers(min_value=-400, max_value=400))
def test_between_undoes_add(day: date, count: int) -> None:
    working = next_working_day(day)
    assert working_days_between(working, add_working_days(working, count)) == count
    if count >= 0:  # from any day, working or not
        assert working_days_between(day, add_working_days(day, count)) == count


@given(DAYS, st.integers(min_value=-60, max_value=60))
def test_between_counts_the_working_days_one_by_one(start: date, offset: int) -> None:
    end = start + timedelta(days=offset)
    low, high = min(start, end), max(start, end)
    counted = sum(is_working_day(low + timedelta(days=i)) for i in range(1, (high - low).days + 1))
    assert working_days_between(start, end) == (counted if end >= start else -counted)


@given(DAYS)
def test_next_working_day_is_the_first_one(day: date) -> None:
    following = next_working_day(day)
    assert is_working_day(following)
    assert all(not is_working_day(day + timedelta(days=i)) for i in range((following - day).days))
