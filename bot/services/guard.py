"""The outgoing-message guard: the last check before anything leaves for Telegram.

Texts are built from safe values only (bot/safe.py); this guard is the last line
behind that design. It refuses a text that is not a `SafeText` (something built
outside the translator), and scans the values interpolated into a text, each as
its kind requires, for the names, birth dates and BSNs of every person held.
Template words are the bot's own and are not scanned.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import select
from telegram.error import TelegramError

from bot.clock import Clock
from bot.i18n import catalog_constants
from bot.privacy.pii_guard import NameMode, PiiGuard, PiiHit
from bot.safe import Kind, SafeText, Value
from bot.services.persons import PersonVault
from bot.storage.engine import Database
from bot.storage.models import Organisation

log = logging.getLogger(__name__)

_WORDS = re.compile(r"[^\W\d_]+")
# Persons written by another process commit a little after the moment stamped on
# them; the guard looks back this far each time so none is missed.
CATCH_UP_OVERLAP = timedelta(minutes=10)
# Parameters that are shown as text: each must be a SafeText.
TEXT_PARAMETERS = ("text", "caption", "description", "short_description")
# Parameters that carry shown text inside JSON (button labels, command descriptions).
JSON_PARAMETERS = ("reply_markup", "commands")
# String parameters that are never shown to a person; every other string parameter
# must be a SafeText (deny by default: a `title` or `name` is text too).
NOT_SHOWN = frozenset(
    {"chat_id", "callback_query_id", "inline_message_id", "language_code", "parse_mode", "url"}
)
# Keys whose strings are shown, inside any JSON parameter (a quote, a poll option...).
SHOWN_KEYS = frozenset(
    {"text", "description", "quote", "title", "caption", "question", "input_field_placeholder"}
)


# Set while a sender sends a text made before the guard's last look (`Look.covering`):
# its check need not look again.
_COVERED: ContextVar[OutgoingGuard | None] = ContextVar("guard_covered", default=None)

# Values whose names are constants of the configuration, not free text.
_CONSTANT_KINDS = frozenset({Kind.MUNICIPALITY, Kind.INSTITUTION})


class PiiRefused(TelegramError):
    """An outgoing message was not sent: it held personal data, or text not built safely."""


@dataclass(frozen=True)
class Verdict:
    """Why an outgoing call is refused; holds no text, safe to log."""

    reason: str  # "personal_data" or "unchecked"
    kinds: tuple[str, ...] = ()


def scan_values(guard: PiiGuard, values: Iterable[Value]) -> list[PiiHit]:
    """Scan each value as its kind requires.

    A formatted date is looked at as a date with its four-digit year only (a
    person called Maandag must not block "maandag 30 november", nor its "12:00"
    pass for a year), and so are a municipality of the region and a
    catalogued institution (constant names, checked where they entered: a person
    called Weert must not block every announcement in Weert). Every other value
    is looked at for BSNs, dates and names, a name counting only together with a
    given name of the same person, so a professional who shares a surname with
    someone held is not refused. An outbox text queued before values were
    stored is looked at whole, every word, as it was then.
    """
    hits: list[PiiHit] = []
    for value in values:
        if value.kind is Kind.DATE:
            # "maandag 30 november 12:00": its time is no two-digit year.
            hits.extend(guard.scan(value.text, names="none", short_years=False))
        elif value.kind is Kind.LEGACY:
            hits.extend(guard.scan(value.text, names="words"))
        else:
            names: NameMode = "none" if value.kind in _CONSTANT_KINDS else "full"
            hits.extend(guard.scan(value.text, names=names))
    return hits


class OutgoingGuard:
    """Keeps a PiiGuard filled with every identity held, catching up with new persons.

    Persons may be added by another process (`vhbot import dpan`), or held anew
    after retention erased them, so each check first reads the identities written
    since the last look (an indexed query; identities held already are not
    decrypted again). Checks that come together share one look, which starts after
    each of them came.

    The outbox sender has the guard look once for a batch it claimed, before the
    pacer gives the batch its slots (`looked`, then `Look.covering` around each
    send): a look that began after the texts were made covers them, and a look
    taken between a slot and its send would make sends released apart reach
    Telegram together.
    """

    def __init__(
        self,
        db: Database,
        vault: PersonVault,
        clock: Clock,
        *,
        allowed_words: Iterable[str] = (),
    ) -> None:
        self._db = db
        self._vault = vault
        self._clock = clock
        self._guard = PiiGuard(allowed_words=allowed_words)
        self._known: dict[int, datetime] = {}
        self._looked_at: datetime | None = None
        self._organisations_seen = 0
        # The look the checks that came since the last one began wait for, and the
        # task that takes the looks, one after the other.
        self._next_look: asyncio.Future[None] | None = None
        self._looking: asyncio.Task[None] | None = None

    def _load_new(self) -> None:
        started = self._clock.now()
        since = None if self._looked_at is None else self._looked_at - CATCH_UP_OVERLAP
        with self._db.session() as session:
            entries = self._vault.reveal_for_guard(session, stored_since=since, known=self._known)
            # Organisation names appear in tallies and reminders: a person who shares
            # one ("Mee") must not block every message naming it.
            names = session.exec(select(Organisation.name)).all()
        if len(names) != self._organisations_seen:
            self._guard.allow(word for name in names for word in _WORDS.findall(name))
            self._organisations_seen = len(names)
        for entry in entries:
            self._guard.add(entry.identity)
            self._known[entry.person_id] = entry.stored_at
        self._looked_at = started

    async def looked(self) -> Look:
        """Have the guard look now (shared with the checks that come meanwhile); the
        look covers the texts made before this call."""
        await self.refresh()
        return Look(self)

    async def refresh(self) -> None:
        """Catch up with identities written since the last look: wait for a look that
        begins after this call (shared with the calls that come meanwhile)."""
        if self._next_look is None:
            self._next_look = asyncio.get_running_loop().create_future()
            # Read its outcome even when every waiter was cancelled (no warning).
            self._next_look.add_done_callback(_retrieve)
        look = self._next_look
        if self._looking is None or self._looking.done():
            self._looking = asyncio.create_task(self._look(), name="guard-look")
        # A waiter cancelled (its send cut short) does not cancel the others' look.
        await asyncio.shield(look)

    async def _look(self) -> None:
        while self._next_look is not None:
            look, self._next_look = self._next_look, None
            try:
                await self._db.run(self._load_new)
            except asyncio.CancelledError:
                look.cancel()
                if self._next_look is not None:
                    self._next_look.cancel()
                    self._next_look = None
                raise
            except Exception as exc:
                look.set_exception(exc)
            else:
                look.set_result(None)

    async def check(self, parameters: Mapping[str, object]) -> Verdict | None:
        """None when an outgoing call may go; otherwise why not.

        Args:
            parameters: the Bot API call's parameters as PTB hands them to the request.
        """
        values: list[Value] = []
        for name in TEXT_PARAMETERS:
            text = parameters.get(name)
            if text is None:
                continue
            if not isinstance(text, SafeText):
                return Verdict("unchecked")
            values.extend(text.values)
        constants = catalog_constants()
        for name, value in parameters.items():
            if name in TEXT_PARAMETERS or name in NOT_SHOWN or value is None:
                continue
            if isinstance(value, str) and name not in JSON_PARAMETERS:
                return Verdict("unchecked")
            for label in _shown_strings(value):
                if label not in constants:
                    # Not the bot's fixed wording (e.g. a member's name on a button).
                    values.append(Value(Kind.MEMBER, label))
        if not values:
            return None
        if _COVERED.get() is not self:
            await self.refresh()
        hits = scan_values(self._guard, values)
        if hits:
            return Verdict("personal_data", tuple(sorted({hit.kind for hit in hits})))
        return None

    @property
    def identities(self) -> int:
        return len(self._guard)


@dataclass(frozen=True)
class Look:
    """A look the guard took (`OutgoingGuard.looked`)."""

    guard: OutgoingGuard

    @contextmanager
    def covering(self) -> Iterator[None]:
        """Within this block (in this task) the guard's checks use this look instead
        of looking again: only for sending texts made before it was taken."""
        token = _COVERED.set(self.guard)
        try:
            yield
        finally:
            _COVERED.reset(token)


def _retrieve(look: asyncio.Future[None]) -> None:
    if not look.cancelled():
        look.exception()


def _shown_strings(value: object) -> Iterator[str]:
    """Shown strings inside a JSON parameter: button labels, command descriptions, quotes."""
    if isinstance(value, str):
        try:
            parsed: object = json.loads(value)
        except ValueError:
            yield value
            return
        yield from _shown_strings(parsed)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(item, str):
                if key in SHOWN_KEYS:
                    yield item
            else:
                yield from _shown_strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _shown_strings(item)
