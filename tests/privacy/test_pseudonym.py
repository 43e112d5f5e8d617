from __future__ import annotations

import dataclasses
import itertools
import re
import unicodedata
from datetime import date, datetime

import pytest
from faker import Faker
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.domain.bsn import InvalidBsn
from bot.domain.identity import Identity, normalise_identity
from bot.privacy.pseudonym import (
    CROCKFORD32,
    MAX_PSEUDONYM_CHARS,
    PSEUDONYM_CHARS,
    identity_key,
    is_pseudonym,
    pseudonym,
    pseudonym_from_identity_key,
)
from tests.privacy.factories import make_identity

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
FORMAT = re.compile(r"^P-[0-9A-HJKMNP-TV-Z]{8}$")
BORN = date(1980, 12, 1)

_FAKER = Faker("nl_NL")


def _identity_from_seed(seed: int) -> Identity:
    _FAKER.seed_instance(seed)
    return make_identity(_FAKER, with_bsn=False)


identities = st.integers(0, 2**32 - 1).map(_identity_from_seed)
ACCENTS = ["\u0301", "\u0300", "\u0308", "\u0302", "\u0303"]


@st.composite
def respelled(draw: st.DrawFn, name: str, *, join_words: bool) -> str:
    """The same name as another clerk might type it: case, accents, spacing."""
    out: list[str] = []
    for char in name:
        if char.isalpha():
            char = char.upper() if draw(st.booleans()) else char.lower()
            if draw(st.integers(0, 3)) == 0:
                char = unicodedata.normalize("NFC", char + draw(st.sampled_from(ACCENTS)))
        elif char.isspace():
            spacing = ["", " ", "  ", "-", " - "] if join_words else [" ", "  ", "\t", " \n "]
            char = draw(st.sampled_from(spacing))
        out.append(char)
    return draw(st.sampled_from(["", " ", "\t"])) + "".join(out) + draw(st.sampled_from(["", " "]))


@pytest.mark.parametrize(
    "surname",
    [
        "Van den Berg",
        "van den berg",
        "VAN DEN BERG",
        "Vandenberg",
        "Ván-den Berg ",
        "Berg, van den",
    ],
)
def test_surname_spellings_normalise_alike(surname: str) -> None:
    identity = Identity(surname, "Jan Pieter", BORN)
    assert normalise_identity(identity) == "nb:vandenberg|1980-12-01|jan"
    assert pseudonym(identity, KEY) == pseudonym(Identity("van den Berg", "Jan", BORN), KEY)


@given(identities, st.data())
def test_respelled_identity_keeps_its_pseudonym(identity: Identity, data: st.DataObject) -> None:
    variant = Identity(
        surname=data.draw(respelled(identity.surname, join_words=True)),
        given_names=data.draw(respelled(identity.given_names, join_words=False)),
        birth_date=identity.birth_date,
    )
    assert normalise_identity(variant) == normalise_identity(identity)
    assert identity_key(variant, KEY) == identity_key(identity, KEY)
    assert pseudonym(variant, KEY) == pseudonym(identity, KEY)


@given(
    st.sampled_from(["van", "de", "van der", "van den", "ter", "'t", "de la", "in 't"]),
    identities,
    st.data(),
)
def test_tussenvoegsel_spacing_and_register_form_agree(
    tussenvoegsel: str, person: Identity, data: st.DataObject
) -> None:
    parts = [w for w in re.split(r"[\s,-]+", person.surname) if w.isalpha() and len(w) > 3]
    assume(parts)
    base = parts[-1]
    written = Identity(f"{tussenvoegsel} {base}", person.given_names, person.birth_date)
    joined = Identity(
        tussenvoegsel.replace(" ", "").replace("'", "") + base.lower(),
        person.given_names,
        person.birth_date,
    )
    register = Identity(f"{base}, {tussenvoegsel}", person.given_names, person.birth_date)
    respelled_form = Identity(
        data.draw(respelled(written.surname, join_words=True)),
        person.given_names,
        person.birth_date,
    )
    expected = pseudonym(written, KEY)
    assert pseudonym(joined, KEY) == expected
    assert pseudonym(register, KEY) == expected
    assert pseudonym(respelled_form, KEY) == expected


@given(identities)
def test_pseudonym_format(identity: Identity) -> None:
    code = pseudonym(identity, KEY)
    assert FORMAT.match(code)
    assert is_pseudonym(code)
    assert re.fullmatch(r"[0-9a-f]{64}", identity_key(identity, KEY))


@given(identities)
def test_another_key_gives_another_pseudonym(identity: Identity) -> None:
    assert pseudonym(identity, KEY) != pseudonym(identity, OTHER_KEY)
    assert identity_key(identity, KEY) != identity_key(identity, OTHER_KEY)


def test_pseudonym_is_stable_across_calls_and_keys_copies() -> None:
    identity = Identity("de Vries", "Anna Maria", date(1975, 3, 14))
    assert pseudonym(identity, KEY) == pseudonym(identity, bytes(KEY))
    assert pseudonym(identity, KEY) == pseudonym_from_identity_key(identity_key(identity, KEY))


def test_bsn_decides_when_present() -> None:
    a = Identity("de Vries", "Anna", date(1975, 3, 14), bsn="111222333")
    b = Identity("Jansen", "Piet", date(1990, 1, 1), bsn="1112.22.333")
    no_bsn = dataclasses.replace(a, bsn=None)
    blank_bsn = dataclasses.replace(a, bsn="  ")

    assert normalise_identity(a) == "bsn:111222333"
    assert pseudonym(a, KEY) == pseudonym(b, KEY)
    assert pseudonym(a, KEY) != pseudonym(no_bsn, KEY)
    assert normalise_identity(no_bsn) == "nb:devries|1975-03-14|anna"
    assert normalise_identity(blank_bsn) == normalise_identity(no_bsn)


def test_invalid_bsn_is_refused() -> None:
    with pytest.raises(InvalidBsn):
        pseudonym(Identity("de Vries", "Anna", BORN, bsn="123456789"), KEY)


def test_only_the_first_given_name_counts() -> None:
    one = Identity("Bakker", "Jan", BORN)
    assert pseudonym(one, KEY) == pseudonym(Identity("Bakker", "Jan Willem Maria", BORN), KEY)
    assert pseudonym(one, KEY) != pseudonym(Identity("Bakker", "Willem Jan", BORN), KEY)
    assert pseudonym(one, KEY) != pseudonym(Identity("Bakker", "Jan", date(1980, 12, 2)), KEY)
    assert pseudonym(one, KEY) != pseudonym(Identity("Bakkers", "Jan", BORN), KEY)


def test_no_given_name_is_allowed_but_a_surname_is_needed() -> None:
    assert normalise_identity(Identity("Bakker", "", BORN)) == "nb:bakker|1980-12-01|"
    with pytest.raises(ValueError, match="surname"):
        normalise_identity(Identity(" - ", "Jan", BORN))


def test_a_datetime_birth_date_adds_no_time() -> None:
    as_datetime = datetime(1980, 12, 1, 13, 30)  # noqa: DTZ001 - only the date part is used
    assert normalise_identity(Identity("Bakker", "Jan", as_datetime)) == normalise_identity(
        Identity("Bakker", "Jan", BORN)
    )


def test_letters_beyond_accents_fold_too() -> None:
    assert normalise_identity(Identity("Sørensen-Łukasz", "Æsa", BORN)) == (
        "nb:sorensenlukasz|1980-12-01|aesa"
    )


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        identity_key(Identity("Bakker", "Jan", BORN), b"short")


@pytest.mark.parametrize(
    ("hexdigest", "code"),
    [
        ("0" * 64, "P-00000000"),
        ("f" * 64, "P-ZZZZZZZZ"),
        ("F" * 64, "P-ZZZZZZZZ"),
        ("0842108421" + "0" * 54, "P-11111111"),
        ("0000000001" + "f" * 54, "P-00000001"),
        ("000000001f" + "0" * 54, "P-0000000Z"),
    ],
)
def test_pseudonym_from_identity_key_vectors(hexdigest: str, code: str) -> None:
    assert pseudonym_from_identity_key(hexdigest) == code


@pytest.mark.parametrize("bad", ["", "abc", "g" * 64, "0" * 63, "0" * 65])
def test_pseudonym_from_identity_key_refuses_non_hashes(bad: str) -> None:
    with pytest.raises(ValueError, match="64 hex"):
        pseudonym_from_identity_key(bad)


def test_crockford_alphabet() -> None:
    assert len(set(CROCKFORD32)) == 32
    assert not set("ILOU") & set(CROCKFORD32)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P-7KQ4M2XZ", True),
        ("P-00000000", True),
        ("P-7KQ4M2XI", False),
        ("P-7KQ4M2XU", False),
        ("p-7kq4m2xz", False),
        ("P-7KQ4M2X", False),
        ("P-7KQ4M2XZZ", True),  # extended after a collision (PersonVault.register)
        ("P-7KQ4M2XZ7KQ4M2", True),
        ("P-7KQ4M2XZ7KQ4M2X", False),
        (" P-7KQ4M2XZ", False),
        ("P-7KQ4M2XZ\n", False),
    ],
)
def test_is_pseudonym(text: str, expected: bool) -> None:
    assert is_pseudonym(text) is expected


def test_identity_repr_shows_no_data() -> None:
    identity = Identity("de Vries", "Anna", BORN, bsn="111222333")
    for shown in (repr(identity), str(identity), f"{identity!r}"):
        assert "Vries" not in shown
        assert "Anna" not in shown
        assert "111222333" not in shown
        assert "1980" not in shown


def test_distinct_people_get_distinct_codes() -> None:
    # 2,000 people in 2**40 codes: a collision here would be a one-in-a-million event.
    generator = Faker("nl_NL")
    generator.seed_instance(11)
    people = [make_identity(generator, with_bsn=n % 2 == 0) for n in range(2000)]
    by_person = {normalise_identity(p): pseudonym(p, KEY) for p in people}
    assert len(set(by_person.values())) == len(by_person)


@given(st.binary(min_size=32, max_size=32))
def test_a_longer_pseudonym_extends_the_shorter_one(digest: bytes) -> None:
    """Extended after a collision, a code still starts with the one it would have had."""
    hexdigest = digest.hex()
    codes = [
        pseudonym_from_identity_key(hexdigest, chars=n)
        for n in range(PSEUDONYM_CHARS, MAX_PSEUDONYM_CHARS + 1)
    ]
    assert codes[0] == pseudonym_from_identity_key(hexdigest)
    for shorter, longer in itertools.pairwise(codes):
        assert longer.startswith(shorter) and len(longer) == len(shorter) + 1
        assert is_pseudonym(longer)
    # The 14 characters are the first 70 bits of the hash.
    value = int(hexdigest, 16) >> (256 - 70)
    assert codes[-1] == "P-" + "".join(CROCKFORD32[(value >> s) & 31] for s in range(65, -1, -5))


@pytest.mark.parametrize("chars", [0, 7, 15, 52])
def test_pseudonym_length_is_bounded(chars: int) -> None:
    with pytest.raises(ValueError, match="8 to 14 characters"):
        pseudonym_from_identity_key("0" * 64, chars=chars)
