"""A detention release on the nazorg table's agenda is not asked about a second time:
the agenda item takes the release's announcement and its answers (found by review)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.announcements import AnnouncementKind
from bot.services.audit import CLI
from bot.storage.models import AgendaItem, Announcement, Case
from tests.app.test_detention import write_dpan
from tests.conftest import People


def test_a_release_is_not_asked_about_twice(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    core.detention.import_path(write_dpan(tmp_path / "dpan.csv", [people.identity()]), actor=CLI)
    # Tuesday 10:00: two working days before Thursday's nazorg table.
    clock.set(datetime(2026, 11, 24, 10, tzinfo=ZoneInfo("Europe/Amsterdam")))
    with core.db.session() as session:
        now = core.clock.now()
        core.agenda.plan(session, now)
        assert core.agenda.announce_due(session, now) == 0  # nothing announced anew
    with core.db.session() as session:
        [case] = session.exec(select(Case)).all()
        announcements = session.exec(
            select(Announcement).where(Announcement.case_id == case.id)
        ).all()
        [item] = session.exec(select(AgendaItem).where(col(AgendaItem.case_id) == case.id)).all()
    assert [a.kind for a in announcements] == [AnnouncementKind.DETENTION]
    # The item shows the release's answers on /agenda.
    assert item.announcement_id == announcements[0].id


@pytest.mark.parametrize("on_the_agenda_before", [True, False])
def test_a_rolled_over_release_keeps_its_announcement_and_is_chased_again(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path, on_the_agenda_before: bool
) -> None:
    """Rolled over with the release's announcement taken (the duty ran at the lead time),
    or taken only after the roll-over (it did not): the same either way."""
    amsterdam = ZoneInfo("Europe/Amsterdam")
    core.detention.import_path(write_dpan(tmp_path / "dpan.csv", [people.identity()]), actor=CLI)
    with core.db.session() as session:
        core.agenda.plan(session, core.clock.now())
    if on_the_agenda_before:
        clock.set(datetime(2026, 11, 24, 10, tzinfo=amsterdam))
        with core.db.session() as session:
            core.agenda.plan(session, core.clock.now())
            core.agenda.announce_due(session, core.clock.now())
    with core.db.session() as session:
        [release] = session.exec(select(Announcement)).all()
        subject, deadline = release.subject_id, release.deadline
        release.chased_at = core.clock.now()  # chased after its answer time, as the chaser does
        session.add(release)
    # Thursday's nazorg table passed undecided: the day after, the item rolls over to the
    # next Thursday (during Thursday it stays on that day's meeting).
    clock.set(datetime(2026, 11, 26, 23, 59, tzinfo=amsterdam))
    with core.db.session() as session:
        assert core.agenda.plan(session, core.clock.now()) == 0
    clock.set(datetime(2026, 11, 27, 8, tzinfo=amsterdam))
    with core.db.session() as session:
        assert core.agenda.plan(session, core.clock.now()) == 1
        assert core.agenda.announce_due(session, core.clock.now()) == 0
    with core.db.session() as session:
        first, rolled = session.exec(select(AgendaItem).order_by(col(AgendaItem.id))).all()
        [kept] = session.exec(select(Announcement)).all()
    assert rolled.rolled_over_from == first.meeting_id
    assert rolled.announcement_id == kept.id
    assert first.announcement_id == (kept.id if on_the_agenda_before else None)
    # Still about its release (same subject and answer time); chased once more the
    # working day before the new meeting.
    assert (kept.kind, kept.subject_id, kept.deadline) == (
        AnnouncementKind.DETENTION,
        subject,
        deadline,
    )
    assert kept.chase_from == datetime(2026, 12, 2, 10, tzinfo=amsterdam)
    assert kept.chased_at is None
