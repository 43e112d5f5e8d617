"""The audit log: who did what, when; append-only, hash-chained under the audit key, anchored.

Anchoring: the check (`AuditLog.check`) walks the whole chain, then compares it
with the last valid line of the anchor file. When all holds, `anchor` appends
the head (count, seq, hash, time) to the anchor file and queues a short notice
(count and short hash) to every active coordinator, so copies of the head live
outside the database in two places. When something is broken, `report` tells
the coordinators the entry number and the kind of break, never any content.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.roles import Role
from bot.i18n import Translator
from bot.privacy.anchor_file import AnchorFile, AnchorLineProblem, AnchorReading
from bot.privacy.audit_chain import (
    GENESIS_HASH,
    Anchor,
    AuditRecord,
    ChainBreak,
    compare_with_anchor,
    next_record,
    verify_chain,
)
from bot.safe import SafeText
from bot.services import outbox
from bot.storage.engine import Database
from bot.storage.models import AuditEntry
from bot.storage.repositories import AuditRepository, MemberRepository
from bot.views.audit import anchor_line_notice, anchor_notice, break_notice

log = logging.getLogger(__name__)

Detail = str | int | bool | None

SYSTEM = "system"
_HEAD = "vhbot.audit_head"
CLI = "cli"


def member_actor(member_id: int) -> str:
    return f"member:{member_id}"


def telegram_actor(telegram_id: int) -> str:
    """An account we do not know (yet): recorded by its Telegram id only."""
    return f"tg:{telegram_id}"


@dataclass(frozen=True)
class AuditCheck:
    """The outcome of one full check of the audit log.

    Attributes:
        entries: entries read (all of them when the chain holds).
        head: the chain's state when it holds, as an anchor to record; else None.
        keyed_from: the first keyed seq, as the database states it.
        chain_break: the first break in the chain itself, or None.
        anchor_file: what the anchor file held (None: the log has no anchor file).
        anchor: the last valid anchor the chain was compared with, or None.
        anchor_break: how the chain departs from that anchor (truncated,
            rewritten, rekeyed), or None.
    """

    entries: int
    head: Anchor | None
    keyed_from: int
    chain_break: ChainBreak | None
    anchor_file: AnchorReading | None
    anchor: Anchor | None
    anchor_break: ChainBreak | None

    @property
    def breaks(self) -> tuple[ChainBreak, ...]:
        """The chain's break and the anchor comparison's, as found."""
        return tuple(b for b in (self.chain_break, self.anchor_break) if b is not None)

    @property
    def line_problems(self) -> tuple[AnchorLineProblem, ...]:
        return self.anchor_file.problems if self.anchor_file is not None else ()

    @property
    def intact(self) -> bool:
        """Nothing found: the chain holds, matches the last anchor, every anchor line verifies."""
        return not self.breaks and not self.line_problems


class AuditLog:
    """Appends entries inside the caller's transaction, so a change and its record commit together.

    Details must never hold personal data: ids, counts, reasons and codes only.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        key: bytes,
        anchor_file: AnchorFile | None = None,
        repository: AuditRepository | None = None,
    ) -> None:
        """An audit log writing under `key`, anchored in `anchor_file`.

        Args:
            clock: the time of entries and anchors.
            key: the audit key (`KeyRing.audit_key`); every new entry is hashed with it.
            anchor_file: where the head is anchored; None: the chain is checked alone.
            repository: the audit table's queries.
        """
        if len(key) < 32:
            raise ValueError("the audit key must be at least 32 bytes")
        self._clock = clock
        self._key = key
        self._anchor_file = anchor_file
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
            key=self._key,
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
        check = self.check(db, with_anchors=False)
        return check.entries, check.chain_break

    def check(self, db: Database, *, with_anchors: bool = True) -> AuditCheck:
        """Walk the whole chain, then compare it with the last valid anchor.

        The anchor file is read first, so any anchor it holds describes a state
        the database had before the walk began.

        Args:
            db: the database.
            with_anchors: False checks the chain alone.

        Returns:
            What was found; nothing is written.

        Raises:
            AnchorFileError: the anchor file exists but cannot be read.
        """
        reading = (
            self._anchor_file.read() if with_anchors and self._anchor_file is not None else None
        )
        anchor = reading.last if reading is not None else None
        watched = anchor.seq if anchor is not None else None
        counted = 0
        last: AuditRecord | None = None
        hash_at_anchor: str | None = GENESIS_HASH if watched == 0 else None

        def records(session: Session) -> Iterator[AuditRecord]:
            nonlocal counted, last, hash_at_anchor
            for entry in self._repository.in_order(session=session):
                counted += 1
                record = _as_record(entry)
                if record.seq == watched:
                    hash_at_anchor = record.hash
                last = record
                yield record

        now = self._clock.now()
        with db.session() as session:
            keyed_from = self._repository.keyed_from(session=session)
            chain_break = verify_chain(records(session), key=self._key, keyed_from=keyed_from)
        if chain_break is not None:
            return AuditCheck(counted, None, keyed_from, chain_break, reading, anchor, None)
        head = Anchor(
            at=now,
            count=counted,
            seq=last.seq if last is not None else 0,
            hash=last.hash if last is not None else GENESIS_HASH,
            keyed_from=keyed_from,
        )
        anchor_break = (
            None
            if anchor is None
            else compare_with_anchor(
                anchor, count=counted, hash_at_seq=hash_at_anchor, keyed_from=keyed_from
            )
        )
        return AuditCheck(counted, head, keyed_from, None, reading, anchor, anchor_break)

    def anchor(
        self, db: Database, check: AuditCheck, *, tz: ZoneInfo, locale: str
    ) -> Anchor | None:
        """Append the checked head to the anchor file and tell the coordinators.

        Only a chain that holds and matches the last anchor is anchored (an
        anchor must never bless a tampered log). No line is added when the head
        is the one anchored last, unless that anchor is from an earlier day (in
        `tz`): so there is at least one a day, and restarts add none.

        Args:
            db: the database (the notices are queued in the outbox).
            check: a check just made (`check`).
            tz: the zone whose calendar day counts.
            locale: the language for coordinators who chose none.

        Returns:
            The anchor written, or None when none was due or allowed.

        Raises:
            AnchorFileError: the anchor file cannot be written.
        """
        head = check.head
        if self._anchor_file is None or head is None or check.breaks:
            return None

        def due(last: Anchor | None) -> bool:
            # Decided under the anchor file's lock, against the line really last in it.
            if last is None or not last.same_state(head):
                return True
            return last.at.astimezone(tz).date() < head.at.astimezone(tz).date()

        if not self._anchor_file.append(head, due=due):
            return None
        anchor_id = f"{head.seq}:{head.short_hash}:{int(head.at.timestamp())}"
        with db.session() as session:
            outbox.enqueue_to_coordinators(
                session,
                key=f"audit-anchor:{anchor_id}",
                render=partial(anchor_notice, count=head.count, short_hash=head.short_hash),
                default_locale=locale,
                now=head.at,
            )
        log.info("audit.anchored", extra={"entries": head.count, "seq": head.seq})
        return head

    def report(self, db: Database, check: AuditCheck, *, locale: str) -> int:
        """Queue a notice of each break and untrusted anchor line to every coordinator.

        One notice per break and coordinator (the dedupe key names the break),
        so the daily check does not repeat itself about the same break.

        Returns:
            How many notices were queued now.
        """
        notices: list[tuple[str, Callable[[Translator], SafeText]]] = [
            (f"audit-break:{b.kind}:{b.seq}", partial(break_notice, kind=b.kind, seq=b.seq))
            for b in check.breaks
        ]
        notices += [
            (
                f"audit-anchor-line:{p.line}:{p.digest}",
                partial(anchor_line_notice, line=p.line, replayed=p.replayed),
            )
            for p in check.line_problems
        ]
        if not notices:
            return 0
        queued = 0
        now = self._clock.now()
        with db.session() as session:
            for key, render in notices:
                queued += outbox.enqueue_to_coordinators(
                    session, key=key, render=render, default_locale=locale, now=now
                )
        return queued

    def _coordinators(self, session: Session, locale: str) -> list[tuple[int, str]]:
        return [
            (member.telegram_id, member.language or locale)
            for member in MemberRepository().active_with_role(
                Role.COORDINATOR.value, session=session
            )
        ]


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
