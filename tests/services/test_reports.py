"""The report's figures from a history moved in with --history: every cell of every table.

The clock stands on Monday 2026-11-23 (Amsterdam); histories end the day before.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.config import MIDDEN_LIMBURG
from bot.core import Core
from bot.domain.reports import ALL_BUT_NAZORG, TOTAL, Period, Report, Table
from bot.services.audit import CLI
from bot.services.reports import NoData
from bot.storage.models import AuditEntry, Case, CaseAssignment, Member, Organisation
from tests.conftest import People
from tests.report_history import (
    HISTORY_HEADER,
    Cell,
    HistoryRow,
    Key,
    TrueCase,
    expected,
    random_history,
    rows_of,
)
from tests.services.test_meldingen_import import meldingen_csv

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
D = date.fromisoformat


def write_history(
    path: Path, rows: Sequence[HistoryRow], people: People, *, shuffle: int | None = None
) -> Path:
    identities: dict[int, object] = {}
    ordered = list(rows)
    if shuffle is not None:
        random.Random(shuffle).shuffle(ordered)
    lines = []
    for row in ordered:
        if row.person not in identities:
            identities[row.person] = people.identity()
        lines.append(row.cells(identities[row.person]))  # type: ignore[arg-type]
    path.write_bytes(meldingen_csv(lines, header=HISTORY_HEADER))
    return path


def cells_of(report: Report) -> dict[Key, Cell]:
    return {
        (f.table, f.period, f.theme, f.municipality, f.decision): (
            f.meldingen,
            f.cases,
            f.persons,
            f.median_days,
        )
        for f in report.figures
    }


def assert_every_cell(core: Core, cases: Sequence[TrueCase], period: Period) -> Report:
    report = core.reports.report(period, actor=CLI)
    want = expected(cases, period, MIDDEN_LIMBURG)
    got = cells_of(report)
    assert sorted(got) == sorted(want)  # every cell there, and no other
    wrong = {key: (got[key], want[key]) for key in want if got[key] != want[key]}
    assert wrong == {}
    assert len(report.figures) == len(got)  # no cell twice
    return report


# -- the hand-made history: its figures written out ------------------------------------------

# Person 0 (A): top_x in Roermond from November 2025, procesregie, closed in February; a
# relapse in Weert in May (moved), joined in June by a melding from Roermond; a jeugd case
# in March closed a week on. Person 1 (B): verward_gedrag in Leudal over every quarter,
# procesregie from April. Person 2 (C): oggz in Maasgouw, referred in 2025 (closed before
# the period), again from December 2025. Person 3 (D): nazorg in Roermond, procesregie,
# closed in July, a relapse in September. Person 4 (E): radicalisering in Weert, closed.
# Person 5 (G): multiproblematiek in Nederweert, closed on New Year's Day. Person 6 (H):
# top_x in Roerdalen, meldingen on both sides of a quarter's end.
HAND = [
    TrueCase(0, "top_x", [(D("2025-11-10"), "Roermond")], [("procesregie", D("2025-11-20"))],
             D("2026-02-15"), closing_given=True),
    TrueCase(0, "top_x", [(D("2026-05-04"), "Weert"), (D("2026-06-01"), "Roermond")]),
    TrueCase(0, "jeugd", [(D("2026-03-03"), "Roermond")], [("afgesloten", D("2026-03-10"))],
             D("2026-03-10")),
    TrueCase(1, "verward_gedrag", [(D("2026-02-20"), "Leudal"), (D("2026-08-15"), "Leudal")],
             [("procesregie", D("2026-04-02"))]),
    TrueCase(2, "oggz", [(D("2025-03-01"), "Maasgouw")], [("doorgeleid", D("2025-04-01"))],
             D("2025-04-01")),
    TrueCase(2, "oggz", [(D("2025-12-20"), "Maasgouw")]),
    TrueCase(3, "nazorg", [(D("2026-01-05"), "Roermond")], [("procesregie", D("2026-01-10"))],
             D("2026-07-01"), closing_given=True),
    TrueCase(3, "nazorg", [(D("2026-09-10"), "Roermond")]),
    TrueCase(4, "radicalisering", [(D("2026-10-01"), "Weert")], [("afgesloten", D("2026-10-05"))],
             D("2026-10-05")),
    TrueCase(5, "multiproblematiek", [(D("2025-12-31"), "Nederweert")], [], D("2026-01-01"),
             closing_given=True),
    TrueCase(6, "top_x", [(D("2026-03-31"), "Roerdalen"), (D("2026-04-01"), "Roerdalen")]),
]  # fmt: skip


def test_a_hand_made_history_gives_the_figures_counted_by_hand(
    core: Core, people: People, tmp_path: Path
) -> None:
    path = write_history(tmp_path / "historie.csv", rows_of(HAND), people, shuffle=7)
    imported = core.history.import_path(path, actor=CLI)
    assert (imported.new, imported.duplicate, imported.rejected) == (14, 0, 0)
    assert len(imported.cases_opened) == len(HAND)  # relapses are new cases

    report = assert_every_cell(core, HAND, Period(2026))

    def cell(table: Table, period: str, theme: str, where: str, decision: str = "") -> Cell:
        f = report.find(table, period, theme, where, decision)
        return f.meldingen, f.cases, f.persons, f.median_days

    # Top X: A's two cases (one per municipality, A counted once in the total) and H's.
    assert cell(Table.THEME, "2026", "top_x", "Roermond") == (1, 1, 1, None)
    assert cell(Table.THEME, "2026", "top_x", "Weert") == (1, 1, 1, None)
    assert cell(Table.THEME, "2026", "top_x", "Roerdalen") == (2, 1, 1, None)
    assert cell(Table.THEME, "2026", "top_x", TOTAL) == (4, 3, 2, None)
    # Oggz: the case referred in 2025 does not count; the relapse of December does.
    assert cell(Table.THEME, "2026", "oggz", "Maasgouw") == (0, 1, 1, None)
    # Nazorg: D's case in procesregie and the relapse after its closing: 2 cases, 1 person.
    assert cell(Table.THEME, "2026", "nazorg", TOTAL) == (2, 2, 1, None)
    # Triage, first quarter: A (top_x and jeugd) in Roermond, B, C, G (closed on its first
    # day), H; nazorg is not triage.
    assert cell(Table.TRIAGE, "2026-Q1", ALL_BUT_NAZORG, "Roermond") == (1, 2, 1, None)
    assert cell(Table.TRIAGE, "2026-Q1", ALL_BUT_NAZORG, "Nederweert") == (0, 1, 1, None)
    assert cell(Table.TRIAGE, "2026-Q1", ALL_BUT_NAZORG, TOTAL) == (3, 6, 5, None)
    assert cell(Table.TRIAGE, "2026-Q2", ALL_BUT_NAZORG, "Nederweert") == (0, 0, 0, None)
    assert cell(Table.TRIAGE, "2026-Q2", ALL_BUT_NAZORG, "Roerdalen") == (1, 1, 1, None)
    # The year: A has cases in Roermond and Weert; the region counts A once.
    assert cell(Table.TRIAGE, "2026", ALL_BUT_NAZORG, "Roermond") == (2, 2, 1, None)
    assert cell(Table.TRIAGE, "2026", ALL_BUT_NAZORG, "Weert") == (2, 2, 2, None)
    assert cell(Table.TRIAGE, "2026", ALL_BUT_NAZORG, TOTAL) == (8, 8, 6, None)
    # Procesregie: A's top_x case in Q1 only (closed in February), B's from Q2, D's Q1-Q3.
    top_x = [cell(Table.PROCESREGIE, f"2026-Q{q}", "top_x", "Roermond")[1] for q in (1, 2)]
    assert top_x == [1, 0]
    verward = [cell(Table.PROCESREGIE, f"2026-Q{q}", "verward_gedrag", "Leudal")[1] for q in (1, 2)]
    assert verward == [0, 1]
    nazorg = [cell(Table.PROCESREGIE, f"2026-Q{q}", "nazorg", TOTAL)[1] for q in (1, 2, 3, 4)]
    assert nazorg == [1, 1, 1, 0]
    assert cell(Table.PROCESREGIE, "2026", "nazorg", "Roermond")[1] == 1
    # Decisions of 2026 and the days from the first melding: jeugd 7, verward_gedrag 41
    # (across the change to summer time), nazorg 5, radicalisering 4.
    assert cell(Table.DECISIONS, "2026", "jeugd", TOTAL, "afgesloten")[1:3] == (1, 1)
    assert cell(Table.DECISIONS, "2026", "top_x", TOTAL, "procesregie")[1] == 0  # 2025's
    medians = {
        theme: cell(Table.DAYS_TO_DECISION, "2026", theme, TOTAL)[3]
        for theme in ("jeugd", "verward_gedrag", "nazorg", "radicalisering", "top_x")
    }
    assert medians == {
        "jeugd": 7.0, "verward_gedrag": 41.0, "nazorg": 5.0, "radicalisering": 4.0,
        "top_x": None,
    }  # fmt: skip

    # A quarter on its own, and the year before.
    assert_every_cell(core, HAND, Period(2026, 2))
    earlier = assert_every_cell(core, HAND, Period(2025))
    assert earlier.find(Table.THEME, "2025", "oggz", "Maasgouw").cases == 2


@pytest.mark.parametrize("seed", [1, 2])
def test_a_generated_history_in_any_order_gives_every_cell_as_counted_from_the_truth(
    core: Core, people: People, tmp_path: Path, seed: int
) -> None:
    cases = random_history(
        seed, persons=60, municipalities=MIDDEN_LIMBURG, first=D("2024-10-01"),
        last=D("2026-11-22"),
    )  # fmt: skip
    rows = rows_of(cases)
    path = write_history(tmp_path / "historie.csv", rows, people, shuffle=seed)
    imported = core.history.import_path(path, actor=CLI, batch_size=37)
    assert (imported.new, imported.rejected) == (len(rows), 0)
    assert len(imported.cases_opened) == len(cases)
    # Enough of everything that the test means something.
    assert sum(1 for c in cases if c.closed_on is not None) > 20
    assert len({c.person for c in cases}) < len(cases)
    for period in (Period(2026), Period(2025), Period(2026, 1), Period(2025, 4)):
        assert_every_cell(core, cases, period)
    # The same file again changes nothing.
    again = core.history.import_path(path, actor=CLI)
    assert (again.new, again.duplicate) == (0, len(rows))
    assert_every_cell(core, cases, Period(2026))


def test_the_days_to_an_accepted_casemanager_and_a_period_without_data(
    core: Core, people: People, tmp_path: Path
) -> None:
    """From a nazorg case's opening (its release notification) to its first accepted
    casemanager, over the cases accepted in the period; a declined offer does not count."""
    cases = [
        TrueCase(n, "nazorg", [(D(day), "Weert")])
        for n, day in enumerate(["2026-02-02", "2026-03-20", "2026-03-25", "2026-06-01"])
    ]
    write_history(tmp_path / "h.csv", rows_of(cases), people)
    core.history.import_path(tmp_path / "h.csv", actor=CLI)
    with core.db.session() as session:
        organisation = Organisation(
            code="RN", name="RN", themes="nazorg", created_at=_at("2026-01-01")
        )
        session.add(organisation)
        session.flush()
        member = Member(telegram_id=1, name_ct="x", organisation_id=organisation.id or 0,
                        roles="casemanager", created_at=_at("2026-01-01"))  # fmt: skip
        session.add(member)
        session.flush()
        by_opening = {
            c.opened_at.astimezone(AMSTERDAM).date(): c for c in session.exec(select(Case))
        }

        def offer(opened: str, state: str, answered: str | None, current: bool | None) -> None:
            assignment = CaseAssignment(
                case_id=by_opening[D(opened)].id or 0, member_id=member.id or 0,
                state=state, assigned_by=member.id or 0, offered_at=_at(opened),
                answered_at=_at(answered) if answered else None,
            )  # fmt: skip
            session.add(assignment)
            session.flush()
            assignment.current = current  # NULL only by an update (the column's default)
            session.add(assignment)
            session.flush()

        offer("2026-02-02", "declined", "2026-02-03", None)  # declined: not counted
        offer("2026-02-02", "withdrawn", "2026-02-09", None)  # accepted, then reassigned
        offer("2026-02-02", "accepted", "2026-02-20", True)  # a later acceptance
        offer("2026-03-20", "accepted", "2026-04-02", True)  # 13 days, over summer time
        offer("2026-03-25", "accepted", "2026-03-27", True)
        offer("2026-06-01", "offered", None, True)  # no answer yet
    report = core.reports.report(Period(2026), actor=CLI)
    figure = report.find(Table.DAYS_TO_CASEMANAGER, "2026", "nazorg", TOTAL)
    assert (figure.cases, figure.median_days) == (3, 7.0)  # 7, 13 and 2 days
    second = core.reports.report(Period(2026, 2), actor=CLI)
    figure = second.find(Table.DAYS_TO_CASEMANAGER, "2026-Q2", "nazorg", TOTAL)
    assert (figure.cases, figure.median_days) == (1, 13.0)
    first = core.reports.report(Period(2026, 1), actor=CLI)
    figure = first.find(Table.DAYS_TO_CASEMANAGER, "2026-Q1", "nazorg", TOTAL)
    assert (figure.cases, figure.median_days) == (2, 4.5)

    with pytest.raises(NoData):
        core.reports.report(Period(2024), actor=CLI)
    with core.db.session() as session:
        made = session.exec(select(AuditEntry).where(AuditEntry.action == "report.made")).all()
    assert [e.subject for e in made] == ["report:2026", "report:2026-Q2", "report:2026-Q1"]


def _at(day: str) -> datetime:
    return datetime.combine(D(day), datetime.min.time(), tzinfo=AMSTERDAM).replace(hour=10)
