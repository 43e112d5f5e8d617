"""The Dutch citizen service number (BSN), checked by python-stdnum.

Messages never echo the number: a rejected BSN is still personal data.
"""

from __future__ import annotations

from stdnum import exceptions as stdnum_exceptions
from stdnum import util as stdnum_util
from stdnum.nl import bsn as stdnum_bsn

# stdnum pads to nine digits because BSNs with a leading zero are often written
# with eight; anything shorter is not a BSN someone wrote down.
_MIN_DIGITS = 8


class InvalidBsn(ValueError):
    """A value that is not a valid BSN; the message never contains the value."""


def normalise_bsn(value: str) -> str:
    """Return a BSN as its nine digits, or raise if it is not a valid BSN.

    Spaces, dots and dashes are removed (stdnum's `compact`); an eight-digit
    number gets its leading zero back. The elfproef is stdnum's.

    Args:
        value: the BSN as written, e.g. "1112.22.333" or "111 222 333".

    Returns:
        The nine digits, e.g. "111222333".

    Raises:
        InvalidBsn: the value is not nine (or eight) digits or fails the elfproef.
    """
    try:
        # compact() zero-fills, so judge the length on what was written.
        written: str = stdnum_util.clean(value, " -.").strip()
        if len(written) < _MIN_DIGITS:
            raise InvalidBsn("BSN must have 9 digits")
        result: str = stdnum_bsn.validate(value)
    except stdnum_exceptions.InvalidLength:
        raise InvalidBsn("BSN must have 9 digits") from None
    except stdnum_exceptions.InvalidChecksum:
        raise InvalidBsn("BSN fails the elfproef (11-test)") from None
    except stdnum_exceptions.ValidationError:
        raise InvalidBsn("BSN must consist of digits only") from None
    return result


def is_valid_bsn(value: str) -> bool:
    """Tell whether `value` is a valid BSN (see `normalise_bsn` for what is accepted).

    Args:
        value: the BSN as written.

    Returns:
        True when `normalise_bsn` would accept it.
    """
    try:
        normalise_bsn(value)
    except InvalidBsn:
        return False
    return True
