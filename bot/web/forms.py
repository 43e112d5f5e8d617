"""Form tokens (CSRF) and reading a posted form: small, strict, never echoing input.

A form token is `<expiry>.<hmac>`: the HMAC (SHA-256, a key derived from the key
file) of the link it belongs to and the moment it stops being accepted. A form
posted to another link, after the expiry or without a token is refused before
anything is looked up.

The form for a new melding, opened with the PIN, carries a token of its own
purpose (`melding_form_token`): it expires with the form, and a token of a PIN
form is not one of it, so nobody holding only the link (and a PIN page) can send
the form past the PIN.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

FORM_VALIDITY = timedelta(minutes=15)
# Bytes of a posted form: the melding form's longest lawful content, a 4,000-character
# remark in any script (up to 12 bytes a character once URL-encoded) and the names.
MAX_BODY = 64 * 1024
MAX_FIELDS = 16
_PIN_FORM = "reveal-form"
_MELDING_FORM = "melding-form"


class BadForm(ValueError):
    """A body that is not a small UTF-8 form; the message never quotes it."""


def form_token(key: bytes, link_token: str, *, now: datetime) -> str:
    """A token for a form of the page of `link_token`, accepted until now + FORM_VALIDITY."""
    expiry = int((now + FORM_VALIDITY).timestamp())
    return f"{expiry}.{_mac(key, _PIN_FORM, link_token, expiry)}"


def form_token_ok(key: bytes, link_token: str, token: str | None, *, now: datetime) -> bool:
    """Whether `token` was made for this link's form and has not expired."""
    return _token_ok(key, _PIN_FORM, link_token, token, now=now)


def melding_form_token(key: bytes, link_token: str, *, until: datetime) -> str:
    """A token for the melding form that `link_token`'s PIN opened, accepted until `until`
    (the form's own end: the same token however often the form is shown again)."""
    expiry = int(until.timestamp())
    return f"{expiry}.{_mac(key, _MELDING_FORM, link_token, expiry)}"


def melding_form_token_ok(key: bytes, link_token: str, token: str | None, *, now: datetime) -> bool:
    """Whether `token` was made for the melding form of this link and has not expired."""
    return _token_ok(key, _MELDING_FORM, link_token, token, now=now)


def _token_ok(
    key: bytes, purpose: str, link_token: str, token: str | None, *, now: datetime
) -> bool:
    if not token or len(token) > 100:
        return False
    expiry_text, _, mac = token.partition(".")
    if not expiry_text.isascii() or not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    if not hmac.compare_digest(
        mac.encode("ascii", "replace"), _mac(key, purpose, link_token, expiry).encode()
    ):
        return False
    return now < datetime.fromtimestamp(expiry, UTC)


def parse_form(body: bytes) -> dict[str, str]:
    """The fields of an `application/x-www-form-urlencoded` body (the first of each name).

    Raises:
        BadForm: the body or a decoded field is not UTF-8, or it has too many fields.
    """
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm("not a small UTF-8 form") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _mac(key: bytes, purpose: str, link_token: str, expiry: int) -> str:
    message = f"{purpose}\x00{link_token}\x00{expiry}".encode("utf-8", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
