from __future__ import annotations

import pytest

from bot.privacy.secret_hash import ScryptParameters, hash_secret, verify_secret


def test_a_secret_verifies_against_its_salted_hash_only() -> None:
    first, second = hash_secret("480159"), hash_secret("480159")
    assert first != second  # a fresh salt each time
    assert first.startswith("scrypt$n=16384,r=8,p=1$")
    assert "480159" not in first
    assert verify_secret("480159", first) and verify_secret("480159", second)
    assert not verify_secret("480158", first)


def test_the_stored_parameters_are_used_so_they_can_change() -> None:
    cheaper = hash_secret("480159", ScryptParameters(n=2**10, r=8, p=1))
    assert cheaper.startswith("scrypt$n=1024,r=8,p=1$")
    assert verify_secret("480159", cheaper)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$x$y$z",
        "scrypt$n=x$AAAA$AAAA",
        "scrypt$n=1024,r=8$AAAA$AAAA",
        "scrypt$n=1073741824,r=8,p=1$AAAA$AAAA",
    ],
)
def test_a_damaged_or_foreign_hash_never_matches(stored: str) -> None:
    assert not verify_secret("480159", stored)
