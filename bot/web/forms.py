"""Form tokens (CSRF) and reading a posted form: small, strict, never echoing input.

A form token is `<expiry>.<hmac>`: the HMAC (SHA-256, a key derived from the key
file) of the link it belongs to and the moment it stops being accepted. A form
posted to another link, after the expiry or without a token is refused before
anything is looked up.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

FORM_VALIDITY = timedelta(minutes=15)
MAX_BODY = 4096  # bytes of a posted form
MAX_FIELDS = 10


class BadForm(ValueError):
    """A body that is not a small UTF-8 form; the message never quotes it."""


def form_token(key: bytes, link_token: str, *, now: datetime) -> str:
    """A token for a form of the page of `link_token`, accepted until now + FORM_VALIDITY."""
    expiry = int((now + FORM_VALIDITY).timestamp())
    return f"{expiry}.{_mac(key, link_token, expiry)}"


def form_token_ok(key: bytes, link_token: str, token: str | None, *, now: datetime) -> bool:
    """Whether `token` was made for this link's form and has not expired."""
    if not token or len(token) > 100:
        return False
    expiry_text, _, mac = token.partition(".")
    if not expiry_text.isascii() or not expiry_text.isdigit() or len(expiry_text) > 12:
        return False
    expiry = int(expiry_text)
    if not hmac.compare_digest(
        mac.encode("ascii", "replace"), _mac(key, link_token, expiry).encode()
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


def _mac(key: bytes, link_token: str, expiry: int) -> str:
    message = f"reveal-form\x00{link_token}\x00{expiry}".encode("utf-8", "replace")
    return hmac.new(key, message, hashlib.sha256).hexdigest()
