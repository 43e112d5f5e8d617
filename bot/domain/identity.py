"""Who a person is, and the letters they are known by without a BSN. Pure rules.

The same person must always get the same pseudonym, however a sender spells
them, so identities are normalised before they are hashed (bot.privacy.pseudonym):
by BSN when known, else by folded surname, birth date and first given name. The
checks on incoming rows (bot.domain.dpan) use the same letters, so they agree
with the pseudonym exactly.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from bot.domain.bsn import normalise_bsn
from bot.domain.names import letters_only, uninvert_surname


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
    surname = surname_letters(identity.surname)
    if not surname:
        raise ValueError("an identity without BSN needs a surname")
    first_given = first_given_name_letters(identity.given_names)
    born = identity.birth_date
    # Formatted by hand: a datetime passed as birth_date must not add a time.
    birth = f"{born.year:04d}-{born.month:02d}-{born.day:02d}"
    return f"nb:{surname}|{birth}|{first_given}"


def surname_letters(surname: str) -> str:
    """Return the letters a surname is known by without a BSN (see `normalise_identity`).

    An empty result means the surname cannot identify anyone ("123", an emoji):
    checks on incoming rows use this, so they agree with the pseudonym exactly.

    Args:
        surname: the surname as written (the register form "Berg, van den" too).

    Returns:
        Its letters, folded to lowercase without accents (personal data: never log it).
    """
    return letters_only(uninvert_surname(surname))


def first_given_name_letters(given_names: str) -> str:
    """Return the letters of the first given name, the only one a pseudonym uses.

    Args:
        given_names: the given names as written.

    Returns:
        The first name's folded letters; empty when there is none or it has no letters.
    """
    given = given_names.split()
    return letters_only(given[0]) if given else ""
