"""The report's periods, the small-cell rule and the median: pure rules."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.reports import (
    MSG_BAD_QUARTER,
    MSG_BAD_YEAR,
    BadPeriod,
    Period,
    median,
    municipality_order,
    parse_period,
    shown_count,
    shown_median,
)


def test_a_year_and_its_quarters_in_local_days() -> None:
    year = Period(2026)
    assert (year.label, year.first_day, year.end_day) == (
        "2026",
        date(2026, 1, 1),
        date(2027, 1, 1),
    )
    assert [(q.label, q.first_day, q.end_day) for q in year.quarters()] == [
        ("2026-Q1", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026-Q2", date(2026, 4, 1), date(2026, 7, 1)),
        ("2026-Q3", date(2026, 7, 1), date(2026, 10, 1)),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
    ]
    assert [p.label for p in year.with_quarters()] == [
        "2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2026",
    ]  # fmt: skip
    third = Period(2026, 3)
    assert third.quarters() == (third,) and third.with_quarters() == (third,)


@pytest.mark.parametrize(
    ("year", "quarter", "message"),
    [
        ("26", None, MSG_BAD_YEAR),
        ("twee", None, MSG_BAD_YEAR),
        ("1899", None, MSG_BAD_YEAR),
        ("2026.5", None, MSG_BAD_YEAR),
        ("2026", "5", MSG_BAD_QUARTER),
        ("2026", "0", MSG_BAD_QUARTER),
        ("2026", "Q3", MSG_BAD_QUARTER),
        ("2026", "", MSG_BAD_QUARTER),
    ],
)
def test_a_wrong_year_or_quarter_is_refused(year: str, quarter: str | None, message: str) -> None:
    with pytest.raises(BadPeriod) as refused:
        parse_period(year, quarter)
    assert refused.value.message_id == message


def test_a_year_and_quarter_as_typed() -> None:
    assert parse_period(" 2026 ", None) == Period(2026)
    assert parse_period("2026", " 4") == Period(2026, 4)


def test_small_cells_only_when_asked_and_only_from_1_to_4() -> None:
    assert [shown_count(n, suppress=True) for n in (None, 0, 1, 4, 5, 120)] == [
        "", "0", "<5", "<5", "5", "120",
    ]  # fmt: skip
    assert [shown_count(n, suppress=False) for n in (None, 0, 1, 4, 5)] == [
        "", "0", "1", "4", "5",
    ]  # fmt: skip
    # A median over fewer than 5 cases says something of them: not shown when suppressed.
    assert shown_median(3.0, 4, suppress=True) == ""
    assert shown_median(3.0, 4, suppress=False) == "3"
    assert shown_median(12.5, 5, suppress=True) == "12.5"
    assert shown_median(12.5, 5, suppress=True, decimal=",") == "12,5"
    assert shown_median(None, 0, suppress=False) == ""


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=60))
def test_the_median_of_a_histogram_is_the_median_of_its_values(values: list[int]) -> None:
    from statistics import median as reference

    histogram: dict[int, int] = {}
    for value in values:
        histogram[value] = histogram.get(value, 0) + 1
    assert median(histogram) == reference(values)


def test_no_values_no_median() -> None:
    assert median({}) is None
    assert median({7: 0}) is None


def test_the_configured_municipalities_first_then_any_other_in_the_data() -> None:
    assert municipality_order(["Weert", "Echt-Susteren"], ["Roermond", "Weert", "Beesel"]) == (
        "Weert", "Echt-Susteren", "Beesel", "Roermond",
    )  # fmt: skip
