"""/stand's wording and chart: the small-cell rule on every count and bar, and Telegram's
limits whatever the data (4096 characters of text, 1024 of caption)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.domain.meetings import MeetingType
from bot.domain.roles import Theme
from bot.domain.small_cells import SMALL_CELL, is_small, suppressed
from bot.domain.stand import Bar, Quarter, ThemeCounts, bar, chart_data, last_quarters
from bot.i18n import translator
from bot.safe import MemberName, OrganisationName
from bot.views.stand import (
    CAPTION_LIMIT,
    TEXT_LIMIT,
    Behind,
    MeetingWaiting,
    OpenCases,
    Overdue,
    StandFacts,
    stand_chart,
    stand_messages,
    stand_text,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 23, 9, tzinfo=AMSTERDAM)
SHOWN = tuple(t for t in Theme if t is not Theme.RADICALISERING)


def make_facts(
    count: int,
    *,
    themes: tuple[Theme, ...] = SHOWN,
    behind: int = 1,
    overdue: int = 1,
    name: str = "Sanne Casemanager",
) -> StandFacts:
    """Facts in which every figure is `count`."""
    quarters = last_quarters(NOW.date())
    per_quarter = [dict.fromkeys(themes, ThemeCounts(count, count, count)) for _ in quarters]
    return StandFacts(
        now=NOW,
        narrowed=None,
        themes=themes,
        quarter=Quarter(2026, 4),
        open_cases=tuple(OpenCases(t, count, count, count) for t in themes),
        meetings=(
            MeetingWaiting(
                MeetingType.TRIAGE, datetime(2026, 11, 24, 10, tzinfo=AMSTERDAM), count, count
            ),
        ),
        behind=tuple(
            Behind(OrganisationName(f"{name} organisatie {i}"), count or 9, 0)
            for i in range(behind)
        ),
        overdue=(
            *(Overdue(MemberName(f"{name} {i}"), count) for i in range(overdue)),
            Overdue(None, count),
        ),
        stagnating=dict.fromkeys(themes, count),
        stagnant_after_days=28,
        without_casemanager=dict.fromkeys(themes, count),
        releases=count,
        releases_until=date(2026, 12, 6),
        this_quarter=per_quarter[-1],
        chart=chart_data(quarters, per_quarter, themes),
    )


def counts_in(text: str) -> list[str]:
    """Every figure after a colon or between the dots of a row: `: 3 · <5 · 12`."""
    return re.findall(r"(?<=[:·] )(<5|\d+)(?= ·|$| van| of)", text, flags=re.MULTILINE)


def test_the_rule_itself() -> None:
    assert [suppressed(n) for n in range(7)] == [0, "<5", "<5", "<5", "<5", 5, 6]
    assert [is_small(n) for n in (0, 1, 4, 5)] == [False, True, True, False]
    assert SMALL_CELL == 5


@pytest.mark.parametrize("locale", ["nl", "en"])
@pytest.mark.parametrize("count", [1, 2, 3, 4])
def test_every_small_count_on_the_screen_is_shown_as_less_than_five(
    locale: str, count: int
) -> None:
    text = stand_text(make_facts(count), translator(locale), AMSTERDAM)
    figures = counts_in(text)
    assert len(figures) > 40  # every part has its figures
    assert set(figures) == {"<5"}, text
    # Days are no counts of people (28 days); a rate over fewer than 5 asked would tell
    # how many, so there is none.
    assert "28" in text and "%" not in text


@pytest.mark.parametrize("count", [0, 5, 17])
def test_zero_and_five_or_more_are_shown_as_they_are(count: int) -> None:
    text = stand_text(make_facts(count), translator("nl"), AMSTERDAM)
    assert set(counts_in(text)) == {str(count)}, text
    assert "<5" not in text.split("\n", 2)[2]  # past the note that explains <5


def test_the_chart_data_never_carries_a_small_count() -> None:
    assert bar(0) == Bar(0, False)
    assert [bar(n) for n in (1, 4)] == [Bar(SMALL_CELL, True)] * 2
    assert bar(5) == Bar(5, False) and bar(120) == Bar(120, False)
    quarters = last_quarters(date(2026, 11, 23))
    counts = [{Theme.JEUGD: ThemeCounts(3, 7, 1)}, {Theme.JEUGD: ThemeCounts(0, 4, 4)}]
    data = chart_data(quarters[-2:], counts, [Theme.JEUGD, Theme.OGGZ])
    assert data.meldingen[Theme.JEUGD] == (Bar(5, True), Bar(0, False))
    assert data.cases[Theme.JEUGD] == (Bar(7, False), Bar(5, True))
    assert data.cases[Theme.OGGZ] == (Bar(0, False), Bar(0, False))
    assert data.has_small
    assert not chart_data(quarters[-1:], [{}], [Theme.OGGZ]).has_small


def test_quarters() -> None:
    assert Quarter.of(date(2026, 11, 23)) == Quarter(2026, 4)
    assert (Quarter(2026, 4).start, Quarter(2026, 4).end) == (date(2026, 10, 1), date(2026, 12, 31))
    assert Quarter(2024, 1).end == date(2024, 3, 31) and Quarter(2024, 2).start == date(2024, 4, 1)
    quarters = last_quarters(date(2026, 1, 1))
    assert quarters[0] == Quarter(2024, 2) and quarters[-1] == Quarter(2026, 1)
    assert len(quarters) == 8 and quarters == sorted(quarters)


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_the_text_fits_one_message_whatever_the_data(locale: str) -> None:
    _ = translator(locale)
    longest = "X" * 180
    facts = make_facts(123456, themes=tuple(Theme), behind=40, overdue=300, name=longest)
    caption, text = stand_messages(facts, _, AMSTERDAM)
    assert text is not None and len(text) <= TEXT_LIMIT and len(caption) <= CAPTION_LIMIT
    assert "en nog" in text or "and" in text  # the lists were cut, saying so
    # Without overflowing lists the whole screen still has every part.
    normal = stand_text(make_facts(7), _, AMSTERDAM)
    assert len(normal.splitlines()) > 40


def test_a_short_text_is_the_caption_itself() -> None:
    _ = translator("nl")
    facts = make_facts(0, themes=(Theme.JEUGD,), behind=0, overdue=0)
    caption, text = stand_messages(facts, _, AMSTERDAM)
    assert text is None and caption == stand_text(facts, _, AMSTERDAM)
    assert len(caption) <= CAPTION_LIMIT
    long_caption, long_text = stand_messages(make_facts(3), _, AMSTERDAM)
    assert long_text is not None and "Gearceerde staven" in long_caption


@pytest.mark.parametrize("themes", [SHOWN, ()])
def test_the_chart_is_a_png(themes: tuple[Theme, ...]) -> None:
    png = stand_chart(make_facts(3, themes=themes).chart, translator("en"))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000


@pytest.mark.parametrize("locale", ["nl", "en"])
def test_an_answer_rate_never_tells_a_small_number_asked(locale: str) -> None:
    # "<5 asked, 33% answered" tells 3 asked: with a small count asked, no percentage.
    def text(asked: int, answered: int) -> str:
        facts = make_facts(0)
        behind = (Behind(OrganisationName("Politie"), asked, answered),)
        return stand_text(replace(facts, behind=behind), translator(locale), AMSTERDAM)

    small = {text(asked, answered) for asked in (2, 3, 4) for answered in (1, asked - 1)}
    assert len(small) == 1, small
    assert "%" in text(9, 3)  # a rate over 5 or more asked is shown
