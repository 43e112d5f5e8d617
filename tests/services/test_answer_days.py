"""/stand's answer rates: ended days kept (table answer_days), and forgotten by the
database the moment a change could alter them, whoever makes the change.

The invariant: what `AnswerRates.over` gives is always what counting the whole
window again gives (`AnswerRates.count`). Every kind of change is made straight in
the tables and must not leave a kept day stale. The clock stands on Monday
2026-11-23 09:00 (Amsterdam).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.announcements import AnnouncementKind
from bot.domain.roles import Theme
from bot.domain.stand import ANSWER_RATE_DAYS
from bot.services.answer_rates import AnswerCounts, AnswerRates
from bot.storage.models import Announcement, Answer, AnswerDay
from tests.services.test_stand import Team, decided, facts, team  # noqa: F401 - the fixture

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TODAY = date(2026, 11, 23)
FIRST = TODAY - timedelta(days=ANSWER_RATE_DAYS - 1)
_subjects = itertools.count(1)


def rates(core: Core) -> AnswerRates:
    return AnswerRates(settings=core.settings, db=core.db)


def shown(core: Core) -> AnswerCounts:
    """What /stand's rates are built from (the kept days read back where there are)."""
    with core.db.session() as session:
        return rates(core).over(session, TODAY, ANSWER_RATE_DAYS)


def counted(core: Core) -> AnswerCounts:
    """The whole window counted again."""
    with core.db.session() as session:
        return AnswerCounts.of(rates(core).count(session, FIRST, None))


def kept_days(core: Core) -> set[date]:
    with core.db.session() as session:
        return set(session.exec(select(AnswerDay.day).distinct()).all())


def announce(session: Session, theme: Theme, at: datetime) -> int:
    row = Announcement(
        kind=AnnouncementKind.DETENTION.value,
        subject_id=next(_subjects),
        theme=theme.value,
        deadline=at + timedelta(days=2),
        created_at=at,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def answer(session: Session, announcement_id: int, organisation_id: int, member_id: int) -> int:
    row = Answer(
        announcement_id=announcement_id,
        organisation_id=organisation_id,
        member_id=member_id,
        known=False,
        answered_at=datetime(2026, 11, 23, 8, tzinfo=UTC),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


def at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=AMSTERDAM)


@pytest.fixture
def history(core: Core, team: Team) -> dict[str, int]:  # noqa: F811 - the fixture
    """Announcements over the window (one before it) and answers; the ids of a few."""
    with core.db.session() as session:
        before = announce(session, Theme.OGGZ, at(FIRST - timedelta(days=1)))
        answer(session, before, team.rn, team.coordinator)
        first = announce(session, Theme.OGGZ, at(FIRST, 0))  # the window's first moment
        answer(session, first, team.pol, team.partner)
        october = announce(session, Theme.JEUGD, at(date(2026, 10, 5)))
        answer(session, october, team.rn, team.coordinator)
        answered_by = answer(session, october, team.pol, team.partner)
        quiet = announce(session, Theme.OGGZ, at(date(2026, 11, 10)))  # nobody answered
        late_evening = announce(session, Theme.JEUGD, at(date(2026, 11, 20), 23))
        answer(session, late_evening, team.rn, team.coordinator)
        today = announce(session, Theme.OGGZ, at(TODAY, 8))
        answer(session, today, team.rn, team.coordinator)
    return {
        "before": before,
        "first": first,
        "october": october,
        "answer": answered_by,
        "late_evening": late_evening,
        "quiet": quiet,
        "today": today,
        "rn": team.rn,
        "pol": team.pol,
        "member": team.coordinator,
    }


def test_ended_days_are_kept_and_read_back_as_counted(core: Core, history: dict[str, int]) -> None:
    first = shown(core)
    assert first == counted(core)
    assert first.asked == {Theme.OGGZ.value: 3, Theme.JEUGD.value: 2}  # not the one before
    assert first.answered == {
        (history["pol"], Theme.OGGZ.value): 1,
        (history["rn"], Theme.OGGZ.value): 1,  # today's, counted live
        (history["rn"], Theme.JEUGD.value): 2,
        (history["pol"], Theme.JEUGD.value): 1,
    }
    # Every ended day of the window is kept (today never is), every theme.
    assert kept_days(core) == {FIRST + timedelta(days=n) for n in range(ANSWER_RATE_DAYS - 1)}
    with core.db.session() as session:
        asked_rows = session.exec(
            select(func.count()).select_from(AnswerDay).where(AnswerDay.organisation_id == 0)
        ).one()
    assert asked_rows == (ANSWER_RATE_DAYS - 1) * len(Theme)
    assert shown(core) == first


def test_kept_figures_are_what_is_shown_not_a_count_again(
    core: Core, history: dict[str, int]
) -> None:
    shown(core)
    # A kept row is read, not recounted (changed here behind the triggers' back, which
    # nothing but this test does).
    with core.db.session() as session:
        session.execute(
            update(AnswerDay)
            .where(col(AnswerDay.day) == date(2026, 10, 5), col(AnswerDay.organisation_id) == 0)
            .where(col(AnswerDay.theme) == Theme.JEUGD.value)
            .values(count=42)
        )
    assert shown(core).asked[Theme.JEUGD.value] == 42 + 1


def _late_answer(session: Session, ids: dict[str, int]) -> None:
    answer(session, ids["late_evening"], ids["pol"], ids["member"])


def _answer_deleted(session: Session, ids: dict[str, int]) -> None:
    session.execute(delete(Answer).where(col(Answer.id) == ids["answer"]))


def _answer_moved(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Answer).where(col(Answer.id) == ids["answer"]).values(announcement_id=ids["quiet"])
    )


def _announcement_deleted(session: Session, ids: dict[str, int]) -> None:
    session.execute(delete(Answer).where(col(Answer.announcement_id) == ids["october"]))
    session.execute(delete(Announcement).where(col(Announcement.id) == ids["october"]))


def _announcement_rethemed(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Announcement)
        .where(col(Announcement.id) == ids["october"])
        .values(theme=Theme.OGGZ.value)
    )


def _announcement_moved_out(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Announcement)
        .where(col(Announcement.id) == ids["first"])
        .values(created_at=at(FIRST - timedelta(days=3)))
    )


def _announcement_moved_in(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Announcement)
        .where(col(Announcement.id) == ids["before"])
        .values(created_at=at(date(2026, 11, 2)))
    )


def _announcement_of_the_past(session: Session, ids: dict[str, int]) -> None:
    announce(session, Theme.TOP_X, at(date(2026, 9, 9)))


CHANGES: dict[str, Callable[[Session, dict[str, int]], None]] = {
    "a late answer to an ended day": _late_answer,
    "an answer deleted": _answer_deleted,
    "an answer moved to another announcement": _answer_moved,
    "an announcement deleted with its answers": _announcement_deleted,
    "an announcement's theme corrected": _announcement_rethemed,
    "an announcement moved out of the window": _announcement_moved_out,
    "an announcement moved into the window": _announcement_moved_in,
    "an announcement dated in the past": _announcement_of_the_past,
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_to_an_ended_day_is_never_shown_stale(
    core: Core, history: dict[str, int], change: str
) -> None:
    before = shown(core)
    with core.db.session() as session:
        CHANGES[change](session, history)
    after = shown(core)
    assert after == counted(core)
    assert after != before  # each change alters a figure of an ended day


def test_a_late_answer_forgets_only_its_announcements_day(
    core: Core, history: dict[str, int]
) -> None:
    shown(core)
    everything = kept_days(core)
    with core.db.session() as session:
        _late_answer(session, history)
    # 20 November 23:00 in Amsterdam is 22:00 UTC: its local day is forgotten, not the next.
    assert kept_days(core) == everything - {date(2026, 11, 20)}


def test_everyday_work_keeps_the_ended_days(core: Core, history: dict[str, int]) -> None:
    shown(core)
    kept = kept_days(core)
    with core.db.session() as session:
        fresh = announce(session, Theme.JEUGD, at(TODAY, 9))
        answer(session, fresh, history["pol"], history["member"])
        answer(session, history["today"], history["pol"], history["member"])
    assert kept_days(core) == kept
    assert shown(core) == counted(core)


def test_days_that_left_the_window_are_forgotten(core: Core, history: dict[str, int]) -> None:
    with core.db.session() as session:
        rates(core).over(session, TODAY - timedelta(days=10), ANSWER_RATE_DAYS)
    assert min(kept_days(core)) == FIRST - timedelta(days=10)
    shown(core)
    assert min(kept_days(core)) == FIRST


def test_a_writer_in_flight_is_not_waited_for_long_and_nothing_stale_is_kept(
    core: Core, history: dict[str, int]
) -> None:
    if core.db.dialect != "postgresql":
        pytest.skip("SQLite: BEGIN IMMEDIATE lets no writer be in flight beside /stand")
    writer = core.db.engine.connect()
    try:
        transaction = writer.begin()
        writer.execute(
            Answer.__table__.insert().values(  # type: ignore[attr-defined]
                announcement_id=history["late_evening"],
                organisation_id=history["pol"],
                member_id=history["member"],
                known=True,
                answered_at=datetime(2026, 11, 23, 8, tzinfo=UTC),
            )
        )
        started = time.monotonic()
        figures = shown(core)
        assert time.monotonic() - started < 2
        assert kept_days(core) == set()  # counted, not kept: the writer was busy
        transaction.commit()
    finally:
        writer.close()
    assert figures != shown(core) == counted(core)


@pytest.mark.usefixtures("history")
def test_a_writer_waits_for_no_more_than_the_keeping(core: Core, history: dict[str, int]) -> None:
    if core.db.dialect != "postgresql":
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises /stand and writers")
    done = threading.Event()

    def write() -> None:
        with core.db.session() as session:
            _late_answer(session, history)
        done.set()

    # The days are kept in a transaction of their own: a writer need not wait for the
    # rest of the /stand that asked (its transaction still open here).
    with core.db.session() as session:
        rates(core).over(session, TODAY, ANSWER_RATE_DAYS)
        everything = kept_days(core)
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=10)
        assert done.is_set()
    assert kept_days(core) == everything - {date(2026, 11, 20)}
    assert shown(core) == counted(core)


def test_a_stand_that_carries_an_item_over_still_keeps_its_days(
    core: Core,
    team: Team,  # noqa: F811 - the fixture
    clock: FrozenClock,
) -> None:
    # /stand plans the agenda, which may carry an item over and so update its
    # announcement in /stand's own transaction. On PostgreSQL the days are kept in a
    # transaction of their own that locks announcements: counted after that update,
    # it would wait for /stand itself, give up and keep nothing (found in review).
    clock.set(datetime(2026, 11, 9, 9, tzinfo=AMSTERDAM))
    with core.db.session() as session:
        decided(session, Theme.OGGZ, None, opened=date(2026, 11, 6))
        core.agenda.plan(session, clock.now())
        assert core.agenda.announce_due(session, clock.now()) == 1
    clock.set(datetime(2026, 11, 23, 9, tzinfo=AMSTERDAM))
    facts(core, team.coordinator)  # the OGGZ item rolls over to Tuesday's meeting
    assert kept_days(core) == {FIRST + timedelta(days=n) for n in range(ANSWER_RATE_DAYS - 1)}
