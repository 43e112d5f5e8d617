"""Invite codes: format, validity and the block on guessing. Pure rules."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

VALIDITY = timedelta(hours=72)
FAILURE_LIMIT = 5
FAILURE_WINDOW = timedelta(hours=1)
BLOCK_DURATION = timedelta(hours=1)

# Crockford base32: no I, L, O, U, so a code read aloud or typed on a phone
# survives; 10 characters carry 50 bits.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 10
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0"})


class InviteState(StrEnum):
    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    # Its issuer was deactivated: refused exactly like a code that never existed.
    REVOKED = "revoked"


def format_code(raw: str) -> str:
    """`K7Q4M2XZ9P` -> `K7Q4M-2XZ9P`: easier to read out and type."""
    return f"{raw[:5]}-{raw[5:]}"


def normalise_code(text: str) -> str | None:
    """The canonical code from what someone typed, or None if it cannot be one."""
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_READ_AS)
    if len(cleaned) != CODE_LENGTH or any(c not in ALPHABET for c in cleaned):
        return None
    return cleaned


def invite_state(
    *,
    used_at: datetime | None,
    expires_at: datetime,
    now: datetime,
    revoked_at: datetime | None = None,
) -> InviteState:
    """Whether a stored invite can still be used; a revoked one never again."""
    if revoked_at is not None:
        return InviteState.REVOKED
    if used_at is not None:
        return InviteState.USED
    if now >= expires_at:
        return InviteState.EXPIRED
    return InviteState.VALID


def blocked_until(failures: Iterable[datetime], now: datetime) -> datetime | None:
    """When an account that sent these wrong codes may try again; None if not blocked.

    Five wrong codes within one hour block the account for an hour from the fifth.
    """
    times = sorted(failures)
    until: datetime | None = None
    for first, fifth in zip(times, times[FAILURE_LIMIT - 1 :], strict=False):
        if fifth - first <= FAILURE_WINDOW:
            candidate = fifth + BLOCK_DURATION
            until = candidate if until is None else max(until, candidate)
    return until if until is not None and until > now else None
