"""The report figures (`vhbot report`, later /stand): periods, tables and the small-cell
rule. Pure rules.

What is counted is defined in shared/domain.md ("Counting the way the reports
count"); `bot.services.reports` counts it in the database. A report is a list of
`Figure`s, one per row of the tidy CSV (shared/formats.md, "Report CSV"): every
other layout (the annual reports' tables) is a pivot of them.

Small cells can identify people: a figure from 1 to 4 is shown as "<5" wherever
suppression applies (`shown_count`), and a median over fewer than 5 cases is not
shown at all (`shown_median`). This is the one place of that rule.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from bot.domain.commands import mark
from bot.domain.roles import Theme
from bot.domain.small_cells import LESS_THAN_SMALL, SMALL_CELL, is_small

# What the tables call the region as a whole (a person counts once there, even with
# cases in two municipalities) and every theme but nazorg (the triage table).
TOTAL = "Totaal"
ALL_BUT_NAZORG = "alle"
TRIAGE_THEMES: tuple[Theme, ...] = tuple(t for t in Theme if t is not Theme.NAZORG)

CSV_HEADER: tuple[str, ...] = (
    "tabel",
    "periode",
    "thema",
    "gemeente",
    "meldingen",
    "cases",
    "personen",
    "besluit",
    "mediaan_dagen",
)

_YEAR = re.compile(r"[0-9]{4}")
FIRST_YEAR = 1900
LAST_YEAR = 2999


class Table(StrEnum):
    """The report's tables: the `tabel` column of the CSV."""

    # Per theme, per municipality and Totaal: meldingen, cases, unique persons (seed 001
    # tables 3 to 6), for the period asked.
    THEME = "thema"
    # Every theme but nazorg, per quarter (and the whole period), per municipality and
    # Totaal: meldingen, cases, unique persons (seed 001 table 1).
    TRIAGE = "triage"
    # Per quarter (and the whole period), per theme, per municipality and Totaal: cases
    # in procesregie (seed 001 table 2).
    PROCESREGIE = "procesregie"
    # Per theme, per municipality and Totaal, per decision: the cases whose triage
    # decision was taken in the period, and their unique persons.
    DECISIONS = "besluiten"
    # Per theme (Totaal): the median days from a case's first melding to its triage
    # decision, over the cases decided in the period (`cases`).
    DAYS_TO_DECISION = "doorlooptijd_besluit"
    # Nazorg (Totaal): the median days from the release notification (the case's
    # opening) to its first accepted casemanager, over the cases accepted in the period.
    DAYS_TO_CASEMANAGER = "doorlooptijd_casemanager"


@dataclass(frozen=True, order=True)
class Period:
    """A calendar year, or one of its quarters (1 to 4), in local dates."""

    year: int
    quarter: int | None = None

    def __post_init__(self) -> None:
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise ValueError("year out of range")
        if self.quarter is not None and not 1 <= self.quarter <= 4:
            raise ValueError("quarter out of range")

    @property
    def label(self) -> str:
        """`2026` or `2026-Q3`: the `periode` column of the CSV."""
        return str(self.year) if self.quarter is None else f"{self.year}-Q{self.quarter}"

    @property
    def first_day(self) -> datetime.date:
        return datetime.date(self.year, 1 if self.quarter is None else 3 * self.quarter - 2, 1)

    @property
    def end_day(self) -> datetime.date:
        """The day after the period's last day."""
        if self.quarter is None or self.quarter == 4:
            return datetime.date(self.year + 1, 1, 1)
        return datetime.date(self.year, 3 * self.quarter + 1, 1)

    def quarters(self) -> tuple[Period, ...]:
        """The quarters of the period: a year's four, or the quarter itself."""
        if self.quarter is not None:
            return (self,)
        return tuple(Period(self.year, q) for q in (1, 2, 3, 4))

    def with_quarters(self) -> tuple[Period, ...]:
        """The periods the quarterly tables show: each quarter, then the whole year
        (a year's unique persons are no sum of its quarters'); a quarter alone."""
        quarters = self.quarters()
        return quarters if self.quarter is not None else (*quarters, self)


class BadPeriod(ValueError):
    """`parse_period` refused its input; `message_id` says why (English, for `_()`)."""

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id


MSG_BAD_YEAR = mark("--year must be a year such as 2026")
MSG_BAD_QUARTER = mark("--quarter must be 1, 2, 3 or 4")


def parse_period(year: str, quarter: str | None) -> Period:
    """The period of `--year Y [--quarter Q]` as typed.

    Raises:
        BadPeriod: the year is not four digits from 1900 to 2999, or the quarter not 1-4.
    """
    text = year.strip()
    if not _YEAR.fullmatch(text) or not FIRST_YEAR <= int(text) <= LAST_YEAR:
        raise BadPeriod(MSG_BAD_YEAR)
    if quarter is None:
        return Period(int(text))
    if quarter.strip() not in {"1", "2", "3", "4"}:
        raise BadPeriod(MSG_BAD_QUARTER)
    return Period(int(text), int(quarter.strip()))


@dataclass(frozen=True)
class Figure:
    """One row of the report: a table's figures for a period, theme and municipality.

    A figure that does not apply to its table is None (an empty CSV cell).
    """

    table: Table
    period: str
    theme: str  # a Theme value, ALL_BUT_NAZORG, or "" (not per theme)
    municipality: str  # a municipality of the region, or TOTAL
    meldingen: int | None = None
    cases: int | None = None
    persons: int | None = None
    decision: str = ""  # DECISIONS: a Decision value
    median_days: float | None = None


@dataclass(frozen=True)
class Report:
    """The figures of one period, in the order the tidy CSV lists them."""

    period: Period
    municipalities: tuple[str, ...]  # the rows of each table, Totaal not included
    figures: tuple[Figure, ...]

    def find(
        self, table: Table, period: str, theme: str, municipality: str, decision: str = ""
    ) -> Figure:
        """The figure of a table's cell; KeyError when the report has no such row."""
        return self._index[(table, period, theme, municipality, decision)]

    @cached_property
    def _index(self) -> Mapping[tuple[str, str, str, str, str], Figure]:
        return {(f.table, f.period, f.theme, f.municipality, f.decision): f for f in self.figures}


def shown_count(count: int | None, *, suppress: bool) -> str:
    """A count as a report shows it: "" when it does not apply; "<5" for 1 to 4 when
    small cells are suppressed (a figure about so few persons can identify them)."""
    if count is None:
        return ""
    if suppress and is_small(count):
        return LESS_THAN_SMALL
    return str(count)


def shown_median(
    median: float | None, cases: int | None, *, suppress: bool, decimal: str = "."
) -> str:
    """A median of days: "" when there is none, or when it is over fewer than 5 cases
    and small cells are suppressed; whole days without decimals, else one (`decimal`)."""
    # A median over fewer cases than a shown figure needs is left out altogether.
    if median is None or (suppress and (cases or 0) < SMALL_CELL):
        return ""
    if median == int(median):
        return str(int(median))
    return f"{median:.1f}".replace(".", decimal)


def median(histogram: Mapping[int, int]) -> float | None:
    """The median of values given as value -> how often; None when there are none.

    An even number of values gives the mean of the middle two.
    """
    total = sum(histogram.values())
    if total <= 0:
        return None
    middle = ((total - 1) // 2, total // 2)  # 0-based ranks of the middle value(s)
    found: list[int] = []
    seen = 0
    for value in sorted(histogram):
        count = histogram[value]
        found += [value for rank in middle if seen <= rank < seen + count]
        seen += count
    return sum(found) / 2


def municipality_order(configured: Sequence[str], found: Iterable[str]) -> tuple[str, ...]:
    """The rows of a table: the configured municipalities in their order, then any other
    one the data holds (configured once, since removed), alphabetically."""
    extra = sorted(set(found) - set(configured))
    return (*configured, *extra)
