"""Slow salted hashes for short secrets a person types (PINs, set-up codes).

A 6-digit PIN has a million values: a fast hash of it is undone in a moment.
scrypt with a random salt makes every guess cost memory and time. The stored
string names its parameters, so stronger ones can come later and older hashes
still verify: `scrypt$n=16384,r=8,p=1$<salt>$<hash>` (urlsafe base64).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

_SCHEME = "scrypt"
_SALT_BYTES = 16
_HASH_BYTES = 32


@dataclass(frozen=True)
class ScryptParameters:
    n: int = 2**14  # 16 MiB of memory per guess with r=8
    r: int = 8
    p: int = 1

    def text(self) -> str:
        return f"n={self.n},r={self.r},p={self.p}"

    @classmethod
    def parse(cls, text: str) -> ScryptParameters:
        values = dict(part.split("=", 1) for part in text.split(","))
        parameters = cls(n=int(values["n"]), r=int(values["r"]), p=int(values["p"]))
        if parameters.n > 2**20 or parameters.r > 32 or parameters.p > 16:
            # A damaged row must not make one check take gigabytes.
            raise ValueError("scrypt parameters out of range")
        return parameters


DEFAULT_PARAMETERS = ScryptParameters()


def _scrypt(secret: str, salt: bytes, parameters: ScryptParameters) -> bytes:
    return hashlib.scrypt(
        secret.encode("utf-8"),
        salt=salt,
        n=parameters.n,
        r=parameters.r,
        p=parameters.p,
        maxmem=256 * parameters.n * parameters.r * parameters.p,
        dklen=_HASH_BYTES,
    )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str, parameters: ScryptParameters = DEFAULT_PARAMETERS) -> str:
    """The stored form of `secret`: scheme, parameters, a fresh random salt and the hash."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(secret, salt, parameters)
    return f"{_SCHEME}${parameters.text()}${_b64(salt)}${_b64(digest)}"


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` is the one `stored` was made from (constant-time compare).

    A stored value of an unknown scheme or a damaged one never matches.
    """
    try:
        scheme, parameters, salt, digest = stored.split("$")
        if scheme != _SCHEME:
            return False
        expected = _unb64(digest)
        actual = _scrypt(secret, _unb64(salt), ScryptParameters.parse(parameters))
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(actual, expected)
