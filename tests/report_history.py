"""Histories whose true counts are known, and what the report must say of them.

A history is made as cases (who, which theme, its meldingen with their dates and
municipalities, its decision and closing): the truth. Its rows are what a
spreadsheet moved in with `vhbot import meldingen --history` would hold, in any
order. `expected` counts the truth with the definitions of shared/domain.md
("Counting the way the reports count"), in plain Python over dates, apart from
the service's SQL: the tests compare every cell of every table with it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import median as stat_median

from bot.domain.identity import Identity
from bot.domain.reports import ALL_BUT_NAZORG, TOTAL, Period, Table
from bot.domain.roles import Theme
from tests.services.test_meldingen_import import MELDINGEN_HEADER

HISTORY_HEADER = [*MELDINGEN_HEADER, "besluit", "besluit_datum", "gesloten_op"]
DECISIONS = ("procesregie", "doorgeleid", "afgesloten")


@dataclass
class TrueCase:
    """A case as it really went. `decisions`: (decision, day) in the order taken."""

    person: int
    theme: str
    meldingen: list[tuple[date, str]]  # (day, municipality), the first opens the case
    decisions: list[tuple[str, date]] = field(default_factory=list)
    closed_on: date | None = None
    # Whether the rows say gesloten_op (else the closing is a decision's day).
    closing_given: bool = False

    @property
    def opened_on(self) -> date:
        return min(day for day, _ in self.meldingen)

    @property
    def municipality(self) -> str:
        return min(self.meldingen)[1]

    @property
    def procesregie_on(self) -> date | None:
        days = [day for decision, day in self.decisions if decision == "procesregie"]
        return min(days) if days else None

    @property
    def route(self) -> tuple[str, date] | None:
        """Its triage decision and day: procesregie once taken into it, else the last."""
        if self.procesregie_on is not None:
            return "procesregie", self.procesregie_on
        return self.decisions[-1] if self.decisions else None


@dataclass(frozen=True)
class HistoryRow:
    person: int
    bron_id: str
    theme: str
    municipality: str
    day: date
    besluit: str = ""
    besluit_datum: date | None = None
    gesloten_op: date | None = None

    def cells(self, identity: Identity) -> list[str]:
        return [
            self.bron_id, "politie", self.theme, identity.surname, identity.given_names,
            identity.birth_date.isoformat(), identity.bsn or "", self.municipality,
            self.day.isoformat(), f"Opmerking {self.bron_id}", self.besluit,
            self.besluit_datum.isoformat() if self.besluit_datum else "",
            self.gesloten_op.isoformat() if self.gesloten_op else "",
        ]  # fmt: skip


def rows_of(cases: Sequence[TrueCase]) -> list[HistoryRow]:
    """The spreadsheet rows of the cases: one per melding; the first row of a case names
    its first decision, the last its last decision and closing (rows in between say
    nothing of them, as spreadsheets often leave them blank)."""
    rows: list[HistoryRow] = []
    for number, case in enumerate(cases):
        meldingen = sorted(case.meldingen)
        for index, (day, municipality) in enumerate(meldingen):
            besluit, besluit_datum, gesloten_op = "", None, None
            last = index == len(meldingen) - 1
            if case.decisions and (index == 0 or last):
                decision, on = case.decisions[0] if index == 0 else case.decisions[-1]
                besluit, besluit_datum = decision, on
            if last and case.closing_given:
                gesloten_op = case.closed_on
            rows.append(
                HistoryRow(
                    case.person,
                    f"H-{number}-{index}",
                    case.theme,
                    municipality,
                    day,
                    besluit,
                    besluit_datum,
                    gesloten_op,
                )
            )
    return rows


def random_history(
    seed: int, *, persons: int, municipalities: Sequence[str], first: date, last: date
) -> list[TrueCase]:
    """Cases of `persons` people from `first` to `last`: some people with cases of several
    themes, relapses after a closing, meldingen from other municipalities, cases over
    quarter and year boundaries, and every kind of decision and closing."""
    rng = random.Random(seed)
    span = (last - first).days
    cases: list[TrueCase] = []
    for person in range(persons):
        home = rng.choice(municipalities)
        for theme in rng.sample([t.value for t in Theme], rng.choice((1, 1, 1, 2, 3))):
            day = first + timedelta(days=rng.randrange(span // 2))
            while day <= last:
                if rng.random() < 0.15:
                    home = rng.choice(municipalities)  # moved
                count = rng.choice((1, 1, 2, 3))
                days = sorted({day + timedelta(days=rng.randrange(0, 90)) for _ in range(count)})
                days = [d for d in days if d <= last] or [day]
                meldingen = [
                    (d, home if i == 0 or rng.random() < 0.7 else rng.choice(municipalities))
                    for i, d in enumerate(days)
                ]
                case = TrueCase(person, theme, meldingen)
                end = days[-1]
                kind = rng.choice(
                    ("open", "procesregie", "procesregie-closed", "procesregie-afgesloten",
                     "doorgeleid", "afgesloten", "closed")
                )  # fmt: skip
                if kind.startswith("procesregie"):
                    on = days[0] + timedelta(days=rng.randrange(0, 40))
                    case.decisions.append(("procesregie", min(on, last)))
                if kind == "procesregie-closed" or kind == "closed":
                    case.closed_on = max(end, case.decisions[-1][1] if case.decisions else end)
                    case.closed_on += timedelta(days=rng.randrange(0, 120))
                    case.closing_given = True
                elif kind == "procesregie-afgesloten" and len(days) > 1:
                    closed = max(end, case.decisions[0][1]) + timedelta(days=rng.randrange(60))
                    case.decisions.append(("afgesloten", closed))
                    case.closed_on = closed
                elif kind in ("doorgeleid", "afgesloten"):
                    on = end + timedelta(days=rng.randrange(0, 30))
                    case.decisions.append((kind, on))
                    case.closed_on = on
                if case.closed_on is not None and case.closed_on > last:
                    case.closed_on = last if case.closing_given else None
                    if not case.closing_given:
                        case.decisions = [d for d in case.decisions if d[1] <= last]
                        case.closed_on = None
                case.decisions = [(d, min(on, last)) for d, on in case.decisions]
                cases.append(case)
                if case.closed_on is None:
                    break  # an open case: no relapse after it
                day = case.closed_on + timedelta(days=rng.randrange(1, 200))
    return cases


Key = tuple[str, str, str, str, str]
Cell = tuple[int | None, int | None, int | None, float | None]


def expected(
    cases: Sequence[TrueCase], period: Period, municipalities: Sequence[str]
) -> dict[Key, Cell]:
    """Every cell of every table of `period`: (table, period, theme, municipality,
    decision) -> (meldingen, cases, persons, median days)."""
    themes = [t.value for t in Theme]
    places = [*municipalities, TOTAL]

    def within(day: date | None, p: Period) -> bool:
        return day is not None and p.first_day <= day < p.end_day

    def active(case: TrueCase, p: Period) -> bool:
        return case.opened_on < p.end_day and (
            case.closed_on is None or case.closed_on >= p.first_day
        )

    def place(municipality: str, where: str) -> bool:
        return where in (TOTAL, municipality)

    def counts(selected: list[TrueCase], p: Period, themes_in: set[str], where: str) -> Cell:
        meldingen = sum(
            1
            for case in cases
            if case.theme in themes_in
            for day, municipality in case.meldingen
            if within(day, p) and place(municipality, where)
        )
        chosen = [c for c in selected if c.theme in themes_in and place(c.municipality, where)]
        return meldingen, len(chosen), len({c.person for c in chosen}), None

    cells: dict[Key, Cell] = {}
    quarterly = period.with_quarters()
    triage_themes = set(themes) - {Theme.NAZORG.value}
    for where in places:
        for p in quarterly:
            selected = [c for c in cases if active(c, p)]
            cells[(Table.TRIAGE, p.label, ALL_BUT_NAZORG, where, "")] = counts(
                selected, p, triage_themes, where
            )
            for theme in themes:
                in_procesregie = [
                    c
                    for c in selected
                    if c.theme == theme
                    and c.procesregie_on is not None
                    and c.procesregie_on < p.end_day
                    and place(c.municipality, where)
                ]
                cells[(Table.PROCESREGIE, p.label, theme, where, "")] = (
                    None, len(in_procesregie), None, None,
                )  # fmt: skip
    selected = [c for c in cases if active(c, period)]
    for theme in themes:
        for where in places:
            cells[(Table.THEME, period.label, theme, where, "")] = counts(
                selected, period, {theme}, where
            )
            for decision in DECISIONS:
                decided = [
                    c
                    for c in cases
                    if c.theme == theme
                    and c.route is not None
                    and c.route[0] == decision
                    and within(c.route[1], period)
                    and place(c.municipality, where)
                ]
                cells[(Table.DECISIONS, period.label, theme, where, decision)] = (
                    None, len(decided), len({c.person for c in decided}), None,
                )  # fmt: skip
        days = [
            (c.route[1] - c.opened_on).days
            for c in cases
            if c.theme == theme and c.route is not None and within(c.route[1], period)
        ]
        cells[(Table.DAYS_TO_DECISION, period.label, theme, TOTAL, "")] = (
            None, len(days), None, float(stat_median(days)) if days else None,
        )  # fmt: skip
    # No casemanagers in a history.
    cells[(Table.DAYS_TO_CASEMANAGER, period.label, Theme.NAZORG.value, TOTAL, "")] = (
        None, 0, None, None,
    )  # fmt: skip
    return cells
