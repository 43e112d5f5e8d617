"""Translations per locale (Babel), compiled from the .po catalogs at start-up.

Message ids are English sentences with named placeholders. Nothing is installed
globally: code asks `translator(locale)` and calls it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from bot.config import SUPPORTED_LOCALES

DOMAIN = "messages"
_WORD = re.compile(r"[^\W\d_]+")
_PLACEHOLDER = re.compile(r"\{[^}]*\}")


def locales_dir() -> Path:
    """`bot/locales` inside an installed wheel, else `locales/` of the source tree."""
    packaged = Path(__file__).parent / "locales"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "locales"


def language_for(telegram_language: str | None, default: str) -> str:
    """nl or en from a Telegram language code such as `en-GB`; anything else: the default."""
    if telegram_language:
        base = telegram_language.split("-")[0].split("_")[0].lower()
        if base in SUPPORTED_LOCALES:
            return base
    return default


def mark(message: str) -> str:
    """Marks a message for extraction where it is translated later (e.g. command lists)."""
    return message


class Translator:
    def __init__(self, locale: str, translations: Translations) -> None:
        self.locale = locale
        self._translations = translations

    def __call__(self, message: str, /, **params: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**params) if params else text

    def date(self, value: dt.date) -> str:
        """A date the way people write it: `dinsdag 1 december 2026`."""
        return format_date(value, format="full", locale=self.locale)

    def datetime(self, value: dt.datetime, tz: ZoneInfo) -> str:
        """`maandag 30 november 12:00` in the given zone."""
        local = value.astimezone(tz)
        day = format_date(local.date(), format="EEEE d MMMM", locale=self.locale)
        return f"{day} {format_time(local, format='HH:mm', locale=self.locale)}"


def load_catalog(locale: str, directory: Path | None = None) -> Translations:
    """Compile `<locale>/LC_MESSAGES/messages.po` in memory; fuzzy entries are left out."""
    po_path = (directory or locales_dir()) / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def catalog_words() -> frozenset[str]:
    """Every word of every message in every catalog: the bot's own constant text.

    The outgoing guard lets these pass on their own (a person called "Bekend" or
    "Wil" must not block the fixed wording); a leak needs inserted values.
    """
    words: set[str] = set()
    for locale in SUPPORTED_LOCALES:
        po_path = locales_dir() / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
        with po_path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        for message in catalog:
            if not message.id:
                continue  # the header: metadata, not text we send
            for text in (message.id, message.string):
                parts = text if isinstance(text, tuple | list) else (text,)
                for part in parts:
                    if isinstance(part, str) and part:
                        words.update(_WORD.findall(_PLACEHOLDER.sub(" ", part)))
    return frozenset(words)


@cache
def translator(locale: str) -> Translator:
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    return Translator(locale, load_catalog(locale))
