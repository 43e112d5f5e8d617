"""Name folding shared by identities (pseudonyms) and the PII guard.

Both must fold names the same way: the guard recognises a person by the same
letters the pseudonym was derived from.
"""

from __future__ import annotations

import re
import unicodedata

# Letters NFKD does not decompose to a base letter plus accent; without these,
# "Søren" and "Soren" would be different people.
_EXTRA_FOLDS = str.maketrans(
    {
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "\u0131": "i",  # dotless i
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
    }
)

# Dutch tussenvoegsels plus the particles of neighbouring languages seen in
# Dutch registers, and the connectors of old double names ("van A en van B").
# Folded form: "'t" is "t", "'s" is "s".
TUSSENVOEGSELS: frozenset[str] = frozenset(
    {
        "aan",
        "al",
        "am",
        "auf",
        "bij",
        "d",
        "da",
        "das",
        "de",
        "del",
        "dela",
        "dell",
        "della",
        "den",
        "der",
        "des",
        "di",
        "do",
        "dos",
        "du",
        "el",
        "en",
        "het",
        "im",
        "in",
        "l",
        "la",
        "le",
        "les",
        "lo",
        "los",
        "onder",
        "op",
        "over",
        "s",
        "t",
        "te",
        "ten",
        "ter",
        "tot",
        "uit",
        "uijt",
        "und",
        "van",
        "vom",
        "von",
        "voor",
        "vor",
        "zu",
        "zum",
        "zur",
    }
)

_WORD = re.compile(r"[^\W_]+")
# Apostrophes NFKD leaves in place (the acute accent U+00B4 becomes a space).
_APOSTROPHES = "'\u2018\u2019`"
_COMPOUND = re.compile(rf"[^\W_]+(?:[{_APOSTROPHES}][^\W_]+)+")
_NAME_TOKEN = re.compile(rf"[^\W_]+(?:[{_APOSTROPHES}][^\W_]+)*")
_APOSTROPHE = re.compile(rf"[{_APOSTROPHES}]")


def fold(text: str) -> str:
    """Accent- and case-fold text, keeping everything that is not an accent.

    NFKD splits "é" into "e" plus a combining accent, which is dropped;
    casefold handles "ß" and friends.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold().translate(_EXTRA_FOLDS)


def words(text: str) -> list[str]:
    """Folded words of `text`: runs of letters and digits, split at anything else."""
    return _WORD.findall(fold(text))


def compounds(folded: str) -> list[str]:
    """Words joined by inner apostrophes in already folded text, apostrophes removed.

    "ja'far" gives "jafar": the form `name_words` registers for such a name.
    """
    return [_APOSTROPHE.sub("", match) for match in _COMPOUND.findall(folded)]


def name_words(name: str) -> list[str]:
    """Folded words of a name, keeping a word with an inner apostrophe whole.

    "Ja'far" is one word, "jafar": its fragments ("ja", "far") would match
    ordinary words. A leading particle stays separate: "D'Agostino" gives
    "d" and "agostino", as "de Vries" gives "de" and "vries".
    """
    result: list[str] = []
    for token in _NAME_TOKEN.findall(fold(name)):
        segments = _APOSTROPHE.split(token)
        if len(segments) > 1 and segments[0] in TUSSENVOEGSELS:
            result.append(segments[0])
            segments = segments[1:]
        result.append("".join(segments))
    return result


def letters_only(text: str) -> str:
    """Folded `text` with everything but letters removed."""
    return "".join(ch for ch in fold(text) if ch.isalpha())


def uninvert_surname(surname: str) -> str:
    """Turn the register form "Berg, van den" back into "van den Berg".

    Only when everything after the comma is tussenvoegsels, so that a given
    name typed into the surname field is not moved around.
    """
    head, comma, tail = surname.partition(",")
    if not comma:
        return surname
    tail_words = words(tail)
    if tail_words and all(word in TUSSENVOEGSELS for word in tail_words):
        return f"{tail.strip()} {head.strip()}"
    return surname
