from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.domain.invites import (
    ALPHABET,
    CODE_LENGTH,
    InviteState,
    blocked_until,
    format_code,
    invite_state,
    normalise_code,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
codes = st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH)


@given(codes)
def test_a_code_survives_how_people_type_it(raw: str) -> None:
    shown = format_code(raw)
    assert normalise_code(shown) == raw
    assert normalise_code(shown.lower()) == raw
    assert normalise_code(f"  {shown[:3]} {shown[3:]} ") == raw
    misread = shown.replace("1", "I").replace("0", "O")
    assert normalise_code(misread) == raw


def test_not_a_code() -> None:
    for text in ("", "hallo", "ABCDE-ABCD", "ABCDE-ABCDEF", "ABCDE-ABCDU", "ABCDE_ABCDE"):
        assert normalise_code(text) is None


def test_invite_states() -> None:
    expires = NOW + timedelta(hours=72)
    assert invite_state(used_at=None, expires_at=expires, now=NOW) is InviteState.VALID
    assert invite_state(used_at=NOW, expires_at=expires, now=NOW) is InviteState.USED
    assert invite_state(used_at=None, expires_at=expires, now=expires) is InviteState.EXPIRED


def test_five_wrong_codes_within_an_hour_block_for_an_hour_from_the_fifth() -> None:
    failures = [NOW + timedelta(minutes=m) for m in (0, 10, 20, 30, 40)]
    assert blocked_until(failures[:4], NOW + timedelta(minutes=41)) is None
    until = blocked_until(failures, NOW + timedelta(minutes=41))
    assert until == NOW + timedelta(minutes=100)
    assert blocked_until(failures, NOW + timedelta(minutes=100)) is None


def test_five_wrong_codes_spread_over_more_than_an_hour_do_not_block() -> None:
    failures = [NOW + timedelta(minutes=m) for m in (0, 20, 40, 60, 61)]
    assert blocked_until(failures, NOW + timedelta(minutes=62)) is None


@given(st.lists(st.integers(min_value=0, max_value=300), max_size=12))
def test_block_never_outlasts_an_hour_after_the_last_failure(minutes: list[int]) -> None:
    failures = [NOW + timedelta(minutes=m) for m in minutes]
    now = NOW + timedelta(minutes=301)
    until = blocked_until(failures, now)
    if until is not None:
        assert now < until <= max(failures) + timedelta(hours=1)
