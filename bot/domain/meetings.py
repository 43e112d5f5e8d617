"""Meetings: which themes each type of meeting takes, and when the next one is.

Three types, each with its schedule in configuration (`Schedule.parse`):
  triage          the weekly triage: every theme except nazorg and radicalisering
                  (default Tuesday 10:00);
  nazorg          the nazorg table, for released prisoners (default Thursday 10:00);
  radicalisering  the radicalisation case meeting, restricted (default the first
                  Wednesday of the month, 14:00).
A meeting that falls on a day that is not a working day (a public holiday) moves
to the next working day, at the same time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.calendar import add_working_days, next_working_day
from bot.domain.roles import Theme


class MeetingType(StrEnum):
    TRIAGE = "triage"
    NAZORG = "nazorg"
    RADICALISERING = "radicalisering"


# Each theme belongs to exactly one type of meeting.
MEETING_THEMES: dict[MeetingType, frozenset[Theme]] = {
    MeetingType.NAZORG: frozenset({Theme.NAZORG}),
    MeetingType.RADICALISERING: frozenset({Theme.RADICALISERING}),
    MeetingType.TRIAGE: frozenset(Theme) - {Theme.NAZORG, Theme.RADICALISERING},
}


def meeting_type_for(theme: Theme) -> MeetingType:
    """The type of meeting that discusses cases of `theme`."""
    for kind, themes in MEETING_THEMES.items():
        if theme in themes:
            return kind
    raise AssertionError(f"theme {theme.value} has no meeting")  # every theme is in one


class ScheduleError(ValueError):
    """A schedule that cannot be read; the message says what a good one looks like."""


# Weekday words, English and Dutch, short and long: Monday is 0.
_WEEKDAYS: dict[str, int] = {}
for _number, _words in enumerate(
    (
        ("mon", "monday", "ma", "maandag"),
        ("tue", "tuesday", "di", "dinsdag"),
        ("wed", "wednesday", "wo", "woensdag"),
        ("thu", "thursday", "do", "donderdag"),
        ("fri", "friday", "vr", "vrijdag"),
        ("sat", "saturday", "za", "zaterdag"),
        ("sun", "sunday", "zo", "zondag"),
    )
):
    for _word in _words:
        _WEEKDAYS[_word] = _number
_ORDINALS: dict[str, int] = {
    "first": 1, "eerste": 1, "1st": 1,
    "second": 2, "tweede": 2, "2nd": 2,
    "third": 3, "derde": 3, "3rd": 3,
    "fourth": 4, "vierde": 4, "4th": 4,
    "last": -1, "laatste": -1,
}  # fmt: skip
_SHORT = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_ORDINAL_NAMES = {1: "first", 2: "second", 3: "third", 4: "fourth", -1: "last"}
_SHAPE = re.compile(
    r"(?:(?P<nth>[a-z0-9]+) )?(?P<day>[a-z]+) (?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2})"
)
USAGE = "a weekday and a time, e.g. 'tue 10:00', or a week of the month too, e.g. 'first wed 14:00'"


@dataclass(frozen=True)
class Schedule:
    """Weekly on `weekday` at `at`; with `nth`, only on that one of the month (-1: the last)."""

    weekday: int
    at: time
    nth: int | None = None

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """'tue 10:00', 'dinsdag 10:00', 'first wed 14:00', 'eerste woensdag 14:00'.

        Raises:
            ScheduleError: anything else (the message never repeats the text).
        """
        found = _SHAPE.fullmatch(" ".join(text.lower().split()))
        if found is None or found.group("day") not in _WEEKDAYS:
            raise ScheduleError(f"not a schedule: use {USAGE}")
        nth = None
        if found.group("nth") is not None:
            nth = _ORDINALS.get(found.group("nth"))
            if nth is None:
                raise ScheduleError(f"not a week of the month: use {USAGE}")
        hour, minute = int(found.group("hour")), int(found.group("minute"))
        if hour > 23 or minute > 59:
            raise ScheduleError(f"not a time of day: use {USAGE}")
        return cls(_WEEKDAYS[found.group("day")], time(hour, minute), nth)

    def __str__(self) -> str:
        day = f"{_SHORT[self.weekday]} {self.at:%H:%M}"
        return day if self.nth is None else f"{_ORDINAL_NAMES[self.nth]} {day}"

    def days_from(self, start: date) -> Iterator[date]:
        """The days of the schedule from `start` on, before any move off a holiday."""
        day = start + timedelta(days=(self.weekday - start.weekday()) % 7)
        while True:
            if (
                self.nth is None
                or _nth_of_month(day) == self.nth
                or (self.nth == -1 and (day + timedelta(days=7)).month != day.month)
            ):
                yield day
            day += timedelta(days=7)


def _nth_of_month(day: date) -> int:
    return (day.day - 1) // 7 + 1


def next_meeting(schedule: Schedule, after: datetime, tz: ZoneInfo) -> datetime:
    """The first meeting that starts after `after`, moved off holidays (aware, in `tz`).

    A meeting moved off a holiday may start after a later scheduled day would
    have; the schedule is read from a while before `after` for that reason.
    """
    local = after.astimezone(tz)
    best: datetime | None = None
    for day in schedule.days_from(local.date() - timedelta(days=14)):
        moved = next_working_day(day)
        start = datetime.combine(moved, schedule.at, tzinfo=tz)
        if start > local and (best is None or start < best):
            best = start
        # Holidays move a day by a few days at most: a scheduled day this far past
        # the best one found cannot come before it.
        if best is not None and day > best.date() + timedelta(days=7):
            return best
    raise AssertionError("unreachable: the schedule is endless")  # pragma: no cover


def announce_from(starts_at: datetime, lead_working_days: int, tz: ZoneInfo) -> datetime:
    """When a meeting's items are announced: `lead_working_days` working days before
    its day, at its time (an item that arrives later is announced at once)."""
    local = starts_at.astimezone(tz)
    day = add_working_days(local.date(), -lead_working_days)
    return datetime.combine(day, local.timetz())


def chase_from(starts_at: datetime, tz: ZoneInfo) -> datetime:
    """When the organisations that did not answer about an item are chased: the
    working day before its meeting, at the meeting's time."""
    return announce_from(starts_at, 1, tz)


# -- what /agenda shows (safe values only; filled by bot.services.agenda) ----------


@dataclass(frozen=True)
class ItemShown:
    """One agenda item as /agenda shows it (safe values only)."""

    item_id: int
    case_id: int
    reference: str
    pseudonym: str
    theme: Theme
    municipality: str
    rolled_over: bool
    announced: bool
    answered: int
    expected: int
    missing: tuple[str, ...]
    known: int


@dataclass(frozen=True)
class MeetingShown:
    type: MeetingType
    starts_at: datetime
    items: tuple[ItemShown, ...]
