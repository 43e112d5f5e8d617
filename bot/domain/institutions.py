"""The catalogue of penitentiary institutions a detention notification may name.

Only a catalogued name is ever shown in Telegram: the `inrichting` column of a
file is free text, and a sender who writes a name, an address or a BSN there
must not have it posted to the partner group. A value that matches no entry is
stored encrypted and shown as "other institution"; the coordinators are told the
import and line, so they can correct the sender or extend the catalogue.

The default lists the prisons (penitentiaire inrichtingen, PI) and justice
complexes of DJI, with their locations as aliases; `VHBOT_INSTITUTIONS` replaces
it (comma-separated names, `Name=alias|alias` to add aliases).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Name shown, and other ways senders write it (locations, former names).
DEFAULT_INSTITUTIONS: Mapping[str, tuple[str, ...]] = {
    "PI Almelo": ("De Karelskamp",),
    "PI Alphen aan den Rijn": ("Alphen", "Alphen a/d Rijn"),
    "PI Arnhem": ("Arnhem Zuid",),
    "PI Dordrecht": (),
    "PI Grave": (),
    "PI Haaglanden": ("Scheveningen", "Zoetermeer", "Den Haag"),
    "PI Heerhugowaard": (),
    "PI Krimpen aan den IJssel": ("Krimpen",),
    "PI Leeuwarden": (),
    "PI Lelystad": (),
    "PI Limburg Zuid": ("Maastricht", "Sittard", "Heerlen", "PI Sittard", "PI Maastricht"),
    "PI Middelburg": (),
    "PI Nieuwegein": (),
    "PI Nieuwersluis": (),
    "PI Roermond": (),
    "PI Rotterdam": ("De Schie", "Hoogvliet", "Rotterdam Hoogvliet"),
    "PI Ter Apel": (),
    "PI Ter Peel": ("Sevenum", "Evertsoord"),
    "PI Veenhuizen": ("Esserheem", "Norgerhaven", "Bankenbosch"),
    "PI Vught": (),
    "PI Zwolle": (),
    "PI Achterhoek": ("Zutphen",),
    "Justitieel Complex Schiphol": ("JC Schiphol", "Schiphol"),
    "Justitieel Complex Zaanstad": ("JC Zaanstad", "Zaanstad"),
    "Justitieel Centrum voor Somatische Zorg": ("JCvSZ",),
}

# Words senders put in front of the place: "PI", "P.I.", "Penitentiaire Inrichting".
_PREFIXES = ("penitentiaire inrichting ", "pi ", "justitieel complex ", "jc ")
# Everything but letters and digits of any script: "PI Vught Ахмед" must not read as
# "PI Vught", nor an Arabic-Indic number vanish.
_NOT_LETTERS = re.compile(r"[\W_]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    # "P.I. Vught" and "PI-Vught" read as "pi vught".
    spaced = re.sub(r"\bp\s*\.\s*i\s*\.?", "pi ", plain)
    return _NOT_LETTERS.sub(" ", spaced).strip()


def _core(folded: str) -> str:
    for prefix in _PREFIXES:
        if folded.startswith(prefix):
            return folded[len(prefix) :].strip()
    return folded


@dataclass(frozen=True)
class InstitutionCatalogue:
    """Looks up the catalogued name for what a file says, case- and accent-insensitively."""

    lookup: Mapping[str, str]

    @classmethod
    def of(cls, entries: Mapping[str, Iterable[str]]) -> InstitutionCatalogue:
        """Build from names and their aliases.

        Raises:
            ValueError: two entries claim the same spelling.
        """
        lookup: dict[str, str] = {}
        for name, aliases in entries.items():
            for spelling in (name, *aliases):
                for key in {_fold(spelling), _core(_fold(spelling))}:
                    if not key:
                        continue
                    if lookup.get(key, name) != name:
                        raise ValueError("two institutions share a spelling")
                    lookup[key] = name
        return cls(lookup)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.lookup.values())

    def match(self, written: str) -> str | None:
        """The catalogued name `written` refers to, or None when it is not in the catalogue."""
        folded = _fold(written)
        return self.lookup.get(folded) or self.lookup.get(_core(folded))


def parse_institutions(text: str) -> dict[str, tuple[str, ...]]:
    """`VHBOT_INSTITUTIONS`: `Name, Name=alias|alias, ...`.

    Raises:
        ValueError: the list is empty or an entry has no name.
    """
    entries: dict[str, tuple[str, ...]] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, _, aliases = item.partition("=")
        if not name.strip():
            raise ValueError("an institution needs a name before '='")
        entries[name.strip()] = tuple(a.strip() for a in aliases.split("|") if a.strip())
    if not entries:
        raise ValueError("must name at least one institution")
    return entries
