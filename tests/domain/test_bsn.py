from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from stdnum.nl import bsn as stdnum_bsn

from bot.domain.bsn import InvalidBsn, is_valid_bsn, normalise_bsn
from tests.privacy.factories import fake

MESSAGES = {
    "BSN must have 9 digits",
    "BSN fails the elfproef (11-test)",
    "BSN must consist of digits only",
}


@st.composite
def valid_bsns(draw: st.DrawFn) -> str:
    """A valid BSN: eight random digits and whichever last digit passes (stdnum decides)."""
    prefix = f"{draw(st.integers(0, 10**8 - 1)):08d}"
    candidates = [prefix + str(d) for d in range(10) if stdnum_bsn.is_valid(prefix + str(d))]
    assume(candidates)
    return candidates[0]


@pytest.mark.parametrize(
    "written",
    ["111222333", "1112.22.333", "111 222 333", "111-222-333", " 111222333\n", "111.222.333"],
)
def test_known_valid_bsn_in_its_usual_notations(written: str) -> None:
    assert normalise_bsn(written) == "111222333"
    assert is_valid_bsn(written)


def test_generated_bsns_are_valid() -> None:
    generator = fake(7)
    for _ in range(200):
        value = generator.ssn()
        assert normalise_bsn(value) == value


def test_eight_digits_get_their_leading_zero_back() -> None:
    value = next(f"0{n:08d}" for n in range(10**7, 10**8) if stdnum_bsn.is_valid(f"0{n:08d}"))
    assert normalise_bsn(value[1:]) == value


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("123456789", "elfproef"),
        ("111222334", "elfproef"),
        ("1112223334", "9 digits"),
        ("1234", "9 digits"),
        ("", "9 digits"),
        ("11122233a", "digits"),
        ("000000000", "digits"),
        ("111/222/333", "digits"),
    ],
)
def test_invalid_bsn_is_refused_without_echo(written: str, reason: str) -> None:
    with pytest.raises(InvalidBsn, match=reason) as caught:
        normalise_bsn(written)
    assert not is_valid_bsn(written)
    if written:
        assert written not in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert caught.value.__cause__ is None


@given(valid_bsns())
def test_normalise_keeps_a_valid_bsn(value: str) -> None:
    assert normalise_bsn(value) == value
    assert normalise_bsn(f"{value[:4]}.{value[4:6]}.{value[6:]}") == value


@given(valid_bsns(), st.integers(0, 8), st.integers(1, 9))
def test_changing_one_digit_makes_it_invalid(value: str, position: int, shift: int) -> None:
    digit = (int(value[position]) + shift) % 10
    changed = value[:position] + str(digit) + value[position + 1 :]
    assert not is_valid_bsn(changed)
    with pytest.raises(InvalidBsn):
        normalise_bsn(changed)


@given(st.text())
def test_any_text_gives_a_bsn_or_invalid_bsn(text: str) -> None:
    if is_valid_bsn(text):
        result = normalise_bsn(text)
        assert len(result) == 9
        assert result.isdigit()
    else:
        with pytest.raises(InvalidBsn) as caught:
            normalise_bsn(text)
        # One of a few fixed messages, so the value can never be in it.
        assert str(caught.value) in MESSAGES
