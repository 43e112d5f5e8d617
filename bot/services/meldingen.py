"""Meldingen from every source: a meldingen file, the inbox, or one typed in by hand.

A melding for a person (the same keyed pseudonym) with an open case of the
same theme joins that case; otherwise it opens a new case, in triage (no
decision yet), on the melding's date. A nazorg melding follows the same rule.
Nothing is announced here: triage items are announced per meeting by the agenda.

The file machinery is `bot.services.imports.Importer`, shared with the
detention import; this module says how a meldingen row is read
(`bot.domain.meldingen`) and stored.

`vhbot import meldingen --history` (`HistoryService`) is the same import for a
history moved in from a spreadsheet: each row's melding, and its case's decision
and closing where the row gives them, on their own dates. Nothing is announced,
as in every meldingen import; a case decided or closed in the history is no
triage item either (the agenda takes open cases without a decision only).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import BinaryIO

from sqlmodel import Session, col, func, select

from bot.domain.decisions import Decision
from bot.domain.dpan import Problem, RowError
from bot.domain.meldingen import (
    NO_HISTORY,
    CaseSpan,
    MeldingRow,
    history_case,
    read_meldingen,
)
from bot.i18n import Translator, mark
from bot.safe import SafeText
from bot.services.audit import Detail
from bot.services.imports import REMARK_CONTEXT, Importer, SourceKey
from bot.storage.engine import savepoint
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
    # A normal melding reads its person's cases without locking them, as before: a web
    # form locking them and then the audit chain would deadlock with an import batch
    # that holds the chain and then reads them (the one-open-case index and the row's
    # own retry settle two imports of one person). A history locks them (below).
    _locks_cases = False

    def _read(self, stream: BinaryIO) -> Iterator[MeldingRow | RowError]:
        return read_meldingen(
            stream, municipalities=self._settings.municipalities, today=self._local_today()
        )

    def _unreadable_notice(self, _: Translator, *, number: int) -> SafeText:
        return _unreadable_notice(_, number=number)

    def _store_row(
        self, session: Session, row: MeldingRow, import_id: int, actor: str, opened: list[str]
    ) -> str | None:
        _, case, created = self._store(
            session, row, import_id=import_id, source_line=row.line, actor=actor
        )
        if created:
            opened.append(case.reference)
        return None

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
        case, created = self._case_of(session, melding, row, now, actor)
        melding.case_id = case.id
        session.add(melding)
        return melding, case, created

    def _case_of(
        self, session: Session, melding: Melding, row: MeldingRow, now: datetime, actor: str
    ) -> tuple[Case, bool]:
        """The case the melding joins or opens, and whether it opened now.

        Placed by its day among the person's cases of its theme
        (`bot.domain.meldingen.history_case`), the same for a normal import, the web
        form and a history: the case running on that day, open or closed (a late
        melding about a past episode belongs to it, not to a new case opened in the
        past and open ever since); else the first case opened after it, which then
        starts on its day; else a new case (after a closing: a relapse).
        """
        query = select(Case).where(
            Case.person_id == melding.person_id, Case.theme == row.theme.value
        )
        if self._locks_cases:
            query = query.with_for_update()
        cases = {case.id: case for case in session.exec(query)}
        opened_at = self._at(row.date, now)
        spans = [
            CaseSpan(
                case_id=case_id,
                opened_on=self._local_day(case.opened_at),
                closed_on=self._closed_before(case, opened_at),
            )
            for case_id, case in cases.items()
            if case_id is not None
        ]
        closes_on = row.history.closes_on
        placement = history_case(spans, row.date, closes_on)
        if placement.case_id is None:
            closed_at = self._at(closes_on, now) if closes_on is not None else None
            case = self._new_case(
                session, melding, row.theme, opened_at=opened_at, actor=actor, closed_at=closed_at
            )
            return case, True
        case = cases[placement.case_id]
        if placement.moves_start:
            # An older melding that arrived later: the case began with it, and counts
            # under its municipality (the first melding's), as in a file taken in order.
            case.opened_at = opened_at
            case.municipality = melding.municipality
            session.add(case)
        return case, False

    def _closed_on(self, case: Case) -> date | None:
        return self._local_day(case.closed_at) if case.closed_at is not None else None

    def _closed_before(self, case: Case, moment: datetime) -> date | None:
        """The last day `case` runs on for a melding at `moment`: its closing day, or the
        day before when it closed that same day before `moment` (a melding of today
        after this morning's closing is a relapse, not part of the closed case)."""
        closed_on = self._closed_on(case)
        closed_earlier_that_day = (
            case.closed_at is not None
            and case.closed_at < moment
            and closed_on == self._local_day(moment)
        )
        if closed_on is not None and closed_earlier_that_day:
            return closed_on - timedelta(days=1)
        return closed_on

    def _local_day(self, moment: datetime) -> date:
        return moment.astimezone(self._settings.tz).date()

    def _at(self, day: date, now: datetime) -> datetime:
        """The moment of something that happened on `day` (a case opening on its melding's
        date, a decision or closing of a history): now when that is today, else the
        day's local midnight."""
        if day == self._local_today():
            return now
        return datetime.combine(day, time(0), tzinfo=self._settings.tz)


# The same message as the machinery's (bot.services.imports), for a row `_read` finds twice.
MSG_EARLIER_IN_FILE = mark("bron_id appears earlier in this file (line {line})")


class _Refused(Exception):
    """A history row that contradicts its case: rolled back, and rejected with `reason`."""

    def __init__(self, reason: str) -> None:
        super().__init__("history row refused")
        self.reason = reason


class HistoryService(MeldingenService):
    """`vhbot import meldingen --history`: a history moved in from a spreadsheet.

    Each row is a melding as in `MeldingenService`, with where the row gives them its
    case's triage decision (`besluit`, `besluit_datum`) and closing (`gesloten_op`),
    recorded on their own dates and audited (`case.decision`, `case.close`, with
    `history`). Rows are taken in date order (`_read`: the rows of a file are held in
    memory to sort them, as a spreadsheet's history is), so a melding after its case
    closed opens a new case (a relapse); where a row goes is
    `bot.domain.meldingen.history_case`, which gives the same cases in any order.

    A row that contradicts its case is rejected alone: a decision before the case's
    first melding, a closing before one of its meldingen, or another decision than the
    one taken in vhbot (a history never replaces what a coordinator decided).
    """

    # Its rows decide and close cases: the person's cases are locked while one is placed.
    _locks_cases = True

    kind = "history"
    audit_action = "import.history"

    def _read(self, stream: BinaryIO) -> Iterator[MeldingRow | RowError]:
        rows: list[MeldingRow] = []
        first_line: dict[SourceKey, int] = {}
        for item in read_meldingen(
            stream,
            municipalities=self._settings.municipalities,
            today=self._local_today(),
            history=True,
        ):
            if isinstance(item, RowError):
                yield item
                continue
            key = (item.bron.value, item.bron_id)
            if key in first_line:
                # Told here, in file order: sorted, the later line could come first.
                problem = Problem("bron_id", MSG_EARLIER_IN_FILE, {"line": first_line[key]})
                yield RowError(item.line, (problem,))
                continue
            first_line[key] = item.line
            rows.append(item)
        yield from sorted(rows, key=lambda row: (row.date, row.line))

    def _store_row(
        self, session: Session, row: MeldingRow, import_id: int, actor: str, opened: list[str]
    ) -> str | None:
        try:
            with savepoint(session):
                _, case, created = self._store(
                    session, row, import_id=import_id, source_line=row.line, actor=actor
                )
                self._record_history(session, case, row, actor, created=created)
        except _Refused as refused:
            return refused.reason
        if created:
            opened.append(case.reference)
        return None

    def _record_history(
        self, session: Session, case: Case, row: MeldingRow, actor: str, *, created: bool
    ) -> None:
        """Record the row's decision and closing on its case (`created` by this row: made
        closed already, as another case of the person may be open).

        Raises:
            _Refused: the row contradicts its case (see the class).
        """
        history = row.history
        if history == NO_HISTORY:
            return
        assert case.id is not None  # noqa: S101 - flushed
        now = self._clock.now()
        _ = self._
        if history.decided_on is not None and history.decided_on < self._local_day(case.opened_at):
            raise _Refused(str(_("besluit_datum is before the first melding of its case")))
        decision = history.decision
        closes_on = history.closes_on
        if case.decided_by is not None and (
            (decision is not None and case.decision != decision.value)
            or (closes_on is not None and self._closed_on(case) != closes_on)
        ):
            raise _Refused(str(_("its case was decided in vhbot; a history does not change that")))
        if closes_on is not None:
            last = session.exec(
                select(func.max(Melding.event_date)).where(col(Melding.case_id) == case.id)
            ).one()
            if last is not None and last > closes_on:
                raise _Refused(
                    str(
                        _(
                            "the row closes its case before a later melding of that case; a "
                            "melding after the closing belongs to a new case"
                        )
                    )
                )
        if case.decided_by is not None:
            return  # decided in vhbot, and the row agrees with it
        # A case's closings only move later: it closes on the latest one named. No
        # decision of it may follow that (the reports would count a closed case in
        # procesregie, and a history case has no closing decision after it).
        closings = [d for d in (self._closed_on(case), closes_on) if d is not None]
        decisions = [self._local_day(at) for at in (case.decided_at, case.procesregie_at) if at]
        decisions += [history.decided_on] if history.decided_on is not None else []
        if closings and decisions and max(decisions) > max(closings):
            raise _Refused(str(_("besluit_datum is after its case was closed")))
        subject = f"case:{case.id}"
        if decision is not None and history.decided_on is not None:
            decided_at = self._at(history.decided_on, now)
            before = (case.decision, case.decided_at, case.procesregie_at)
            # Rows of a case may name its decisions over time (procesregie, later
            # afgesloten): the latest is its decision; it was in procesregie from the first.
            if case.decided_at is None or decided_at >= case.decided_at:
                case.decision, case.decided_at = decision.value, decided_at
                case.decision_organisation_id = case.decision_reason = None
            if decision is Decision.PROCESREGIE:
                case.procesregie = True
                case.procesregie_at = min(case.procesregie_at or decided_at, decided_at)
            if (case.decision, case.decided_at, case.procesregie_at) != before:
                self._audit.record(
                    session,
                    actor=actor,
                    action="case.decision",
                    subject=subject,
                    reference=case.reference,
                    decision=decision.value,
                    on=history.decided_on.isoformat(),
                    history=True,
                )
        if closes_on is not None:
            closed_at = self._at(closes_on, now)
            # The latest closing the rows of a case name is when it closed.
            if created or case.closed_at is None or closed_at > case.closed_at:
                case.closed_at = closed_at
                self._audit.record(
                    session,
                    actor=actor,
                    action="case.close",
                    subject=subject,
                    reference=case.reference,
                    on=closes_on.isoformat(),
                    history=True,
                )
        session.add(case)
