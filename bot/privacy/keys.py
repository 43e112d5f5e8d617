"""The key file: data-encryption keys (rotatable) and the pseudonym key (never rotated).

Format (JSON, mode 0600)::

    {"version": 1,
     "data_keys": [{"id": "k2", "key": "<base64>", "created": "2026-11-23"}, ...],
     "pseudonym_key": "<base64>"}

The first data key is the primary: new ciphertexts use it, the others are kept
only to decrypt what was written before a rotation.

The audit key (the HMAC key of the audit chain and its anchor file) is not in
the file: it is derived from the pseudonym key with HKDF under its own label,
so every existing key file has one, it survives data-key rotation, and no key
is used directly for two purposes.

Errors name the file and the problem, never key material.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import stat
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32  # AES-256 and HMAC-SHA256
FILE_VERSION = 1
_KEY_ID = re.compile(r"k[1-9][0-9]{0,8}")
# HKDF "info" of the audit key: fixed forever, or every keyed audit entry stops verifying.
AUDIT_KEY_LABEL = b"vhbot audit chain v1"
# HKDF "info" of the key that signs the web pages' form tokens (CSRF).
WEB_FORM_KEY_LABEL = b"vhbot web forms v1"


class KeyFileError(Exception):
    """The key file is missing, unsafe or unreadable; the message names the file, not its keys."""


@dataclass(frozen=True)
class DataKey:
    """One data-encryption key (AES-256-GCM).

    Attributes:
        key_id: short id written in front of every ciphertext ("k1", "k2", ...).
        secret: 32 random bytes; left out of repr so a log line cannot leak it.
        created: ISO date the key was made; informational only.
    """

    key_id: str
    secret: bytes = field(repr=False)
    created: str

    def __post_init__(self) -> None:
        if not _KEY_ID.fullmatch(self.key_id):
            raise ValueError("data key id must look like k1, k2, ...")
        if len(self.secret) != KEY_BYTES:
            raise ValueError(f"data key {self.key_id} must be {KEY_BYTES} bytes")


@dataclass(frozen=True)
class KeyRing:
    """All keys of the installation.

    Attributes:
        data_keys: the data keys, primary first; the rest only decrypt old data.
        pseudonym_key: the HMAC key behind identity keys and pseudonyms. It is
            never rotated: a new key would give every person a new pseudonym and
            break the link with everything recorded under the old one.
    """

    data_keys: tuple[DataKey, ...]
    pseudonym_key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.data_keys:
            raise ValueError("a key ring needs at least one data key")
        ids = [key.key_id for key in self.data_keys]
        if len(set(ids)) != len(ids):
            raise ValueError("data key ids must be unique")
        if len(self.pseudonym_key) != KEY_BYTES:
            raise ValueError(f"the pseudonym key must be {KEY_BYTES} bytes")

    @property
    def audit_key(self) -> bytes:
        """The HMAC key of the audit chain and its anchor file (32 bytes).

        Derived from the pseudonym key, which is never rotated: a rotated audit
        key would make every entry written before the rotation fail to verify.
        """
        return HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=AUDIT_KEY_LABEL
        ).derive(self.pseudonym_key)

    @property
    def web_form_key(self) -> bytes:
        """The HMAC key of the web pages' form (CSRF) tokens (32 bytes), derived like
        the audit key under its own label."""
        return HKDF(
            algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=WEB_FORM_KEY_LABEL
        ).derive(self.pseudonym_key)

    @property
    def primary(self) -> DataKey:
        """The data key new ciphertexts are made with."""
        return self.data_keys[0]

    def get(self, key_id: str) -> DataKey:
        """Return the data key with this id.

        Raises:
            KeyError: no such key in the ring (retired, or never existed).
        """
        for key in self.data_keys:
            if key.key_id == key_id:
                return key
        raise KeyError(key_id)


def create_key_file(path: Path, *, today: date | None = None) -> KeyRing:
    """Create a new key file with one data key ("k1") and a pseudonym key.

    The file is created with O_EXCL and mode 0600, so an existing file (or a
    symlink planted in its place) is never overwritten and the keys are never
    readable by others, not even for a moment.

    Args:
        path: where to create the file; missing parent folders are created (0700).
        today: the creation date recorded with the key; defaults to today (UTC).

    Returns:
        The new key ring.

    Raises:
        KeyFileError: the file already exists or cannot be written.
    """
    created = (today or datetime.now(UTC).date()).isoformat()
    ring = KeyRing(
        data_keys=(DataKey("k1", secrets.token_bytes(KEY_BYTES), created),),
        pseudonym_key=secrets.token_bytes(KEY_BYTES),
    )
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise KeyFileError(f"key file {path}: cannot create its folder ({_reason(exc)})") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyFileError(f"key file {path} already exists; it is never overwritten") from None
    except OSError as exc:
        raise KeyFileError(f"key file {path}: cannot create it ({_reason(exc)})") from None
    try:
        # The umask may only remove bits; make the mode exact anyway.
        os.fchmod(fd, 0o600)
        _write_all(fd, _serialise(ring))
        os.fsync(fd)
    except OSError as exc:
        os.close(fd)
        # We created it, so a half-written file is ours to remove.
        with contextlib.suppress(OSError):
            path.unlink()
        raise KeyFileError(f"key file {path}: cannot write it ({_reason(exc)})") from None
    os.close(fd)
    _fsync_dir(path.parent)
    return ring


def load_key_file(path: Path) -> KeyRing:
    """Read and check the key file.

    Args:
        path: the key file.

    Returns:
        The key ring, primary data key first.

    Raises:
        KeyFileError: the file is missing, not a regular file, not readable,
            accessible by group or others, or malformed.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} not found; run `vhbot keys init`") from None
    except PermissionError:
        raise KeyFileError(f"key file {path} is not readable by this user") from None
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be opened ({_reason(exc)})") from None
    try:
        # fstat on the open file, so the file checked is the file read.
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        _check_mode(path, info.st_mode)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            raw = handle.read()
    except OSError as exc:
        raise KeyFileError(f"key file {path} cannot be read ({_reason(exc)})") from None
    finally:
        os.close(fd)
    return _parse(path, raw)


def add_data_key(path: Path, *, today: date | None = None) -> KeyRing:
    """Add a new primary data key; older keys stay for decrypting old data.

    The new id is one above the highest id in the file, so ids are never
    reused (the primary, which holds the highest id, cannot be retired).

    Args:
        path: the existing key file.
        today: the creation date recorded with the key; defaults to today (UTC).

    Returns:
        The new key ring, the new key first.

    Raises:
        KeyFileError: the file cannot be loaded or rewritten.
    """
    ring = load_key_file(path)
    next_number = max(int(key.key_id[1:]) for key in ring.data_keys) + 1
    created = (today or datetime.now(UTC).date()).isoformat()
    new_key = DataKey(f"k{next_number}", secrets.token_bytes(KEY_BYTES), created)
    updated = KeyRing(data_keys=(new_key, *ring.data_keys), pseudonym_key=ring.pseudonym_key)
    _replace_file(path, updated)
    return updated


def retire_data_key(path: Path, key_id: str) -> KeyRing:
    """Remove a non-primary data key from the file.

    Whatever was encrypted with it can no longer be decrypted: re-encrypt
    (rotate) every field first.

    Args:
        path: the existing key file.
        key_id: the key to remove.

    Returns:
        The remaining key ring.

    Raises:
        KeyFileError: the key is the primary or unknown, or the file cannot be
            loaded or rewritten.
    """
    ring = load_key_file(path)
    if ring.primary.key_id == key_id:
        raise KeyFileError(
            f"key file {path}: {key_id} is the primary data key and cannot be retired"
        )
    remaining = tuple(key for key in ring.data_keys if key.key_id != key_id)
    if len(remaining) == len(ring.data_keys):
        # The id comes from the command line; show it only if it looks like an id.
        shown = key_id if _KEY_ID.fullmatch(key_id) else "that id"
        raise KeyFileError(f"key file {path} has no data key {shown}")
    updated = KeyRing(data_keys=remaining, pseudonym_key=ring.pseudonym_key)
    _replace_file(path, updated)
    return updated


def _in_systemd_credentials(path: Path) -> bool:
    """True for a file systemd handed over with LoadCredential=.

    systemd 254 and later shows such a copy as mode 0440 owned by root, with an
    ACL for the service user, in a directory only that service can read: the
    group bit there does not mean anyone else can read the key.
    """
    directory = os.environ.get("CREDENTIALS_DIRECTORY")
    if not directory:
        return False
    try:
        return path.resolve().parent == Path(directory).resolve()
    except OSError:
        return False


def _check_mode(path: Path, mode: int) -> None:
    loose = stat.S_IMODE(mode) & 0o077
    if not loose:
        return
    # Only the group-read bit systemd sets on a credential copy; never one for others.
    if not loose & ~0o040 and _in_systemd_credentials(path):
        return
    what = "readable" if loose & 0o044 else "writable"
    raise KeyFileError(
        f"key file {path} is {what} by others (mode {stat.S_IMODE(mode):04o}); run chmod 600 {path}"
    )


def _parse(path: Path, raw: bytes) -> KeyRing:
    # `from None` throughout: a decoder's own message may quote bytes of the file.
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"key file {path} is not valid JSON") from None
    if not isinstance(document, dict):
        raise KeyFileError(f"key file {path} is malformed: expected a JSON object")
    if document.get("version") != FILE_VERSION:
        raise KeyFileError(f"key file {path} has an unsupported version (expected {FILE_VERSION})")
    entries = document.get("data_keys")
    if not isinstance(entries, list) or not entries:
        raise KeyFileError(f"key file {path} is malformed: data_keys must be a non-empty list")
    data_keys = tuple(_parse_data_key(path, number, entry) for number, entry in enumerate(entries))
    pseudonym_key = _decode_key(path, "pseudonym_key", document.get("pseudonym_key"))
    try:
        return KeyRing(data_keys=data_keys, pseudonym_key=pseudonym_key)
    except ValueError as exc:
        # KeyRing's messages are about ids and lengths only.
        raise KeyFileError(f"key file {path} is malformed: {exc}") from None


def _parse_data_key(path: Path, number: int, entry: Any) -> DataKey:
    where = f"data_keys[{number}]"
    if not isinstance(entry, dict):
        raise KeyFileError(f"key file {path} is malformed: {where} must be an object")
    key_id = entry.get("id")
    if not isinstance(key_id, str) or not _KEY_ID.fullmatch(key_id):
        raise KeyFileError(f"key file {path} is malformed: {where} has no valid id (k1, k2, ...)")
    created = entry.get("created", "")
    if not isinstance(created, str):
        raise KeyFileError(f"key file {path} is malformed: {where}.created must be a string")
    secret = _decode_key(path, f"data key {key_id}", entry.get("key"))
    return DataKey(key_id, secret, created)


def _decode_key(path: Path, what: str, value: Any) -> bytes:
    if not isinstance(value, str):
        raise KeyFileError(f"key file {path} is malformed: {what} is missing")
    try:
        secret = base64.b64decode(value.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise KeyFileError(f"key file {path} is malformed: {what} is not base64") from None
    if len(secret) != KEY_BYTES:
        raise KeyFileError(
            f"key file {path} is malformed: {what} must be {KEY_BYTES} bytes, found {len(secret)}"
        )
    return secret


def _serialise(ring: KeyRing) -> bytes:
    document = {
        "version": FILE_VERSION,
        "data_keys": [
            {
                "id": key.key_id,
                "key": base64.b64encode(key.secret).decode("ascii"),
                "created": key.created,
            }
            for key in ring.data_keys
        ],
        "pseudonym_key": base64.b64encode(ring.pseudonym_key).decode("ascii"),
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _replace_file(path: Path, ring: KeyRing) -> None:
    """Write the ring to a 0600 temp file beside `path`, then rename it over `path`.

    A crash leaves either the old file or the new one, never half of one.
    """
    try:
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise KeyFileError(f"key file {path}: cannot write beside it ({_reason(exc)})") from None
    temp_path = Path(temp_name)
    try:
        try:
            os.fchmod(fd, 0o600)
            _write_all(fd, _serialise(ring))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp_path, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temp_path.unlink()
        raise KeyFileError(f"key file {path}: cannot rewrite it ({_reason(exc)})") from None
    _fsync_dir(path.parent)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry durable; not every platform allows it.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _reason(exc: OSError) -> str:
    # strerror only ("Permission denied"); str(exc) would repeat the path.
    return exc.strerror or type(exc).__name__
