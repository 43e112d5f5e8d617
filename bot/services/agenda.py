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

from datetime import datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import and_, false, func, or_
from sqlalchemy import case as when
from sqlalchemy import select as columns
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
from bot.domain.roles import Theme, parse_themes
from bot.services.announcements import Announcements
from bot.storage.models import (
    AgendaItem,
    Announcement,
    Answer,
    Case,
    Meeting,
    Member,
    Organisation,
    Person,
    aware,
)
from bot.storage.upsert import insert_if_absent


class ItemState(StrEnum):
    """What a button under an /agenda item finds (see `Agenda.item_on_agenda`)."""

    CURRENT = "current"
    GONE = "gone"
    OUTDATED = "outdated"
    UNKNOWN = "unknown"


class Agenda:
    def __init__(self, *, settings: Settings, announcements: Announcements) -> None:
        self._settings = settings
        self._announcements = announcements

    def next_start(self, meeting_type: MeetingType, now: datetime) -> datetime:
        """When the next meeting of `meeting_type` starts (moved off holidays)."""
        schedule = self._settings.meeting_schedule(meeting_type)
        return next_meeting(schedule, now, self._settings.tz)

    def current_start(self, meeting_type: MeetingType, now: datetime) -> datetime:
        """The meeting of `meeting_type` that is on: today's, also once it started (its
        decisions are taken in it), until the day is over; else the next one."""
        tz = self._settings.tz
        midnight = datetime.combine(now.astimezone(tz).date(), time(0), tzinfo=tz)
        schedule = self._settings.meeting_schedule(meeting_type)
        return next_meeting(schedule, midnight - timedelta(microseconds=1), tz)

    def _day_over(self, starts_at: datetime, now: datetime) -> bool:
        """Whether a meeting's day has passed: only then do its undecided items roll over."""
        tz = self._settings.tz
        return starts_at.astimezone(tz).date() < now.astimezone(tz).date()

    def _meeting(self, session: Session, meeting_type: MeetingType, now: datetime) -> Meeting:
        """The next meeting of `meeting_type`, made when first needed (race-free)."""
        starts_at = self.next_start(meeting_type, now)
        insert_if_absent(
            session, Meeting, ["type", "starts_at"], type=meeting_type.value, starts_at=starts_at
        )
        return session.exec(
            select(Meeting).where(
                Meeting.type == meeting_type.value, Meeting.starts_at == starts_at
            )
        ).one()

    def plan(self, session: Session, now: datetime) -> int:
        """Put every case in triage on the agenda of its next meeting.

        A case whose latest item is of a meeting whose day is over rolls over (during
        the meeting's day its items stay on it, decided or not): the
        new item keeps the announcement and its answers (the partners are not asked
        again), and the organisations still missing are chased once more the working
        day before the new meeting. Safe to run in two transactions at once (/agenda
        and the duty): meetings and items are inserted unless there, so the second
        waits for the first and adds nothing. Returns how many items were added.
        """
        undecided = and_(col(Case.closed_at).is_(None), col(Case.decision).is_(None))
        # Columns, not entities: at national scale hundreds of cases and their items are
        # read on every /stand and /agenda, and only these fields are needed.
        cases = session.execute(
            columns(col(Case.id), col(Case.theme)).where(undecided).order_by(col(Case.id))
        ).all()
        meetings: dict[MeetingType, Meeting] = {}
        # Each case's latest item (its announcement, meeting and start), read in one
        # query (not one per case): newest first.
        latests: dict[int, tuple[int | None, int, datetime]] = {}
        for case_id, announcement_id, meeting_id, starts_at in session.execute(
            columns(
                col(AgendaItem.case_id),
                col(AgendaItem.announcement_id),
                col(Meeting.id),
                col(Meeting.starts_at),
            )
            .join(Meeting, col(Meeting.id) == col(AgendaItem.meeting_id))
            .join(Case, col(Case.id) == col(AgendaItem.case_id))
            .where(undecided)
            .order_by(col(Meeting.starts_at).desc())
        ).all():
            latests.setdefault(case_id, (announcement_id, meeting_id, starts_at))
        added = 0
        for case_id, theme in cases:
            kind = meeting_type_for(Theme(theme))
            if kind not in meetings:
                meetings[kind] = self._meeting(session, kind, now)
            meeting = meetings[kind]
            latest = latests.get(case_id)
            if latest is not None and (
                latest[1] == meeting.id or not self._day_over(aware(latest[2]), now)
            ):
                # Planned already; or its meeting is today (it may be on now) or later
                # (e.g. after a schedule change).
                continue
            passed = latest
            inserted = insert_if_absent(
                session,
                AgendaItem,
                ["meeting_id", "case_id"],
                meeting_id=meeting.id,
                case_id=case_id,
                rolled_over_from=passed[1] if passed is not None else None,
                created_at=now,
            )
            if not inserted:
                continue  # another transaction planned it first
            added += 1
            if passed is not None and passed[0] is not None:
                item = session.exec(
                    select(AgendaItem).where(
                        AgendaItem.meeting_id == meeting.id, AgendaItem.case_id == case_id
                    )
                ).one()
                self._carry_over(session, passed[0], item, meeting)
        session.flush()
        return added

    def _carry_over(
        self, session: Session, announcement_id: int, item: AgendaItem, meeting: Meeting
    ) -> None:
        """A rolled-over item keeps the announcement of its earlier item, and its answers.

        The late organisations are chased again the working day before the new
        meeting. An agenda item's announcement moves to the new item, so its
        messages (edited by the tally editor) show the new meeting; a release's
        announcement stays about its release.
        """
        assert item.id is not None  # noqa: S101 - selected rows have ids
        starts_at = aware(meeting.starts_at)
        item.announcement_id = announcement_id
        session.add(item)
        announcement = session.get(Announcement, announcement_id, with_for_update=True)
        assert announcement is not None  # noqa: S101 - foreign key
        announcement.chase_from = chase_from(starts_at, self._settings.tz)
        announcement.chased_at = None
        if announcement.kind == AnnouncementKind.AGENDA_ITEM.value:
            announcement.subject_id = item.id
            announcement.deadline = starts_at
            announcement.answers_version += 1  # its messages show the new meeting
        session.add(announcement)

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
            # Two announcers at once: the second waits, then skips the items the first
            # announced (PostgreSQL re-checks the WHERE on a locked row).
            .with_for_update(of=AgendaItem)
        ).all()
        tz = self._settings.tz
        lead = self._settings.agenda_lead_working_days
        announced = 0
        for item, meeting, case in rows:
            starts_at = aware(meeting.starts_at)
            assert item.id is not None  # noqa: S101 - stored rows have ids
            released = self._release_announcement(session, case)
            if released is not None:
                # A release was asked about when it came in: the item shows those
                # answers (at once: nothing is sent) instead of asking the partners a
                # second time; rolled over, it is chased again before the new meeting.
                if item.rolled_over_from is not None:
                    self._carry_over(session, released, item, meeting)
                item.announcement_id = released
                session.add(item)
                continue
            if announce_from(starts_at, lead, tz) > now:
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
        self, session: Session, now: datetime, theme: Theme | None = None, *, member_id: int
    ) -> list[MeetingShown]:
        """The current meeting of each type (of `theme`'s type only when given) with its
        items: today's while its day lasts, also once it started, else the next one.

        Plans first, so the agenda shown is the current one and every item shown is a
        stored row: its buttons carry the item's id, which tells a later press whether
        the page is outdated (`item_on_agenda`). Planning is race-free, so /agenda and
        the duty may plan at the same moment.
        """
        self.plan(session, now)
        # Only the themes the coordinator's organisation works on: a restricted theme's
        # meeting and items are not shown outside its circle.
        entitled = _themes_of(session, member_id)
        if theme is not None and theme not in entitled:
            return []
        kinds = [meeting_type_for(theme)] if theme is not None else list(MeetingType)
        kinds = [k for k in kinds if any(meeting_type_for(t) is k for t in entitled)]
        # The organisations expected to answer, read once per theme (not per item).
        answering: dict[Theme, list[Organisation]] = {}
        shown = []
        for kind in kinds:
            starts_at = self.current_start(kind, now)
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
                    if Theme(case.theme) not in entitled:
                        continue
                    items.append(self._item(session, item, case, person, answering))
            shown.append(MeetingShown(kind, starts_at, tuple(items)))
        return shown

    def waiting(
        self, session: Session, now: datetime, theme: Theme | None = None, *, member_id: int
    ) -> list[tuple[MeetingType, datetime, int, int]]:
        """What `overview` shows, counted only: per current meeting its type, start,
        items and items still missing an answer (/stand's meeting part).

        The same plan, meetings, items and expected organisations as `overview`, but
        one GROUP BY per theme instead of a tally per item, so it stays quick with
        hundreds of items (25 houses' agendas in one database).
        """
        self.plan(session, now)
        entitled = _themes_of(session, member_id)
        if theme is not None and theme not in entitled:
            return []
        kinds = [meeting_type_for(theme)] if theme is not None else list(MeetingType)
        kinds = [k for k in kinds if any(meeting_type_for(t) is k for t in entitled)]
        counted = []
        for kind in kinds:
            starts_at = self.current_start(kind, now)
            meeting = session.exec(
                select(Meeting).where(Meeting.type == kind.value, Meeting.starts_at == starts_at)
            ).first()
            items = waiting = 0
            shown = [
                t
                for t in Theme
                if meeting_type_for(t) is kind and t in entitled and theme in (None, t)
            ]
            if meeting is not None and shown:
                expected = {
                    t.value: [o.id for o in organisations if o.id is not None]
                    for t, organisations in self._announcements.answering_per_theme(
                        session, shown
                    ).items()
                }
                # One GROUP BY for the meeting: an answer counts when its organisation is
                # one its item's theme expects.
                counts = or_(
                    false(),
                    *(
                        and_(col(Case.theme) == value, col(Answer.organisation_id).in_(ids))
                        for value, ids in expected.items()
                        if ids
                    ),
                )
                answered = session.execute(
                    columns(
                        col(Case.theme),
                        func.count(when((counts, col(Answer.id)))),
                    )
                    .select_from(AgendaItem)
                    .join(Case, col(Case.id) == col(AgendaItem.case_id))
                    .outerjoin(
                        Answer, col(Answer.announcement_id) == col(AgendaItem.announcement_id)
                    )
                    .where(
                        col(AgendaItem.meeting_id) == meeting.id,
                        col(Case.closed_at).is_(None),
                        col(Case.decision).is_(None),
                        col(Case.theme).in_(list(expected)),
                    )
                    .group_by(col(AgendaItem.id), col(Case.theme))
                ).all()
                items = len(answered)
                waiting = sum(1 for value, count in answered if count < len(expected[value]))
            counted.append((kind, starts_at, items, waiting))
        return counted

    def _item(
        self,
        session: Session,
        item: AgendaItem,
        case: Case,
        person: Person,
        answering: dict[Theme, list[Organisation]],
    ) -> ItemShown:
        theme = Theme(case.theme)
        assert case.id is not None  # noqa: S101 - stored rows have ids
        if theme not in answering:
            answering[theme] = self._announcements.answering_organisations(session, theme)
        if item.announcement_id is not None:
            tally = self._announcements.tally(
                session, item.announcement_id, expected=answering[theme]
            )
            expected = len(tally.known) + len(tally.not_known) + len(tally.missing)
            answered, missing, known = (
                len(tally.known) + len(tally.not_known),
                tuple(tally.missing),
                len(tally.known),
            )
        else:
            names = self._announcements.answering_names(session, theme, expected=answering[theme])
            expected, answered, missing, known = len(names), 0, tuple(names), 0
        assert item.id is not None  # noqa: S101 - stored rows have ids
        return ItemShown(
            item_id=item.id,
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

    def item_on_agenda(
        self, session: Session, item_id: int, now: datetime, *, member_id: int
    ) -> tuple[ItemState, str | None]:
        """Whether a button of item `item_id` (under an /agenda page) still speaks of the
        current agenda, and the case's reference when it does.

        UNKNOWN: no such item, or one of a theme outside the member's circle. GONE:
        its case has a decision or is closed (decided, corrected, closed since the page
        was shown). OUTDATED: its meeting's day is over, or the case is on a later
        meeting's agenda (rolled over). During the meeting (its day) the buttons work:
        that is when the decisions are taken. The case row is locked so that a decision
        taken on a CURRENT answer is the first one, not a correction.
        """
        item = session.get(AgendaItem, item_id)
        if item is None:
            return ItemState.UNKNOWN, None
        case = session.get(Case, item.case_id, with_for_update=True, populate_existing=True)
        meeting = session.get(Meeting, item.meeting_id)
        assert case is not None  # noqa: S101 - foreign key
        assert meeting is not None  # noqa: S101 - foreign key
        if Theme(case.theme) not in _themes_of(session, member_id):
            return ItemState.UNKNOWN, None
        if case.closed_at is not None or case.decision is not None:
            return ItemState.GONE, None
        starts_at = aware(meeting.starts_at)
        later = session.exec(
            select(AgendaItem.id)
            .join(Meeting, col(Meeting.id) == col(AgendaItem.meeting_id))
            .where(AgendaItem.case_id == case.id, col(Meeting.starts_at) > starts_at)
        ).first()
        if self._day_over(starts_at, now) or later is not None:
            return ItemState.OUTDATED, None
        return ItemState.CURRENT, case.reference


def _themes_of(session: Session, member_id: int) -> frozenset[Theme]:
    """The themes the member's organisation works on (none for an unknown member)."""
    member = session.get(Member, member_id)
    organisation = session.get(Organisation, member.organisation_id) if member else None
    return parse_themes(organisation.themes) if organisation is not None else frozenset()
