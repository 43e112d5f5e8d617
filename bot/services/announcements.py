"""Announcements of every kind: publish, record answers, tally, show, chase who is late.

An announcement asks each organisation that takes part in its theme for
"bekend / niet bekend" about one subject (its kind says what: a detention
notification, later an agenda item). Where it goes follows from the theme
(bot.domain.announcements.audience): the partner group, or for a restricted
theme one private message to each active member of the organisations granted
it. What depends on the kind is only its renderer (bot.views.announcements).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, func, select

from bot.config import Settings
from bot.domain.announcements import Audience, audience
from bot.domain.roles import Theme, parse_themes
from bot.i18n import translator
from bot.safe import CaseReference, OrganisationName, Pseudonym, SafeText, printable_name
from bot.services import outbox
from bot.services.audit import AuditLog
from bot.services.members import MemberView
from bot.storage.models import (
    Announcement,
    AnnouncementMessage,
    Answer,
    Case,
    Member,
    Organisation,
    aware,
)
from bot.views.announcements import (
    Facts,
    Tally,
    missing_notes,
    reminder_texts,
    renderer_for,
)


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


@dataclass(frozen=True)
class Edit:
    """One message of an announcement that shows less than its answers: its new state."""

    chat_id: int
    message_id: int
    version: int
    text: SafeText
    keyboard: str


class NoPartnerGroup(Exception):
    """An announcement for the partner group while VHBOT_PARTNER_CHAT_ID is not set."""


class Announcements:
    def __init__(self, *, settings: Settings, audit: AuditLog) -> None:
        self._settings = settings
        self._audit = audit

    # -- publishing --------------------------------------------------------------

    def publish(
        self,
        session: Session,
        *,
        kind: str,
        subject_id: int,
        theme: Theme,
        case_id: int | None,
        deadline: datetime,
        now: datetime,
        chase_from: datetime | None = None,
    ) -> int:
        """Create the announcement and queue its messages in this transaction.

        Args:
            kind: an AnnouncementKind (or any kind with a renderer in RENDERERS).
            subject_id: what it is about (a melding for a detention notification).
            theme: decides who may answer and where it goes.
            case_id: the case it belongs to, if any (a closed case takes no answers).
            deadline: when the answers are due; chased after.
            now: the moment of publishing.
            chase_from: chase the late organisations from then on instead (before the
                deadline: an agenda item is chased the working day before its meeting).

        Returns the announcement's id. The subject must be new in this transaction
        (one announcement per kind and subject).
        """
        renderer = renderer_for(kind)
        announcement = Announcement(
            kind=kind,
            subject_id=subject_id,
            case_id=case_id,
            theme=theme.value,
            deadline=deadline,
            chase_from=chase_from,
            created_at=now,
        )
        session.add(announcement)
        session.flush()
        assert announcement.id is not None  # noqa: S101 - flushed
        facts = renderer.facts(session, announcement, self._settings)
        for chat_id, locale in self._audience(session, theme):
            _ = translator(locale)
            session.add(AnnouncementMessage(announcement_id=announcement.id, chat_id=chat_id))
            outbox.enqueue(
                session,
                key=f"announce:{announcement.id}:{chat_id}",
                chat_id=chat_id,
                text=renderer.text(facts, None, _, self._settings.tz),
                reply_markup=renderer.keyboard(announcement.id, _),
                announcement_id=announcement.id,
                now=now,
                new_key=True,  # the announcement was created in this transaction
            )
        return announcement.id

    def _audience(self, session: Session, theme: Theme) -> list[tuple[int, str]]:
        """(chat id, locale) of every message an announcement of `theme` gets."""
        if audience(theme) is Audience.PARTNER_GROUP:
            chat_id = self._settings.partner_chat_id
            if chat_id is None:
                raise NoPartnerGroup("VHBOT_PARTNER_CHAT_ID is not set")
            return [(chat_id, self._settings.locale)]
        entitled = [o.id for o in self.answering_organisations(session, theme)]
        members = session.exec(
            select(Member)
            .where(col(Member.organisation_id).in_(entitled), col(Member.active).is_(True))
            .order_by(col(Member.id))
        )
        return [(m.telegram_id, m.language or self._settings.locale) for m in members]

    # -- answers -------------------------------------------------------------------

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

        The press must come from one of the announcement's own messages; a closed
        case, or an organisation that may not see the theme, changes nothing.
        """
        announcement = session.get(Announcement, announcement_id, with_for_update=True)
        shown_there = session.exec(
            select(AnnouncementMessage.id).where(
                AnnouncementMessage.announcement_id == announcement_id,
                AnnouncementMessage.chat_id == chat_id,
                AnnouncementMessage.message_id == message_id,
            )
        ).first()
        if announcement is None or shown_there is None:
            return AnswerResult(AnswerOutcome.CLOSED_OR_UNKNOWN)
        if _case_closed(session, announcement):
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

    def tally(
        self,
        session: Session,
        announcement_id: int,
        *,
        expected: Sequence[Organisation] | None = None,
    ) -> Tally:
        """Who said known, who not, and which organisations (that may answer) are missing.

        `expected`: `answering_organisations` of the announcement's theme, when the
        caller tallies many announcements at once (read once, not per announcement).
        """
        announcement = session.get(Announcement, announcement_id)
        assert announcement is not None  # noqa: S101 - callers pass existing ids
        answers = {
            a.organisation_id: a.known
            for a in session.exec(select(Answer).where(Answer.announcement_id == announcement_id))
        }
        if expected is None:
            expected = self.answering_organisations(session, Theme(announcement.theme))
        known = sorted(_name(o) for o in expected if answers.get(o.id or 0) is True)
        not_known = sorted(_name(o) for o in expected if answers.get(o.id or 0) is False)
        missing = sorted(_name(o) for o in expected if (o.id or 0) not in answers)
        return Tally(known, not_known, missing)

    def answering_names(
        self,
        session: Session,
        theme: Theme,
        *,
        expected: Sequence[Organisation] | None = None,
    ) -> list[OrganisationName]:
        """The names of the organisations expected to answer an announcement of `theme`
        (`expected`: those organisations, read already)."""
        if expected is None:
            expected = self.answering_organisations(session, theme)
        return [_name(o) for o in expected]

    def answering_organisations(self, session: Session, theme: Theme) -> list[Organisation]:
        """Organisations that may see the theme and have someone to answer."""
        return self.answering_per_theme(session, [theme])[theme]

    def answering_per_theme(
        self, session: Session, themes: Sequence[Theme]
    ) -> dict[Theme, list[Organisation]]:
        """`answering_organisations` of each of `themes`, read once."""
        with_members = set(
            session.exec(select(Member.organisation_id).where(col(Member.active).is_(True))).all()
        )
        answering = [
            o
            for o in session.exec(select(Organisation).order_by(col(Organisation.name)))
            if o.id in with_members
        ]
        return {
            theme: [o for o in answering if theme in parse_themes(o.themes)] for theme in themes
        }

    def facts(self, session: Session, announcement_id: int) -> Facts:
        """What the announcement's renderer shows of its subject."""
        announcement = session.get(Announcement, announcement_id)
        assert announcement is not None  # noqa: S101 - callers pass existing ids
        facts: Facts = renderer_for(announcement.kind).facts(session, announcement, self._settings)
        return facts

    # -- showing the tally -----------------------------------------------------------

    def needing_render(self, session: Session) -> list[int]:
        """Announcements with a sent message behind their answers (e.g. after a restart)."""
        return [
            announcement_id
            for announcement_id in session.exec(
                select(Announcement.id)
                .join(
                    AnnouncementMessage,
                    col(AnnouncementMessage.announcement_id) == col(Announcement.id),
                )
                .where(
                    col(Announcement.answers_version) > col(AnnouncementMessage.rendered_version),
                    col(AnnouncementMessage.message_id).is_not(None),
                )
                .distinct()
                .order_by(col(Announcement.id))
            )
            if announcement_id is not None
        ]

    def edits(self, session: Session, announcement_id: int) -> list[Edit]:
        """Every sent message of the announcement that shows less than its answers,
        with its current text in the language of its chat."""
        announcement = session.get(Announcement, announcement_id)
        if announcement is None:
            return []
        behind = session.exec(
            select(AnnouncementMessage)
            .where(
                AnnouncementMessage.announcement_id == announcement_id,
                col(AnnouncementMessage.message_id).is_not(None),
                col(AnnouncementMessage.rendered_version) < announcement.answers_version,
            )
            .order_by(col(AnnouncementMessage.id))
        ).all()
        if not behind:
            return []
        # A copy in the private chat of someone no longer entitled (deactivated, or
        # their organisation lost the theme) keeps what it showed: marked as shown.
        audience_now = {
            chat_id for chat_id, _ in self._audience(session, Theme(announcement.theme))
        }
        for message in behind:
            if message.chat_id not in audience_now:
                message.rendered_version = announcement.answers_version
                session.add(message)
        behind = [message for message in behind if message.chat_id in audience_now]
        if not behind:
            return []
        renderer = renderer_for(announcement.kind)
        facts = renderer.facts(session, announcement, self._settings)
        tally = self.tally(session, announcement_id)
        edits = []
        for message in behind:
            assert message.message_id is not None  # noqa: S101 - filtered in the query
            _ = translator(self._locale_of(session, message.chat_id))
            edits.append(
                Edit(
                    chat_id=message.chat_id,
                    message_id=message.message_id,
                    version=announcement.answers_version,
                    text=renderer.text(facts, tally, _, self._settings.tz),
                    keyboard=renderer.keyboard(announcement_id, _),
                )
            )
        return edits

    def _locale_of(self, session: Session, chat_id: int) -> str:
        """The language of a chat: the group's default, or the member's of a private chat."""
        if chat_id == self._settings.partner_chat_id:
            return self._settings.locale
        member = session.exec(select(Member).where(Member.telegram_id == chat_id)).first()
        return (member.language if member else None) or self._settings.locale

    def mark_rendered(
        self, session: Session, announcement_id: int, chat_id: int, version: int
    ) -> None:
        """The message in `chat_id` shows the answers up to `version`."""
        message = session.exec(
            select(AnnouncementMessage).where(
                AnnouncementMessage.announcement_id == announcement_id,
                AnnouncementMessage.chat_id == chat_id,
            )
        ).first()
        if message is not None and message.rendered_version < version:
            message.rendered_version = version
            session.add(message)

    # -- chasing ---------------------------------------------------------------------

    def chase_overdue(self, session: Session, now: datetime) -> int:
        """Once per announcement past its deadline (or its `chase_from`), chase the
        organisations that did not answer.

        Each member of a late organisation gets one private reminder per run, listing
        every overdue announcement of theirs; the group gets one note per run naming
        the missing organisations per announcement that went to the group (never one
        of a restricted theme). `chased_at` commits with the queued messages, so a
        second run (or a second process) sends nothing again. Returns how many
        announcements were chased.
        """
        sent = select(AnnouncementMessage.announcement_id).where(
            col(AnnouncementMessage.message_id).is_not(None)
        )
        due = session.exec(
            select(Announcement)
            .where(
                func.coalesce(col(Announcement.chase_from), col(Announcement.deadline)) <= now,
                col(Announcement.chased_at).is_(None),
                col(Announcement.id).in_(sent),
            )
            .order_by(col(Announcement.id))
        ).all()
        Reference = CaseReference | Pseudonym
        # member id -> (member, organisation, {in private chat?: references})
        per_member: dict[int, tuple[Member, Organisation, dict[bool, list[Reference]]]] = {}
        group_lines: list[tuple[Reference, list[OrganisationName]]] = []
        chased: list[int] = []
        moments: list[datetime] = []
        for announcement in due:
            assert announcement.id is not None  # noqa: S101 - stored rows have ids
            if _case_closed(session, announcement):
                continue
            reference = self.facts(session, announcement.id).reference
            in_group = audience(Theme(announcement.theme)) is Audience.PARTNER_GROUP
            missing = self._missing_organisations(session, announcement)
            for organisation in missing:
                for member in session.exec(
                    select(Member).where(
                        Member.organisation_id == organisation.id, col(Member.active).is_(True)
                    )
                ):
                    assert member.id is not None  # noqa: S101 - stored rows have ids
                    lists = per_member.setdefault(member.id, (member, organisation, {}))[2]
                    lists.setdefault(not in_group, []).append(reference)
            # The group's note says the answer time has passed: not for one chased
            # before its deadline (an agenda item, the working day before its meeting).
            if missing and in_group and announcement.deadline <= now:
                group_lines.append((reference, [_name(o) for o in missing]))
            announcement.chased_at = now
            session.add(announcement)
            chased.append(announcement.id)
            moments.append(aware(announcement.chase_from or announcement.deadline))
        if not chased:
            return 0
        # The latest chase moment is part of the run: a rolled-over agenda item's
        # announcement is chased again before its next meeting, maybe in a run of the
        # same ids; two processes chasing at once still make the same keys.
        run = f"{chased[0]}-{chased[-1]}-{len(chased)}-{int(max(moments).timestamp())}"
        for member_id, (member, organisation, lists) in per_member.items():
            _ = translator(member.language or self._settings.locale)
            for in_private, references in sorted(lists.items()):
                texts = reminder_texts(references, _name(organisation), _, in_private=in_private)
                for part, text in enumerate(texts):
                    outbox.enqueue(
                        session,
                        key=f"chase:{run}:{member_id}:{'p' if in_private else ''}{part}",
                        chat_id=member.telegram_id,
                        text=text,
                        now=now,
                    )
        chat_id = self._settings.partner_chat_id
        if group_lines and chat_id is not None:  # None: a sweep with no group configured
            _ = translator(self._settings.locale)
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
            for o in self.answering_organisations(session, Theme(announcement.theme))
            if o.id not in answered
        ]


def _case_closed(session: Session, announcement: Announcement) -> bool:
    if announcement.case_id is None:
        return False
    case = session.get(Case, announcement.case_id)
    return case is None or case.closed_at is not None


def _name(organisation: Organisation) -> OrganisationName:
    # Names are checked when added; one stored by an older version is shown cleaned.
    return OrganisationName(printable_name(organisation.name) or "?")
