"""The wording of announcements, their tally, and the reminders about them.

Only case references, pseudonyms, theme, municipality, institution and dates
ever appear here: the inputs below carry nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.domain.dpan import Soort
from bot.domain.roles import Theme
from bot.i18n import Translator, mark

THEME_LABELS: dict[Theme, str] = {
    Theme.NAZORG: mark("Aftercare"),
    Theme.TOP_X: mark("Top X / PGA"),
    Theme.RADICALISERING: mark("Radicalisation"),
    Theme.HUISELIJK_GEWELD: mark("Domestic violence"),
    Theme.VERWARD_GEDRAG: mark("Confused behaviour"),
    Theme.JEUGD: mark("Youth"),
    Theme.MULTIPROBLEMATIEK: mark("Multiple problems"),
    Theme.OGGZ: mark("Public mental health (OGGZ)"),
}


@dataclass(frozen=True)
class AnnouncementFacts:
    soort: Soort
    case_reference: str | None
    pseudonym: str
    theme: Theme
    municipality: str
    institution: str
    event_date: date
    deadline: datetime


@dataclass(frozen=True)
class Tally:
    known: Sequence[str]  # organisation names
    not_known: Sequence[str]
    missing: Sequence[str]


def answer_keyboard(announcement_id: int, _: Translator) -> str:
    """The Bekend / Niet bekend buttons as Bot API JSON (stored in the outbox)."""
    return json.dumps(
        {
            "inline_keyboard": [
                [
                    {"text": _("Known"), "callback_data": f"ans:{announcement_id}:y"},
                    {"text": _("Not known"), "callback_data": f"ans:{announcement_id}:n"},
                ]
            ]
        }
    )


def announcement_text(
    facts: AnnouncementFacts, tally: Tally | None, _: Translator, tz: ZoneInfo
) -> str:
    if facts.soort is Soort.UITSTROOM:
        lines = [_("New detention notification: release")]
    else:
        lines = [_("New detention notification: entry (now in detention)")]
    reference = [facts.case_reference] if facts.case_reference else []
    lines.append(" · ".join([*reference, facts.pseudonym, _(THEME_LABELS[facts.theme])]))
    lines.append(
        _("Municipality {municipality}", municipality=facts.municipality)
        + f" · {facts.institution}"
    )
    if facts.soort is Soort.UITSTROOM:
        lines.append(_("Expected release: {date}", date=_.date(facts.event_date)))
    else:
        lines.append(_("In detention since: {date}", date=_.date(facts.event_date)))
    lines.append(_("Please answer before {time}", time=_.datetime(facts.deadline, tz)))
    if tally is not None:
        lines += ["", tally_line(tally, _)]
    return "\n".join(lines)


def tally_line(tally: Tally, _: Translator) -> str:
    parts = []
    if tally.known:
        parts.append(_("Known: {names}", names=", ".join(tally.known)))
    if tally.not_known:
        parts.append(_("Not known: {names}", names=", ".join(tally.not_known)))
    parts.append(_("No answer yet: {count}", count=len(tally.missing)))
    return " · ".join(parts)


# Telegram's limit for one message is 4096 characters; stay well under it.
MESSAGE_LIMIT = 3800


def _split(header: str, lines: Sequence[str]) -> list[str]:
    """`header` and as many lines as fit, repeated until every line is placed."""
    messages: list[str] = []
    current = header
    for line in lines:
        if len(current) + 1 + len(line) > MESSAGE_LIMIT and current != header:
            messages.append(current)
            current = header
        current += "\n" + line
    messages.append(current)
    return messages


def reminder_texts(references: Sequence[str], organisation: str, _: Translator) -> list[str]:
    """One reminder per member, listing every announcement still waiting for them."""
    header = _(
        "Reminder: these notifications are still waiting for the answer of {organisation}. "
        "Please press Known or Not known under each in the partner group.",
        organisation=organisation,
    )
    return _split(header, [f"• {reference}" for reference in references])


def missing_notes(lines: Sequence[tuple[str, Sequence[str]]], _: Translator) -> list[str]:
    """For the group: per announcement past its deadline, who has not answered."""
    header = _("The answer time has passed. Still missing:")
    return _split(header, [f"{reference}: {', '.join(names)}" for reference, names in lines])
