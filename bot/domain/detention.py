"""Rules for detention notifications: deadlines, case references, retention dates."""

from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.calendar import working_day_deadline

# Bjsg: notification data is destroyed no later than 6 months after release.
NOTIFICATION_RETENTION_MONTHS = 6
# When the release is too close for the normal rule, partners still get this long.
MINIMUM_RESPONSE_TIME = timedelta(hours=2)


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
    deadline = working_day_deadline(announced_at, working_days, at=at, tz=tz)
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
