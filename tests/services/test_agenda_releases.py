"""A detention release on the nazorg table's agenda is not asked about a second time:
the agenda item takes the release's announcement and its answers (found by review)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

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
