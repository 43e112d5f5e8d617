"""The institution catalogue: what a file may name, and nothing more."""

from __future__ import annotations

import pytest

from bot.domain.institutions import DEFAULT_INSTITUTIONS, InstitutionCatalogue, parse_institutions

CATALOGUE = InstitutionCatalogue.of(DEFAULT_INSTITUTIONS)


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("PI Vught", "PI Vught"),
        ("p.i.  VUGHT", "PI Vught"),
        ("Penitentiaire Inrichting Vught", "PI Vught"),
        ("Vught", "PI Vught"),
        ("PI-Vught", "PI Vught"),
        ("PI Sittard", "PI Limburg Zuid"),
        ("Justitieel Complex Zaanstad", "Justitieel Complex Zaanstad"),
        ("PI Vught 📞", "PI Vught"),  # a symbol says nothing
    ],
)
def test_known_spellings_give_the_catalogued_name(written: str, name: str) -> None:
    assert CATALOGUE.match(written) == name


@pytest.mark.parametrize(
    "written",
    [
        "PI Vught, bij zus Anna de Vries",
        "PI Vught Ахмед Салех",  # letters of another script are not dropped
        "PI Vught ٢٢٣٩٣٧٠٤٦",  # nor digits of another script
        "Dorpsstraat 12 Weert",
        "223/937/046",
        "",
    ],
)
def test_anything_else_is_not_in_the_catalogue(written: str) -> None:
    assert CATALOGUE.match(written) is None


def test_the_catalogue_is_configurable_with_aliases() -> None:
    entries = parse_institutions("PI Vught=Nieuw Vosseveld|Vosseveld, PI Roermond")
    catalogue = InstitutionCatalogue.of(entries)
    assert catalogue.match("nieuw vosseveld") == "PI Vught"
    assert catalogue.match("PI Roermond") == "PI Roermond"
    assert catalogue.match("PI Zwolle") is None
    with pytest.raises(ValueError, match="share a spelling"):
        InstitutionCatalogue.of({"PI Vught": ("Vught",), "Vught Oost": ("vught",)})
