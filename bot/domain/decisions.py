"""Triage decisions and casemanager assignments: the rules, without storage or clock.

A case gets one triage decision: procesregie (the Veiligheidshuis directs it),
doorgeleid (handed over to another organisation's route) or afgesloten (closed,
with a reason from a fixed list). A coordinator may correct it; the case row
holds the current decision, the audit log every one before it.

Procesregie and every nazorg case need a casemanager who accepted the case; one
that has none two working days after the decision (nazorg: after the case
opened) is reported to the coordinators, once a day.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.calendar import add_working_days, is_working_day
from bot.domain.roles import Theme


def mark(message: str) -> str:
    """Marks a message id for extraction (domain code imports no i18n)."""
    return message


class Decision(StrEnum):
    PROCESREGIE = "procesregie"
    DOORGELEID = "doorgeleid"
    AFGESLOTEN = "afgesloten"


class CloseReason(StrEnum):
    """Why a case is closed at triage: fixed codes, typed as they are."""

    GEEN_ZORGEN = "geen_zorgen"  # no concerns that need the Veiligheidshuis
    LOPEND_TRAJECT = "lopend_traject"  # already handled in a partner's running trajectory
    BUITEN_REGIO = "buiten_regio"  # the person lives outside the region
    DUBBEL = "dubbel"  # a duplicate of another case
    DOEL_BEREIKT = "doel_bereikt"  # what was needed has been achieved


CLOSE_REASON_LABELS: dict[CloseReason, str] = {
    CloseReason.GEEN_ZORGEN: mark("no concerns that need the Veiligheidshuis"),
    CloseReason.LOPEND_TRAJECT: mark("already handled in a partner's running trajectory"),
    CloseReason.BUITEN_REGIO: mark("the person lives outside the region"),
    CloseReason.DUBBEL: mark("duplicate of another case"),
    CloseReason.DOEL_BEREIKT: mark("what was needed has been achieved"),
}


class DeclineReason(StrEnum):
    """Why a casemanager declines an offered case: a short fixed list (buttons)."""

    CAPACITY = "cap"
    ABSENT = "abs"
    CONFLICT = "conf"
    EXPERTISE = "exp"


DECLINE_REASON_LABELS: dict[DeclineReason, str] = {
    DeclineReason.CAPACITY: mark("No capacity"),
    DeclineReason.ABSENT: mark("Absent or on leave"),
    DeclineReason.CONFLICT: mark("Conflict of interest"),
    DeclineReason.EXPERTISE: mark("Outside my expertise"),
}


class AssignmentState(StrEnum):
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"


# An offered or accepted assignment is the case's current one; at most one per case.
CURRENT_STATES = frozenset({AssignmentState.OFFERED, AssignmentState.ACCEPTED})

# Working days a case may wait for an accepted casemanager before it is reported.
CASEMANAGER_WORKING_DAYS = 2
# The daily report goes out from this local time on (not in the night).
REPORT_FROM = time(9, 0)


def parse_decision(word: str) -> Decision | None:
    try:
        return Decision(word.strip().lower())
    except ValueError:
        return None


def parse_close_reason(word: str) -> CloseReason | None:
    try:
        return CloseReason(word.strip().lower())
    except ValueError:
        return None


def closes_case(decision: Decision) -> bool:
    """Whether the decision ends the Veiligheidshuis's part in the case.

    Doorgeleid closes it too: the case goes on in another organisation's route,
    and the reports count the house's cases (a case counts until it closed).
    """
    return decision is not Decision.PROCESREGIE


def needs_casemanager(*, theme: str, procesregie: bool, closed: bool) -> bool:
    """Procesregie and every nazorg case, while open, need a casemanager."""
    return not closed and (procesregie or theme == Theme.NAZORG.value)


def casemanager_wait_start(
    *, theme: str, opened_at: datetime, decided_at: datetime | None, procesregie: bool
) -> datetime | None:
    """From when a case waits for its casemanager: a nazorg case since it opened,
    another since its procesregie decision; None when it needs none."""
    if theme == Theme.NAZORG.value:
        return opened_at
    if procesregie and decided_at is not None:
        return decided_at
    return None


def casemanager_overdue(since: datetime, now: datetime, tz: ZoneInfo) -> bool:
    """Two working days have passed since `since` (both as local dates)."""
    return since.astimezone(tz).date() <= last_overdue_wait_day(now.astimezone(tz).date())


def last_overdue_wait_day(today: date) -> date:
    """The latest local day a case may have started waiting for its casemanager and be
    overdue `today` (CASEMANAGER_WORKING_DAYS working days on): every earlier day is too.

    So the rule can be asked of the database as one bound (`since` before the next
    day's midnight) instead of case by case.
    """
    day = today
    while add_working_days(day, CASEMANAGER_WORKING_DAYS) > today:
        day -= timedelta(days=1)
    return day


def report_day(now: datetime, tz: ZoneInfo) -> date | None:
    """The local day a daily report is for: None before REPORT_FROM, and on days off
    (weekends and public holidays: nobody acts on it then; the next working day tells)."""
    local = now.astimezone(tz)
    if local.time() < REPORT_FROM or not is_working_day(local.date()):
        return None
    return local.date()
