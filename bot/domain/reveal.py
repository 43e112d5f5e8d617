"""Reveal links and the second factor: pure rules (validity, PINs, limits)."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

LINK_VALIDITY = timedelta(minutes=10)
# A melding form's link is used up at the PIN; its form is taken this long after.
MELDING_FORM_VALIDITY = timedelta(minutes=30)
SETUP_CODE_VALIDITY = timedelta(hours=72)
PIN_ATTEMPTS = 5  # the fifth wrong PIN (or set-up code) in a row locks
DAILY_REVEALS = 30  # reveals by one member in one (local) day
PIN_LENGTH = 6

# secrets.token_urlsafe(16): 22 characters of the urlsafe base64 alphabet.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
_COMMON_PINS = frozenset(
    {"121212", "112233", "123123", "696969", "159753", "147258", "101010", "131313", "252525"}
)


class LinkKind(StrEnum):
    ANNOUNCEMENT = "announcement"
    CASE = "case"
    # The form for a new melding (a coordinator's /melding); the target is the member.
    MELDING_FORM = "melding_form"


class LinkState(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # no such token, or not a token at all
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"
    MEMBER_INACTIVE = "member_inactive"
    LOCKED = "locked"  # too many wrong PINs: every link of the member waits for an unlock
    NOT_ALLOWED = "not_allowed"  # the target is gone, or the member may no longer see it


class PinProblem(StrEnum):
    MALFORMED = "pin_malformed"  # not exactly 6 digits
    TRIVIAL = "pin_trivial"  # easily guessed


def token_shape_ok(token: str) -> bool:
    """Whether `token` could be a link token at all (checked before any lookup)."""
    return _TOKEN.fullmatch(token) is not None


def link_state(
    *,
    now: datetime,
    expires_at: datetime,
    used_at: datetime | None,
    revoked_at: datetime | None,
    member_active: bool,
    locked: bool,
) -> LinkState:
    """The state of a stored link; a revoked or used link stays so whatever else holds."""
    if revoked_at is not None:
        return LinkState.REVOKED
    if used_at is not None:
        return LinkState.USED
    if now >= expires_at:
        return LinkState.EXPIRED
    if not member_active:
        return LinkState.MEMBER_INACTIVE
    if locked:
        return LinkState.LOCKED
    return LinkState.OK


def form_state(
    *,
    now: datetime,
    used_at: datetime | None,
    done_at: datetime | None,
    revoked_at: datetime | None,
    member_active: bool,
    locked: bool,
) -> LinkState:
    """The state of a melding form opened with a link's PIN (the link itself is used).

    OK from the PIN until MELDING_FORM_VALIDITY later, until its melding is stored
    (`done_at`: then USED) or the link is revoked; never before the PIN was entered.
    """
    if revoked_at is not None:
        return LinkState.REVOKED
    if used_at is None:
        return LinkState.NOT_ALLOWED  # the PIN comes first
    if done_at is not None:
        return LinkState.USED
    if now >= used_at + MELDING_FORM_VALIDITY:
        return LinkState.EXPIRED
    if not member_active:
        return LinkState.MEMBER_INACTIVE
    if locked:
        return LinkState.LOCKED
    return LinkState.OK


def pin_problem(pin: str) -> PinProblem | None:
    """Why `pin` may not be chosen, or None: 6 ASCII digits, not trivially guessable.

    Refused: one digit repeated (000000), a run up or down (123456, 654321,
    345678, 098765, counting on past 9 to 0), and a few common ones (121212).
    """
    if len(pin) != PIN_LENGTH or not all("0" <= c <= "9" for c in pin):
        return PinProblem.MALFORMED
    digits = [int(c) for c in pin]
    steps = {(b - a) % 10 for a, b in itertools.pairwise(digits)}
    if steps in ({0}, {1}, {9}) or pin in _COMMON_PINS:
        return PinProblem.TRIVIAL
    return None


def local_day(moment: datetime, tz: ZoneInfo) -> tuple[date, datetime, datetime]:
    """The local date of `moment` and its start and end, as aware datetimes."""
    day = moment.astimezone(tz).date()
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return day, start, end
