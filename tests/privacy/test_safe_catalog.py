"""The guard against the bot's whole catalog, in both languages, for random identities.

No template is ever refused for its own words (a person called Maandag, Mei, Bekend or
Weert blocks nothing), and no held value gets through: not as a plain string (the
translator refuses it) and not disguised as a safe kind (the guard refuses it).
"""

from __future__ import annotations

import random
import string
from datetime import UTC, date, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import SUPPORTED_LOCALES
from bot.domain.identity import Identity
from bot.domain.names import TUSSENVOEGSELS
from bot.i18n import Translator, translator
from bot.privacy.pii_guard import PiiGuard
from bot.safe import (
    CaseReference,
    Code,
    MemberName,
    Municipality,
    OrganisationName,
    Param,
    Pseudonym,
    SafeText,
    UnsafeValue,
)
from bot.sandbox.dpan_files import valid_bsn
from bot.services.guard import scan_values

# Words a person may be called that also appear in the bot's own wording or in dates.
TRAPS = [
    "Maandag", "Dinsdag", "Vrijdag", "Mei", "April", "Juni", "Juli", "November", "Bekend",
    "Melding", "Regel", "Wil", "Roos", "Partner", "Zaak", "Import", "Weert", "Maas", "Leden",
]  # fmt: skip
# The names that fill the organisation and member placeholders below; a person who is
# called exactly that is the one case the guard must refuse, so they are not generated.
SAMPLE_NAMES = {"Reclassering", "Nederland", "Fenna", "Testlid"}

name_part = st.one_of(
    st.sampled_from(TRAPS),
    st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=10).map(str.capitalize),
).filter(
    # A surname made only of particles ("Van", "Das") is not looked for (pii_guard: it
    # would hit everywhere), so it cannot be a held value here.
    lambda word: word not in SAMPLE_NAMES and word.lower() not in TUSSENVOEGSELS
)


@st.composite
def identities(draw: st.DrawFn) -> Identity:
    seed = draw(st.integers(0, 2**32))
    return Identity(
        surname=draw(name_part),
        given_names=" ".join(draw(st.lists(name_part, min_size=1, max_size=3))),
        birth_date=draw(st.dates(date(1930, 1, 1), date(2008, 12, 31))),
        bsn=valid_bsn(random.Random(seed)),
    )


def _catalog(locale: str) -> list[str]:
    return sorted(translator(locale).known)


def _placeholders(message: str) -> list[str]:
    return sorted({name for _, name, _, _ in string.Formatter().parse(message) if name})


def _safe_value(name: str, _: Translator) -> Param:
    """A value of the kind the placeholder takes in the code."""
    moment = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    if name in ("time", "expires"):
        return _.datetime(moment, UTC)
    if name == "date":
        return _.date(moment.date())
    if name in ("organisation", "names"):
        return OrganisationName("Reclassering Nederland")
    if name == "municipality":
        return Municipality("Weert")
    if name == "municipalities":
        return SafeText.joined(", ", [Municipality("Weert"), Municipality("Roermond")])
    if name in ("reference", "references"):
        return CaseReference("VH-2026-0042")
    if name == "pseudonym":
        return Pseudonym("P-7KQ4M2XZ")
    if name in ("roles", "reason", "answer", "language", "state"):
        return _("coordinator")
    if name == "member":
        return MemberName("Fenna Testlid")
    if name in ("lines",):
        return SafeText.joined(", ", [2, 5])
    if name in ("column", "columns", "code", "link", "hash", "what"):
        return Code("bron_id")
    return 42  # counts, numbers, lines, ids


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(people=st.lists(identities(), min_size=1, max_size=4))
def test_no_template_is_refused_and_no_held_value_gets_through(
    locale: str, people: list[Identity]
) -> None:
    guard = PiiGuard(people)
    _ = translator(locale)
    person = people[0]
    full_name = f"{person.given_names.split()[0]} {person.surname}"
    assert person.bsn is not None
    disguised = [
        MemberName(full_name),
        OrganisationName(full_name),
        Code(person.birth_date.strftime("%d-%m-%Y")),
        Code(f"{person.bsn[:3]}/{person.bsn[3:6]}/{person.bsn[6:]}"),
    ]
    for message in _catalog(locale):
        names = _placeholders(message)
        params = {name: _safe_value(name, _) for name in names}
        text = _(message, **params)
        assert scan_values(guard, text.values) == [], (locale, message)
        if not names:
            continue
        # A held value as a plain string cannot even be put in.
        with pytest.raises(UnsafeValue):
            _(message, **{**params, names[0]: person.surname})  # type: ignore[dict-item]
        for value in disguised:
            leaked = _(message, **{**params, names[0]: value})
            assert scan_values(guard, leaked.values), (locale, message, value.kind)


def test_only_catalogued_messages_are_translated() -> None:
    from bot.i18n import UnknownMessage

    with pytest.raises(UnknownMessage):
        translator("nl")("Jan Jansen, geboren 01-02-1980")
