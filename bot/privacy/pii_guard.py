"""The PII guard: does a text mention any identity we hold?

Built once from all identities (thousands), then asked about every outgoing
message. Everything is precomputed into dictionaries keyed by folded name,
date and digits, and a text is read once: tokenised into folded words, with
regexes picking out dates and digit groups; each candidate is one lookup. The
cost of a scan therefore depends on the text, not on how many persons are held.

A hit says which person (by the order they were added) and which field, never
the matched text, so hits may be logged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from bot.domain.identity import Identity
from bot.domain.names import (
    TUSSENVOEGSELS,
    compounds,
    fold,
    letters_only,
    name_words,
    uninvert_surname,
)

PiiKind = Literal["surname", "given_name", "birth_date", "bsn"]
# How names are looked for: any name part ("words"), only a surname together with
# a given name of the same person ("full": for professionals' names, which may
# share a surname with someone held), or not at all ("none": a formatted date).
NameMode = Literal["words", "full", "none"]

# Shorter name parts ("J.", "'t") would hit almost any text.
MIN_NAME_LETTERS = 2
# Longest "van den ..." run tried as one concatenated surname.
_MAX_JOINED_WORDS = 6

_MONTHS: dict[str, int] = {
    "januari": 1,
    "january": 1,
    "jan": 1,
    "februari": 2,
    "february": 2,
    "febr": 2,
    "feb": 2,
    "maart": 3,
    "march": 3,
    "mrt": 3,
    "maa": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "mei": 5,
    "may": 5,
    "juni": 6,
    "june": 6,
    "jun": 6,
    "juli": 7,
    "july": 7,
    "jul": 7,
    "augustus": 8,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "oktober": 10,
    "october": 10,
    "okt": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
# Longest first, so "maart" is not read as "maa" + "rt".
_MONTH_ALT = "|".join(sorted(_MONTHS, key=len, reverse=True))
# Hyphen-like characters NFKC leaves alone (en dash, minus sign, ...).
_DASHES = "\u2010-\u2015\u2212"
# One separator between the parts of a date, written the same way twice; several
# spaces count as one ("03  07  1985").
_DATE_SEP = rf"(?:[-/.,_{_DASHES}]| +)"
_TEXT_SEP = rf"[\s\-/.,_{_DASHES}]*"
_YEAR_TEXT = r"([0-9]{4}|['\u2018\u2019]?[0-9]{2})"

# 1-12-1980, 01/12/1980, 01.12.80, 3/7/1985 (same separator twice; read as day-month
# and as month-day, since only an exact birth date can hit).
_NUMERIC_DMY = re.compile(
    rf"(?<![0-9])([0-9]{{1,2}})({_DATE_SEP})([0-9]{{1,2}})\2([0-9]{{4}}|[0-9]{{2}})(?![0-9])"
)
# 1980-12-01, 1980/12/01.
_NUMERIC_YMD = re.compile(
    rf"(?<![0-9])([0-9]{{4}})({_DATE_SEP})([0-9]{{1,2}})\2([0-9]{{1,2}})(?![0-9])"
)
# 01121980 (and 19801201).
_COMPACT = re.compile(r"(?<![0-9])([0-9]{8})(?![0-9])")
# 1 december 1980, 1 dec. 1980, 1e dec '80, 01-DEC-1980.
_TEXT_DMY = re.compile(
    rf"(?<![0-9])([0-9]{{1,2}})(?:ste|st|nd|rd|th|de|e)?\.?{_TEXT_SEP}"
    rf"({_MONTH_ALT})(?![a-z]){_TEXT_SEP}{_YEAR_TEXT}(?![0-9])",
    re.IGNORECASE,
)
# December 1, 1980; Dec. 1st 1980.
_TEXT_MDY = re.compile(
    rf"(?<![a-z])({_MONTH_ALT})(?![a-z]){_TEXT_SEP}([0-9]{{1,2}})(?:st|nd|rd|th|e)?(?![0-9])"
    rf"{_TEXT_SEP}{_YEAR_TEXT}(?![0-9])",
    re.IGNORECASE,
)
# Digit groups joined by separators: 111222333, 111 222 333, 1112.22.333, 223/937/046,
# 223_937_046, 223,937,046, 223   937   046.
_DIGIT_CHAIN = re.compile(rf"[0-9]+(?:(?:[.\-/,_{_DASHES}]| +)[0-9]+)*")
_DIGIT_GROUP = re.compile(r"[0-9]+")
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True, order=True)
class PiiHit:
    """One identity field found in a text; carries no personal data, safe to log.

    Attributes:
        person_index: the person's position in the order identities were added (from 0).
        kind: which field matched.
    """

    person_index: int
    kind: PiiKind


class PiiGuard:
    """Finds the names, birth dates and BSNs of known persons in free text.

    Names match whole words only, accent- and case-insensitively: the full
    surname ("van den Berg", also written "Vandenberg"), its main part without
    tussenvoegsels ("Berg"), both halves of a double surname, and each given
    name. Parts shorter than two letters and the tussenvoegsels themselves are
    ignored. Dates match in the usual Dutch and English notations; a BSN in
    any grouping of its nine digits, but not inside a longer number.
    """

    def __init__(
        self, identities: Iterable[Identity] = (), *, allowed_words: Iterable[str] = ()
    ) -> None:
        """Build the guard.

        Args:
            identities: the persons to guard; more can be added with `add`.
            allowed_words: words that never hit on their own, such as the names
                of the region's municipalities ("Weert" would otherwise hit for
                every "van Weert"). The full surname ("van Weert") still hits.
        """
        self._allowed = frozenset(letters_only(word) for word in allowed_words)
        self._count = 0
        self._names: dict[str, list[PiiHit]] = {}
        self._dates: dict[tuple[int, int, int], list[PiiHit]] = {}
        self._short_dates: dict[tuple[int, int, int], list[PiiHit]] = {}
        self._bsns: dict[str, list[PiiHit]] = {}
        self._surname_suffices: set[int] = set()
        for identity in identities:
            self.add(identity)

    def __len__(self) -> int:
        return self._count

    def allow(self, words: Iterable[str]) -> None:
        """Add allowed words (see `__init__`), e.g. organisation names added later."""
        self._allowed = self._allowed | frozenset(letters_only(word) for word in words)

    def add(self, identity: Identity) -> None:
        """Add one person; their index is the number of persons added before.

        Args:
            identity: the person's identity. An invalid BSN is guarded all the
                same: its digits are still personal data.
        """
        index = self._count
        self._count += 1
        surname_hit = PiiHit(index, "surname")
        for key in _surname_keys(identity.surname):
            self._add_name(key, surname_hit)
        given_hit = PiiHit(index, "given_name")
        given_keys = _given_name_keys(identity.given_names)
        for key in given_keys:
            self._add_name(key, given_hit)
        if not given_keys - self._allowed:
            # No given name that can be looked for ("Das", "Van"): in "full" mode the
            # surname then counts on its own.
            self._surname_suffices.add(index)
        born = identity.birth_date
        date_hit = PiiHit(index, "birth_date")
        self._dates.setdefault((born.year, born.month, born.day), []).append(date_hit)
        self._short_dates.setdefault((born.year % 100, born.month, born.day), []).append(date_hit)
        if identity.bsn:
            digits = "".join(ch for ch in identity.bsn if ch.isascii() and ch.isdigit())
            if len(digits) in (8, 9):
                self._bsns.setdefault(digits.zfill(9), []).append(PiiHit(index, "bsn"))

    def scan(
        self, text: str, *, names: NameMode = "words", short_years: bool = True
    ) -> list[PiiHit]:
        """Find every known identity field in `text`.

        Args:
            text: the text to check, e.g. an outgoing message or one value in it.
            names: how names count (see `NameMode`); dates and BSNs always do.
            short_years: also read dates with a two-digit year ("7 maart 85");
                off for a text whose dates all carry four digits.

        Returns:
            The hits, sorted and without duplicates; empty when the text is clean.
        """
        if not self._count or not text:
            return []
        normal = normalise_text(text)
        found: set[PiiHit] = set()
        date_spans = self._scan_dates(normal, found, short_years=short_years)
        self._scan_bsns(normal, found)
        if names != "none":
            name_hits: set[PiiHit] = set()
            self._scan_names(_blank(normal, date_spans), name_hits)
            if names == "full":
                surnames = {hit.person_index for hit in name_hits if hit.kind == "surname"}
                given = {hit.person_index for hit in name_hits if hit.kind == "given_name"}
                full = surnames & (given | self._surname_suffices)
                name_hits = {hit for hit in name_hits if hit.person_index in full}
            found |= name_hits
        return sorted(found)

    def is_clean(self, text: str, *, names: NameMode = "words") -> bool:
        """Tell whether `text` mentions no known identity field (see `scan`)."""
        return not self.scan(text, names=names)

    def _add_name(self, key: str, hit: PiiHit) -> None:
        # Keys come from a set per identity, so a person is never listed twice.
        if key not in self._allowed:
            self._names.setdefault(key, []).append(hit)

    def _scan_dates(
        self, text: str, found: set[PiiHit], *, short_years: bool = True
    ) -> list[tuple[int, int]]:
        """Look up every date-like part of `text`; returns their spans.

        The spans are returned so that month words ("jan", "mei", "april")
        inside dates are not taken for given names.
        """
        spans: list[tuple[int, int]] = []
        for match in _NUMERIC_DMY.finditer(text):
            spans.append(match.span())
            first, second = int(match.group(1)), int(match.group(3))
            self._date(found, match.group(4), second, first, short=short_years)
            self._date(found, match.group(4), first, second, short=short_years)  # US order
        for match in _NUMERIC_YMD.finditer(text):
            spans.append(match.span())
            self._date(found, match.group(1), int(match.group(3)), int(match.group(4)))
        for match in _COMPACT.finditer(text):
            digits = match.group(1)
            # Read both ways; only an exact birth date can hit.
            self._date(found, digits[4:], int(digits[2:4]), int(digits[:2]))
            self._date(found, digits[:4], int(digits[4:6]), int(digits[6:]))
        for match in _TEXT_DMY.finditer(text):
            spans.append(match.span())
            month = _MONTHS[match.group(2).lower()]
            self._date(found, match.group(3), month, int(match.group(1)), short=short_years)
        for match in _TEXT_MDY.finditer(text):
            spans.append(match.span())
            month = _MONTHS[match.group(1).lower()]
            self._date(found, match.group(3), month, int(match.group(2)), short=short_years)
        return spans

    def _date(
        self, found: set[PiiHit], year: str, month: int, day: int, *, short: bool = True
    ) -> None:
        digits = year.lstrip("'\u2018\u2019")
        if len(digits) == 4:
            found.update(self._dates.get((int(digits), month, day), ()))
        elif short:
            found.update(self._short_dates.get((int(digits), month, day), ()))

    def _scan_bsns(self, text: str, found: set[PiiHit]) -> None:
        if not self._bsns:
            return
        for chain in _DIGIT_CHAIN.finditer(text):
            groups = _DIGIT_GROUP.findall(chain.group())
            # Every run of whole groups holding 8 or 9 digits: a group is never
            # split, so digits inside a longer number do not count.
            for start in range(len(groups)):
                total = 0
                for end in range(start, len(groups)):
                    total += len(groups[end])
                    if total > 9:
                        break
                    if total >= 8:
                        candidate = "".join(groups[start : end + 1]).zfill(9)
                        found.update(self._bsns.get(candidate, ()))

    def _scan_names(self, text: str, found: set[PiiHit]) -> None:
        folded = fold(text)
        names = self._names
        # "Ja'far" is on file as "jafar" (see name_words).
        for compound in compounds(folded):
            hits = names.get(compound)
            if hits:
                found.update(hits)
        tokens = [token if token.isalpha() else "" for token in _WORD.findall(folded)]
        for position, token in enumerate(tokens):
            if len(token) >= MIN_NAME_LETTERS:
                hits = names.get(token)
                if hits:
                    found.update(hits)
            # Also for one-letter particles: "'t Hart" must find "tHart" on file.
            if token in TUSSENVOEGSELS:
                # "Van den Berg" in the text against "Vandenberg" on file, and
                # the full form of multi-word surnames.
                joined = token
                for follower in tokens[position + 1 : position + _MAX_JOINED_WORDS]:
                    if not follower:
                        break
                    joined += follower
                    hits = names.get(joined)
                    if hits:
                        found.update(hits)


def normalise_text(text: str) -> str:
    """NFKC (full-width digits, no-break spaces) and every decimal digit as an ASCII one.

    NFKC leaves Arabic-Indic, Devanagari and other scripts' digits alone; a BSN
    written in them is still a BSN.
    """
    normal = unicodedata.normalize("NFKC", text)
    if normal.isascii():
        return normal
    return "".join(_ascii_digit(char) for char in normal)


def _ascii_digit(char: str) -> str:
    if char.isascii():
        return char
    value = unicodedata.decimal(char, None)
    return char if value is None else str(value)


def _surname_keys(surname: str) -> set[str]:
    """Folded forms of a surname that count as a mention of it."""
    surname = uninvert_surname(surname)
    keys: set[str] = set()
    _add_full_form(keys, _alpha_words(surname))
    # Double surnames: each half on its own, full form and main part.
    for part in re.split(r"[-,\u2010-\u2015]", surname):
        _add_name_forms(keys, _alpha_words(part))
    return keys


def _given_name_keys(given_names: str) -> set[str]:
    """Folded forms of each given name ("Jan-Peter": jan, peter, janpeter)."""
    keys: set[str] = set()
    for name in given_names.split():
        _add_name_forms(keys, _alpha_words(name))
    return keys


def _add_name_forms(keys: set[str], parts: list[str]) -> None:
    """The full form ("vandenberg") and each word that is not a particle ("berg")."""
    _add_full_form(keys, parts)
    keys.update(
        part for part in parts if len(part) >= MIN_NAME_LETTERS and part not in TUSSENVOEGSELS
    )


def _add_full_form(keys: set[str], parts: list[str]) -> None:
    # A "name" made only of particles ("Van", "De La") would hit everywhere.
    if all(part in TUSSENVOEGSELS for part in parts):
        return
    joined = "".join(parts)
    if len(joined) >= MIN_NAME_LETTERS:
        keys.add(joined)


def _alpha_words(text: str) -> list[str]:
    return [word for word in name_words(text) if word.isalpha()]


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)
