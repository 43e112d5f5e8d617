"""/stand's ended quarters: kept (table quarter_figures), and forgotten by the database the
moment a change could alter them, whoever makes the change.

The invariant: what `Reports.quarters` gives is always what counting again gives
(`Reports.per_theme_periods`). Every kind of change is made straight in the tables, as
an import, a history import, a merge or retention would, and must not leave a kept
quarter stale. The clock stands on Monday 2026-11-23 (Q4 2026).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from bot.core import Core
from bot.domain.roles import Theme
from bot.domain.stand import last_quarters
from bot.services.reports import COUNTING_RULES
from bot.storage.models import Case, Melding, QuarterFigures
from tests import plan_factory as pf
from tests.services.test_stand import melding

TODAY = date(2026, 11, 23)
QUARTERS = last_quarters(TODAY)  # 2025 Q1 .. 2026 Q4
Figures = list[Mapping[Theme, tuple[int, int, int]]]


def kept_quarters(core: Core) -> set[date]:
    with core.db.session() as session:
        return set(session.exec(select(QuarterFigures.first_day).distinct()).all())


def shown(core: Core) -> Figures:
    """What /stand's figures are (the kept quarters read back where there are)."""
    with core.db.session() as session:
        return core.reports.quarters(session, QUARTERS, TODAY)


def counted(core: Core) -> Figures:
    """Every quarter counted again."""
    with core.db.session() as session:
        return core.reports.per_theme_periods(
            session, [(q.start, min(q.end, TODAY)) for q in QUARTERS]
        )


@pytest.fixture
def history(core: Core) -> dict[str, int]:
    """Cases and meldingen spread over the chart's quarters; the ids of a few."""
    with core.db.session() as session:
        old = pf.case(session, opened=date(2025, 2, 10), theme=Theme.JEUGD, procesregie=False)
        old.closed_at = pf.local(date(2025, 8, 20))
        session.add(old)
        running = pf.case(session, opened=date(2025, 5, 5), theme=Theme.OGGZ)
        late = pf.case(session, opened=date(2026, 1, 15), theme=Theme.NAZORG)
        twin = pf.case(session, opened=date(2025, 5, 10), theme=Theme.OGGZ, procesregie=False)
        twin.closed_at = pf.local(date(2025, 6, 10))  # another person beside `running`
        session.add(twin)
        for day, theme in [
            (date(2025, 2, 10), Theme.JEUGD),
            (date(2025, 6, 1), Theme.OGGZ),
            (date(2026, 2, 3), Theme.JEUGD),
            (date(2026, 11, 2), Theme.OGGZ),
        ]:
            melding(session, theme=theme, on=day)
        session.flush()
        some = session.exec(select(Melding.id).where(Melding.event_date == date(2025, 6, 1)))
        ids = {
            "old": old.id,
            "running": running.id,
            "late": late.id,
            "twin": twin.id,
            "melding": some.one(),
        }
    assert all(ids.values())
    return {k: v for k, v in ids.items() if v is not None}


def test_ended_quarters_are_kept_and_read_back_as_counted(
    core: Core, history: dict[str, int]
) -> None:
    first = shown(core)
    assert first == counted(core)
    # The 7 ended quarters are kept, every theme; the current one never is.
    assert kept_quarters(core) == {q.start for q in QUARTERS[:-1]}
    with core.db.session() as session:
        rows = session.exec(select(func.count()).select_from(QuarterFigures)).one()
    assert rows == 7 * len(Theme)
    assert shown(core) == first
    assert first[1][Theme.JEUGD] == (0, 1, 1)  # 2025 Q2: the old case, no melding
    assert first[1][Theme.OGGZ] == (1, 2, 2)


def test_kept_figures_are_what_the_chart_shows_not_a_count_again(
    core: Core, history: dict[str, int]
) -> None:
    shown(core)
    # A kept row is read, not recounted (changed here behind the triggers' back, which
    # nothing but this test does).
    with core.db.session() as session:
        session.execute(
            update(QuarterFigures)
            .where(col(QuarterFigures.first_day) == date(2025, 4, 1))
            .where(col(QuarterFigures.theme) == Theme.OGGZ.value)
            .values(meldingen=42)
        )
    assert shown(core)[1][Theme.OGGZ] == (42, 2, 2)


def _late_melding(session: Session, ids: dict[str, int]) -> None:
    melding(session, theme=Theme.OGGZ, on=date(2025, 5, 30))


def _melding_deleted(session: Session, ids: dict[str, int]) -> None:
    session.execute(delete(Melding).where(col(Melding.id) == ids["melding"]))


def _melding_moved(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Melding)
        .where(col(Melding.id) == ids["melding"])
        .values(event_date=date(2025, 12, 1))
    )


def _melding_rethemed(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Melding).where(col(Melding.id) == ids["melding"]).values(theme=Theme.JEUGD.value)
    )


def _history_case(session: Session, ids: dict[str, int]) -> None:
    case = pf.case(session, opened=date(2025, 3, 3), theme=Theme.OGGZ, procesregie=False)
    case.closed_at = pf.local(date(2025, 10, 2))
    session.add(case)


def _case_deleted(session: Session, ids: dict[str, int]) -> None:
    session.execute(delete(Case).where(col(Case.id) == ids["old"]))


def _closed_in_the_past(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Case)
        .where(col(Case.id) == ids["running"])
        .values(closed_at=pf.local(date(2025, 9, 1)))
    )


def _reopened(session: Session, ids: dict[str, int]) -> None:
    session.execute(update(Case).where(col(Case.id) == ids["old"]).values(closed_at=None))


def _merged(session: Session, ids: dict[str, int]) -> None:
    # The twin turns out to be the running case's person: one unique person fewer.
    person = session.exec(select(Case.person_id).where(Case.id == ids["running"])).one()
    session.execute(update(Case).where(col(Case.id) == ids["twin"]).values(person_id=person))


def _rethemed(session: Session, ids: dict[str, int]) -> None:
    session.execute(update(Case).where(col(Case.id) == ids["late"]).values(theme=Theme.JEUGD.value))


def _reopened_earlier(session: Session, ids: dict[str, int]) -> None:
    session.execute(
        update(Case)
        .where(col(Case.id) == ids["late"])
        .values(opened_at=pf.local(date(2025, 11, 30)))
    )


CHANGES: dict[str, Callable[[Session, dict[str, int]], None]] = {
    "a melding dated in an ended quarter": _late_melding,
    "a melding deleted (retention)": _melding_deleted,
    "a melding's date corrected": _melding_moved,
    "a melding's theme corrected": _melding_rethemed,
    "a case of the past (history import)": _history_case,
    "a case deleted (retention)": _case_deleted,
    "a case closed at a past moment": _closed_in_the_past,
    "a closed case reopened": _reopened,
    "persons merged": _merged,
    "a case's theme corrected": _rethemed,
    "a case's opening moved back": _reopened_earlier,
}


@pytest.mark.parametrize("change", CHANGES, ids=list(CHANGES))
def test_a_change_to_an_ended_quarter_is_never_shown_stale(
    core: Core, history: dict[str, int], change: str
) -> None:
    before = shown(core)
    with core.db.session() as session:
        CHANGES[change](session, history)
    after = shown(core)
    assert after == counted(core)
    assert after != before  # each change alters a figure of an ended quarter


def test_everyday_work_keeps_the_ended_quarters(core: Core, history: dict[str, int]) -> None:
    shown(core)
    kept = kept_quarters(core)
    with core.db.session() as session:
        # Today's melding, a case opened today, a running case closed today.
        melding(session, theme=Theme.OGGZ, on=TODAY)
        pf.case(session, opened=TODAY, theme=Theme.JEUGD)
        session.execute(
            update(Case)
            .where(col(Case.id) == history["running"])
            .values(closed_at=core.clock.now())
        )
    assert kept_quarters(core) == kept
    assert shown(core) == counted(core)


def test_a_writer_in_flight_is_not_waited_for_long_and_nothing_stale_is_kept(
    core: Core, history: dict[str, int]
) -> None:
    if core.db.dialect != "postgresql":
        pytest.skip("SQLite: BEGIN IMMEDIATE lets no writer be in flight beside /stand")
    with core.db.session() as session:
        person = session.exec(select(Case.person_id).where(Case.id == history["running"])).one()
    writer = core.db.engine.connect()
    try:
        transaction = writer.begin()
        writer.execute(
            Melding.__table__.insert().values(  # type: ignore[attr-defined]
                bron_id="in-flight",
                soort="melding",
                bron="politie",
                theme=Theme.OGGZ.value,
                person_id=person,
                municipality="Weert",
                event_date=date(2025, 5, 30),
                received_at=datetime(2026, 11, 23, 8, 0, tzinfo=UTC),
                source_line=0,
            )
        )
        started = time.monotonic()
        figures = shown(core)
        assert time.monotonic() - started < 2
        assert kept_quarters(core) == set()  # counted, not kept: the writer was busy
        transaction.commit()
    finally:
        writer.close()
    assert figures != shown(core) == counted(core)


@pytest.mark.usefixtures("history")
def test_a_writer_waits_for_no_more_than_the_keeping(core: Core) -> None:
    if core.db.dialect != "postgresql":
        pytest.skip("SQLite: BEGIN IMMEDIATE serialises /stand and writers")
    done = threading.Event()

    def write() -> None:
        with core.db.session() as session:
            melding(session, theme=Theme.OGGZ, on=date(2025, 5, 30))
        done.set()

    # The figures are kept in a transaction of their own: a writer need not wait for the
    # rest of the /stand that asked (its transaction still open here).
    with core.db.session() as session:
        core.reports.quarters(session, QUARTERS, TODAY)
        assert kept_quarters(core) == {q.start for q in QUARTERS[:-1]}
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=10)
        assert done.is_set()
    # The writer's melding lies in 2025 Q2: that quarter is forgotten, the others kept.
    assert kept_quarters(core) == {q.start for q in QUARTERS[:-1]} - {date(2025, 4, 1)}
    assert shown(core) == counted(core)


def test_figures_kept_under_other_counting_rules_are_not_read(
    core: Core, history: dict[str, int]
) -> None:
    shown(core)
    with core.db.session() as session:
        session.execute(update(QuarterFigures).values(rules=0, meldingen=99))
    assert shown(core) == counted(core)
    with core.db.session() as session:
        rules = set(session.exec(select(QuarterFigures.rules).distinct()).all())
    assert rules == {0, COUNTING_RULES}
