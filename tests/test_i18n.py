"""Every message in the code has a translation in both catalogs, with the same placeholders."""

from __future__ import annotations

import re
import string
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LOCALES
from bot.i18n import language_for, locales_dir, translator

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "mark": None, "plural": (1, 2)}


def _messages_in_code() -> set[str]:
    found: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        if isinstance(message, tuple):
            found.update(m for m in message if m)
        elif message:
            found.add(message)
    return found


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_is_translated(locale: str) -> None:
    with (locales_dir() / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    missing, fuzzy, placeholders = [], [], []
    for message in sorted(_messages_in_code()):
        entry = catalog.get(message)
        if entry is None or not entry.string:
            missing.append(message)
            continue
        if entry.fuzzy:
            fuzzy.append(message)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if any(_placeholders(s) != _placeholders(message) for s in strings):
            placeholders.append(message)
    assert not missing, f"{locale}: untranslated: {missing}"
    assert not fuzzy, f"{locale}: fuzzy: {fuzzy}"
    assert not placeholders, f"{locale}: placeholders differ: {placeholders}"


def test_code_has_messages() -> None:
    assert len(_messages_in_code()) >= 10


def test_dutch_and_english_dates() -> None:
    assert translator("nl").date(date(2026, 12, 1)) == "dinsdag 1 december 2026"
    assert translator("en").date(date(2026, 12, 1)) == "Tuesday, December 1, 2026"
    moment = datetime(2026, 11, 30, 11, 0, tzinfo=ZoneInfo("UTC"))
    assert (
        translator("nl").datetime(moment, ZoneInfo("Europe/Amsterdam"))
        == "maandag 30 november 12:00"
    )


@pytest.mark.parametrize(
    ("telegram", "expected"),
    [("nl", "nl"), ("nl-BE", "nl"), ("en", "en"), ("en-GB", "en"), ("de", "nl"), (None, "nl")],
)
def test_language_follows_telegram(telegram: str | None, expected: str) -> None:
    assert language_for(telegram, "nl") == expected


def test_translation_is_applied() -> None:
    nl = translator("nl")
    assert nl("Your commands:") == "Jouw commando's:"
    assert re.search(r"\bcoördinator\b", nl("coordinator"))
