from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.detention import (
    add_months,
    case_reference,
    notification_erase_date,
    response_deadline,
)

TZ = ZoneInfo("Europe/Amsterdam")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def test_one_working_day_at_noon() -> None:
    friday = date(2026, 11, 27)
    assert response_deadline(at(friday, 9), date(2026, 12, 10), TZ) == at(date(2026, 11, 30), 12)
    tuesday = date(2026, 11, 24)
    assert response_deadline(at(tuesday, 16), None, TZ) == at(date(2026, 11, 25), 12)


def test_never_later_than_the_day_before_release() -> None:
    # The example: release Tuesday 1 December -> answer before Monday 30 November 12:00.
    friday = date(2026, 11, 27)
    assert response_deadline(at(friday, 10), date(2026, 12, 1), TZ) == at(date(2026, 11, 30), 12)
    monday = date(2026, 11, 23)
    assert response_deadline(at(monday, 8), date(2026, 11, 24), TZ) == at(monday, 12)


def test_imminent_release_still_gives_two_hours() -> None:
    monday = date(2026, 11, 23)
    assert response_deadline(at(monday, 15), date(2026, 11, 23), TZ) == at(monday, 17)


@given(
    # hypothesis takes naive bounds and adds the zone itself
    st.datetimes(
        min_value=datetime(2025, 1, 1),  # noqa: DTZ001
        max_value=datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=st.just(TZ),
    ),
    st.integers(min_value=-3, max_value=60),
)
def test_deadline_is_after_the_announcement(announced: datetime, days_to_release: int) -> None:
    release = announced.date() + timedelta(days=days_to_release)
    deadline = response_deadline(announced, release, TZ)
    assert deadline >= announced + timedelta(hours=2) - timedelta(seconds=1)


def test_references_and_retention_dates() -> None:
    assert case_reference(2026, 42) == "VH-2026-0042"
    assert case_reference(2026, 12345) == "VH-2026-12345"
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert notification_erase_date(date(2026, 12, 1)) == date(2027, 6, 1)


def test_deadlines_skip_public_holidays() -> None:
    # Announced on Thursday 24 December: Christmas and the weekend pass; Monday 28th.
    thursday = date(2026, 12, 24)
    assert response_deadline(at(thursday, 9), None, TZ) == at(date(2026, 12, 28), 12)
    # Friday before King's Day (Monday 27 April 2026): Tuesday 28th. More in test_calendar.
    assert response_deadline(at(date(2026, 4, 24), 9), None, TZ) == at(date(2026, 4, 28), 12)
