"""Identities, their keyed lookup hash and the short pseudonym shown to partners.

The same person must always get the same pseudonym, however a sender spells
them, so identities are normalised before hashing (bot.domain.identity): by BSN
when known, else by folded surname, birth date and first given name. The hash is
keyed (HMAC with the pseudonym key), so a pseudonym cannot be recomputed from a
guessed identity without the key file.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from bot.domain.identity import Identity, normalise_identity

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# A pseudonym has 8 characters (40 bits); one that would equal another person's
# is extended, a character at a time, up to 14 (the `person.pseudonym` column
# holds "P-" and 14). See PersonVault.register.
PSEUDONYM_CHARS = 8
MAX_PSEUDONYM_CHARS = 14
PSEUDONYM_BITS = 5 * PSEUDONYM_CHARS
_PSEUDONYM = re.compile(rf"P-[0-9A-HJKMNP-TV-Z]{{{PSEUDONYM_CHARS},{MAX_PSEUDONYM_CHARS}}}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MIN_KEY_BYTES = 32


def identity_key(identity: Identity, key: bytes) -> str:
    """Return the keyed hash that finds a person in the database.

    Args:
        identity: the identity.
        key: the pseudonym key (at least 32 bytes).

    Returns:
        HMAC-SHA256(key, normalised identity) as 64 lowercase hex characters.

    Raises:
        ValueError: the key is too short, or as `normalise_identity`.
    """
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the pseudonym key must be at least {MIN_KEY_BYTES} bytes")
    message = normalise_identity(identity).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pseudonym(identity: Identity, key: bytes) -> str:
    """Return the short code partners see instead of the person, e.g. ``P-7KQ4M2XZ``.

    The code is the first 40 bits of `identity_key` in Crockford base32 (no I,
    L, O or U, so it reads aloud and types back safely). 40 bits keeps the
    chance of two of 10,000 persons sharing a code below 1 in 20,000 (about
    n²/2 / 2**40 = 1 in 22,000); the database stays keyed on the full hash, and
    `PersonVault.register` gives the rare second person a longer code, so two
    people never share one.

    Args:
        identity: the identity.
        key: the pseudonym key.

    Returns:
        "P-" followed by 8 Crockford base32 characters.
    """
    return pseudonym_from_identity_key(identity_key(identity, key))


def pseudonym_from_identity_key(hexdigest: str, *, chars: int = PSEUDONYM_CHARS) -> str:
    """Return the pseudonym for an identity key already computed (see `pseudonym`).

    A longer code starts with the shorter ones of the same key: it reads more of
    the same hash.

    Args:
        hexdigest: the identity key, 64 hex characters.
        chars: how many base32 characters, from 8 to 14.

    Raises:
        ValueError: `hexdigest` is not 64 hex characters, or `chars` is out of range.
    """
    digest = hexdigest.lower()
    if not _HEX64.fullmatch(digest):
        raise ValueError("an identity key is 64 hex characters")
    if not PSEUDONYM_CHARS <= chars <= MAX_PSEUDONYM_CHARS:
        raise ValueError(f"a pseudonym has {PSEUDONYM_CHARS} to {MAX_PSEUDONYM_CHARS} characters")
    bits = 5 * chars
    hex_digits = -(-bits // 4)
    value = int(digest[:hex_digits], 16) >> (4 * hex_digits - bits)
    code = [CROCKFORD32[(value >> shift) & 0x1F] for shift in range(bits - 5, -1, -5)]
    return "P-" + "".join(code)


def is_pseudonym(text: str) -> bool:
    """Tell whether `text` is exactly a pseudonym (uppercase, as we print them)."""
    return _PSEUDONYM.fullmatch(text) is not None
