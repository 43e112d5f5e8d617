"""Importing a file of rows (detention notifications, meldingen): the machinery they share.

One transaction per batch of rows: a crash never leaves half a row, and a
re-run of the same file skips what was committed (a sender's `bron_id` is unique).
A row that fails unexpectedly costs only itself: the batch is redone row by
row, each in a savepoint, and that row is rejected with a reason that holds
no data. An import is known by its number (`import_file.id`), never by the
file's name.

A kind of file is an `Importer` subclass: it says how to read its rows
(`_read`, a row format of `bot.domain.dpan`) and how to store one
(`_store_row`); reading, batches, the row-alone retry, rejection lines, import
records, giving up and the notices to the coordinators are all here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import BinaryIO, Generic, Protocol, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import (
    DisconnectionError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.config import Settings, SettingsError
from bot.domain.detention import case_reference
from bot.domain.dpan import FileUnreadable, RowError
from bot.domain.roles import Theme
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.safe import SafeText
from bot.services import outbox
from bot.services.audit import AuditLog
from bot.services.persons import PersonVault
from bot.storage.engine import Database, savepoint
from bot.storage.models import Case, CaseCounter, ImportFile, Melding, OutboxMessage

log = logging.getLogger(__name__)

REMARK_CONTEXT = "melding.remark"
BATCH_SIZE = 200

# Failures of the database or the machine, not of a row: retrying the row alone
# would fail the same way, so the import stops and is resumed later.
_NOT_THE_ROW: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    DisconnectionError,
    PoolTimeout,
    OSError,
    MemoryError,
)

ErrorSink = Callable[[int, list[str]], None]


@dataclass
class ImportReport:
    name: str  # the name the caller gave (the inbox gives a safe one); never stored or logged
    import_id: int = 0
    new: int = 0
    duplicate: int = 0
    rejected: int = 0
    unreadable: str | None = None  # why the file as a whole could not be read
    given_up: bool = False  # stopped for good after too many attempts (see `give_up`)
    cases_opened: list[str] = field(default_factory=list)
    # This run of the import was started before and stopped part-way: the rows that
    # attempt stored count as new (as in one clean run), not as duplicates.
    resumed: bool = False


class ImportInterrupted(Exception):
    """The import stopped part-way for a reason that is not one row's (database, system).

    What was committed stays; importing the same file again carries on. The
    message holds the import's number and the type of the failure only.

    Attributes:
        import_id: the import's number.
        attempts: how many times it has been started since it last finished.
        cause: the type name of the failure.
    """

    def __init__(self, import_id: int, attempts: int, cause: str) -> None:
        self.import_id = import_id
        self.attempts = attempts
        self.cause = cause
        super().__init__(f"import {import_id} stopped at attempt {attempts} ({cause})")


class _RowsKeepFailing(Exception):
    """Every row of a batch failed unexpectedly: the cause is not in the rows."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(cause)


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return stream_sha256(handle)


def stream_sha256(stream: BinaryIO) -> str:
    """The SHA-256 of what is left of `stream`, read in chunks (the position moves to the end)."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(1 << 20), b""):
        digest.update(chunk)
    return digest.hexdigest()


def _row_failed(_: Translator, *, number: int) -> str:
    return _(
        "the row could not be imported because of an internal error; the log of import "
        "{number} has the cause (without the row's data)",
        number=number,
    )


def _given_up_notice(_: Translator, *, number: int, attempts: int, imported: int) -> SafeText:
    return _(
        "Import {number} could not be finished in {attempts} attempts and was stopped. Rows "
        "imported before it stopped: {imported}; the rest of the file was not imported. The "
        "log has the cause under import {number}; the file is deleted once this message has "
        "been sent. Ask the sender to send the file again once the cause has been fixed.",
        number=number,
        attempts=attempts,
        imported=imported,
    )


class Stored(Enum):
    """What became of a row that was not rejected."""

    NEW = "new"
    DUPLICATE = "duplicate"  # stored by another import (or an earlier, finished run)
    EARLIER = "earlier"  # this line of this import, stored before (a run resumed, or run again)


class ImportRow(Protocol):
    """What the machinery needs of a row: its line, its sender and the sender's id."""

    @property
    def line(self) -> int: ...

    @property
    def bron(self) -> str: ...

    @property
    def bron_id(self) -> str: ...


# A melding's key: its sender and the sender's id (two senders may use one id).
SourceKey = tuple[str, str]


def _key(row: ImportRow) -> SourceKey:
    return (str(row.bron), row.bron_id)


RowT = TypeVar("RowT", bound=ImportRow)


class Importer(Generic[RowT]):
    """Imports files of one row format; subclasses read and store their rows."""

    # What `import_file.kind` calls this kind of file.
    kind = ""
    # The audit action of a finished import (kept per kind: "import.dpan" stays).
    audit_action = "import"

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

    @property
    def _(self) -> Translator:
        return translator(self._settings.locale)

    # -- what a kind of file says ------------------------------------------------

    def _read(self, stream: BinaryIO) -> Iterator[RowT | RowError]:
        """The file's rows, checked (a `bot.domain.dpan` reader)."""
        raise NotImplementedError

    def _store_row(
        self, session: Session, row: RowT, import_id: int, actor: str, opened: list[str]
    ) -> str | None:
        """Store one new row (not stored yet); add the references of cases it opened.

        Returns:
            None when stored; else why the row is rejected (translated, without its
            data), having stored nothing of it.
        """
        raise NotImplementedError

    def _check_ready(self) -> None:
        """Raise SettingsError when the configuration cannot take this kind of file."""

    def _unreadable_notice(self, _: Translator, *, number: int) -> SafeText:
        raise NotImplementedError

    def _after_finish(self, session: Session, import_id: int) -> None:
        """Extra notices of a finished import (in its closing transaction)."""

    # -- the machinery -------------------------------------------------------------

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

        Raises:
            SettingsError: VHBOT_PARTNER_CHAT_ID is not set (the notifications would
                be stored but never announced).
            ImportInterrupted: as `import_stream`.
        """
        self._check_ready()
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
        max_attempts: int | None = None,
        tell_coordinators: bool = False,
    ) -> ImportReport:
        """Import a file's rows in batches, continuing where an earlier attempt stopped.

        Args:
            stream: the file, opened in binary mode and seekable.
            name: what the report calls the file; never stored or logged.
            sha256: the file's content hash: the same content is the same import.
            actor: who imports (for the audit log).
            on_error: gets (line, reasons) of each rejected row once its batch is committed.
            after_batch: gets the number of rows done after each committed batch.
            batch_size: rows per transaction.
            max_attempts: when the import has been started this many times without
                finishing, the next start gives up (see `give_up`) instead of reading.
            tell_coordinators: a file that cannot be read is reported to the
                coordinators (by number), with the change of status.

        Returns:
            The counts; `unreadable` or `given_up` when the file was not imported whole.

        Raises:
            SettingsError: VHBOT_PARTNER_CHAT_ID is not set.
            ImportInterrupted: the import stopped part-way (database or system failure,
                or every row of a batch failing); what was committed stays.
        """
        self._check_ready()
        import_id, attempts = self._start(sha256)
        report = ImportReport(name, import_id=import_id, resumed=attempts > 1)
        if max_attempts is not None and attempts > max_attempts:
            return self.give_up(import_id, actor=actor, attempts=attempts - 1, report=report)
        rows = self._read(stream)
        batch: list[RowT | RowError] = []
        try:
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
            self._finish(import_id, report, actor, tell_coordinators=tell_coordinators)
        except (SettingsError, ImportInterrupted):
            raise
        except Exception as exc:
            cause = exc.cause if isinstance(exc, _RowsKeepFailing) else type(exc).__name__
            # The type and where it was raised are logged, never the text (bot.logs).
            log.error(
                "import.interrupted",
                extra={"import": import_id, "attempt": attempts, "cause": cause},
                exc_info=not isinstance(exc, _RowsKeepFailing),
            )
            raise ImportInterrupted(import_id, attempts, cause) from None
        return report

    def give_up(
        self,
        import_id: int,
        *,
        actor: str,
        attempts: int,
        report: ImportReport | None = None,
    ) -> ImportReport:
        """Stop an import that cannot be finished, and tell the coordinators.

        The status becomes `failed`, with an audit entry and a notice to every
        active coordinator (its number, the attempts and the rows imported; never
        the file's name or data), all in one transaction. Safe to repeat: the
        notices are queued once per run of the import and coordinator.

        Args:
            import_id: the import's number.
            actor: who gives up (for the audit log).
            attempts: how many attempts were made.
            report: the report to complete (a new one when None).

        Returns:
            The report, `given_up` set and the rows imported before as `new`.
        """
        report = report or ImportReport(f"import {import_id}", import_id=import_id)
        with self._db.session() as session:
            record = session.get(ImportFile, import_id)
            assert record is not None  # noqa: S101 - created by _start
            record.status, record.attempts = "failed", attempts
            record.finished_at = self._clock.now()
            session.add(record)
            imported = record.rows_new
            self._audit.record(
                session,
                actor=actor,
                action="import.given_up",
                subject=f"import:{import_id}",
                attempts=attempts,
                imported=imported,
            )
            self._tell_coordinators(
                session,
                import_id,
                "failed",
                lambda _: _given_up_notice(
                    _, number=import_id, attempts=attempts, imported=imported
                ),
            )
        log.error("import.given_up", extra={"import": import_id, "attempts": attempts})
        report.given_up = True
        report.new = imported
        return report

    def notices_pending(self, import_id: int) -> bool:
        """Tell whether a notice about this import still waits in the outbox.

        The inbox keeps a rejected file until the coordinators have been told:
        until then, it may still be needed to tell them.
        """
        with self._db.session() as session:
            waiting = session.exec(
                select(OutboxMessage.id).where(
                    col(OutboxMessage.dedupe_key).startswith(
                        _notice_prefix(import_id), autoescape=True
                    ),
                    OutboxMessage.status == "pending",
                )
            ).first()
        return waiting is not None

    # -- batches ---------------------------------------------------------------

    def _start(self, sha256: str) -> tuple[int, int]:
        """The import of this content (created if new) and its attempts, this one included.

        An import that finished before (done, unreadable, or given up) starts a new
        run: its attempts count from 1 again.
        """
        now = self._clock.now()
        with self._db.session() as session:
            record = session.exec(
                select(ImportFile).where(ImportFile.sha256 == sha256, ImportFile.kind == self.kind)
            ).first()
            if record is None:
                record = ImportFile(sha256=sha256, kind=self.kind, status="running", started_at=now)
            elif record.status != "running":
                record.status, record.attempts, record.started_at = "running", 0, now
            record.attempts += 1
            session.add(record)
            session.flush()
            assert record.id is not None  # noqa: S101 - flushed
            return record.id, record.attempts

    def _finish(
        self, import_id: int, report: ImportReport, actor: str, *, tell_coordinators: bool
    ) -> None:
        with self._db.session() as session:
            record = session.get(ImportFile, import_id)
            assert record is not None  # noqa: S101 - created by _start
            record.status = "unreadable" if report.unreadable else "done"
            record.finished_at = self._clock.now()
            session.add(record)
            self._after_finish(session, import_id)
            self._audit.record(
                session,
                actor=actor,
                action=self.audit_action,
                subject=f"import:{import_id}",
                new=report.new,
                duplicate=report.duplicate,
                rejected=report.rejected,
                unreadable=report.unreadable is not None,
            )
            if report.unreadable and tell_coordinators:
                self._tell_coordinators(
                    session,
                    import_id,
                    "unreadable",
                    lambda _: self._unreadable_notice(_, number=import_id),
                )

    def _tell_coordinators(
        self,
        session: Session,
        import_id: int,
        kind: str,
        render: Callable[[Translator], SafeText],
    ) -> None:
        """Queue `render`'s text for every active coordinator, in their language, once."""
        record = session.get(ImportFile, import_id)
        assert record is not None  # noqa: S101 - created by _start
        # Once per run of the import (a resumed run is the same run) and coordinator.
        run = int(record.started_at.timestamp())
        outbox.enqueue_to_coordinators(
            session,
            key=f"{_notice_prefix(import_id)}{run}:{kind}",
            render=render,
            default_locale=self._settings.locale,
            now=self._clock.now(),
        )

    def _commit_batch(
        self,
        batch: list[RowT | RowError],
        import_id: int,
        actor: str,
        report: ImportReport,
        on_error: ErrorSink | None,
    ) -> None:
        try:
            errors = self._try_batch(batch, import_id, actor, report, careful=False)
        except _NOT_THE_ROW:
            raise
        except Exception as exc:
            # One row broke the batch (or another importer stored one of its meldingen
            # meanwhile): redo it row by row, each in a savepoint, so that only a row
            # that fails again is lost. The fast path above pays nothing for this.
            log.warning(
                "import.batch_retried", extra={"import": import_id, "cause": type(exc).__name__}
            )
            errors = self._try_batch(batch, import_id, actor, report, careful=True)
        # Reported only once the batch is committed: a rolled-back batch says nothing.
        if on_error is not None:
            for line, reasons in errors:
                on_error(line, reasons)

    def _try_batch(
        self,
        batch: list[RowT | RowError],
        import_id: int,
        actor: str,
        report: ImportReport,
        *,
        careful: bool,
    ) -> list[tuple[int, list[str]]]:
        """Import one batch in one transaction; returns the rejected rows' lines and reasons.

        `careful`: each row in a savepoint, so that a row that fails is rejected alone.
        """
        counts = {"new": 0, "earlier": 0, "duplicate": 0, "rejected": 0}
        errors: list[tuple[int, list[str]]] = []
        opened: list[str] = []
        failed: list[str] = []  # type names of the unexpected failures (careful only)
        with self._db.session() as session:
            # (import id, source line) of every key of this batch already stored:
            # one query per batch; rows stored below are added as they go.
            seen: dict[SourceKey, tuple[int | None, int]] = {
                (bron, bron_id): (import_of, line)
                for bron, bron_id, import_of, line in session.exec(
                    select(
                        Melding.bron, Melding.bron_id, Melding.import_id, Melding.source_line
                    ).where(
                        col(Melding.bron_id).in_(
                            sorted({i.bron_id for i in batch if not isinstance(i, RowError)})
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
                if careful:
                    outcome = self._import_row_alone(
                        session, item, import_id, actor, opened, seen, failed
                    )
                else:
                    outcome = self._import_row(session, item, import_id, actor, opened, seen)
                if isinstance(outcome, str):
                    counts["rejected"] += 1
                    errors.append((item.line, [outcome]))
                elif outcome is Stored.EARLIER and report.resumed:
                    counts["earlier"] += 1
                else:
                    counts["new" if outcome is Stored.NEW else "duplicate"] += 1
            if len(failed) >= 2 and counts["new"] + counts["earlier"] + counts["duplicate"] == 0:
                # Not one row went in: a fault of the database or of this code, not of
                # the rows. Rejecting them all would lose the file; stop instead.
                raise _RowsKeepFailing(failed[0])
            record = session.get(ImportFile, import_id)
            assert record is not None  # noqa: S101 - created by _start
            record.rows_new += counts["new"]
            record.rows_duplicate += counts["duplicate"]
            record.rows_rejected += counts["rejected"]
            session.add(record)
        # The record counted the rows an earlier attempt stored then; the report of
        # this attempt counts them too, so that it tells what the whole run did.
        report.new += counts["new"] + counts["earlier"]
        report.duplicate += counts["duplicate"]
        report.rejected += counts["rejected"]
        report.cases_opened += opened
        return errors

    def _import_row(
        self,
        session: Session,
        row: RowT,
        import_id: int,
        actor: str,
        opened: list[str],
        seen: dict[SourceKey, tuple[int | None, int]],
    ) -> Stored | str:
        """What became of the row; a str: why it is rejected."""
        existing = seen.get(_key(row))
        if existing is not None:
            import_of, line = existing
            if import_of == import_id and line != row.line:
                return self._("bron_id appears earlier in this file (line {line})", line=line)
            return Stored.EARLIER if import_of == import_id else Stored.DUPLICATE
        refused = self._store_row(session, row, import_id, actor, opened)
        if refused is not None:
            return refused
        seen[_key(row)] = (import_id, row.line)
        return Stored.NEW

    def _import_row_alone(
        self,
        session: Session,
        row: RowT,
        import_id: int,
        actor: str,
        opened: list[str],
        seen: dict[SourceKey, tuple[int | None, int]],
        failed: list[str],
    ) -> Stored | str:
        """`_import_row` in a savepoint: a failure rolls back this row only.

        Failures of the database itself (`_NOT_THE_ROW`) are raised: they are no
        reason to reject a row.
        """
        for attempt in (1, 2):
            row_opened: list[str] = []
            try:
                with savepoint(session):
                    outcome = self._import_row(session, row, import_id, actor, row_opened, seen)
            except _NOT_THE_ROW:
                raise
            except IntegrityError:
                if self._stored(session, _key(row)):
                    return Stored.DUPLICATE  # another importer stored it a moment ago
                if attempt == 1:
                    continue  # e.g. a new person's pseudonym taken a moment ago: look again
                cause = "IntegrityError"
            except Exception as exc:
                cause = type(exc).__name__
            else:
                opened += row_opened
                return outcome
            failed.append(cause)
            # The type and where it was raised only, never the text (bot.logs).
            log.error(
                "import.row_failed",
                extra={"import": import_id, "line": row.line, "cause": cause},
                exc_info=True,
            )
            return _row_failed(self._, number=import_id)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stored(self, session: Session, key: SourceKey) -> bool:
        bron, bron_id = key
        found = session.exec(
            select(Melding.id).where(Melding.bron_id == bron_id, Melding.bron == bron)
        ).first()
        return found is not None

    # -- cases -----------------------------------------------------------------

    def _open_or_join_case(
        self,
        session: Session,
        melding: Melding,
        theme: Theme,
        *,
        opened_at: datetime,
        actor: str,
    ) -> tuple[Case, bool]:
        """The person's open case of `theme`, or a new one opened at `opened_at`.

        Returns:
            The case, and whether it was opened now.
        """
        open_case = session.exec(
            select(Case).where(
                Case.person_id == melding.person_id,
                Case.theme == theme.value,
                col(Case.closed_at).is_(None),
            )
        ).first()
        if open_case is not None:
            if opened_at < open_case.opened_at:
                # An older melding that arrived later: the case began with it (the
                # reports count the case from then, under its municipality: the one of
                # its first melding). Its reference keeps its number.
                open_case.opened_at = opened_at
                open_case.municipality = melding.municipality
                session.add(open_case)
            return open_case, False
        return self._new_case(session, melding, theme, opened_at=opened_at, actor=actor), True

    def _new_case(
        self,
        session: Session,
        melding: Melding,
        theme: Theme,
        *,
        opened_at: datetime,
        actor: str,
        closed_at: datetime | None = None,
    ) -> Case:
        """A new case of `melding`'s person and municipality (closed at `closed_at`: a
        history moved in), numbered in the year it opened."""
        year = opened_at.astimezone(self._settings.tz).year
        number = _next_case_number(session, year)
        case = Case(
            reference=case_reference(year, number),
            year=year,
            number=number,
            theme=theme.value,
            person_id=melding.person_id,
            municipality=melding.municipality,
            opened_at=opened_at,
            closed_at=closed_at,
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
        return case

    def _local_today(self) -> date:
        return self._clock.now().astimezone(self._settings.tz).date()


# A notice names at most this many lines or ranges of lines (Telegram takes 4096 characters).
MAX_LINE_RANGES = 40


def line_ranges(lines: list[int]) -> SafeText:
    """`2-5, 9, 12-40` and, past MAX_LINE_RANGES, `…` with the rest left out."""
    ranges: list[tuple[int, int]] = []
    for line in sorted(set(lines)):
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], line)
        else:
            ranges.append((line, line))
    parts = [
        SafeText.layout("{}", first) if first == last else SafeText.layout("{}-{}", first, last)
        for first, last in ranges[:MAX_LINE_RANGES]
    ]
    if len(ranges) > MAX_LINE_RANGES:
        parts.append(SafeText.layout("…"))
    return SafeText.joined(", ", parts)


def _notice_prefix(import_id: int) -> str:
    """The outbox key prefix of every notice about one import."""
    return f"import:{import_id}:"


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
