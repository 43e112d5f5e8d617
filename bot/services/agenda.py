"""Meetings and their agenda: which cases are discussed when, announcing them, /agenda.

Every case in triage (open, without a decision) is an item of the next meeting
of its theme's type (bot.domain.meetings). A meeting row is made when an item
first needs it. When a meeting passes with an item undecided, the case becomes
an item of the next meeting, marked as rolled over from the one it passed.

Items are announced through the one announcement mechanism
(bot.services.announcements, kind agenda_item) `agenda_lead_working_days`
working days before their meeting, or at once when they arrive later; the
answers are due at the meeting's start and the late organisations are chased
the working day before it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from bot.config import Settings
from bot.domain.announcements import AnnouncementKind
from bot.domain.meetings import (
    ItemShown,
    MeetingShown,
    MeetingType,
    announce_from,
    chase_from,
    meeting_type_for,
    next_meeting,
)
from bot.domain.roles import Theme
from bot.services.announcements import Announcements
from bot.storage.models import AgendaItem, Announcement, Case, Meeting, Person, aware


class Agenda:
    def __init__(self, *, settings: Settings, announcements: Announcements) -> None:
        self._settings = settings
        self._announcements = announcements

    def next_start(self, meeting_type: MeetingType, now: datetime) -> datetime:
        """When the next meeting of `meeting_type` starts (moved off holidays)."""
        schedule = self._settings.meeting_schedule(meeting_type)
        return next_meeting(schedule, now, self._settings.tz)

    def _meeting(self, session: Session, meeting_type: MeetingType, now: datetime) -> Meeting:
        starts_at = self.next_start(meeting_type, now)
        found = session.exec(
            select(Meeting).where(
                Meeting.type == meeting_type.value, Meeting.starts_at == starts_at
            )
        ).first()
        if found is None:
            found = Meeting(type=meeting_type.value, starts_at=starts_at)
            session.add(found)
            session.flush()
        return found

    def plan(self, session: Session, now: datetime) -> int:
        """Put every case in triage on the agenda of its next meeting.

        A case whose latest item is of a meeting that has started rolls over.
        Returns how many items were added.
        """
        cases = session.exec(
            select(Case)
            .where(col(Case.closed_at).is_(None), col(Case.decision).is_(None))
            .order_by(col(Case.id))
        ).all()
        meetings: dict[MeetingType, Meeting] = {}
        added = 0
        for case in cases:
            assert case.id is not None  # noqa: S101 - stored rows have ids
            kind = meeting_type_for(Theme(case.theme))
            if kind not in meetings:
                meetings[kind] = self._meeting(session, kind, now)
            meeting = meetings[kind]
            latest = session.exec(
                select(AgendaItem, Meeting)
                .join(Meeting, col(Meeting.id) == col(AgendaItem.meeting_id))
                .where(AgendaItem.case_id == case.id)
                .order_by(col(Meeting.starts_at).desc())
            ).first()
            if latest is not None and latest[1].id == meeting.id:
                continue
            passed = latest[1] if latest is not None and aware(latest[1].starts_at) <= now else None
            if latest is not None and passed is None:
                continue  # on the agenda of a later meeting already (e.g. a schedule change)
            session.add(
                AgendaItem(
                    meeting_id=meeting.id or 0,
                    case_id=case.id,
                    rolled_over_from=passed.id if passed is not None else None,
                    created_at=now,
                )
            )
            added += 1
        session.flush()
        return added

    def announce_due(self, session: Session, now: datetime) -> int:
        """Announce the items whose announcement time has come (at once when late).

        Items whose case got a decision or closed are left unannounced; an item
        whose release was announced already takes that announcement (and its
        answers) instead of a second one. Returns how many were announced anew.
        """
        rows = session.exec(
            select(AgendaItem, Meeting, Case)
            .join(Meeting, col(Meeting.id) == col(AgendaItem.meeting_id))
            .join(Case, col(Case.id) == col(AgendaItem.case_id))
            .where(
                col(AgendaItem.announcement_id).is_(None),
                col(Meeting.starts_at) > now,
                col(Case.closed_at).is_(None),
                col(Case.decision).is_(None),
            )
            .order_by(col(Meeting.starts_at), col(AgendaItem.id))
        ).all()
        tz = self._settings.tz
        lead = self._settings.agenda_lead_working_days
        announced = 0
        for item, meeting, case in rows:
            starts_at = aware(meeting.starts_at)
            if announce_from(starts_at, lead, tz) > now:
                continue
            assert item.id is not None  # noqa: S101 - stored rows have ids
            released = self._release_announcement(session, case)
            if released is not None:
                # A release was asked about when it came in: the item shows those
                # answers instead of asking the partners a second time.
                item.announcement_id = released
                session.add(item)
                continue
            item.announcement_id = self._announcements.publish(
                session,
                kind=AnnouncementKind.AGENDA_ITEM,
                subject_id=item.id,
                theme=Theme(case.theme),
                case_id=case.id,
                deadline=starts_at,
                chase_from=chase_from(starts_at, tz),
                now=now,
            )
            session.add(item)
            announced += 1
        return announced

    def _release_announcement(self, session: Session, case: Case) -> int | None:
        """The detention announcement that already asked the partners about `case`."""
        return session.exec(
            select(Announcement.id)
            .where(
                Announcement.case_id == case.id,
                Announcement.kind == AnnouncementKind.DETENTION.value,
            )
            .order_by(col(Announcement.id).desc())
        ).first()

    def overview(
        self, session: Session, now: datetime, theme: Theme | None = None
    ) -> list[MeetingShown]:
        """The next meeting of each type (of `theme`'s type only when given) with its items.

        Plans first, so the agenda shown is the current one (in this transaction).
        """
        self.plan(session, now)
        kinds = [meeting_type_for(theme)] if theme is not None else list(MeetingType)
        shown = []
        for kind in kinds:
            starts_at = self.next_start(kind, now)
            meeting = session.exec(
                select(Meeting).where(Meeting.type == kind.value, Meeting.starts_at == starts_at)
            ).first()
            items: list[ItemShown] = []
            if meeting is not None:
                rows = session.exec(
                    select(AgendaItem, Case, Person)
                    .join(Case, col(Case.id) == col(AgendaItem.case_id))
                    .join(Person, col(Person.id) == col(Case.person_id))
                    .where(
                        AgendaItem.meeting_id == meeting.id,
                        col(Case.closed_at).is_(None),
                        col(Case.decision).is_(None),
                    )
                    .order_by(col(Case.reference))
                ).all()
                for item, case, person in rows:
                    if theme is not None and case.theme != theme.value:
                        continue
                    items.append(self._item(session, item, case, person))
            shown.append(MeetingShown(kind, starts_at, tuple(items)))
        return shown

    def _item(self, session: Session, item: AgendaItem, case: Case, person: Person) -> ItemShown:
        theme = Theme(case.theme)
        assert case.id is not None  # noqa: S101 - stored rows have ids
        if item.announcement_id is not None:
            tally = self._announcements.tally(session, item.announcement_id)
            expected = len(tally.known) + len(tally.not_known) + len(tally.missing)
            answered, missing, known = (
                len(tally.known) + len(tally.not_known),
                tuple(tally.missing),
                len(tally.known),
            )
        else:
            names = self._announcements.answering_names(session, theme)
            expected, answered, missing, known = len(names), 0, tuple(names), 0
        return ItemShown(
            case_id=case.id,
            reference=case.reference,
            pseudonym=person.pseudonym,
            theme=theme,
            municipality=case.municipality,
            rolled_over=item.rolled_over_from is not None,
            announced=item.announcement_id is not None,
            answered=answered,
            expected=expected,
            missing=missing,
            known=known,
        )

    def triage_reference(self, session: Session, case_id: int) -> str | None:
        """The reference of case `case_id` while it is in triage (open, no decision)."""
        case = session.get(Case, case_id)
        if case is None or case.closed_at is not None or case.decision is not None:
            return None
        return case.reference
