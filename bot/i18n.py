"""Translations per locale (Babel), compiled from the .po catalogs at start-up.

Message ids are English sentences with named placeholders. Nothing is installed
globally: code asks `translator(locale)` and calls it. A translation is a
`SafeText` (bot/safe.py): only catalogued message ids are translated, and only
values of safe kinds fill their placeholders.
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
from bot.safe import Kind, Param, SafeText, UnsafeValue, Value, values_of

DOMAIN = "messages"
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


class UnknownMessage(LookupError):
    """A message id that is not in the catalog: only the bot's own wording may be sent."""


class Translator:
    def __init__(self, locale: str, translations: Translations, known: frozenset[str]) -> None:
        self.locale = locale
        self._translations = translations
        self._known = known

    @property
    def known(self) -> frozenset[str]:
        """The message ids of the catalog."""
        return self._known

    def __call__(self, message: str, /, **params: Param) -> SafeText:
        """The catalog's translation of `message`, its placeholders filled with safe values.

        Raises:
            UnknownMessage: `message` is not a message id of the catalog (never
                text from a file or a user: that would be sent as it is).
            UnsafeValue: a value is not of a safe kind (a plain `str`, a float...).
        """
        if message not in self._known:
            raise UnknownMessage("not a message id of the catalog")
        text = self._translations.gettext(message)
        if not params:
            return SafeText(text)
        values = values_of(params.values())
        try:
            filled = text.format(**{name: _formatted(value) for name, value in params.items()})
        except (KeyError, IndexError):
            raise UnsafeValue("the placeholders do not match the message") from None
        return SafeText(filled, values)

    def date(self, value: dt.date) -> SafeText:
        """A date the way people write it: `dinsdag 1 december 2026`."""
        text = format_date(value, format="full", locale=self.locale)
        return SafeText(text, (Value(Kind.DATE, text),))

    def datetime(self, value: dt.datetime, tz: ZoneInfo) -> SafeText:
        """`maandag 30 november 12:00` in the given zone."""
        local = value.astimezone(tz)
        day = format_date(local.date(), format="EEEE d MMMM", locale=self.locale)
        text = f"{day} {format_time(local, format='HH:mm', locale=self.locale)}"
        return SafeText(text, (Value(Kind.DATE, text),))


def _formatted(value: Param) -> str | int:
    # Plain str and int: the template's format spec sees the value, not our subclass.
    return value if isinstance(value, int) else str(value)


def load_catalog(locale: str, directory: Path | None = None) -> tuple[Translations, frozenset[str]]:
    """Compile `<locale>/LC_MESSAGES/messages.po` in memory; fuzzy entries are left out.

    Returns the translations and the message ids they know.
    """
    po_path = (directory or locales_dir()) / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    known = frozenset(
        message.id
        for message in catalog
        if isinstance(message.id, str) and message.id and message.string and not message.fuzzy
    )
    return Translations(buffer, domain=DOMAIN), known


@cache
def catalog_constants() -> frozenset[str]:
    """Every translation without placeholders, in every language: the bot's fixed wording.

    Button labels and command descriptions reach Telegram inside JSON objects,
    where a SafeText cannot be recognised; the outgoing guard lets them pass
    when they are exactly one of these.
    """
    constants: set[str] = set()
    for locale in SUPPORTED_LOCALES:
        _ = translator(locale)
        for message in _.known:
            if not _PLACEHOLDER.search(message):
                constants.add(str(_(message)))
    return frozenset(constants)


@cache
def translator(locale: str) -> Translator:
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    translations, known = load_catalog(locale)
    return Translator(locale, translations, known)
