"""The wording of announcements, their tally, and the reminders about them.

Only case references, pseudonyms, theme, municipality, catalogued institution,
dates and organisation names ever appear here: the inputs below are typed as
those safe kinds (bot/safe.py) and carry nothing else.

Each kind of announcement has a renderer (`AnnouncementRenderer`), looked up
by kind in `RENDERERS`: it gathers the facts of its subject and words them.
Everything else (publishing, answers, the tally, edits, chasing) is shared, in
bot.services.announcements. A new kind is a renderer and a `publish` call.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.config import Settings
from bot.domain.announcements import AnnouncementKind
from bot.domain.dpan import Soort
from bot.domain.roles import Theme
from bot.i18n import Translator, mark
from bot.safe import (
    BLANK,
    CaseReference,
    Institution,
    Municipality,
    OrganisationName,
    Pseudonym,
    SafeText,
)
from bot.storage.models import AgendaItem, Announcement, Case, Meeting, Melding, Person

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
    case_reference: CaseReference | None
    pseudonym: Pseudonym
    theme: Theme
    municipality: Municipality
    institution: Institution | None  # None: not in the catalogue
    event_date: date
    deadline: datetime

    @property
    def reference(self) -> CaseReference | Pseudonym:
        """What reminders call it: the case reference, or the pseudonym without a case."""
        return self.case_reference or self.pseudonym


@dataclass(frozen=True)
class Tally:
    known: Sequence[OrganisationName]
    not_known: Sequence[OrganisationName]
    missing: Sequence[OrganisationName]


def answer_keyboard(announcement_id: int, _: Translator) -> str:
    """The Bekend / Niet bekend buttons, and Gegevens bekijken below them, as Bot API
    JSON (stored in the outbox)."""
    return json.dumps(
        {
            "inline_keyboard": [
                [
                    {"text": _("Known"), "callback_data": f"ans:{announcement_id}:y"},
                    {"text": _("Not known"), "callback_data": f"ans:{announcement_id}:n"},
                ],
                [{"text": _("View details"), "callback_data": f"rv:{announcement_id}"}],
            ]
        }
    )


def announcement_text(
    facts: AnnouncementFacts, tally: Tally | None, _: Translator, tz: ZoneInfo
) -> SafeText:
    if facts.soort is Soort.UITSTROOM:
        lines = [_("New detention notification: release")]
    else:
        lines = [_("New detention notification: entry (now in detention)")]
    reference = [facts.case_reference] if facts.case_reference else []
    lines.append(
        SafeText.joined(" · ", [*reference, facts.pseudonym, _(THEME_LABELS[facts.theme])])
    )
    lines.append(
        SafeText.joined(
            " · ",
            [
                _("Municipality {municipality}", municipality=facts.municipality),
                facts.institution or _("other institution"),
            ],
        )
    )
    if facts.soort is Soort.UITSTROOM:
        lines.append(_("Expected release: {date}", date=_.date(facts.event_date)))
    else:
        lines.append(_("In detention since: {date}", date=_.date(facts.event_date)))
    lines.append(_("Please answer before {time}", time=_.datetime(facts.deadline, tz)))
    if tally is not None:
        lines += [BLANK, tally_line(tally, _)]
    return SafeText.joined("\n", lines)


def tally_line(tally: Tally, _: Translator) -> SafeText:
    parts = []
    if tally.known:
        parts.append(_("Known: {names}", names=SafeText.joined(", ", tally.known)))
    if tally.not_known:
        parts.append(_("Not known: {names}", names=SafeText.joined(", ", tally.not_known)))
    parts.append(_("No answer yet: {count}", count=len(tally.missing)))
    return SafeText.joined(" · ", parts)


# Telegram's limit for one message is 4096 characters; stay well under it.
MESSAGE_LIMIT = 3800


def split_message(header: SafeText, lines: Sequence[SafeText]) -> list[SafeText]:
    """`header` and as many lines as fit, repeated until every line is placed."""
    messages: list[SafeText] = []
    current = [header]
    size = len(header)
    for line in lines:
        if size + 1 + len(line) > MESSAGE_LIMIT and len(current) > 1:
            messages.append(SafeText.joined("\n", current))
            current, size = [header], len(header)
        current.append(line)
        size += 1 + len(line)
    messages.append(SafeText.joined("\n", current))
    return messages


def reminder_texts(
    references: Sequence[CaseReference | Pseudonym],
    organisation: OrganisationName,
    _: Translator,
    *,
    in_private: bool = False,
) -> list[SafeText]:
    """One reminder per member, listing every announcement still waiting for them.

    `in_private`: the announcements were sent to the member's private chat (a
    restricted theme), not to the partner group.
    """
    if in_private:
        header = _(
            "Reminder: these notifications are still waiting for the answer of {organisation}. "
            "Please press Known or Not known under each in this chat.",
            organisation=organisation,
        )
    else:
        header = _(
            "Reminder: these notifications are still waiting for the answer of {organisation}. "
            "Please press Known or Not known under each in the partner group.",
            organisation=organisation,
        )
    return split_message(header, [SafeText.layout("• {}", reference) for reference in references])


def missing_notes(
    lines: Sequence[tuple[CaseReference | Pseudonym, Sequence[OrganisationName]]],
    _: Translator,
) -> list[SafeText]:
    """For the group: per announcement past its deadline, who has not answered."""
    header = _("The answer time has passed. Still missing:")
    return split_message(
        header,
        [
            SafeText.layout("{}: {}", reference, SafeText.joined(", ", names))
            for reference, names in lines
        ],
    )


# -- renderers per kind ------------------------------------------------------------


class Facts(Protocol):
    """What a renderer gathered about an announcement's subject."""

    @property
    def reference(self) -> CaseReference | Pseudonym:
        """What reminders and the group's note call the announcement."""
        ...


F = TypeVar("F", bound=Facts)


class AnnouncementRenderer(Protocol[F]):
    """The part of an announcement that depends on its kind."""

    def facts(self, session: Session, announcement: Announcement, settings: Settings) -> F:
        """The subject's safe values, read in the caller's transaction."""
        ...

    def text(self, facts: F, tally: Tally | None, _: Translator, tz: ZoneInfo) -> SafeText:
        """The message; with `tally` once someone answered."""
        ...

    def keyboard(self, announcement_id: int, _: Translator) -> str:
        """The buttons under the message, as Bot API JSON."""
        ...


class DetentionRenderer:
    """A detention notification: the subject is a melding."""

    def facts(
        self, session: Session, announcement: Announcement, settings: Settings
    ) -> AnnouncementFacts:
        melding = session.get(Melding, announcement.subject_id)
        assert melding is not None  # noqa: S101 - a detention announcement's subject
        case = session.get(Case, announcement.case_id) if announcement.case_id else None
        person = session.get(Person, melding.person_id)
        assert person is not None  # noqa: S101 - foreign key
        return AnnouncementFacts(
            soort=Soort(melding.soort),
            case_reference=CaseReference(case.reference) if case else None,
            pseudonym=Pseudonym(person.pseudonym),
            theme=Theme(announcement.theme),
            municipality=Municipality(melding.municipality),
            # Only a name of the catalogue: a value an older version stored in clear
            # waits for the sealing duty and is never shown.
            institution=(
                Institution(melding.institution)
                if melding.institution in settings.institutions
                else None
            ),
            event_date=melding.event_date,
            deadline=announcement.deadline,
        )

    def text(
        self, facts: AnnouncementFacts, tally: Tally | None, _: Translator, tz: ZoneInfo
    ) -> SafeText:
        return announcement_text(facts, tally, _, tz)

    def keyboard(self, announcement_id: int, _: Translator) -> str:
        return answer_keyboard(announcement_id, _)


@dataclass(frozen=True)
class AgendaItemFacts:
    """An agenda item's safe values: its case, and the meeting it is on."""

    case_reference: CaseReference
    pseudonym: Pseudonym
    theme: Theme
    municipality: Municipality
    meeting_start: datetime
    rolled_over: bool

    @property
    def reference(self) -> CaseReference:
        return self.case_reference


def agenda_item_keyboard(announcement_id: int, _: Translator) -> str:
    """Bekend / Niet bekend only: the reveal pages do not show agenda items (yet)."""
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


class AgendaItemRenderer:
    """An agenda item: the subject is an AgendaItem (a case on a meeting's agenda)."""

    def facts(
        self, session: Session, announcement: Announcement, settings: Settings
    ) -> AgendaItemFacts:
        item = session.get(AgendaItem, announcement.subject_id)
        assert item is not None  # noqa: S101 - an agenda item announcement's subject
        case = session.get(Case, item.case_id)
        meeting = session.get(Meeting, item.meeting_id)
        assert case is not None  # noqa: S101 - foreign key
        assert meeting is not None  # noqa: S101 - foreign key
        person = session.get(Person, case.person_id)
        assert person is not None  # noqa: S101 - foreign key
        return AgendaItemFacts(
            case_reference=CaseReference(case.reference),
            pseudonym=Pseudonym(person.pseudonym),
            theme=Theme(case.theme),
            municipality=Municipality(case.municipality),
            meeting_start=meeting.starts_at,
            rolled_over=item.rolled_over_from is not None,
        )

    def text(
        self, facts: AgendaItemFacts, tally: Tally | None, _: Translator, tz: ZoneInfo
    ) -> SafeText:
        lines = [
            _("Agenda item for the meeting of {time}", time=_.datetime(facts.meeting_start, tz))
        ]
        lines.append(
            SafeText.joined(
                " · ", [facts.case_reference, facts.pseudonym, _(THEME_LABELS[facts.theme])]
            )
        )
        lines.append(_("Municipality {municipality}", municipality=facts.municipality))
        if facts.rolled_over:
            lines.append(_("Rolled over from an earlier meeting."))
        lines.append(_("Please answer before {time}", time=_.datetime(facts.meeting_start, tz)))
        if tally is not None:
            lines += [BLANK, tally_line(tally, _)]
        return SafeText.joined("\n", lines)

    def keyboard(self, announcement_id: int, _: Translator) -> str:
        return agenda_item_keyboard(announcement_id, _)


# Kind (the value stored in announcement.kind) -> its renderer.
RENDERERS: dict[str, AnnouncementRenderer[Any]] = {
    AnnouncementKind.DETENTION: DetentionRenderer(),
    AnnouncementKind.AGENDA_ITEM: AgendaItemRenderer(),
}


class UnknownKind(LookupError):
    """An announcement kind without a renderer."""


def renderer_for(kind: str) -> AnnouncementRenderer[Any]:
    try:
        return RENDERERS[kind]
    except KeyError:
        raise UnknownKind(kind) from None
