"""The outgoing-message guard: no identity of any person we hold may leave in a message."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable

from sqlmodel import select

from bot.privacy.pii_guard import PiiGuard, PiiHit
from bot.services.persons import PersonVault
from bot.storage.engine import Database
from bot.storage.models import Organisation

_WORDS = re.compile(r"[^\W\d_]+")

log = logging.getLogger(__name__)


class OutgoingGuard:
    """Keeps a PiiGuard filled with every identity held, catching up with new persons.

    Persons may be added by another process (`vhbot import dpan`), so each scan
    first reads the persons created since the last look (an indexed query).
    """

    def __init__(
        self, db: Database, vault: PersonVault, *, allowed_words: Iterable[str] = ()
    ) -> None:
        self._db = db
        self._vault = vault
        self._guard = PiiGuard(allowed_words=allowed_words)
        self._last_person_id = 0
        self._organisations_seen = 0
        self._lock = asyncio.Lock()

    def _load_new(self) -> None:
        with self._db.session() as session:
            identities, last_id = self._vault.reveal_all_for_guard(
                session, after_id=self._last_person_id
            )
            # Organisation names appear in tallies and reminders as constant text:
            # a person who shares one ("Mee") must not block every message naming it.
            names = session.exec(select(Organisation.name)).all()
        if len(names) != self._organisations_seen:
            self._guard.allow(word for name in names for word in _WORDS.findall(name))
            self._organisations_seen = len(names)
        for identity in identities:
            self._guard.add(identity)
        self._last_person_id = last_id

    async def scan(self, texts: list[str]) -> list[PiiHit]:
        async with self._lock:
            await self._db.run(self._load_new)
        hits: list[PiiHit] = []
        for text in texts:
            hits.extend(self._guard.scan(text))
        return hits

    @property
    def identities(self) -> int:
        return len(self._guard)
