"""Identities, their keyed lookup hash and the short pseudonym shown to partners.

The same person must always get the same pseudonym, however a sender spells
them, so identities are normalised before hashing: by BSN when known, else by
folded surname, birth date and first given name. The hash is keyed (HMAC with
the pseudonym key), so a pseudonym cannot be recomputed from a guessed identity
without the key file.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import re
from dataclasses import dataclass

from bot.privacy._names import letters_only, uninvert_surname
from bot.privacy.bsn import normalise_bsn

CROCKFORD32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PSEUDONYM_BITS = 40
_PSEUDONYM = re.compile(r"P-[0-9A-HJKMNP-TV-Z]{8}")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MIN_KEY_BYTES = 32


@dataclass(frozen=True, repr=False)
class Identity:
    """Who a person is, as a detention notification states it.

    repr is redacted, so an Identity in a log line or traceback shows no data.
    """

    surname: str
    given_names: str
    birth_date: datetime.date
    bsn: str | None = None

    def __repr__(self) -> str:
        return "Identity(<redacted>)"


def normalise_identity(identity: Identity) -> str:
    """Return the canonical string an identity is hashed from.

    With a BSN: ``"bsn:<9 digits>"``. Without: ``"nb:<surname>|<YYYY-MM-DD>|<first
    given name>"``, names folded to lowercase letters without accents, spaces or
    punctuation, so "Van den Berg", "VAN DEN BERG", "Vandenberg" and
    "Ván-den Berg " agree; the register form "Berg, van den" agrees too.

    Args:
        identity: the identity.

    Returns:
        The normalised string (personal data: never log it).

    Raises:
        InvalidBsn: the BSN is present but invalid.
        ValueError: there is no BSN and the surname has no letters.
    """
    if identity.bsn is not None and identity.bsn.strip():
        return f"bsn:{normalise_bsn(identity.bsn)}"
    surname = letters_only(uninvert_surname(identity.surname))
    if not surname:
        raise ValueError("an identity without BSN needs a surname")
    given = identity.given_names.split()
    first_given = letters_only(given[0]) if given else ""
    born = identity.birth_date
    # Formatted by hand: a datetime passed as birth_date must not add a time.
    birth = f"{born.year:04d}-{born.month:02d}-{born.day:02d}"
    return f"nb:{surname}|{birth}|{first_given}"


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
    n²/2 / 2**40 = 1 in 22,000); the database stays keyed on the full hash.

    Args:
        identity: the identity.
        key: the pseudonym key.

    Returns:
        "P-" followed by 8 Crockford base32 characters.
    """
    return pseudonym_from_identity_key(identity_key(identity, key))


def pseudonym_from_identity_key(hexdigest: str) -> str:
    """Return the pseudonym for an identity key already computed (see `pseudonym`).

    Raises:
        ValueError: `hexdigest` is not 64 hex characters.
    """
    digest = hexdigest.lower()
    if not _HEX64.fullmatch(digest):
        raise ValueError("an identity key is 64 hex characters")
    value = int(digest[: PSEUDONYM_BITS // 4], 16)
    chars = [CROCKFORD32[(value >> shift) & 0x1F] for shift in range(PSEUDONYM_BITS - 5, -1, -5)]
    return "P-" + "".join(chars)


def is_pseudonym(text: str) -> bool:
    """Tell whether `text` is exactly a pseudonym (uppercase, as we print them)."""
    return _PSEUDONYM.fullmatch(text) is not None
