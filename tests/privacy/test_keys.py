from __future__ import annotations

import base64
import json
import os
import stat
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bot.privacy.keys import (
    DataKey,
    KeyFileError,
    KeyRing,
    add_data_key,
    create_key_file,
    load_key_file,
    retire_data_key,
)

TODAY = date(2026, 11, 23)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _key_strings(ring: KeyRing) -> list[str]:
    secrets = [key.secret for key in ring.data_keys] + [ring.pseudonym_key]
    return [base64.b64encode(secret).decode() for secret in secrets]


def _assert_no_key_material(message: str, ring: KeyRing) -> None:
    for encoded in _key_strings(ring):
        assert encoded not in message
        assert encoded[:12] not in message


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "vhbot.keys"


def test_create_writes_mode_0600_with_one_data_key(key_path: Path) -> None:
    ring = create_key_file(key_path, today=TODAY)

    assert _mode(key_path) == 0o600
    assert [key.key_id for key in ring.data_keys] == ["k1"]
    assert ring.primary.key_id == "k1"
    assert len(ring.primary.secret) == 32
    assert len(ring.pseudonym_key) == 32
    assert ring.primary.created == "2026-11-23"
    document = json.loads(key_path.read_text())
    assert document["version"] == 1
    assert document["data_keys"][0]["id"] == "k1"
    assert base64.b64decode(document["data_keys"][0]["key"]) == ring.primary.secret
    assert base64.b64decode(document["pseudonym_key"]) == ring.pseudonym_key


def test_create_makes_mode_0600_whatever_the_umask(key_path: Path) -> None:
    old = os.umask(0)
    try:
        create_key_file(key_path)
    finally:
        os.umask(old)
    assert _mode(key_path) == 0o600


def test_create_makes_missing_parent_folders(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "vhbot" / "vhbot.keys"
    create_key_file(path)
    assert path.is_file()
    assert _mode(path) == 0o600


def test_create_never_overwrites_a_key_file(key_path: Path) -> None:
    first = create_key_file(key_path)
    before = key_path.read_bytes()

    with pytest.raises(KeyFileError, match="already exists") as caught:
        create_key_file(key_path)

    assert key_path.read_bytes() == before
    assert load_key_file(key_path) == first
    assert str(key_path) in str(caught.value)


def test_create_never_overwrites_any_file(key_path: Path) -> None:
    key_path.write_text("something else\n")
    with pytest.raises(KeyFileError, match="already exists"):
        create_key_file(key_path)
    assert key_path.read_text() == "something else\n"


def test_create_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    link = tmp_path / "vhbot.keys"
    link.symlink_to(target)
    with pytest.raises(KeyFileError, match="already exists"):
        create_key_file(link)
    assert not target.exists()


def test_load_returns_what_create_made(key_path: Path) -> None:
    created = create_key_file(key_path)
    assert load_key_file(key_path) == created


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o666])
def test_load_refuses_a_file_others_can_access(key_path: Path, mode: int) -> None:
    ring = create_key_file(key_path)
    key_path.chmod(mode)

    with pytest.raises(KeyFileError, match="by others") as caught:
        load_key_file(key_path)

    message = str(caught.value)
    assert f"chmod 600 {key_path}" in message
    assert "\n" not in message
    _assert_no_key_material(message, ring)


def test_load_says_how_to_create_a_missing_file(key_path: Path) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_key_file(key_path)
    message = str(caught.value)
    assert str(key_path) in message
    assert "not found" in message
    assert "vhbot keys init" in message


def test_load_reports_an_unreadable_file(key_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    create_key_file(key_path)
    real_open = os.open

    # Tests may run as root, which reads any file: simulate the refusal instead.
    def refusing_open(path: object, flags: int, *args: object) -> int:
        if path == key_path:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(KeyFileError, match="not readable") as caught:
        load_key_file(key_path)
    assert str(key_path) in str(caught.value)


def test_load_refuses_a_directory(tmp_path: Path) -> None:
    folder = tmp_path / "vhbot.keys"
    folder.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_key_file(folder)


def _valid_document() -> dict[str, object]:
    return {
        "version": 1,
        "data_keys": [
            {"id": "k2", "key": base64.b64encode(b"\x02" * 32).decode(), "created": "2026-11-23"},
            {"id": "k1", "key": base64.b64encode(b"\x01" * 32).decode(), "created": "2026-01-01"},
        ],
        "pseudonym_key": base64.b64encode(b"\x03" * 32).decode(),
    }


def _write(path: Path, content: str) -> None:
    path.write_text(content)
    path.chmod(0o600)


def test_load_reads_a_hand_written_file(key_path: Path) -> None:
    _write(key_path, json.dumps(_valid_document()))
    ring = load_key_file(key_path)
    assert ring.primary == DataKey("k2", b"\x02" * 32, "2026-11-23")
    assert ring.get("k1").secret == b"\x01" * 32
    assert ring.pseudonym_key == b"\x03" * 32


def _broken(**changes: object) -> str:
    document = _valid_document()
    document.update(changes)
    return json.dumps(document)


def _short_key() -> str:
    return base64.b64encode(b"\x01" * 16).decode()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("\xff\xfe", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (_broken(version=2), "unsupported version"),
        (_broken(data_keys=[]), "non-empty list"),
        (_broken(data_keys="k1"), "non-empty list"),
        (_broken(data_keys=["k1"]), "must be an object"),
        (_broken(data_keys=[{"id": "one", "key": _short_key()}]), "no valid id"),
        (_broken(data_keys=[{"id": "k1", "key": _short_key()}]), "must be 32 bytes, found 16"),
        (_broken(data_keys=[{"id": "k1", "key": "not base64!"}]), "not base64"),
        (_broken(data_keys=[{"id": "k1"}]), "missing"),
        (_broken(pseudonym_key=_short_key()), "pseudonym_key must be 32 bytes"),
        (_broken(pseudonym_key=None), "pseudonym_key is missing"),
    ],
)
def test_load_reports_a_malformed_file(key_path: Path, content: str, expected: str) -> None:
    _write(key_path, content)
    with pytest.raises(KeyFileError, match=expected) as caught:
        load_key_file(key_path)
    message = str(caught.value)
    assert str(key_path) in message
    assert "\n" not in message


def test_load_refuses_duplicate_key_ids(key_path: Path) -> None:
    document = _valid_document()
    document["data_keys"] = [document["data_keys"][0]] * 2  # type: ignore[index]
    _write(key_path, json.dumps(document))
    with pytest.raises(KeyFileError, match="unique"):
        load_key_file(key_path)


def test_load_errors_do_not_quote_the_keys(key_path: Path) -> None:
    document = _valid_document()
    document["pseudonym_key"] = base64.b64encode(b"\x07" * 31).decode()
    _write(key_path, json.dumps(document))
    with pytest.raises(KeyFileError) as caught:
        load_key_file(key_path)
    assert caught.value.__cause__ is None
    for secret in (b"\x01" * 32, b"\x02" * 32, b"\x07" * 31):
        assert base64.b64encode(secret).decode()[:12] not in str(caught.value)


def test_repr_hides_key_material() -> None:
    ring = KeyRing((DataKey("k1", b"\xab" * 32, "2026-11-23"),), b"\xcd" * 32)
    text = repr(ring)
    assert "k1" in text
    assert "\\xab" not in text
    assert "\\xcd" not in text


def test_ring_get_and_primary() -> None:
    ring = KeyRing((DataKey("k2", b"\x02" * 32, ""), DataKey("k1", b"\x01" * 32, "")), b"\x03" * 32)
    assert ring.primary.key_id == "k2"
    assert ring.get("k1").secret == b"\x01" * 32
    with pytest.raises(KeyError):
        ring.get("k9")


def test_add_data_key_makes_a_new_primary_and_keeps_the_old(key_path: Path) -> None:
    first = create_key_file(key_path)

    second = add_data_key(key_path, today=TODAY)

    assert [key.key_id for key in second.data_keys] == ["k2", "k1"]
    assert second.primary.created == "2026-11-23"
    assert second.get("k1") == first.primary
    assert second.primary.secret != first.primary.secret
    assert second.pseudonym_key == first.pseudonym_key
    assert load_key_file(key_path) == second
    assert _mode(key_path) == 0o600
    assert [p.name for p in key_path.parent.iterdir()] == [key_path.name]

    third = add_data_key(key_path)
    assert [key.key_id for key in third.data_keys] == ["k3", "k2", "k1"]


def test_add_data_key_refuses_an_unsafe_file(key_path: Path) -> None:
    create_key_file(key_path)
    key_path.chmod(0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        add_data_key(key_path)


def test_retire_removes_an_old_key(key_path: Path) -> None:
    create_key_file(key_path)
    add_data_key(key_path)

    ring = retire_data_key(key_path, "k1")

    assert [key.key_id for key in ring.data_keys] == ["k2"]
    assert load_key_file(key_path) == ring
    assert _mode(key_path) == 0o600
    # Ids are never reused: the next key after retiring k1 is k3.
    assert add_data_key(key_path).primary.key_id == "k3"


def test_retire_refuses_the_primary(key_path: Path) -> None:
    create_key_file(key_path)
    ring = add_data_key(key_path)
    with pytest.raises(KeyFileError, match="primary"):
        retire_data_key(key_path, "k2")
    assert load_key_file(key_path) == ring


def test_retire_refuses_an_unknown_key(key_path: Path) -> None:
    create_key_file(key_path)
    with pytest.raises(KeyFileError, match="no data key k7"):
        retire_data_key(key_path, "k7")
    with pytest.raises(KeyFileError, match="no data key that id"):
        retire_data_key(key_path, "secret stuff")


def test_systemd_credential_copy_with_group_read_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir(mode=0o500)
    key_file = tmp_path / "plain.keys"
    create_key_file(key_file)
    copy = credentials / "vhbot.keys"
    copy.write_bytes(key_file.read_bytes())
    copy.chmod(0o440)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_key_file(copy)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(credentials))
    assert load_key_file(copy).primary.key_id == "k1"
    copy.chmod(0o420)  # group-writable stays refused, credentials or not
    with pytest.raises(KeyFileError, match="writable by others"):
        load_key_file(copy)
    copy.chmod(0o444)  # world-readable is refused everywhere, credentials or not
    with pytest.raises(KeyFileError, match="readable by others"):
        load_key_file(copy)
    copy.chmod(0o600)


def test_audit_key_is_derived_and_survives_rotation(key_path: Path) -> None:
    ring = create_key_file(key_path, today=TODAY)
    audit_key = ring.audit_key

    assert len(audit_key) == 32
    assert audit_key not in {ring.pseudonym_key, *(key.secret for key in ring.data_keys)}
    # HKDF-SHA256 of the pseudonym key under a fixed label: existing key files have one.
    assert audit_key == HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"vhbot audit chain v1"
    ).derive(ring.pseudonym_key)
    assert load_key_file(key_path).audit_key == audit_key
    assert add_data_key(key_path, today=TODAY).audit_key == audit_key
    assert create_key_file(key_path.with_name("other.keys")).audit_key != audit_key
    assert base64.b64encode(audit_key).decode() not in repr(ring)
