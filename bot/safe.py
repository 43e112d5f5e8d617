"""What a Telegram text may be made of: a catalogued template and values of safe kinds.

A text the bot sends is a `SafeText`. The translator makes one from a message
id of the catalog (an English sentence with named placeholders) and values of
the kinds below; nothing else can be interpolated, so a name, birth date, BSN
or remark from a file, or anything a user typed, has no way into a message.
Each kind checks its shape when it is made (a case reference looks like
`VH-2026-0042`, a pseudonym like `P-7KQ4M2XZ`); the region's municipalities and
the institution catalogue are checked where the value enters the system (the
import), so old rows still render after the configuration changes.

A `SafeText` remembers the values put into it. The outgoing guard checks those
values only, each as its kind requires (a date as a date, a name as a name), as
a last line; the template words are the bot's own and are never scanned, so a
person called Maandag or Mei no longer blocks a deadline.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, Self


class Kind(StrEnum):
    """The kinds of value a message may carry."""

    REFERENCE = "reference"  # case reference, VH-2026-0042
    PSEUDONYM = "pseudonym"  # P-7KQ4M2XZ
    MUNICIPALITY = "municipality"  # one of the region's, checked at import
    INSTITUTION = "institution"  # a name from the institution catalogue
    ORGANISATION = "organisation"  # a registered partner organisation's name
    MEMBER = "member"  # a registered professional's name
    CODE = "code"  # made by the bot itself: invite codes, its own links, short hashes
    DATE = "date"  # a date or time the translator formatted
    # An outbox text queued by a version before SafeText: checked whole, as it was then.
    LEGACY = "legacy"


@dataclass(frozen=True)
class Value:
    """One value interpolated into a message, for the outgoing guard."""

    kind: Kind
    text: str


class UnsafeValue(ValueError):
    """A value does not have the shape of its kind. The message never holds the value."""


def printable_name(raw: str, *, limit: int = 200) -> str:
    """A name as it may be stored and shown: printable characters only, spaces collapsed.

    Telegram display names and names typed on the command line may hold control,
    format or separator characters (U+0085, U+2028, bidi marks) or unpaired
    surrogates; those are dropped, so the stored name always makes a MemberName.
    """
    kept = "".join(char if char.isprintable() else " " for char in raw)
    return " ".join(kept.split())[:limit].strip()


class SafeStr(str):
    """A string of one safe kind; each subclass checks its shape when made."""

    kind: ClassVar[Kind]
    max_length: ClassVar[int] = 200

    def __new__(cls, value: str) -> Self:
        if not isinstance(value, str) or not (0 < len(value) <= cls.max_length):
            raise UnsafeValue(f"not a {cls.kind.value} value")
        if not cls._valid(value):
            raise UnsafeValue(f"not a {cls.kind.value} value")
        return super().__new__(cls, value)

    @classmethod
    def _valid(cls, value: str) -> bool:
        # isprintable: no control, format or separator characters, no lone surrogates.
        return value.isprintable() and value == value.strip()

    @classmethod
    def or_none(cls, value: str) -> Self | None:
        """The value of this kind, or None when a stored value does not have its shape."""
        try:
            return cls(value)
        except UnsafeValue:
            return None


class CaseReference(SafeStr):
    kind = Kind.REFERENCE
    _SHAPE = re.compile(r"VH-[0-9]{4}-[0-9]{4,6}")

    @classmethod
    def _valid(cls, value: str) -> bool:
        return cls._SHAPE.fullmatch(value) is not None


class Pseudonym(SafeStr):
    kind = Kind.PSEUDONYM
    # Crockford base32 (no I, L, O, U); 8 characters, more after a collision.
    _SHAPE = re.compile(r"P-[0-9A-HJKMNP-TV-Z]{8,16}")

    @classmethod
    def _valid(cls, value: str) -> bool:
        return cls._SHAPE.fullmatch(value) is not None


class _PlaceName(SafeStr):
    max_length = 80
    # A letter first ('s-Hertogenbosch: an apostrophe too), then letters, spaces and '-.()
    _SHAPE = re.compile(r"(?:[^\W\d_]|['\u2019])[\w .'()\-\u2019]*")

    @classmethod
    def _valid(cls, value: str) -> bool:
        return cls._SHAPE.fullmatch(value) is not None and value == value.strip()


class Municipality(_PlaceName):
    kind = Kind.MUNICIPALITY


class Institution(_PlaceName):
    kind = Kind.INSTITUTION


class OrganisationName(SafeStr):
    kind = Kind.ORGANISATION


class MemberName(SafeStr):
    kind = Kind.MEMBER


class Code(SafeStr):
    """Text the bot made itself: an invite code, a link to itself, a command, a short hash."""

    kind = Kind.CODE
    max_length = 300
    _SHAPE = re.compile(r"[A-Za-z0-9_\-:/.?=@+#&%]+")

    @classmethod
    def _valid(cls, value: str) -> bool:
        return cls._SHAPE.fullmatch(value) is not None


# Joins may put only layout between parts: spaces, line breaks, punctuation and bullets.
_SEPARATOR = re.compile(r"[\s.,:;·•…#\-\u2013\u2014|/()]*")


class SafeText(str):
    """A text made of catalogued templates and safe values; the only text the bot sends.

    Made by the translator (`Translator.__call__`, `date`, `datetime`), by
    `joined` and `layout`, and read back by the outbox (`restore`); nowhere else
    (tests/test_architecture.py checks it). A plain `str`, or a `str` built by
    concatenation, is refused at the Telegram boundary.
    """

    values: tuple[Value, ...]

    def __new__(cls, text: str, values: Iterable[Value] = ()) -> Self:
        made = super().__new__(cls, text)
        made.values = tuple(values)
        return made

    @classmethod
    def joined(cls, separator: str, parts: Iterable[SafeText | SafeStr | int]) -> SafeText:
        """`separator.join(parts)`, keeping every part's values.

        Raises:
            UnsafeValue: the separator holds letters or digits (only layout may
                sit between parts), or a part is not safe.
        """
        if _SEPARATOR.fullmatch(separator) is None:
            raise UnsafeValue("a separator may hold only spaces and punctuation")
        listed = list(parts)
        values = values_of(listed)
        return cls(separator.join(str(part) for part in listed), values)

    @classmethod
    def layout(cls, pattern: str, *parts: SafeText | SafeStr | int) -> SafeText:
        """Parts put in a pattern of layout only, e.g. `layout("• {}", reference)`.

        Raises:
            UnsafeValue: the pattern holds letters or digits, or its `{}` do not
                match the parts.
        """
        if _SEPARATOR.fullmatch(pattern.replace("{}", "")) is None:
            raise UnsafeValue("a layout may hold only spaces and punctuation")
        if pattern.count("{}") != len(parts) or pattern.count("{") != len(parts):
            raise UnsafeValue("a layout needs one {} per part")
        values = values_of(parts)
        return cls(pattern.format(*(str(part) for part in parts)), values)

    @classmethod
    def restore(cls, text: str, values: Sequence[Sequence[str]] | None) -> SafeText:
        """A text read back from the outbox, with the values stored beside it.

        Only the outbox uses this: its rows are written from SafeTexts alone. A row
        queued before values were stored (None) is checked whole, every word.
        """
        if values is None:
            return cls(text, (Value(Kind.LEGACY, text),))
        return cls(text, (Value(Kind(kind), value) for kind, value in values))

    def stored_values(self) -> list[list[str]]:
        """The values as JSON-ready pairs (kind, text), for the outbox."""
        return [[value.kind.value, value.text] for value in self.values]


# An empty line between parts of a message.
BLANK = SafeText("")

# What a placeholder may be filled with: a safe part, or a count.
Param = SafeText | SafeStr | int


def values_of(parts: Iterable[object]) -> list[Value]:
    """Every value carried by `parts` (SafeTexts and SafeStrs; ints carry none)."""
    found: list[Value] = []
    for part in parts:
        if isinstance(part, SafeText):
            found.extend(part.values)
        elif isinstance(part, SafeStr):
            found.append(Value(part.kind, str(part)))
        elif isinstance(part, int) and not isinstance(part, bool):
            continue  # a count or an id: digits that say nothing about a person
        else:
            raise UnsafeValue(f"a {type(part).__name__} cannot go into a message")
    return found
