"""Field encryption: AES-256-GCM with key ids, bound to the column it belongs in.

Token format: ``v1.<key_id>.<base64url(nonce || ciphertext || tag), unpadded>``.
The key id says which data key to decrypt with, so old tokens keep working
after a rotation. The `context` (e.g. "person.identity") is authenticated as
associated data: a token copied into another column does not decrypt there.

Nonces are 12 random bytes; stay well below 2**32 encryptions per key (rotate
long before that) to keep the chance of a repeated nonce negligible.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.privacy.keys import KeyRing

VERSION = "v1"
NONCE_BYTES = 12
TAG_BYTES = 16
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class DecryptionError(Exception):
    """A token that cannot be decrypted: malformed, tampered, wrong context or unknown key.

    The message never contains the token or any plaintext.
    """


class FieldCipher:
    """Encrypts and decrypts single text fields with the key ring's data keys."""

    def __init__(self, ring: KeyRing) -> None:
        self._primary_id = ring.primary.key_id
        self._ciphers = {key.key_id: AESGCM(key.secret) for key in ring.data_keys}

    @property
    def primary_key_id(self) -> str:
        """The id of the key new tokens are made with."""
        return self._primary_id

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt text with the primary key.

        Args:
            plaintext: the text; any Unicode.
            context: where the token will be stored (e.g. "person.identity");
                the same context is needed to decrypt.

        Returns:
            A token ``v1.<key_id>.<data>``; different every call (random nonce).
        """
        associated = _context_bytes(context)
        try:
            data = plaintext.encode("utf-8")
        except UnicodeEncodeError:
            # The codec's message would quote the offending character.
            raise ValueError("plaintext is not valid Unicode text") from None
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self._primary_id].encrypt(nonce, data, associated)
        body = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{VERSION}.{self._primary_id}.{body}"

    def decrypt(self, token: str, *, context: str) -> str:
        """Decrypt a token made by `encrypt` (with any key still in the ring).

        Args:
            token: the stored token.
            context: the context it was encrypted with.

        Returns:
            The plaintext.

        Raises:
            DecryptionError: the token is malformed, was altered, belongs to
                another context or uses a key no longer in the ring.
        """
        associated = _context_bytes(context)
        key_id, blob = self._split(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError("token uses a data key that is not in the key ring")
        try:
            data = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], associated)
        except InvalidTag:
            raise DecryptionError(
                "token failed authentication (altered, or another context or key)"
            ) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("token does not hold text") from None

    def key_id_of(self, token: str) -> str:
        """Return the id of the key a token was made with (without decrypting it).

        Raises:
            DecryptionError: the token is malformed.
        """
        key_id, _ = self._split(token)
        return key_id

    def needs_rotation(self, token: str) -> bool:
        """Tell whether a token was made with a key other than the primary.

        Raises:
            DecryptionError: the token is malformed.
        """
        return self.key_id_of(token) != self._primary_id

    def rotate(self, token: str, *, context: str) -> str:
        """Re-encrypt a token under the primary key.

        The token is always decrypted first, so a bad token raises rather than
        being carried along; one already under the primary key is returned as is.

        Args:
            token: the stored token.
            context: the context it was encrypted with.

        Returns:
            A token made with the primary key.

        Raises:
            DecryptionError: as for `decrypt`.
        """
        plaintext = self.decrypt(token, context=context)
        if not self.needs_rotation(token):
            return token
        return self.encrypt(plaintext, context=context)

    def encrypt_json(self, obj: Mapping[str, Any], *, context: str) -> str:
        """Encrypt a JSON object (compact, sorted keys) like `encrypt`.

        Raises:
            TypeError: a value is not JSON-serialisable.
        """
        text = json.dumps(
            dict(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
        return self.encrypt(text, context=context)

    def decrypt_json(self, token: str, *, context: str) -> dict[str, Any]:
        """Decrypt a token made by `encrypt_json`.

        Raises:
            DecryptionError: as for `decrypt`, or the plaintext is not a JSON object.
        """
        text = self.decrypt(token, context=context)
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            raise DecryptionError("token does not hold JSON") from None
        if not isinstance(value, dict):
            raise DecryptionError("token does not hold a JSON object")
        return value

    @staticmethod
    def _split(token: str) -> tuple[str, bytes]:
        if not isinstance(token, str):
            raise DecryptionError("token is not a string")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise DecryptionError("token is not a v1 field token")
        key_id, body = parts[1], parts[2]
        if not key_id or not key_id.isascii() or not key_id.isalnum():
            raise DecryptionError("token has a malformed key id")
        if not _B64URL.fullmatch(body):
            raise DecryptionError("token data is not base64url")
        try:
            blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise DecryptionError("token data is not base64url") from None
        # Refuse non-canonical encodings: otherwise a changed trailing character
        # could decode to the same bytes and an altered token would still pass.
        if base64.urlsafe_b64encode(blob).rstrip(b"=").decode("ascii") != body:
            raise DecryptionError("token data is not canonical base64url")
        if len(blob) < NONCE_BYTES + TAG_BYTES:
            raise DecryptionError("token data is too short")
        return key_id, blob


def _context_bytes(context: str) -> bytes:
    if not context:
        raise ValueError("an encryption context is required")
    return context.encode("utf-8")
