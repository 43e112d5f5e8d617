"""Rules for detention notifications: deadlines, case references, retention dates."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Bjsg: notification data is destroyed no later than 6 months after release.
NOTIFICATION_RETENTION_MONTHS = 6
# When the release is too close for the normal rule, partners still get this long.
MINIMUM_RESPONSE_TIME = timedelta(hours=2)


def easter_sunday(year: int) -> date:
    """Easter Sunday (Gregorian; the anonymous algorithm of Meeus/Jones/Butcher)."""
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


def dutch_public_holidays(year: int) -> frozenset[date]:
    """Days off in the Netherlands on which nobody should have to answer.

    New Year, Easter Monday, King's Day (26 April when the 27th is a Sunday),
    Liberation Day in lustrum years (when it is generally a day off), Ascension,
    Whit Monday and both Christmas days. Sundays and Saturdays are weekends anyway.
    """
    easter = easter_sunday(year)
    kings_day = date(year, 4, 27)
    if kings_day.weekday() == 6:
        kings_day = date(year, 4, 26)
    days = {
        date(year, 1, 1),
        easter + timedelta(days=1),
        kings_day,
        easter + timedelta(days=39),
        easter + timedelta(days=50),
        date(year, 12, 25),
        date(year, 12, 26),
    }
    if year % 5 == 0:
        days.add(date(year, 5, 5))
    return frozenset(days)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in dutch_public_holidays(day.year)


def add_working_days(day: date, count: int) -> date:
    """`count` working days (Monday to Friday, not a Dutch public holiday) after `day`."""
    current = day
    added = 0
    while added < count:
        current += timedelta(days=1)
        if is_working_day(current):
            added += 1
    return current


def response_deadline(
    announced_at: datetime,
    release: date | None,
    tz: ZoneInfo,
    *,
    working_days: int = 1,
    at: time = time(12, 0),
) -> datetime:
    """When partners should have answered an announcement.

    `working_days` after the announcement at `at` local time, but never later
    than the day before the release (same hour). If that leaves less than
    MINIMUM_RESPONSE_TIME, the deadline is that long after the announcement.
    """
    local = announced_at.astimezone(tz)
    deadline = datetime.combine(add_working_days(local.date(), working_days), at, tzinfo=tz)
    if release is not None:
        cap = datetime.combine(release - timedelta(days=1), at, tzinfo=tz)
        deadline = min(deadline, cap)
    return max(deadline, announced_at + MINIMUM_RESPONSE_TIME)


def case_reference(year: int, number: int) -> str:
    """`VH-2026-0042`: four digits, more when a year needs them."""
    return f"VH-{year}-{number:04d}"


def add_months(day: date, months: int) -> date:
    """The same day `months` later; the month's last day when it has no such day."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def notification_erase_date(release_or_event: date) -> date:
    """The first day on which a notification's personal data must be gone (Bjsg)."""
    return add_months(release_or_event, NOTIFICATION_RETENTION_MONTHS)
