"""Meeting types, their schedules, and the next meeting moved off public holidays."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.config import Settings, SettingsError, load_settings
from bot.domain.meetings import (
    MEETING_THEMES,
    USAGE,
    MeetingType,
    Schedule,
    ScheduleError,
    announce_from,
    chase_from,
    meeting_type_for,
    next_meeting,
)
from bot.domain.roles import Theme

AMS = ZoneInfo("Europe/Amsterdam")
TUESDAY = Schedule.parse("tue 10:00")
THURSDAY = Schedule.parse("thu 10:00")
FIRST_WEDNESDAY = Schedule.parse("first wed 14:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=AMS)


def test_every_theme_has_exactly_one_meeting() -> None:
    assert sorted(t for themes in MEETING_THEMES.values() for t in themes) == sorted(Theme)
    assert meeting_type_for(Theme.NAZORG) is MeetingType.NAZORG
    assert meeting_type_for(Theme.RADICALISERING) is MeetingType.RADICALISERING
    assert meeting_type_for(Theme.HUISELIJK_GEWELD) is MeetingType.TRIAGE
    assert meeting_type_for(Theme.OGGZ) is MeetingType.TRIAGE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tue 10:00", Schedule(1, time(10, 0))),
        ("Dinsdag 9:30", Schedule(1, time(9, 30))),
        ("  first   wed 14:00 ", Schedule(2, time(14, 0), 1)),
        ("eerste woensdag 14:00", Schedule(2, time(14, 0), 1)),
        ("last fri 16:15", Schedule(4, time(16, 15), -1)),
        ("tweede ma 08:00", Schedule(0, time(8, 0), 2)),
    ],
)
def test_schedules_are_read_in_english_and_dutch(text: str, expected: Schedule) -> None:
    assert Schedule.parse(text) == expected
    assert Schedule.parse(str(expected)) == expected  # shown as it can be read again


@pytest.mark.parametrize(
    "text",
    ["", "tuesday", "10:00", "xyz 10:00", "fifth wed 10:00", "tue 25:00", "tue 10:60", "tue 10"],
)
def test_a_schedule_that_cannot_be_read_is_refused_without_echo(text: str) -> None:
    with pytest.raises(ScheduleError) as refused:
        Schedule.parse(text)
    assert "e.g. 'tue 10:00'" in str(refused.value)
    if text.strip() and text not in USAGE:  # (the usage example itself names 'tue 10:00')
        assert text not in str(refused.value)


def test_the_next_weekly_meeting() -> None:
    assert next_meeting(TUESDAY, at("2026-11-30 12:00"), AMS) == at("2026-12-01 10:00")
    # A meeting that has started is not the next one.
    assert next_meeting(TUESDAY, at("2026-12-01 10:00"), AMS) == at("2026-12-08 10:00")
    assert next_meeting(TUESDAY, at("2026-12-01 09:59"), AMS) == at("2026-12-01 10:00")
    # Given in UTC, read in Amsterdam: 08:30 UTC on a Tuesday in summer is 10:30 there.
    summer = datetime(2027, 6, 1, 8, 30, tzinfo=ZoneInfo("UTC"))
    assert next_meeting(TUESDAY, summer, AMS) == at("2027-06-08 10:00")


def test_the_first_wednesday_of_the_month() -> None:
    assert next_meeting(FIRST_WEDNESDAY, at("2026-11-29 09:00"), AMS) == at("2026-12-02 14:00")
    assert next_meeting(FIRST_WEDNESDAY, at("2026-12-02 15:00"), AMS) == at("2027-01-06 14:00")
    last_friday = Schedule.parse("last fri 16:00")
    # The last Friday of December 2026 is Christmas Day: the next working day is Monday.
    assert next_meeting(last_friday, at("2026-12-01 09:00"), AMS) == at("2026-12-28 16:00")


def test_a_meeting_on_a_public_holiday_moves_to_the_next_working_day() -> None:
    # Ascension Day 2027 is Thursday 6 May: the nazorg table meets on Friday.
    assert next_meeting(THURSDAY, at("2027-05-01 09:00"), AMS) == at("2027-05-07 10:00")
    # King's Day 2027 is Tuesday 27 April: the triage meets on Wednesday.
    assert next_meeting(TUESDAY, at("2027-04-26 09:00"), AMS) == at("2027-04-28 10:00")
    # ... and is still the next meeting on the Tuesday itself.
    assert next_meeting(TUESDAY, at("2027-04-27 11:00"), AMS) == at("2027-04-28 10:00")
    # New Year's Day 2025 was the first Wednesday of the month.
    assert next_meeting(FIRST_WEDNESDAY, at("2024-12-20 09:00"), AMS) == at("2025-01-02 14:00")


def test_schedules_come_from_the_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert [str(defaults.meeting_schedule(m)) for m in MeetingType] == [
        "tue 10:00",
        "thu 10:00",
        "first wed 14:00",
    ]
    assert defaults.agenda_lead_working_days == 2
    monkeypatch.setenv("VHBOT_MEETING_TRIAGE", "woensdag 09:30")
    assert load_settings().meeting_triage == Schedule(2, time(9, 30))
    monkeypatch.setenv("VHBOT_MEETING_NAZORG", "elke donderdag")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert "VHBOT_MEETING_NAZORG" in str(refused.value)


@pytest.mark.parametrize(
    ("meeting", "lead", "announced", "chased"),
    [
        # Tuesday 10:00, 2 working days before: the Friday; chased the Monday.
        ("2026-11-24 10:00", 2, "2026-11-20 10:00", "2026-11-23 10:00"),
        ("2026-11-24 10:00", 0, "2026-11-24 10:00", "2026-11-23 10:00"),
        # Moved off King's Day 2027 (Tuesday) to Wednesday: the holiday does not count.
        ("2027-04-28 10:00", 2, "2027-04-23 10:00", "2027-04-26 10:00"),
        # Across the change to winter time: the same wall-clock time.
        ("2026-10-27 10:00", 2, "2026-10-23 10:00", "2026-10-26 10:00"),
    ],
)
def test_items_are_announced_and_chased_in_working_days_before_the_meeting(
    meeting: str, lead: int, announced: str, chased: str
) -> None:
    assert announce_from(at(meeting), lead, AMS) == at(announced)
    assert chase_from(at(meeting), AMS) == at(chased)
