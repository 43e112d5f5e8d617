"""Answers to announcements: who may answer, the tally, and chasing who is late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from bot.config import Settings
from bot.domain.dpan import Soort
from bot.domain.roles import Theme, parse_themes
from bot.i18n import translator
from bot.safe import (
    CaseReference,
    Institution,
    Municipality,
    OrganisationName,
    Pseudonym,
    printable_name,
)
from bot.services import outbox
from bot.services.audit import AuditLog
from bot.services.members import MemberView
from bot.storage.models import (
    Announcement,
    Answer,
    Case,
    Melding,
    Member,
    Organisation,
    Person,
)
from bot.views.announcements import AnnouncementFacts, Tally, missing_notes, reminder_texts


class AnswerOutcome(StrEnum):
    RECORDED = "recorded"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    CLOSED_OR_UNKNOWN = "closed_or_unknown"
    THEME_NOT_ALLOWED = "theme_not_allowed"


@dataclass(frozen=True)
class AnswerResult:
    outcome: AnswerOutcome
    organisation_name: OrganisationName | None = None


class Answers:
    def __init__(self, *, settings: Settings, audit: AuditLog) -> None:
        self._settings = settings
        self._audit = audit

    def record(
        self,
        session: Session,
        *,
        announcement_id: int,
        chat_id: int,
        message_id: int,
        member: MemberView,
        known: bool,
        now: datetime,
    ) -> AnswerResult:
        """Record a member's answer for their organisation; one answer per organisation counts.

        The press must come from the announcement's own message; a closed case,
        or an organisation that may not see the theme, changes nothing.
        """
        announcement = session.get(Announcement, announcement_id, with_for_update=True)
        if (
            announcement is None
            or announcement.chat_id != chat_id
            or announcement.message_id != message_id
        ):
            return AnswerResult(AnswerOutcome.CLOSED_OR_UNKNOWN)
        if announcement.case_id is not None:
            case = session.get(Case, announcement.case_id)
            if case is None or case.closed_at is not None:
                return AnswerResult(AnswerOutcome.CLOSED_OR_UNKNOWN)
        organisation = session.exec(
            select(Organisation).where(Organisation.code == member.organisation_code)
        ).one()
        if Theme(announcement.theme) not in parse_themes(organisation.themes):
            return AnswerResult(AnswerOutcome.THEME_NOT_ALLOWED, _name(organisation))
        current = session.exec(
            select(Answer).where(
                Answer.announcement_id == announcement_id,
                Answer.organisation_id == organisation.id,
            )
        ).first()
        if current is not None and current.known == known:
            return AnswerResult(AnswerOutcome.UNCHANGED, _name(organisation))
        if current is None:
            session.add(
                Answer(
                    announcement_id=announcement_id,
                    organisation_id=organisation.id or 0,
                    member_id=member.member_id,
                    known=known,
                    answered_at=now,
                )
            )
            outcome = AnswerOutcome.RECORDED
        else:
            current.known, current.member_id, current.answered_at = known, member.member_id, now
            session.add(current)
            outcome = AnswerOutcome.CHANGED
        announcement.answers_version += 1
        session.add(announcement)
        self._audit.record(
            session,
            actor=f"member:{member.member_id}",
            action="answer.record",
            subject=f"announcement:{announcement_id}",
            organisation=organisation.code,
            known=known,
            replaced=outcome is AnswerOutcome.CHANGED,
        )
        return AnswerResult(outcome, _name(organisation))

    def tally(self, session: Session, announcement_id: int) -> Tally:
        """Who said known, who not, and which organisations (that may answer) are missing."""
        announcement = session.get(Announcement, announcement_id)
        assert announcement is not None  # noqa: S101 - callers pass existing ids
        answers = {
            a.organisation_id: a.known
            for a in session.exec(select(Answer).where(Answer.announcement_id == announcement_id))
        }
        expected = self._answering_organisations(session, Theme(announcement.theme))
        known = sorted(_name(o) for o in expected if answers.get(o.id or 0) is True)
        not_known = sorted(_name(o) for o in expected if answers.get(o.id or 0) is False)
        missing = sorted(_name(o) for o in expected if (o.id or 0) not in answers)
        return Tally(known, not_known, missing)

    def _answering_organisations(self, session: Session, theme: Theme) -> list[Organisation]:
        """Organisations that may see the theme and have someone to answer."""
        with_members = set(
            session.exec(select(Member.organisation_id).where(col(Member.active).is_(True))).all()
        )
        return [
            o
            for o in session.exec(select(Organisation).order_by(col(Organisation.name)))
            if theme in parse_themes(o.themes) and o.id in with_members
        ]

    def facts(self, session: Session, announcement_id: int) -> AnnouncementFacts:
        announcement = session.get(Announcement, announcement_id)
        assert announcement is not None  # noqa: S101 - callers pass existing ids
        melding = session.get(Melding, announcement.melding_id)
        assert melding is not None  # noqa: S101 - foreign key
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
                if melding.institution in self._settings.institutions
                else None
            ),
            event_date=melding.event_date,
            deadline=announcement.deadline,
        )

    def chase_overdue(self, session: Session, now: datetime) -> int:
        """Once per announcement past its deadline, chase the organisations that did not answer.

        Each member of a late organisation gets one private reminder per run, listing
        every overdue announcement of theirs; the group gets one note per run naming
        the missing organisations per announcement. `chased_at` commits with the
        queued messages, so a second run (or a second process) sends nothing again.
        Returns how many announcements were chased.
        """
        due = session.exec(
            select(Announcement)
            .where(
                col(Announcement.deadline) <= now,
                col(Announcement.chased_at).is_(None),
                col(Announcement.message_id).is_not(None),
            )
            .order_by(col(Announcement.id))
        ).all()
        per_member: dict[int, tuple[Member, Organisation, list[CaseReference | Pseudonym]]] = {}
        group_lines: list[tuple[CaseReference | Pseudonym, list[OrganisationName]]] = []
        chased: list[int] = []
        for announcement in due:
            assert announcement.id is not None  # noqa: S101 - stored rows have ids
            facts = self.facts(session, announcement.id)
            if announcement.case_id is not None:
                case = session.get(Case, announcement.case_id)
                if case is not None and case.closed_at is not None:
                    continue
            reference = facts.reference
            missing = self._missing_organisations(session, announcement)
            for organisation in missing:
                for member in session.exec(
                    select(Member).where(
                        Member.organisation_id == organisation.id, col(Member.active).is_(True)
                    )
                ):
                    assert member.id is not None  # noqa: S101 - stored rows have ids
                    per_member.setdefault(member.id, (member, organisation, []))[2].append(
                        reference
                    )
            if missing:
                group_lines.append((reference, [_name(o) for o in missing]))
            announcement.chased_at = now
            session.add(announcement)
            chased.append(announcement.id)
        if not chased:
            return 0
        run = f"{chased[0]}-{chased[-1]}-{len(chased)}"
        for member_id, (member, organisation, references) in per_member.items():
            _ = translator(member.language or self._settings.locale)
            for part, text in enumerate(reminder_texts(references, _name(organisation), _)):
                outbox.enqueue(
                    session,
                    key=f"chase:{run}:{member_id}:{part}",
                    chat_id=member.telegram_id,
                    text=text,
                    now=now,
                )
        if group_lines:
            _ = translator(self._settings.locale)
            chat_id = due[0].chat_id
            for part, text in enumerate(missing_notes(group_lines, _)):
                outbox.enqueue(
                    session, key=f"chase-note:{run}:{part}", chat_id=chat_id, text=text, now=now
                )
        self._audit.record(
            session,
            actor="system",
            action="announcement.chase",
            subject=f"announcements:{run}",
            announcements=len(chased),
            members=len(per_member),
        )
        return len(chased)

    def _missing_organisations(
        self, session: Session, announcement: Announcement
    ) -> list[Organisation]:
        answered = set(
            session.exec(
                select(Answer.organisation_id).where(Answer.announcement_id == announcement.id)
            ).all()
        )
        return [
            o
            for o in self._answering_organisations(session, Theme(announcement.theme))
            if o.id not in answered
        ]

    def needing_render(self, session: Session) -> list[int]:
        """Announcements whose shown state is behind their answers (e.g. after a restart)."""
        return [
            a.id
            for a in session.exec(
                select(Announcement).where(
                    col(Announcement.answers_version) > col(Announcement.rendered_version),
                    col(Announcement.message_id).is_not(None),
                )
            )
            if a.id is not None
        ]

    def mark_rendered(self, session: Session, announcement_id: int, version: int) -> None:
        announcement = session.get(Announcement, announcement_id)
        if announcement is not None and announcement.rendered_version < version:
            announcement.rendered_version = version
            session.add(announcement)


def _name(organisation: Organisation) -> OrganisationName:
    # Names are checked when added; one stored by an older version is shown cleaned.
    return OrganisationName(printable_name(organisation.name) or "?")
