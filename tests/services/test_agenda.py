"""Meetings and agenda items, at the service: planning, rolling over, announcing, chasing.

The clock starts on Monday 2026-11-23 09:00 (Amsterdam) and moves only when told.
"""

from __future__ import annotations

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.announcements import AnnouncementKind
from bot.domain.meetings import MeetingType
from bot.domain.roles import Role, Theme
from bot.services.agenda import ItemState
from bot.services.audit import CLI
from bot.storage.models import (
    AgendaItem,
    Announcement,
    AnnouncementMessage,
    Case,
    Meeting,
    Member,
    OutboxMessage,
    Person,
)
from tests.locking import wait_until_blocked

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=AMSTERDAM)  # type: ignore[misc]


def add_case(core: Core, number: int, theme: Theme) -> str:
    """A case in triage of `theme` (as the meldingen import would open one)."""
    now = core.clock.now()
    with core.db.session() as session:
        person = Person(
            identity_key=f"k{number}", pseudonym=f"P-{number:08d}", created_at=now,
            identity_stored_at=now,
        )  # fmt: skip
        session.add(person)
        session.flush()
        assert person.id is not None
        session.add(
            Case(
                reference=f"VH-2026-{number:04d}",
                year=2026,
                number=number,
                theme=theme.value,
                person_id=person.id,
                municipality="Weert",
                opened_at=now,
            )
        )
    return f"VH-2026-{number:04d}"


@pytest.fixture
def members(core: Core) -> None:
    ms = core.memberships
    with core.db.session() as session:
        ms.add_organisation(session, name="Politie", code="POL", themes=None, actor=CLI)
        ms.add_organisation(
            session, name="Radicaal", code="RAD", themes=[Theme.RADICALISERING], actor=CLI
        )
        for telegram_id, org in ((301, "POL"), (302, "RAD"), (303, "RAD")):
            ms.add_member(
                session, telegram_id=telegram_id, name=f"Medewerker {telegram_id}",
                organisation_code=org, roles=[Role.PARTNER], actor=CLI,
            )  # fmt: skip


def run_agenda(core: Core) -> int:
    with core.db.session() as session:
        now = core.clock.now()
        core.agenda.plan(session, now)
        return core.agenda.announce_due(session, now)


def test_next_meetings_and_a_meeting_moved_off_kings_day(core: Core, clock: FrozenClock) -> None:
    assert core.agenda.next_start(MeetingType.TRIAGE, clock.now()) == at(2026, 11, 24, 10)
    assert core.agenda.next_start(MeetingType.NAZORG, clock.now()) == at(2026, 11, 26, 10)
    assert core.agenda.next_start(MeetingType.RADICALISERING, clock.now()) == at(2026, 12, 2, 14)
    # King's Day 2027 is a Tuesday: the triage moves to Wednesday.
    clock.set(at(2027, 4, 26, 9))
    assert core.agenda.next_start(MeetingType.TRIAGE, clock.now()) == at(2027, 4, 28, 10)


@pytest.mark.usefixtures("members")
def test_items_are_announced_at_the_lead_time_roll_over_and_are_chased(
    core: Core, clock: FrozenClock
) -> None:
    triage = add_case(core, 1, Theme.TOP_X)
    # Tuesday's triage is within 2 working days: announced at once, to the group.
    assert run_agenda(core) == 1
    assert run_agenda(core) == 0  # nothing twice
    with core.db.session() as session:
        [first] = session.exec(select(AgendaItem)).all()
        announcement = session.get(Announcement, first.announcement_id)
        assert announcement is not None
        assert announcement.kind == AnnouncementKind.AGENDA_ITEM
        assert announcement.deadline == at(2026, 11, 24, 10)
        [sent] = session.exec(
            select(OutboxMessage).where(OutboxMessage.announcement_id == announcement.id)
        ).all()
        assert sent.chat_id == core.settings.partner_chat_id
        assert triage in sent.text and "P-00000001" in sent.text
        assert first.rolled_over_from is None

    # The meeting passes undecided: the item rolls over to the next Tuesday. The partners
    # are not asked again: it keeps its announcement, which now speaks of the new
    # meeting, and is chased again the working day before it.
    clock.set(at(2026, 11, 24, 11))
    assert run_agenda(core) == 0
    clock.set(at(2026, 11, 27, 10))
    assert run_agenda(core) == 0
    with core.db.session() as session:
        items = session.exec(select(AgendaItem).order_by(col(AgendaItem.id))).all()
        assert [i.rolled_over_from for i in items] == [None, items[0].meeting_id]
        assert items[1].announcement_id == items[0].announcement_id
        assert len(session.exec(select(Announcement)).all()) == 1
        kept = session.get(Announcement, items[1].announcement_id)
        assert kept is not None
        assert (kept.subject_id, kept.deadline, kept.chase_from, kept.chased_at) == (
            items[1].id,
            at(2026, 12, 1, 10),
            at(2026, 11, 30, 10),
            None,
        )
        assert kept.answers_version == 1  # its messages are edited to show the new meeting
        # The sender has not run: mark the messages sent, as the outbox would.
        for message in session.exec(select(OutboxMessage)):
            message.status = "sent"
            session.add(message)

        for shown in session.exec(select(AnnouncementMessage)):
            shown.message_id = 1000 + (shown.id or 0)
            session.add(shown)
    # Chased the working day before the new meeting (not before), and once.
    with core.db.session() as session:
        assert core.announcements.chase_overdue(session, at(2026, 11, 30, 9, 59)) == 0
        assert core.announcements.chase_overdue(session, at(2026, 11, 30, 10)) == 1
    with core.db.session() as session:
        assert core.announcements.chase_overdue(session, at(2026, 11, 30, 11)) == 0


@pytest.mark.usefixtures("members")
def test_a_restricted_item_goes_only_privately_and_a_decided_case_leaves(
    core: Core, clock: FrozenClock
) -> None:
    add_case(core, 2, Theme.RADICALISERING)
    decided = add_case(core, 3, Theme.JEUGD)
    with core.db.session() as session:
        case = session.exec(select(Case).where(Case.reference == decided)).one()
        case.decision = "procesregie"
        session.add(case)
    assert run_agenda(core) == 0  # the radicalisation meeting is Wednesday 2 December
    clock.set(at(2026, 11, 30, 14))
    assert run_agenda(core) == 1
    with core.db.session() as session:
        chats = sorted(m.chat_id for m in session.exec(select(OutboxMessage)))
        assert chats == [302, 303]
        assert len(session.exec(select(Meeting)).all()) == 1
        ids = {m.telegram_id: m.id for m in session.exec(select(Member))}
        [shown] = core.agenda.overview(
            session, clock.now(), Theme.RADICALISERING, member_id=ids[302]
        )
        assert shown.type is MeetingType.RADICALISERING
        [item] = shown.items
        assert (item.answered, item.expected, item.missing, item.known) == (0, 1, ("Radicaal",), 0)
        # Outside the radicalisation circle: neither the meeting nor its item is shown.
        outside = ids[301]
        assert outside is not None
        assert (
            core.agenda.overview(session, clock.now(), Theme.RADICALISERING, member_id=outside)
            == []
        )
        shown_all = core.agenda.overview(session, clock.now(), member_id=outside)
        assert MeetingType.RADICALISERING not in [m.type for m in shown_all]
        assert all(i.theme is not Theme.RADICALISERING for m in shown_all for i in m.items)
        state = core.agenda.item_on_agenda(session, item.item_id, clock.now(), member_id=outside)
        assert state == (ItemState.UNKNOWN, None)


@pytest.mark.parametrize("meeting_made_before", [False, True])
def test_two_planners_at_once_make_one_meeting_and_one_item_each(
    core: Core, clock: FrozenClock, meeting_made_before: bool
) -> None:
    """/agenda and the duty plan at the same moment: the second reads before the first
    commits, then waits on the unique meeting (or item) row; it ends without an error."""
    add_case(core, 1, Theme.TOP_X)
    add_case(core, 2, Theme.JEUGD)
    if meeting_made_before:
        with core.db.session() as session:
            session.add(Meeting(type="triage", starts_at=at(2026, 11, 24, 10)))
    errors: list[BaseException] = []
    added: list[int] = []

    def second() -> None:
        try:
            with core.db.session() as session:
                added.append(core.agenda.plan(session, clock.now()))
        except BaseException as error:  # reported by the assertions below
            errors.append(error)

    with core.db.session() as session:
        added.append(core.agenda.plan(session, clock.now()))
        thread = threading.Thread(target=second)
        thread.start()
        wait_until_blocked(core, thread, who="planner")
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert errors == []
    assert added == [2, 0]
    with core.db.session() as session:
        assert len(session.exec(select(Meeting)).all()) == 1
        items = session.exec(select(AgendaItem)).all()
        assert sorted(i.case_id for i in items) == sorted({i.case_id for i in items})
        assert len(items) == 2
