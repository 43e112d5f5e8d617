"""The pure part of the append-only audit log: hashing records into a chain and checking it.

Each record's hash covers its own content and the previous record's hash, so
editing, removing or reordering a stored row breaks every link after it. The
hash is keyed (HMAC-SHA256 under the audit key), so whoever can write the
database but lacks the key file cannot re-chain an edited log. Entries written
before the chain was keyed keep their plain SHA-256 hash; the first keyed entry
links to the last of them, so rewriting that legacy part breaks the link.

What the chain alone cannot show is rows cut off at the end, or a log
re-chained by someone holding the key: anchors (count, seq, head hash, time),
kept outside the database and authenticated with the same key, show both.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64
_HASH = re.compile(r"[0-9a-f]{64}")
# Anchor MACs are computed over this prefix plus the anchor's canonical JSON, so an
# anchor line can never pass for an audit entry's hash or the other way round.
_ANCHOR_DOMAIN = b"vhbot.audit.anchor.v1\n"
ANCHOR_VERSION = 1

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
    key: bytes | None = None,
) -> str:
    """Return the hash of one audit record, linking it to the one before.

    HMAC-SHA256 under `key` (hex) over canonical JSON of all fields: sorted
    keys, compact separators, ASCII only, `at` in UTC as ISO-8601 with
    microseconds, so the same record always gives the same hash whatever the
    time zone it came in. Without a key: plain SHA-256 of the same JSON, the
    form of entries written before the chain was keyed (verification only).

    Args:
        seq: position in the chain, from 1.
        at: when it happened; timezone-aware.
        actor: who acted.
        action: what was done.
        subject: what it concerned.
        details: small facts (str, int, bool or None values).
        prev_hash: the previous record's hash, or GENESIS_HASH for seq 1.
        key: the audit key; None only for legacy (unkeyed) entries.

    Returns:
        64 lowercase hex characters.

    Raises:
        ValueError: `at` is naive, `seq` below 1, `prev_hash` not a hash or the key empty.
        TypeError: a detail key is not a string or a value not one of the allowed types.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError("audit seq must be an integer from 1")
    if not _HASH.fullmatch(prev_hash):
        raise ValueError("prev_hash must be 64 lowercase hex characters")
    for name, value in details.items():
        # A float or nested object would make the canonical form fragile.
        if not isinstance(name, str) or not (value is None or isinstance(value, str | int)):
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
    canonical = _canonical(document)
    if key is None:
        return hashlib.sha256(canonical).hexdigest()
    if not key:
        raise ValueError("the audit key must not be empty")
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


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

    def computed_hash(self, key: bytes | None = None) -> str:
        """The hash this record's content should have (see `chain_hash`)."""
        return chain_hash(
            seq=self.seq,
            at=self.at,
            actor=self.actor,
            action=self.action,
            subject=self.subject,
            details=self.details,
            prev_hash=self.prev_hash,
            key=key,
        )


def next_record(
    previous: AuditRecord | None,
    *,
    at: datetime,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, Detail],
    key: bytes | None = None,
) -> AuditRecord:
    """Build the record that follows `previous` (or the first one), hash included.

    Args:
        previous: the last record of the chain, or None for an empty chain.
        key: the audit key; the audit log always passes it (None gives a
            legacy, unkeyed record, as written before the chain was keyed).
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
            key=key,
        ),
    )


class BreakKind(StrEnum):
    """What kind of break was found; each has its own message for the coordinators."""

    MISSING = "missing"  # a gap, a repeated or a misplaced seq
    RELINKED = "relinked"  # prev_hash is not the previous record's hash
    MALFORMED = "malformed"  # the stored content cannot be hashed at all
    EDITED = "edited"  # the hash does not match the content (or not under our key)
    TRUNCATED = "truncated"  # fewer entries than an anchor recorded
    REWRITTEN = "rewritten"  # another hash at the anchored seq
    REKEYED = "rekeyed"  # the seq from which entries are keyed moved


@dataclass(frozen=True)
class ChainBreak:
    """Where a chain stops being trustworthy: every record before `seq` verified.

    Attributes:
        seq: the sequence number the break was found at: the record that does
            not verify, or, for a missing or misplaced row, the seq expected there.
        reason: what is wrong, in words; holds no record content.
        kind: the same as a code, for texts in other languages.
    """

    seq: int
    reason: str
    kind: BreakKind = field(default=BreakKind.EDITED, compare=False)


def verify_chain(
    records: Iterable[AuditRecord], *, key: bytes | None = None, keyed_from: int = 1
) -> ChainBreak | None:
    """Check a chain read in seq order, from seq 1.

    Args:
        records: the records, in the order they are stored (ascending seq).
        key: the audit key; None checks every record as a legacy (unkeyed) one.
        keyed_from: with a key, the first seq hashed with it; records before it
            are legacy entries from before the chain was keyed.

    Returns:
        None when every link holds, otherwise the first break: a gap or repeat
        in seq, a prev_hash that is not the previous record's hash, or a hash
        that does not match the record's content (an edited row, or a chain
        re-hashed without the key).
    """
    expected_seq = 1
    prev_hash = GENESIS_HASH
    for record in records:
        if record.seq != expected_seq:
            problem = "missing" if record.seq > expected_seq else "repeated or out of order"
            return ChainBreak(
                expected_seq,
                f"expected seq {expected_seq} but found seq {record.seq} (rows {problem})",
                BreakKind.MISSING,
            )
        if record.prev_hash != prev_hash:
            return ChainBreak(
                record.seq,
                "prev_hash does not match the previous record's hash (chain relinked)",
                BreakKind.RELINKED,
            )
        try:
            computed = record.computed_hash(key if record.seq >= keyed_from else None)
        except (TypeError, ValueError):
            return ChainBreak(
                record.seq, "record content cannot be hashed (malformed row)", BreakKind.MALFORMED
            )
        if not hmac.compare_digest(computed, record.hash):
            return ChainBreak(
                record.seq,
                "hash does not match the record's content (row edited)",
                BreakKind.EDITED,
            )
        prev_hash = record.hash
        expected_seq += 1
    return None


@dataclass(frozen=True)
class Anchor:
    """The state of the chain at one moment, as kept outside the database.

    Attributes:
        at: when it was taken; timezone-aware.
        count: how many entries the log held.
        seq: the seq of the head (the last entry); 0 for an empty log.
        hash: the head's hash (GENESIS_HASH for an empty log).
        keyed_from: the first seq hashed with the audit key, so moving it (to
            pass a re-hashed log off as legacy entries) shows too.
    """

    at: datetime
    count: int
    seq: int
    hash: str
    keyed_from: int

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("anchor timestamps must be timezone-aware")
        for value in (self.count, self.seq, self.keyed_from):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("anchor counts are integers from 0")
        if not isinstance(self.hash, str) or not _HASH.fullmatch(self.hash):
            raise ValueError("an anchor hash is 64 lowercase hex characters")

    @property
    def short_hash(self) -> str:
        """The first 8 hex characters of the head hash, for people to compare."""
        return self.hash[:8]

    def same_state(self, other: Anchor) -> bool:
        """True when both describe the same chain (time aside)."""
        return (self.count, self.seq, self.hash, self.keyed_from) == (
            other.count,
            other.seq,
            other.hash,
            other.keyed_from,
        )

    def _document(self) -> dict[str, str | int]:
        return {
            "v": ANCHOR_VERSION,
            "at": self.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "count": self.count,
            "seq": self.seq,
            "hash": self.hash,
            "keyed_from": self.keyed_from,
        }


def _anchor_mac(document: Mapping[str, Any], key: bytes) -> str:
    if not key:
        raise ValueError("the audit key must not be empty")
    return hmac.new(key, _ANCHOR_DOMAIN + _canonical(document), hashlib.sha256).hexdigest()


def encode_anchor(anchor: Anchor, key: bytes) -> str:
    """One line of the anchor file (newline included): the anchor and its HMAC."""
    document: dict[str, str | int] = anchor._document()
    document["mac"] = _anchor_mac(anchor._document(), key)
    return _canonical(document).decode("ascii") + "\n"


def decode_anchor(line: str, key: bytes) -> Anchor | None:
    """The anchor in one line of the anchor file, or None when the line does not verify.

    A line verifies only when it is exactly what `encode_anchor` writes under
    this key: a changed digit, a field added or a line forged without the key
    all give None.
    """
    try:
        document = json.loads(line)
    except (ValueError, RecursionError):
        return None
    if not isinstance(document, dict) or set(document) != {
        "v",
        "at",
        "count",
        "seq",
        "hash",
        "keyed_from",
        "mac",
    }:
        return None
    mac = document.pop("mac")
    if not isinstance(mac, str) or not hmac.compare_digest(mac, _anchor_mac(document, key)):
        return None
    if document["v"] != ANCHOR_VERSION or not isinstance(document["at"], str):
        return None
    try:
        return Anchor(
            at=datetime.fromisoformat(document["at"]),
            count=document["count"],
            seq=document["seq"],
            hash=document["hash"],
            keyed_from=document["keyed_from"],
        )
    except (TypeError, ValueError):
        return None


def compare_with_anchor(
    anchor: Anchor, *, count: int, hash_at_seq: str | None, keyed_from: int
) -> ChainBreak | None:
    """Check a chain that verified on its own against an anchor taken earlier.

    Args:
        anchor: the last valid anchor.
        count: how many entries the chain holds now.
        hash_at_seq: the stored hash of the entry at `anchor.seq` (None when
            there is no such entry; GENESIS_HASH stands for seq 0).
        keyed_from: the first keyed seq the database states now.

    Returns:
        None when the chain still holds what was anchored, else what changed:
        fewer entries (truncation), another hash at the anchored seq
        (rewriting), or a different first keyed seq.
    """
    if count < anchor.count or hash_at_seq is None:
        return ChainBreak(
            min(count, anchor.seq) + 1 if anchor.seq else 1,
            f"{count} entries, fewer than the {anchor.count} anchored (log truncated)",
            BreakKind.TRUNCATED,
        )
    if keyed_from != anchor.keyed_from:
        return ChainBreak(
            min(keyed_from, anchor.keyed_from),
            f"keyed from entry {keyed_from}, anchored as keyed from {anchor.keyed_from}",
            BreakKind.REKEYED,
        )
    if not hmac.compare_digest(hash_at_seq, anchor.hash):
        return ChainBreak(
            anchor.seq, "hash differs from the anchored one (log rewritten)", BreakKind.REWRITTEN
        )
    return None
