from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.crypto import NONCE_BYTES, TAG_BYTES, DecryptionError, FieldCipher
from bot.privacy.keys import (
    DataKey,
    KeyRing,
    add_data_key,
    create_key_file,
    retire_data_key,
)

CONTEXT = "person.identity"
TOKEN = re.compile(r"v1\.(k[0-9]+)\.[A-Za-z0-9_-]+")


def make_ring(*key_ids: str) -> KeyRing:
    """An in-memory ring, primary first."""
    return KeyRing(
        tuple(DataKey(key_id, os.urandom(32), "2026-11-23") for key_id in key_ids),
        os.urandom(32),
    )


CIPHER = FieldCipher(make_ring("k2", "k1"))


def _split(token: str) -> tuple[str, str, bytes]:
    version, key_id, body = token.split(".")
    return version, key_id, base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))


def _join(version: str, key_id: str, blob: bytes) -> str:
    return f"{version}.{key_id}." + base64.urlsafe_b64encode(blob).rstrip(b"=").decode()


def _flip(blob: bytes, index: int, bit: int = 0) -> bytes:
    changed = bytearray(blob)
    changed[index] ^= 1 << bit
    return bytes(changed)


@given(st.text())
def test_round_trip_of_any_text(plaintext: str) -> None:
    token = CIPHER.encrypt(plaintext, context=CONTEXT)
    assert TOKEN.fullmatch(token)
    assert CIPHER.decrypt(token, context=CONTEXT) == plaintext


@pytest.mark.parametrize(
    "plaintext",
    [
        "",
        "Jan de Vries",
        "Zoë Ünal-Çelik",
        "Ĳsbrand 't Hoen",
        "日本語 🙂 \u200b",
        "a\nb\tc",
        "x" * 10_000,
    ],
)
def test_round_trip_of_examples(plaintext: str) -> None:
    token = CIPHER.encrypt(plaintext, context=CONTEXT)
    assert CIPHER.decrypt(token, context=CONTEXT) == plaintext


def test_token_uses_the_primary_key_and_a_fresh_nonce() -> None:
    first = CIPHER.encrypt("Jansen", context=CONTEXT)
    second = CIPHER.encrypt("Jansen", context=CONTEXT)
    assert first != second
    assert CIPHER.key_id_of(first) == "k2"
    assert CIPHER.primary_key_id == "k2"
    assert "Jansen" not in first
    assert _split(first)[2][:NONCE_BYTES] != _split(second)[2][:NONCE_BYTES]


def test_token_layout_is_nonce_ciphertext_tag() -> None:
    token = CIPHER.encrypt("abcde", context=CONTEXT)
    version, key_id, blob = _split(token)
    assert (version, key_id) == ("v1", "k2")
    assert len(blob) == NONCE_BYTES + 5 + TAG_BYTES


REGIONS = {
    "nonce": (0, NONCE_BYTES),
    "ciphertext": (NONCE_BYTES, NONCE_BYTES + 11),
    "tag": (NONCE_BYTES + 11, NONCE_BYTES + 11 + TAG_BYTES),
}


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_every_flipped_bit_is_detected(region: str) -> None:
    token = CIPHER.encrypt("Jan de Vries", context=CONTEXT)  # 11 bytes of ciphertext
    version, key_id, blob = _split(token)
    start, end = REGIONS[region]
    for index in range(start, end):
        for bit in range(8):
            altered = _join(version, key_id, _flip(blob, index, bit))
            with pytest.raises(DecryptionError):
                CIPHER.decrypt(altered, context=CONTEXT)


@given(plaintext=st.text(), data=st.data())
def test_any_flipped_bit_is_detected(plaintext: str, data: st.DataObject) -> None:
    token = CIPHER.encrypt(plaintext, context=CONTEXT)
    version, key_id, blob = _split(token)
    index = data.draw(st.integers(0, len(blob) - 1))
    bit = data.draw(st.integers(0, 7))
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(_join(version, key_id, _flip(blob, index, bit)), context=CONTEXT)


def test_another_key_id_is_detected() -> None:
    token = CIPHER.encrypt("Jan de Vries", context=CONTEXT)
    _, _, blob = _split(token)
    with pytest.raises(DecryptionError, match="authentication"):
        CIPHER.decrypt(_join("v1", "k1", blob), context=CONTEXT)


def test_unknown_key_id_is_refused() -> None:
    token = CIPHER.encrypt("Jan de Vries", context=CONTEXT)
    _, _, blob = _split(token)
    with pytest.raises(DecryptionError, match="not in the key ring"):
        CIPHER.decrypt(_join("v1", "k9", blob), context=CONTEXT)


def test_another_version_is_refused() -> None:
    token = CIPHER.encrypt("Jan de Vries", context=CONTEXT)
    with pytest.raises(DecryptionError, match="v1"):
        CIPHER.decrypt("v2" + token[2:], context=CONTEXT)


def test_wrong_context_is_refused() -> None:
    token = CIPHER.encrypt("Jan de Vries", context="person.identity")
    with pytest.raises(DecryptionError) as caught:
        CIPHER.decrypt(token, context="member.name")
    assert "Jan" not in str(caught.value)
    assert token not in str(caught.value)


def test_a_token_from_another_installation_is_refused() -> None:
    other = FieldCipher(make_ring("k2"))
    token = other.encrypt("Jan de Vries", context=CONTEXT)
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(token, context=CONTEXT)


def test_truncated_tokens_are_refused() -> None:
    token = CIPHER.encrypt("Jan de Vries", context=CONTEXT)
    for end in range(len(token)):
        with pytest.raises(DecryptionError):
            CIPHER.decrypt(token[:end], context=CONTEXT)


def test_non_canonical_base64_is_refused() -> None:
    # 3 bytes of plaintext make 31 bytes of data: the last base64 character
    # carries 4 unused bits, so another character could decode to the same bytes.
    token = CIPHER.encrypt("abc", context=CONTEXT)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(token[-1])
    twin = alphabet[last | 0b0001] if last & 0b0001 == 0 else alphabet[last & ~0b0001]
    altered = token[:-1] + twin
    assert _split(altered)[2] == _split(token)[2]
    with pytest.raises(DecryptionError, match="canonical"):
        CIPHER.decrypt(altered, context=CONTEXT)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "v1",
        "v1..",
        "v1.k2.",
        "v1.k2.%%%%",
        "v1.k2.abc.def",
        "v1.k 2.AAAA",
        "v1.k2.AAAA=",
        "v1.k2.A",
        "hello world",
        "v1.k2." + "A" * 37,
    ],
)
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(garbage, context=CONTEXT)


@given(st.text())
def test_random_text_is_refused_and_never_crashes(garbage: str) -> None:
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(garbage, context=CONTEXT)


@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
def test_random_well_formed_tokens_are_refused(body: str) -> None:
    with pytest.raises(DecryptionError):
        CIPHER.decrypt(f"v1.k2.{body}", context=CONTEXT)


def test_key_id_of_refuses_malformed_tokens() -> None:
    with pytest.raises(DecryptionError):
        CIPHER.key_id_of("not a token")


def test_an_empty_context_is_refused() -> None:
    with pytest.raises(ValueError, match="context"):
        CIPHER.encrypt("x", context="")


def test_lone_surrogates_are_refused_without_echo() -> None:
    with pytest.raises(ValueError, match="not valid Unicode") as caught:
        CIPHER.encrypt("Jan\ud800", context=CONTEXT)
    assert "Jan" not in str(caught.value)


def test_json_round_trip_is_compact_and_sorted() -> None:
    token = CIPHER.encrypt_json({"surname": "Çelik", "bsn": None, "age": 3}, context=CONTEXT)
    assert CIPHER.decrypt(token, context=CONTEXT) == '{"age":3,"bsn":null,"surname":"Çelik"}'
    assert CIPHER.decrypt_json(token, context=CONTEXT) == {
        "surname": "Çelik",
        "bsn": None,
        "age": 3,
    }


@pytest.mark.parametrize("text", ["[1, 2]", "not json", "3"])
def test_decrypt_json_refuses_anything_but_an_object(text: str) -> None:
    token = CIPHER.encrypt(text, context=CONTEXT)
    with pytest.raises(DecryptionError):
        CIPHER.decrypt_json(token, context=CONTEXT)


def test_rotation_through_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "vhbot.keys"
    old_cipher = FieldCipher(create_key_file(path))
    old_token = old_cipher.encrypt("Jan de Vries", context=CONTEXT)

    cipher = FieldCipher(add_data_key(path))

    assert cipher.primary_key_id == "k2"
    assert cipher.decrypt(old_token, context=CONTEXT) == "Jan de Vries"
    assert cipher.needs_rotation(old_token)
    rotated = cipher.rotate(old_token, context=CONTEXT)
    assert cipher.key_id_of(rotated) == "k2"
    assert not cipher.needs_rotation(rotated)
    assert cipher.decrypt(rotated, context=CONTEXT) == "Jan de Vries"
    assert cipher.rotate(rotated, context=CONTEXT) == rotated
    new_token = cipher.encrypt("Piet", context=CONTEXT)
    assert cipher.key_id_of(new_token) == "k2"

    retired = FieldCipher(retire_data_key(path, "k1"))
    assert retired.decrypt(rotated, context=CONTEXT) == "Jan de Vries"
    with pytest.raises(DecryptionError, match="not in the key ring"):
        retired.decrypt(old_token, context=CONTEXT)


def test_rotate_checks_the_token_first() -> None:
    old_key = DataKey("k1", os.urandom(32), "2026-01-01")
    old = FieldCipher(KeyRing((old_key,), os.urandom(32)))
    current = FieldCipher(KeyRing((DataKey("k2", os.urandom(32), ""), old_key), os.urandom(32)))
    token = old.encrypt("Jan", context=CONTEXT)
    version, key_id, blob = _split(token)
    tampered = _join(version, key_id, _flip(blob, len(blob) - 1))

    with pytest.raises(DecryptionError):
        current.rotate(tampered, context=CONTEXT)
    with pytest.raises(DecryptionError):
        current.rotate(token, context="member.name")
    rotated = current.rotate(token, context=CONTEXT)
    assert current.key_id_of(rotated) == "k2"
    assert current.decrypt(rotated, context=CONTEXT) == "Jan"
