"""The plan of approach and the ZRM: life domains, the action catalogue, deadlines,
postponement reasons and the reminder policy. Pure rules: no storage, no clock.

A case in procesregie (and every nazorg case) gets a plan of approach: actions
per life domain (leefgebied), each with an owner (a member, or an organisation
whose members share it) and a deadline. The domains are the 11 of the classic
ZRM (Zelfredzaamheidsmatrix), which also scores each domain 1 (acute) to 5
(fully self-reliant).

An action's title is a catalogue entry (a safe, translated label) or the
professional's own words: those are typed, so they are never put into a
Telegram message (`bot.safe`); Telegram names such an action by its domain and
number, and the title is shown on the case page only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from bot.domain.calendar import add_working_days, working_days_between
from bot.domain.commands import mark


class ZrmDomain(StrEnum):
    """The 11 life domains of the classic ZRM, in its order."""

    FINANCIEN = "financien"
    DAGBESTEDING = "dagbesteding"
    HUISVESTING = "huisvesting"
    HUISELIJKE_RELATIES = "huiselijke_relaties"
    GEESTELIJKE_GEZONDHEID = "geestelijke_gezondheid"
    LICHAMELIJKE_GEZONDHEID = "lichamelijke_gezondheid"
    VERSLAVING = "verslaving"
    ADL = "adl"
    SOCIAAL_NETWERK = "sociaal_netwerk"
    PARTICIPATIE = "participatie"
    JUSTITIE = "justitie"


ZRM_DOMAIN_LABELS: dict[ZrmDomain, str] = {
    ZrmDomain.FINANCIEN: mark("finances"),
    ZrmDomain.DAGBESTEDING: mark("daytime activities"),
    ZrmDomain.HUISVESTING: mark("housing"),
    ZrmDomain.HUISELIJKE_RELATIES: mark("domestic relations"),
    ZrmDomain.GEESTELIJKE_GEZONDHEID: mark("mental health"),
    ZrmDomain.LICHAMELIJKE_GEZONDHEID: mark("physical health"),
    ZrmDomain.VERSLAVING: mark("addiction"),
    ZrmDomain.ADL: mark("activities of daily living"),
    ZrmDomain.SOCIAAL_NETWERK: mark("social network"),
    ZrmDomain.PARTICIPATIE: mark("community participation"),
    ZrmDomain.JUSTITIE: mark("justice"),
}

ZRM_MIN_SCORE, ZRM_MAX_SCORE = 1, 5


def valid_zrm_score(score: int) -> bool:
    """A ZRM score is 1 (acute) to 5 (fully self-reliant)."""
    return ZRM_MIN_SCORE <= score <= ZRM_MAX_SCORE


@dataclass(frozen=True)
class CatalogueAction:
    """A common action: a short code (in callback data and the database) and its label."""

    code: str
    label: str


def _entries(*pairs: tuple[str, str]) -> tuple[CatalogueAction, ...]:
    return tuple(CatalogueAction(code, label) for code, label in pairs)


# Common actions per domain. Codes are stored: never reuse one for another meaning.
ACTION_CATALOGUE: dict[ZrmDomain, tuple[CatalogueAction, ...]] = {
    ZrmDomain.FINANCIEN: _entries(
        ("fin_schuldhulp", mark("refer to debt counselling")),
        ("fin_uitkering", mark("apply for benefits")),
        ("fin_bewind", mark("arrange protective administration")),
    ),
    ZrmDomain.DAGBESTEDING: _entries(
        ("dag_werk", mark("find work or a training")),
        ("dag_dagbesteding", mark("arrange day care activities")),
    ),
    ZrmDomain.HUISVESTING: _entries(
        ("huis_woning", mark("find housing")),
        ("huis_opvang", mark("arrange shelter")),
        ("huis_huurschuld", mark("settle rent arrears with the landlord")),
    ),
    ZrmDomain.HUISELIJKE_RELATIES: _entries(
        ("rel_gesprek", mark("hold a family meeting")),
        ("rel_veiligheidsplan", mark("draw up a safety plan")),
    ),
    ZrmDomain.GEESTELIJKE_GEZONDHEID: _entries(
        ("ggz_intake", mark("arrange a mental health intake")),
        ("ggz_medicatie", mark("check medication use")),
    ),
    ZrmDomain.LICHAMELIJKE_GEZONDHEID: _entries(
        ("lich_huisarts", mark("register with a general practitioner")),
        ("lich_verzekering", mark("arrange health insurance")),
    ),
    ZrmDomain.VERSLAVING: _entries(
        ("versl_intake", mark("arrange an addiction care intake")),
        ("versl_controle", mark("agree on substance use checks")),
    ),
    ZrmDomain.ADL: _entries(
        ("adl_thuiszorg", mark("arrange home care")),
        ("adl_begeleiding", mark("arrange assisted living support")),
    ),
    ZrmDomain.SOCIAAL_NETWERK: _entries(
        ("net_netwerkberaad", mark("hold a network meeting")),
        ("net_maatje", mark("arrange a buddy")),
    ),
    ZrmDomain.PARTICIPATIE: _entries(
        ("part_id", mark("apply for an identity document")),
        ("part_vrijwilliger", mark("find volunteer work")),
    ),
    ZrmDomain.JUSTITIE: _entries(
        ("just_reclassering", mark("report to the probation service")),
        ("just_voorwaarden", mark("check special conditions")),
        ("just_zitting", mark("prepare for the court hearing")),
    ),
}

CATALOGUE_BY_CODE: dict[str, tuple[ZrmDomain, CatalogueAction]] = {
    entry.code: (domain, entry) for domain, entries in ACTION_CATALOGUE.items() for entry in entries
}

# An own title: at most this many characters (it is shown on the case page only).
MAX_TITLE_CHARS = 80


class ActionState(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class PostponeReason(StrEnum):
    """Why an action is postponed: a short fixed list (buttons)."""

    WAITING_PARTNER = "partner"  # waiting for another organisation
    CLIENT_UNREACHABLE = "client"  # the person could not be reached
    CAPACITY = "cap"  # no capacity in time
    CIRCUMSTANCES = "changed"  # circumstances changed


POSTPONE_REASON_LABELS: dict[PostponeReason, str] = {
    PostponeReason.WAITING_PARTNER: mark("waiting for another organisation"),
    PostponeReason.CLIENT_UNREACHABLE: mark("the person could not be reached"),
    PostponeReason.CAPACITY: mark("no capacity in time"),
    PostponeReason.CIRCUMSTANCES: mark("circumstances changed"),
}


# -- deadlines ------------------------------------------------------------------------


class QuickDeadline(StrEnum):
    """The deadline buttons."""

    ONE_WEEK = "1w"
    TWO_WEEKS = "2w"
    ONE_MONTH = "1m"


class DeadlineProblem(StrEnum):
    UNREADABLE = "unreadable"
    PAST = "past"
    TOO_FAR = "too_far"


DEADLINE_PROBLEM_MESSAGES: dict[DeadlineProblem, str] = {
    DeadlineProblem.UNREADABLE: mark("Type the deadline as dd-mm-yyyy, for example 31-12-2026."),
    DeadlineProblem.PAST: mark("That date has passed. Choose today or a later date."),
    DeadlineProblem.TOO_FAR: mark("A deadline lies at most a year ahead. Choose an earlier date."),
}

_TYPED_DATE = re.compile(r"^\s*(\d{1,2})-(\d{1,2})-(\d{4})\s*$")


def quick_deadline(choice: QuickDeadline, today: date) -> date:
    """The date a deadline button stands for."""
    if choice is QuickDeadline.ONE_WEEK:
        return today + timedelta(days=7)
    if choice is QuickDeadline.TWO_WEEKS:
        return today + timedelta(days=14)
    return _add_month(today)


def parse_deadline(text: str, today: date) -> date | DeadlineProblem:
    """A typed deadline (`dd-mm-jjjj`), or what is wrong with it."""
    match = _TYPED_DATE.match(text)
    if match is None:
        return DeadlineProblem.UNREADABLE
    day, month, year = (int(part) for part in match.groups())
    try:
        deadline = date(year, month, day)
    except ValueError:
        return DeadlineProblem.UNREADABLE
    return check_deadline(deadline, today)


def check_deadline(deadline: date, today: date) -> date | DeadlineProblem:
    """The deadline when it lies from today up to the same date next year, else the problem."""
    if deadline < today:
        return DeadlineProblem.PAST
    if deadline > add_months(today, 12):
        return DeadlineProblem.TOO_FAR
    return deadline


def _add_month(day: date) -> date:
    """The same day next month, or that month's last day (31 January -> 28/29 February)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    for candidate in range(day.day, 27, -1):
        try:
            return date(year, month, candidate)
        except ValueError:
            continue
    return date(year, month, min(day.day, 28))


# -- reminders and escalation -----------------------------------------------------------


@dataclass(frozen=True)
class ReminderPolicy:
    """Who hears of an action, by how far it is overdue (working days).

    The owner hears of it from `due_within` working days before its deadline;
    the casemanager from `casemanager_after` working days overdue; the
    coordinators from `coordinators_after`. A case in procesregie in which no
    action was added, completed or postponed for `stagnant_after_days` days is
    stagnating.
    """

    due_within: int = 2
    casemanager_after: int = 5
    coordinators_after: int = 10
    stagnant_after_days: int = 28


REMINDER_POLICY = ReminderPolicy()


class Audience(StrEnum):
    OWNER = "owner"
    CASEMANAGER = "casemanager"
    COORDINATORS = "coordinators"


def audiences(
    deadline: date, today: date, policy: ReminderPolicy = REMINDER_POLICY
) -> set[Audience]:
    """Who is told of an open action today (nobody: an empty set)."""
    if deadline > today:
        if add_working_days(today, policy.due_within) >= deadline:
            return {Audience.OWNER}
        return set()
    overdue = working_days_overdue(deadline, today)
    told = {Audience.OWNER}
    if overdue > policy.casemanager_after:
        told.add(Audience.CASEMANAGER)
    if overdue > policy.coordinators_after:
        told.add(Audience.COORDINATORS)
    return told


def working_days_overdue(deadline: date, today: date) -> int:
    """Working days from the deadline to today (0 on the deadline itself or before)."""
    if today <= deadline:
        return 0
    return working_days_between(deadline, today)


# -- ZRM measurements ---------------------------------------------------------------------

# The first measurement within 2 months of the case opening; a follow-up 6 months
# after the first (the ZRM's 6 to 8 months, reminded from the start of that window).
FIRST_ZRM_MONTHS = 2
FOLLOW_UP_ZRM_MONTHS = 6


def add_months(day: date, months: int) -> date:
    """`months` months after `day` (clamped to the month's last day)."""
    for _ in range(months):
        day = _add_month(day)
    return day


def zrm_due(opened: date, first_measured: date | None, last_measured: date | None) -> date | None:
    """When the next ZRM measurement of a case is due; None once the follow-up is done.

    The follow-up is a measurement on a later day than the first: a second one on
    the same day (the casemanager and a coordinator, or a slip) is still the first.
    """
    if first_measured is None:
        return add_months(opened, FIRST_ZRM_MONTHS)
    if last_measured is None or last_measured <= first_measured:
        return add_months(first_measured, FOLLOW_UP_ZRM_MONTHS)
    return None


# -- the buttons under an action ------------------------------------------------------------


class ActionVerb(StrEnum):
    """What a button under an action does: `d` marks it done, `p` postpones it (the
    owner's buttons); `w` opens the casemanager's or coordinator's change of it
    (another owner, or cancel it: the buttons under /plan)."""

    DONE = "d"
    POSTPONE = "p"
    CHANGE = "w"


@dataclass(frozen=True)
class ActionButton:
    """A pressed [Afgerond] / [Uitstellen] / [Wijzig]: the action, the version it showed,
    the verb."""

    action_id: int
    version: int
    verb: ActionVerb


ACTION_BUTTON_PREFIX = "act"
_ACTION_BUTTON = re.compile(r"act:([0-9]{1,9}):([0-9]{1,9}):([dpw])")


def action_button_data(action_id: int, version: int, verb: ActionVerb | str) -> str:
    """The callback data of a button under an action: `act:<id>:<version>:d|p|w`.

    The version is the action's when the message was made: a press after the
    action changed (postponed, reassigned, cancelled, done) is recognised as outdated.
    """
    return f"{ACTION_BUTTON_PREFIX}:{action_id}:{version}:{ActionVerb(verb).value}"


def parse_action_button(data: str) -> ActionButton | None:
    """The pressed action button, or None for anything else (forged or malformed)."""
    match = _ACTION_BUTTON.fullmatch(data)
    if match is None:
        return None
    return ActionButton(int(match[1]), int(match[2]), ActionVerb(match[3]))
