"""The audit log: who did what, when; append-only and hash-chained."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from sqlmodel import Session

from bot.clock import Clock
from bot.privacy.audit_chain import AuditRecord, ChainBreak, next_record, verify_chain
from bot.storage.engine import Database
from bot.storage.models import AuditEntry
from bot.storage.repositories import AuditRepository

Detail = str | int | bool | None

SYSTEM = "system"
_HEAD = "vhbot.audit_head"
CLI = "cli"


def member_actor(member_id: int) -> str:
    return f"member:{member_id}"


def telegram_actor(telegram_id: int) -> str:
    """An account we do not know (yet): recorded by its Telegram id only."""
    return f"tg:{telegram_id}"


class AuditLog:
    """Appends entries inside the caller's transaction, so a change and its record commit together.

    Details must never hold personal data: ids, counts, reasons and codes only.
    """

    def __init__(self, clock: Clock, repository: AuditRepository | None = None) -> None:
        self._clock = clock
        self._repository = repository or AuditRepository()

    def record(
        self, session: Session, *, actor: str, action: str, subject: str = "", **details: Detail
    ) -> AuditEntry:
        """Append one entry to the chain.

        Args:
            session: the open unit of work; the entry commits with it.
            actor: who acted (`member:ID`, `tg:ID`, `cli`, `system`).
            action: a dotted verb such as `person.read`.
            subject: what it concerns (`person:12`), never a name.
            **details: small non-personal facts.
        """
        previous = session.info.get(_HEAD)
        if previous is None:
            # First entry of this transaction: take the append lock, read the head.
            self._repository.lock_for_append(session=session)
            last = self._repository.last(session=session)
            previous = None if last is None else _as_record(last)
        record = next_record(
            previous,
            at=self._clock.now(),
            actor=actor,
            action=action,
            subject=subject,
            details=details,
        )
        entry = AuditEntry(
            seq=record.seq,
            at=record.at,
            actor=record.actor,
            action=record.action,
            subject=record.subject,
            details=_canonical(record.details),
            prev_hash=record.prev_hash,
            hash=record.hash,
        )
        self._repository.add(entry, session=session)
        # The lock is held until the transaction ends, so the head cannot move
        # under us: later entries of this transaction chain on without a query.
        session.info[_HEAD] = record
        return entry

    def verify(self, db: Database) -> tuple[int, ChainBreak | None]:
        """Walk the whole chain; returns (entries read, first break or None)."""
        counted = 0

        def records(session: Session) -> Iterator[AuditRecord]:
            nonlocal counted
            for entry in self._repository.in_order(session=session):
                counted += 1
                yield _as_record(entry)

        with db.session() as session:
            result = verify_chain(records(session))
        return counted, result


def _canonical(details: Mapping[str, Detail]) -> str:
    return json.dumps(dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _as_record(entry: AuditEntry) -> AuditRecord:
    details = json.loads(entry.details)
    return AuditRecord(
        seq=entry.seq,
        at=entry.at,
        actor=entry.actor,
        action=entry.action,
        subject=entry.subject,
        details=details,
        prev_hash=entry.prev_hash,
        hash=entry.hash,
    )
