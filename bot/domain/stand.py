"""/stand's pure parts: quarters, the figures per theme, and the chart's data.

The chart shows meldingen and cases per theme over the last CHART_QUARTERS
quarters. Its data is prepared here, where the small-cell rule
(bot.domain.small_cells) is applied: a count of 1 to 4 becomes a bar of the
fixed height SMALL_CELL marked small (drawn hatched, labelled "<5"), so the
drawing never learns the count itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import NamedTuple

from bot.domain.roles import Theme
from bot.domain.small_cells import SMALL_CELL, is_small

# Quarters the chart shows, the current one last.
CHART_QUARTERS = 8
# Releases from detention shown: from today, this many days (today included).
RELEASES_DAYS = 14
# Answer rates are counted over the announcements of this many local days (today so far
# included).
ANSWER_RATE_DAYS = 90


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1 to 4

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def start(self) -> date:
        """Its first day."""
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """Its last day."""
        return self.next().start - timedelta(days=1)

    def next(self) -> Quarter:
        return (
            Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)
        )

    def previous(self) -> Quarter:
        return (
            Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)
        )


def last_quarters(today: date, count: int = CHART_QUARTERS) -> list[Quarter]:
    """The `count` quarters up to and including today's, oldest first."""
    quarters = [Quarter.of(today)]
    while len(quarters) < count:
        quarters.append(quarters[-1].previous())
    return quarters[::-1]


class ThemeCounts(NamedTuple):
    """A period's figures of one theme, counted the way the reports count."""

    meldingen: int
    cases: int
    persons: int


ZERO = ThemeCounts(0, 0, 0)


@dataclass(frozen=True)
class Bar:
    """One bar of the chart: its height, and whether it stands for a small cell (1 to 4)."""

    height: int
    small: bool


def bar(count: int) -> Bar:
    """A count as the chart may draw it: a small cell at the fixed height SMALL_CELL."""
    return Bar(SMALL_CELL, True) if is_small(count) else Bar(count, False)


@dataclass(frozen=True)
class ChartData:
    """Meldingen and cases per theme and quarter, small cells applied.

    `meldingen[theme][i]` and `cases[theme][i]` are the bars of `quarters[i]`.
    """

    quarters: tuple[Quarter, ...]
    themes: tuple[Theme, ...]
    meldingen: Mapping[Theme, tuple[Bar, ...]]
    cases: Mapping[Theme, tuple[Bar, ...]]

    @property
    def has_small(self) -> bool:
        return any(
            b.small for bars in (self.meldingen, self.cases) for s in bars.values() for b in s
        )


def chart_data(
    quarters: Sequence[Quarter],
    counts: Sequence[Mapping[Theme, ThemeCounts]],
    themes: Sequence[Theme],
) -> ChartData:
    """The chart's bars: per theme of `themes` (in that order), per quarter.

    Args:
        quarters: the quarters shown, oldest first.
        counts: per quarter (same order), the figures per theme; a theme missing
            counts 0.
        themes: the themes shown (only those the asker may see).
    """
    meldingen = {t: tuple(bar(c.get(t, ZERO).meldingen) for c in counts) for t in themes}
    cases = {t: tuple(bar(c.get(t, ZERO).cases) for c in counts) for t in themes}
    return ChartData(tuple(quarters), tuple(themes), meldingen, cases)
