"""Meldingen from every source: a meldingen file, the inbox, or one typed in by hand.

A melding for a person (the same keyed pseudonym) with an open case of the
same theme joins that case; otherwise it opens a new case, in triage (no
decision yet), on the melding's date. A nazorg melding follows the same rule.
Nothing is announced here: triage items are announced per meeting by the agenda.

The file machinery is `bot.services.imports.Importer`, shared with the
detention import; this module says how a meldingen row is read
(`bot.domain.meldingen`) and stored.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time
from typing import BinaryIO

from sqlmodel import Session

from bot.domain.dpan import RowError
from bot.domain.meldingen import MeldingRow, read_meldingen
from bot.i18n import Translator
from bot.safe import SafeText
from bot.services.audit import Detail
from bot.services.imports import REMARK_CONTEXT, Importer
from bot.storage.models import Case, Melding

# The `soort` of a melding that is not a detention notification.
SOORT = "melding"
# bron_id of a melding typed in by hand: this prefix and random hex.
MANUAL_PREFIX = "handmatig-"


@dataclass(frozen=True)
class Added:
    """A melding typed in by hand, stored: its case and whether that case is new."""

    reference: str
    new_case: bool


def _unreadable_notice(_: Translator, *, number: int) -> SafeText:
    return _(
        "Import {number} was rejected: the file could not be read as a file of meldingen. "
        "The reason is in the errors file of import {number} in the folder rejected of the "
        "inbox; the file itself is deleted once this message has been sent. Ask the sender "
        "for a corrected file.",
        number=number,
    )


def new_bron_id() -> str:
    """A fresh bron_id for a melding typed in by hand (`vhbot melding add`)."""
    return MANUAL_PREFIX + secrets.token_hex(8)


class MeldingenService(Importer[MeldingRow]):
    kind = "meldingen"
    audit_action = "import.meldingen"

    def _read(self, stream: BinaryIO) -> Iterator[MeldingRow | RowError]:
        return read_meldingen(
            stream, municipalities=self._settings.municipalities, today=self._local_today()
        )

    def _unreadable_notice(self, _: Translator, *, number: int) -> SafeText:
        return _unreadable_notice(_, number=number)

    def _store_row(
        self, session: Session, row: MeldingRow, import_id: int, actor: str, opened: list[str]
    ) -> None:
        _, case, created = self._store(
            session, row, import_id=import_id, source_line=row.line, actor=actor
        )
        if created:
            opened.append(case.reference)

    def add(self, row: MeldingRow, *, actor: str) -> Added:
        """Store one melding typed in by hand, as one imported row, in one transaction.

        Args:
            row: the melding, checked (`bot.domain.meldingen.check_one`), with a
                bron_id from `new_bron_id`.
            actor: who typed it (for the audit log).

        Returns:
            The reference of the case it opened or joined.
        """
        with self._db.session() as session:
            return self.add_in(session, row, actor=actor)

    def add_in(self, session: Session, row: MeldingRow, *, actor: str, **details: Detail) -> Added:
        """`add` within the caller's transaction (the web form's: its link is done with
        it); `details` go into the audit entry `melding.add` besides the reference."""
        melding, case, created = self._store(
            session, row, import_id=None, source_line=0, actor=actor
        )
        self._audit.record(
            session,
            actor=actor,
            action="melding.add",
            subject=f"melding:{melding.id}",
            reference=case.reference,
            **details,
        )
        return Added(case.reference, created)

    def _store(
        self,
        session: Session,
        row: MeldingRow,
        *,
        import_id: int | None,
        source_line: int,
        actor: str,
    ) -> tuple[Melding, Case, bool]:
        """Store the melding and open or join its case; the case, and whether it is new."""
        now = self._clock.now()
        person = self._vault.register(session, row.identity, actor=actor)
        melding = Melding(
            bron_id=row.bron_id,
            soort=SOORT,
            bron=row.bron.value,
            theme=row.theme.value,
            person_id=person.person_id,
            municipality=row.municipality,
            event_date=row.date,
            remark_ct=(
                self._cipher.encrypt(row.remark, context=REMARK_CONTEXT) if row.remark else None
            ),
            received_at=now,
            import_id=import_id,
            source_line=source_line,
        )
        session.add(melding)
        session.flush()
        case, created = self._open_or_join_case(
            session, melding, row.theme, opened_at=self._opened_at(row, now), actor=actor
        )
        melding.case_id = case.id
        session.add(melding)
        return melding, case, created

    def _opened_at(self, row: MeldingRow, now: datetime) -> datetime:
        """A case opens on the melding's date: now when that is today, else its midnight."""
        if row.date == self._local_today():
            return now
        return datetime.combine(row.date, time(0), tzinfo=self._settings.tz)
