"""The pure part of the append-only audit log: hashing records into a chain and checking it.

Each record's hash covers its own content and the previous record's hash, so
editing, removing or reordering a stored row breaks every link after it.
What the chain alone cannot show is rows cut off at the end: compare the last
seq and hash with a copy kept elsewhere (a backup, a report) for that.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64
_HASH = re.compile(r"[0-9a-f]{64}")

Detail = str | int | bool | None


def chain_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Detail],
    prev_hash: str,
) -> str:
    """Return the hash of one audit record, linking it to the one before.

    SHA-256 (hex) over canonical JSON of all fields: sorted keys, compact
    separators, ASCII only, `at` in UTC as ISO-8601 with microseconds, so the
    same record always gives the same hash whatever the time zone it came in.

    Args:
        seq: position in the chain, from 1.
        at: when it happened; timezone-aware.
        actor: who acted.
        action: what was done.
        subject: what it concerned.
        details: small facts (str, int, bool or None values).
        prev_hash: the previous record's hash, or GENESIS_HASH for seq 1.

    Returns:
        64 lowercase hex characters.

    Raises:
        ValueError: `at` is naive, `seq` below 1 or `prev_hash` not a hash.
        TypeError: a detail key is not a string or a value not one of the allowed types.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError("audit seq must be an integer from 1")
    if not _HASH.fullmatch(prev_hash):
        raise ValueError("prev_hash must be 64 lowercase hex characters")
    for key, value in details.items():
        # A float or nested object would make the canonical form fragile.
        if not isinstance(key, str) or not (value is None or isinstance(value, str | int)):
            raise TypeError("audit details map strings to str, int, bool or None")
    document = {
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": dict(details),
        "prev_hash": prev_hash,
    }
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class AuditRecord:
    """One stored audit entry, as read back for verification."""

    seq: int
    at: datetime
    actor: str
    action: str
    subject: str
    details: Mapping[str, Detail]
    prev_hash: str
    hash: str

    def computed_hash(self) -> str:
        """The hash this record's content should have (see `chain_hash`)."""
        return chain_hash(
            seq=self.seq,
            at=self.at,
            actor=self.actor,
            action=self.action,
            subject=self.subject,
            details=self.details,
            prev_hash=self.prev_hash,
        )


def next_record(
    previous: AuditRecord | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Detail],
) -> AuditRecord:
    """Build the record that follows `previous` (or the first one), hash included.

    Args:
        previous: the last record of the chain, or None for an empty chain.
        at: when it happened; timezone-aware.
        actor: who acted.
        action: what was done.
        subject: what it concerned.
        details: small facts, no personal data.

    Returns:
        The new record.
    """
    seq = 1 if previous is None else previous.seq + 1
    prev_hash = GENESIS_HASH if previous is None else previous.hash
    frozen_details = dict(details)
    return AuditRecord(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        subject=subject,
        details=frozen_details,
        prev_hash=prev_hash,
        hash=chain_hash(
            seq=seq,
            at=at,
            actor=actor,
            action=action,
            subject=subject,
            details=frozen_details,
            prev_hash=prev_hash,
        ),
    )


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain stops being trustworthy: every record before `seq` verified.

    Attributes:
        seq: the sequence number the break was found at: the record that does
            not verify, or, for a missing or misplaced row, the seq expected there.
        reason: what is wrong, in words; holds no record content.
    """

    seq: int
    reason: str


def verify_chain(records: Iterable[AuditRecord]) -> ChainBreak | None:
    """Check a chain read in seq order, from seq 1.

    Args:
        records: the records, in the order they are stored (ascending seq).

    Returns:
        None when every link holds, otherwise the first break: a gap or repeat
        in seq, a prev_hash that is not the previous record's hash, or a hash
        that does not match the record's content (an edited row).
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for record in records:
        if record.seq != expected_seq:
            problem = "missing" if record.seq > expected_seq else "repeated or out of order"
            return ChainBreak(
                expected_seq,
                f"expected seq {expected_seq} but found seq {record.seq} (rows {problem})",
            )
        if record.prev_hash != prev_hash:
            return ChainBreak(
                record.seq, "prev_hash does not match the previous record's hash (chain relinked)"
            )
        try:
            computed = record.computed_hash()
        except (TypeError, ValueError):
            return ChainBreak(record.seq, "record content cannot be hashed (malformed row)")
        if computed != record.hash:
            return ChainBreak(record.seq, "hash does not match the record's content (row edited)")
        prev_hash = record.hash
        expected_seq += 1
    return None
