"""Detention notifications: import a file, open or join nazorg cases, queue announcements.

One transaction per batch of rows: a crash never leaves half a row, and a
re-run of the same file skips what was committed (the `bron_id` is unique).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.config import Settings, SettingsError
from bot.domain.detention import case_reference, response_deadline
from bot.domain.dpan import DpanRow, FileUnreadable, RowError, Soort, read_dpan
from bot.domain.roles import Theme
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.safe import CaseReference, Institution, Municipality, Pseudonym, SafeText
from bot.services import outbox
from bot.services.audit import AuditLog
from bot.services.persons import PersonVault
from bot.storage.engine import Database
from bot.storage.models import Announcement, Case, CaseCounter, ImportFile, Melding
from bot.views.announcements import AnnouncementFacts, announcement_text, answer_keyboard

REMARK_CONTEXT = "melding.remark"
# What a file named as institution when the catalogue does not know it.
INSTITUTION_CONTEXT = "melding.institution"
BATCH_SIZE = 200

ErrorSink = Callable[[int, list[str]], None]


@dataclass
class ImportReport:
    name: str
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    unreadable: str | None = None  # why the file as a whole could not be read
    cases_opened: list[str] = field(default_factory=list)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class DetentionService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        vault: PersonVault,
        cipher: FieldCipher,
        audit: AuditLog,
        clock: Clock,
    ) -> None:
        self._settings = settings
        self._db = db
        self._vault = vault
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self._catalogue = settings.institution_catalogue

    @property
    def _(self) -> Translator:
        return translator(self._settings.locale)

    def import_path(
        self,
        path: Path,
        *,
        actor: str,
        on_error: ErrorSink | None = None,
        after_batch: Callable[[int], None] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> ImportReport:
        """Import one file; rejected rows go to `on_error` as (line, reasons), never with data.

        Raises SettingsError without VHBOT_PARTNER_CHAT_ID: the notifications would
        be stored but never announced.
        """
        if self._settings.partner_chat_id is None:
            raise SettingsError(
                "VHBOT_PARTNER_CHAT_ID is not set: notifications cannot be announced"
            )
        try:
            sha = file_sha256(path)
            stream = path.open("rb")
        except OSError as exc:
            return ImportReport(path.name, unreadable=f"cannot open the file ({exc.strerror})")
        with stream:
            return self.import_stream(
                stream,
                name=path.name,
                sha256=sha,
                actor=actor,
                on_error=on_error,
                after_batch=after_batch,
                batch_size=batch_size,
            )

    def import_stream(
        self,
        stream: BinaryIO,
        *,
        name: str,
        sha256: str,
        actor: str,
        on_error: ErrorSink | None = None,
        after_batch: Callable[[int], None] | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> ImportReport:
        report = ImportReport(name)
        import_id = self._start(name, sha256)
        rows = read_dpan(
            stream, municipalities=self._settings.municipalities, today=self._local_today()
        )
        batch: list[DpanRow | RowError] = []
        try:
            for item in rows:
                batch.append(item)
                if len(batch) >= batch_size:
                    self._commit_batch(batch, import_id, actor, report, on_error)
                    batch = []
                    if after_batch is not None:
                        after_batch(report.new + report.duplicate + report.rejected)
            if batch:
                self._commit_batch(batch, import_id, actor, report, on_error)
        except FileUnreadable as exc:
            report.unreadable = self._(exc.message_id, **exc.params)
        self._finish(import_id, report, actor)
        return report

    # -- batches ---------------------------------------------------------------

    def _start(self, name: str, sha256: str) -> int:
        with self._db.session() as session:
            existing = session.exec(select(ImportFile).where(ImportFile.sha256 == sha256)).first()
            if existing is not None and existing.id is not None:
                existing.status = "running"
                session.add(existing)
                return existing.id
            record = ImportFile(
                sha256=sha256, name=name[:255], status="running", started_at=self._clock.now()
            )
            session.add(record)
            session.flush()
            assert record.id is not None  # noqa: S101 - flushed
            return record.id

    def _finish(self, import_id: int, report: ImportReport, actor: str) -> None:
        with self._db.session() as session:
            record = session.get(ImportFile, import_id)
            assert record is not None  # noqa: S101 - created by _start
            record.status = "unreadable" if report.unreadable else "done"
            record.finished_at = self._clock.now()
            session.add(record)
            self._report_unknown_institutions(session, import_id)
            self._audit.record(
                session,
                actor=actor,
                action="import.dpan",
                subject=f"import:{import_id}",
                new=report.new,
                duplicate=report.duplicate,
                rejected=report.rejected,
                unreadable=report.unreadable is not None,
            )

    def _commit_batch(
        self,
        batch: list[DpanRow | RowError],
        import_id: int,
        actor: str,
        report: ImportReport,
        on_error: ErrorSink | None,
    ) -> None:
        try:
            self._try_batch(batch, import_id, actor, report, on_error, careful=False)
        except IntegrityError:
            # Another importer stored one of these bron_ids meanwhile: redo the
            # batch row by row, each in a savepoint, counting such rows as duplicates.
            self._try_batch(batch, import_id, actor, report, on_error, careful=True)

    def _try_batch(
        self,
        batch: list[DpanRow | RowError],
        import_id: int,
        actor: str,
        report: ImportReport,
        on_error: ErrorSink | None,
        *,
        careful: bool,
    ) -> None:
        counts = {"new": 0, "duplicate": 0, "rejected": 0}
        errors: list[tuple[int, list[str]]] = []
        opened: list[str] = []
        with self._db.session() as session:
            # (import id, source line) of every bron_id of this batch already stored:
            # one query per batch; rows stored below are added as they go.
            seen: dict[str, tuple[int | None, int]] = {
                bron_id: (import_of, line)
                for bron_id, import_of, line in session.exec(
                    select(Melding.bron_id, Melding.import_id, Melding.source_line).where(
                        col(Melding.bron_id).in_(
                            [i.bron_id for i in batch if isinstance(i, DpanRow)]
                        )
                    )
                )
            }
            for item in batch:
                if isinstance(item, RowError):
                    counts["rejected"] += 1
                    errors.append(
                        (item.line, [self._(p.message, **p.params) for p in item.problems])
                    )
                    continue
                outcome = self._import_row(session, item, import_id, actor, opened, careful, seen)
                if isinstance(outcome, str):
                    counts["rejected"] += 1
                    errors.append((item.line, [outcome]))
                else:
                    counts["new" if outcome else "duplicate"] += 1
            record = session.get(ImportFile, import_id)
            assert record is not None  # noqa: S101 - created by _start
            record.rows_new += counts["new"]
            record.rows_duplicate += counts["duplicate"]
            record.rows_rejected += counts["rejected"]
            session.add(record)
        # Reported only once the batch is committed: a rolled-back batch says nothing.
        report.new += counts["new"]
        report.duplicate += counts["duplicate"]
        report.rejected += counts["rejected"]
        report.cases_opened += opened
        if on_error is not None:
            for line, reasons in errors:
                on_error(line, reasons)

    def _import_row(
        self,
        session: Session,
        row: DpanRow,
        import_id: int,
        actor: str,
        opened: list[str],
        careful: bool,
        seen: dict[str, tuple[int | None, int]],
    ) -> bool | str:
        """True: new; False: a duplicate of an earlier import; str: why the row is rejected."""
        existing = seen.get(row.bron_id)
        if existing is not None:
            import_of, line = existing
            if import_of == import_id and line != row.line:
                return self._("bron_id appears earlier in this file (line {line})", line=line)
            return False
        if careful:
            try:
                with session.begin_nested():
                    self._store_row(session, row, import_id, actor, opened)
            except IntegrityError:
                return False  # another importer stored the same bron_id a moment ago
        else:
            self._store_row(session, row, import_id, actor, opened)
        seen[row.bron_id] = (import_id, row.line)
        return True

    def _store_row(
        self, session: Session, row: DpanRow, import_id: int, actor: str, opened: list[str]
    ) -> None:
        now = self._clock.now()
        person = self._vault.register(session, row.identity, actor=actor)
        catalogued = self._catalogue.match(row.institution)
        melding = Melding(
            bron_id=row.bron_id,
            soort=row.soort.value,
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
        self._queue_announcement(session, melding, case, person.pseudonym, now)

    # -- cases -----------------------------------------------------------------

    def _open_or_join_nazorg(
        self, session: Session, melding: Melding, now: datetime, actor: str
    ) -> tuple[Case, bool]:
        open_case = session.exec(
            select(Case).where(
                Case.person_id == melding.person_id,
                Case.theme == Theme.NAZORG.value,
                col(Case.closed_at).is_(None),
            )
        ).first()
        if open_case is not None:
            return open_case, False
        year = now.astimezone(self._settings.tz).year
        number = _next_case_number(session, year)
        case = Case(
            reference=case_reference(year, number),
            year=year,
            number=number,
            theme=Theme.NAZORG.value,
            person_id=melding.person_id,
            municipality=melding.municipality,
            opened_at=now,
        )
        session.add(case)
        session.flush()
        self._audit.record(
            session,
            actor=actor,
            action="case.open",
            subject=f"case:{case.id}",
            reference=case.reference,
            melding=melding.id,
        )
        return case, True

    # -- announcements -----------------------------------------------------------

    def _queue_announcement(
        self, session: Session, melding: Melding, case: Case | None, pseudonym: str, now: datetime
    ) -> None:
        chat_id = self._settings.partner_chat_id
        assert chat_id is not None  # noqa: S101 - import_path refuses to start without it
        soort = Soort(melding.soort)
        deadline = response_deadline(
            now,
            melding.event_date if soort is Soort.UITSTROOM else None,
            self._settings.tz,
            working_days=self._settings.response_working_days,
            at=self._settings.response_time,
        )
        announcement = Announcement(
            melding_id=melding.id or 0,
            case_id=case.id if case else None,
            theme=Theme.NAZORG.value,
            chat_id=chat_id,
            deadline=deadline,
            created_at=now,
        )
        session.add(announcement)
        session.flush()
        assert announcement.id is not None  # noqa: S101 - flushed
        facts = AnnouncementFacts(
            soort=soort,
            case_reference=CaseReference(case.reference) if case else None,
            pseudonym=Pseudonym(pseudonym),
            theme=Theme.NAZORG,
            municipality=Municipality(melding.municipality),
            institution=Institution(melding.institution) if melding.institution else None,
            event_date=melding.event_date,
            deadline=deadline,
        )
        outbox.enqueue(
            session,
            key=f"announce:{melding.id}",
            chat_id=chat_id,
            text=announcement_text(facts, None, self._, self._settings.tz),
            reply_markup=answer_keyboard(announcement.id, self._),
            announcement_id=announcement.id,
            now=now,
            new_key=True,  # the melding was created in this transaction
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

        def render(_: Translator) -> SafeText:
            return _(
                "Import {number}: the institution on line {lines} is not in the catalogue, "
                "so the announcement says \u201cother institution\u201d. Please check it with "
                "the sender, or add the institution to VHBOT_INSTITUTIONS.",
                number=import_id,
                lines=SafeText.joined(", ", lines),
            )

        outbox.enqueue_to_coordinators(
            session,
            key=f"institutions:{import_id}:{len(lines)}",
            render=render,
            default_locale=self._settings.locale,
            now=self._clock.now(),
        )

    def _local_today(self) -> date:
        return self._clock.now().astimezone(self._settings.tz).date()


def _next_case_number(session: Session, year: int) -> int:
    """The next number of `year`, under a row lock so two importers never share one.

    The first call in a transaction locks the year's counter row; later calls in
    the same transaction count on in memory (the lock holds until commit).
    """
    cached: CaseCounter | None = session.info.get(("case_counter", year))
    if cached is not None:
        cached.last += 1
        session.add(cached)
        return cached.last
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(CaseCounter)
        .values(year=year, last=0)
        .on_conflict_do_nothing(index_elements=["year"])
    )
    counter = session.exec(
        select(CaseCounter).where(CaseCounter.year == year).with_for_update()
    ).one()
    counter.last += 1
    session.add(counter)
    session.info[("case_counter", year)] = counter
    return counter.last
