"""The plan of approach's pure rules: deadlines, who hears of an action, ZRM due dates,
the buttons under an action."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.calendar import is_working_day
from bot.domain.plan import (
    ACTION_CATALOGUE,
    CATALOGUE_BY_CODE,
    ActionButton,
    ActionVerb,
    Audience,
    DeadlineProblem,
    QuickDeadline,
    ZrmDomain,
    action_button_data,
    audiences,
    parse_action_button,
    parse_deadline,
    quick_deadline,
    valid_zrm_score,
    working_days_overdue,
    zrm_due,
)

TODAY = date(2026, 11, 30)  # a Monday


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("31-12-2026", date(2026, 12, 31)),
        (" 1-2-2027 ", date(2027, 2, 1)),
        ("30-11-2026", TODAY),  # today is fine
        ("29-11-2026", DeadlineProblem.PAST),
        ("01-12-2027", DeadlineProblem.TOO_FAR),
        ("31-02-2027", DeadlineProblem.UNREADABLE),
        ("2026-12-31", DeadlineProblem.UNREADABLE),
        ("morgen", DeadlineProblem.UNREADABLE),
        ("", DeadlineProblem.UNREADABLE),
    ],
)
def test_a_typed_deadline(typed: str, expected: date | DeadlineProblem) -> None:
    assert parse_deadline(typed, TODAY) == expected


def test_the_deadline_buttons() -> None:
    assert quick_deadline(QuickDeadline.ONE_WEEK, TODAY) == date(2026, 12, 7)
    assert quick_deadline(QuickDeadline.TWO_WEEKS, TODAY) == date(2026, 12, 14)
    assert quick_deadline(QuickDeadline.ONE_MONTH, TODAY) == date(2026, 12, 30)
    assert quick_deadline(QuickDeadline.ONE_MONTH, date(2027, 1, 31)) == date(2027, 2, 28)


def test_who_hears_of_an_action() -> None:
    # Due within 2 working days: the owner. Wednesday 2 December is 2 working days on.
    assert audiences(date(2026, 12, 2), TODAY) == {Audience.OWNER}
    assert audiences(date(2026, 12, 3), TODAY) == set()
    assert audiences(TODAY, TODAY) == {Audience.OWNER}
    # Overdue more than 5 working days: the casemanager too; more than 10: coordinators.
    assert audiences(date(2026, 11, 23), TODAY) == {Audience.OWNER}  # 5 working days
    assert audiences(date(2026, 11, 20), TODAY) == {Audience.OWNER, Audience.CASEMANAGER}
    assert audiences(date(2026, 11, 16), TODAY) == {Audience.OWNER, Audience.CASEMANAGER}
    assert audiences(date(2026, 11, 13), TODAY) == set(Audience)  # 11 working days
    # Christmas: 25 and 26 December are no working days.
    assert working_days_overdue(date(2026, 12, 24), date(2026, 12, 28)) == 1


def test_zrm_due_dates() -> None:
    assert zrm_due(date(2026, 12, 31), None, None) == date(2027, 2, 28)
    first = date(2026, 12, 15)
    assert zrm_due(date(2026, 11, 1), first, first) == date(2027, 6, 15)  # one, or two that day
    assert zrm_due(date(2026, 11, 1), first, date(2026, 12, 16)) is None


def test_the_catalogue_and_scores() -> None:
    assert set(ACTION_CATALOGUE) == set(ZrmDomain) and len(ZrmDomain) == 11
    codes = [entry.code for entries in ACTION_CATALOGUE.values() for entry in entries]
    assert len(codes) == len(set(codes)) == len(CATALOGUE_BY_CODE)
    assert all(len(code) <= 32 for code in codes)
    assert [s for s in range(-1, 8) if valid_zrm_score(s)] == [1, 2, 3, 4, 5]


@given(st.dates(min_value=date(2026, 1, 1), max_value=date(2030, 12, 31)), st.integers(0, 40))
def test_overdue_counts_working_days_only(deadline: date, days: int) -> None:
    from datetime import timedelta

    today = deadline + timedelta(days=days)
    expected = sum(1 for n in range(1, days + 1) if is_working_day(deadline + timedelta(days=n)))
    assert working_days_overdue(deadline, today) == expected


@given(
    st.integers(min_value=1, max_value=999_999_999),
    st.integers(min_value=1, max_value=999_999_999),
    st.sampled_from(ActionVerb),
)
def test_an_action_button_reads_back_as_made(
    action_id: int, version: int, verb: ActionVerb
) -> None:
    data = action_button_data(action_id, version, verb)
    assert len(data.encode()) <= 64  # Telegram's limit for callback data
    assert parse_action_button(data) == ActionButton(action_id, version, verb)


@pytest.mark.parametrize("data", ["act:1:1:x", "act:1:1:", "act:a:1:d", "act:1:1:dd", "pa:1:1:d"])
def test_anything_else_is_no_action_button(data: str) -> None:
    assert parse_action_button(data) is None
