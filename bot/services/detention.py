"""Detention notifications: import a file, open or join nazorg cases, queue announcements.

The file machinery (batches, row-alone retry, import records, notices) is
`bot.services.imports.Importer`; this module says how a DPAN row is read
(`bot.domain.dpan`) and stored: an uitstroom opens or joins the person's nazorg
case, and every notification is announced to the partners.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.config import Settings, SettingsError
from bot.domain.announcements import AnnouncementKind
from bot.domain.detention import response_deadline
from bot.domain.dpan import DpanRow, RowError, Soort, read_dpan
from bot.domain.roles import Theme
from bot.i18n import Translator
from bot.privacy.crypto import FieldCipher
from bot.safe import SafeText
from bot.services import outbox
from bot.services.announcements import Announcements
from bot.services.audit import AuditLog
from bot.services.imports import (
    BATCH_SIZE,
    REMARK_CONTEXT,
    ErrorSink,
    Importer,
    ImportInterrupted,
    ImportReport,
    file_sha256,
    line_ranges,
    stream_sha256,
)
from bot.services.persons import PersonVault
from bot.storage.engine import Database
from bot.storage.models import Case, Melding

__all__ = [
    "BATCH_SIZE",
    "INSTITUTION_CONTEXT",
    "REMARK_CONTEXT",
    "DetentionService",
    "ErrorSink",
    "ImportInterrupted",
    "ImportReport",
    "file_sha256",
    "line_ranges",
    "stream_sha256",
]

log = logging.getLogger(__name__)

# What a file named as institution when the catalogue does not know it.
INSTITUTION_CONTEXT = "melding.institution"


def _unreadable_notice(_: Translator, *, number: int) -> SafeText:
    return _(
        "Import {number} was rejected: the file could not be read as a file of detention "
        "notifications. The reason is in the errors file of import {number} in the folder "
        "rejected of the inbox; the file itself is deleted once this message has been sent. "
        "Ask the sender for a corrected file.",
        number=number,
    )


class DetentionService(Importer[DpanRow]):
    kind = "dpan"
    audit_action = "import.dpan"

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        vault: PersonVault,
        cipher: FieldCipher,
        audit: AuditLog,
        clock: Clock,
        announcements: Announcements,
    ) -> None:
        super().__init__(
            settings=settings, db=db, vault=vault, cipher=cipher, audit=audit, clock=clock
        )
        self._announcements = announcements
        self._catalogue = settings.institution_catalogue

    def _read(self, stream: BinaryIO) -> Iterator[DpanRow | RowError]:
        return read_dpan(
            stream, municipalities=self._settings.municipalities, today=self._local_today()
        )

    def _check_ready(self) -> None:
        if self._settings.partner_chat_id is None:
            raise SettingsError(
                "VHBOT_PARTNER_CHAT_ID is not set: notifications cannot be announced"
            )

    def _unreadable_notice(self, _: Translator, *, number: int) -> SafeText:
        return _unreadable_notice(_, number=number)

    def _after_finish(self, session: Session, import_id: int) -> None:
        self._report_unknown_institutions(session, import_id)

    def _store_row(
        self, session: Session, row: DpanRow, import_id: int, actor: str, opened: list[str]
    ) -> None:
        now = self._clock.now()
        person = self._vault.register(session, row.identity, actor=actor)
        catalogued = self._catalogue.match(row.institution)
        melding = Melding(
            bron_id=row.bron_id,
            bron=row.bron,
            soort=row.soort.value,
            theme=Theme.NAZORG.value,
            person_id=person.person_id,
            municipality=row.municipality,
            institution=catalogued,
            institution_ct=(
                None
                if catalogued
                else self._cipher.encrypt(row.institution, context=INSTITUTION_CONTEXT)
            ),
            event_date=row.date,
            remark_ct=(
                self._cipher.encrypt(row.remark, context=REMARK_CONTEXT) if row.remark else None
            ),
            received_at=now,
            import_id=import_id,
            source_line=row.line,
        )
        session.add(melding)
        session.flush()
        case = None
        if row.soort is Soort.UITSTROOM:
            case, created = self._open_or_join_nazorg(session, melding, now, actor)
            if created:
                opened.append(case.reference)
            melding.case_id = case.id
            session.add(melding)
        self._queue_announcement(session, melding, case, now)

    def _open_or_join_nazorg(
        self, session: Session, melding: Melding, now: datetime, actor: str
    ) -> tuple[Case, bool]:
        return self._open_or_join_case(session, melding, Theme.NAZORG, opened_at=now, actor=actor)

    # -- announcements -----------------------------------------------------------

    def _queue_announcement(
        self, session: Session, melding: Melding, case: Case | None, now: datetime
    ) -> None:
        soort = Soort(melding.soort)
        deadline = response_deadline(
            now,
            melding.event_date if soort is Soort.UITSTROOM else None,
            self._settings.tz,
            working_days=self._settings.response_working_days,
            at=self._settings.response_time,
        )
        self._announcements.publish(
            session,
            kind=AnnouncementKind.DETENTION,
            subject_id=melding.id or 0,
            theme=Theme.NAZORG,
            case_id=case.id if case else None,
            deadline=deadline,
            now=now,
        )

    def seal_uncatalogued(self, session: Session) -> int:
        """Encrypt institution values stored in clear before the catalogue existed.

        Migration 0004 leaves a value the catalogue does not know in place (a
        migration has no key); this moves it into `institution_ct`. Idempotent.
        """
        names = sorted(self._catalogue.names)
        rows = session.exec(
            select(Melding).where(
                col(Melding.institution).is_not(None), col(Melding.institution).not_in(names)
            )
        ).all()
        for melding in rows:
            assert melding.institution is not None  # noqa: S101 - filtered in the query
            catalogued = self._catalogue.match(melding.institution)
            if catalogued is None:
                melding.institution_ct = self._cipher.encrypt(
                    melding.institution, context=INSTITUTION_CONTEXT
                )
            melding.institution = catalogued
            session.add(melding)
        if rows:
            self._audit.record(
                session, actor="system", action="melding.seal", subject="institution",
                count=len(rows),
            )  # fmt: skip
        return len(rows)

    def _report_unknown_institutions(self, session: Session, import_id: int) -> None:
        """Tell the coordinators which lines named an institution the catalogue lacks.

        By import number and line only: the file's name and the value written are
        not for Telegram. Queried from the database, so an import resumed after a
        crash reports the lines of its earlier runs too.
        """
        lines = session.exec(
            select(Melding.source_line)
            .where(Melding.import_id == import_id, col(Melding.institution_ct).is_not(None))
            .order_by(col(Melding.source_line))
        ).all()
        if not lines:
            return

        shown = line_ranges(list(lines))

        def render(_: Translator) -> SafeText:
            return _(
                "Import {number}: the institution on line {lines} is not in the catalogue, "
                "so the announcement says \u201cother institution\u201d. Please check it with "
                "the sender, or add the institution to VHBOT_INSTITUTIONS.",
                number=import_id,
                lines=shown,
            )

        outbox.enqueue_to_coordinators(
            session,
            key=f"institutions:{import_id}:{len(lines)}",
            render=render,
            default_locale=self._settings.locale,
            now=self._clock.now(),
        )
