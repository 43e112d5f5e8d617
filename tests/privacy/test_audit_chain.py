from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.audit_chain import (
    GENESIS_HASH,
    Anchor,
    AuditRecord,
    BreakKind,
    ChainBreak,
    chain_hash,
    compare_with_anchor,
    decode_anchor,
    encode_anchor,
    next_record,
    verify_chain,
)

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def make_chain(length: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for n in range(length):
        records.append(
            next_record(
                records[-1] if records else None,
                at=START + timedelta(minutes=n, microseconds=n),
                actor=f"member:{n % 3 + 1}",
                action="person.read" if n % 2 else "person.create",
                subject=f"person:{n + 10}",
                details={"purpose": "triage", "count": n, "urgent": n % 2 == 0, "note": None},
            )
        )
    return records


def test_genesis_hash() -> None:
    assert GENESIS_HASH == "0" * 64


def test_first_record_links_to_genesis() -> None:
    first = make_chain(1)[0]
    assert first.seq == 1
    assert first.prev_hash == GENESIS_HASH
    assert first.hash == first.computed_hash()
    assert len(first.hash) == 64


def test_a_valid_chain_verifies() -> None:
    assert verify_chain(make_chain(20)) is None


def test_an_empty_chain_verifies() -> None:
    assert verify_chain([]) is None


def test_verify_accepts_a_generator() -> None:
    assert verify_chain(record for record in make_chain(5)) is None


def test_hash_is_stable_and_matches_a_known_value() -> None:
    digest = chain_hash(
        seq=1,
        at=START,
        actor="cli",
        action="keys.init",
        subject="",
        details={},
        prev_hash=GENESIS_HASH,
    )
    # Written out by hand so that a change to the canonical form is noticed:
    # it would break every chain already stored.
    canonical = (
        '{"action":"keys.init","actor":"cli","at":"2026-11-23T09:00:00.000000+00:00",'
        '"details":{},"prev_hash":"' + "0" * 64 + '","seq":1,"subject":""}'
    )
    assert digest == hashlib.sha256(canonical.encode()).hexdigest()
    assert digest == "b10c05b21c3d342f0462275c95f29e797c5c0dd9fe23ce281fd69bf4d46742ab"


def test_the_same_instant_in_another_zone_hashes_alike() -> None:
    amsterdam = timezone(timedelta(hours=1))
    base = {
        "seq": 3,
        "actor": "system",
        "action": "sweep",
        "subject": "",
        "details": {"n": 1},
        "prev_hash": "a" * 64,
    }
    assert chain_hash(at=START, **base) == chain_hash(  # type: ignore[arg-type]
        at=START.astimezone(amsterdam),
        **base,  # type: ignore[arg-type]
    )


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        chain_hash(
            seq=1,
            at=datetime(2026, 11, 23, 9, 0),  # noqa: DTZ001 - the point of the test
            actor="cli",
            action="x",
            subject="",
            details={},
            prev_hash=GENESIS_HASH,
        )


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"seq": 0}, ValueError),
        ({"prev_hash": "xyz"}, ValueError),
        ({"details": {"ratio": 0.5}}, TypeError),
        ({"details": {"nested": {"a": 1}}}, TypeError),
    ],
)
def test_bad_fields_are_refused(changes: dict[str, object], error: type[Exception]) -> None:
    fields: dict[str, object] = {
        "seq": 1,
        "at": START,
        "actor": "cli",
        "action": "x",
        "subject": "",
        "details": {},
        "prev_hash": GENESIS_HASH,
    }
    fields.update(changes)
    with pytest.raises(error):
        chain_hash(**fields)  # type: ignore[arg-type]


def test_details_distinguish_types() -> None:
    def digest(value: str | int | bool | None) -> str:
        return chain_hash(
            seq=1,
            at=START,
            actor="cli",
            action="x",
            subject="",
            details={"v": value},
            prev_hash=GENESIS_HASH,
        )

    assert len({digest(1), digest(True), digest("1"), digest(None)}) == 4


@pytest.mark.parametrize(
    "edit",
    [
        {"details": {"purpose": "curiosity", "count": 4, "urgent": True, "note": None}},
        {"details": {}},
        {"actor": "member:99"},
        {"action": "person.delete"},
        {"subject": "person:1"},
        {"at": START + timedelta(days=1)},
        {"at": START + timedelta(minutes=4, microseconds=5)},
    ],
)
def test_an_edited_row_is_reported_at_its_seq(edit: dict[str, object]) -> None:
    chain = make_chain(8)
    chain[4] = dataclasses.replace(chain[4], **edit)  # type: ignore[arg-type]

    broken = verify_chain(chain)

    assert broken is not None
    assert broken.seq == 5
    assert "edited" in broken.reason


def test_an_edited_and_rehashed_row_breaks_the_next_link() -> None:
    chain = make_chain(8)
    edited = dataclasses.replace(chain[4], actor="member:99")
    chain[4] = dataclasses.replace(edited, hash=edited.computed_hash())

    assert verify_chain(chain) == ChainBreak(
        6, "prev_hash does not match the previous record's hash (chain relinked)"
    )


def test_a_removed_row_is_reported_where_it_is_missing() -> None:
    chain = make_chain(8)
    del chain[2]

    broken = verify_chain(chain)

    assert broken is not None
    assert broken.seq == 3
    assert "found seq 4" in broken.reason
    assert "missing" in broken.reason


def test_a_removed_first_row_is_reported_at_seq_1() -> None:
    broken = verify_chain(make_chain(4)[1:])
    assert broken is not None
    assert broken.seq == 1


def test_a_removed_and_renumbered_row_still_breaks() -> None:
    chain = make_chain(6)
    del chain[2]
    chain[2:] = [dataclasses.replace(r, seq=r.seq - 1) for r in chain[2:]]

    broken = verify_chain(chain)

    assert broken is not None
    assert broken.seq == 3


def test_swapped_rows_are_reported_at_the_first_misplaced_seq() -> None:
    chain = make_chain(8)
    chain[3], chain[4] = chain[4], chain[3]

    broken = verify_chain(chain)

    assert broken is not None
    assert broken.seq == 4
    assert "found seq 5" in broken.reason


def test_a_repeated_row_is_reported() -> None:
    chain = make_chain(5)
    chain.insert(3, chain[2])

    broken = verify_chain(chain)

    assert broken is not None
    assert broken.seq == 4
    assert "repeated" in broken.reason


def test_a_malformed_row_is_reported_not_raised() -> None:
    chain = make_chain(4)
    chain[1] = dataclasses.replace(chain[1], at=datetime(2026, 1, 1))  # noqa: DTZ001
    assert verify_chain(chain) == ChainBreak(2, "record content cannot be hashed (malformed row)")


def test_reasons_hold_no_record_content() -> None:
    chain = make_chain(4)
    chain[2] = dataclasses.replace(chain[2], actor="member:secret", subject="person:4242")
    broken = verify_chain(chain)
    assert broken is not None
    assert "secret" not in broken.reason
    assert "4242" not in broken.reason


@given(st.integers(2, 30), st.data())
def test_any_edit_is_found_at_its_seq(length: int, data: st.DataObject) -> None:
    chain = make_chain(length)
    position = data.draw(st.integers(0, length - 1))
    field = data.draw(st.sampled_from(["actor", "action", "subject"]))
    chain[position] = dataclasses.replace(chain[position], **{field: "tampered"})  # type: ignore[arg-type]

    assert verify_chain(chain) == ChainBreak(
        position + 1, "hash does not match the record's content (row edited)"
    )


@given(st.integers(3, 30), st.data())
def test_any_removed_row_is_found(length: int, data: st.DataObject) -> None:
    chain = make_chain(length)
    position = data.draw(st.integers(0, length - 2))
    del chain[position]

    broken = verify_chain(chain)

    assert broken is not None
    assert broken.seq == position + 1


# -- keyed chain ---------------------------------------------------------------

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def make_keyed_chain(length: int, *, key: bytes = KEY, legacy: int = 0) -> list[AuditRecord]:
    """`legacy` unkeyed records (as written before 0005), then keyed ones linking on."""
    records: list[AuditRecord] = []
    for n in range(length):
        records.append(
            next_record(
                records[-1] if records else None,
                at=START + timedelta(minutes=n),
                actor="cli",
                action="test.event",
                subject=f"thing:{n}",
                details={"n": n},
                key=None if n < legacy else key,
            )
        )
    return records


def rechain(records: list[AuditRecord], *, key: bytes | None, start: int = 0) -> list[AuditRecord]:
    """What someone with database rights does: recompute every hash from `start` on."""
    out = records[:start]
    for record in records[start:]:
        out.append(
            next_record(
                out[-1] if out else None,
                at=record.at,
                actor=record.actor,
                action=record.action,
                subject=record.subject,
                details=record.details,
                key=key,
            )
        )
    return out


def test_a_keyed_hash_is_hmac_sha256_of_the_canonical_form() -> None:
    digest = chain_hash(
        seq=1,
        at=START,
        actor="cli",
        action="keys.init",
        subject="",
        details={},
        prev_hash=GENESIS_HASH,
        key=KEY,
    )
    canonical = (
        '{"action":"keys.init","actor":"cli","at":"2026-11-23T09:00:00.000000+00:00",'
        '"details":{},"prev_hash":"' + "0" * 64 + '","seq":1,"subject":""}'
    )
    assert digest == hmac.new(KEY, canonical.encode(), hashlib.sha256).hexdigest()
    assert digest != hashlib.sha256(canonical.encode()).hexdigest()


def test_a_keyed_chain_verifies_with_its_key_only() -> None:
    chain = make_keyed_chain(6)
    assert verify_chain(chain, key=KEY) is None
    assert verify_chain(chain, key=OTHER_KEY) == ChainBreak(
        1, "hash does not match the record's content (row edited)"
    )
    # Without a key every record is taken for a legacy one: none verifies either.
    assert verify_chain(chain) is not None


def test_an_edited_log_rechained_with_plain_sha256_no_longer_verifies() -> None:
    chain = make_keyed_chain(6)
    chain[2] = dataclasses.replace(chain[2], actor="member:99")
    forged = rechain(chain, key=None)
    assert verify_chain(forged) is None  # it would have passed the old, unkeyed check
    broken = verify_chain(forged, key=KEY)
    assert broken is not None
    assert (broken.seq, broken.kind) == (1, BreakKind.EDITED)


def test_an_edited_log_rechained_with_another_key_no_longer_verifies() -> None:
    chain = rechain(make_keyed_chain(6), key=OTHER_KEY, start=3)
    broken = verify_chain(chain, key=KEY)
    assert broken is not None
    assert (broken.seq, broken.kind) == (4, BreakKind.EDITED)


def test_legacy_entries_before_keyed_from_still_verify() -> None:
    chain = make_keyed_chain(8, legacy=3)
    assert verify_chain(chain, key=KEY, keyed_from=4) is None
    # The first keyed record links to the last legacy hash.
    assert chain[3].prev_hash == chain[2].hash
    # Read as all keyed, the legacy part fails at once.
    assert verify_chain(chain, key=KEY) == ChainBreak(
        1, "hash does not match the record's content (row edited)"
    )


def test_rewriting_the_legacy_part_breaks_its_link_to_the_keyed_part() -> None:
    chain = make_keyed_chain(8, legacy=3)
    chain[1] = dataclasses.replace(chain[1], actor="member:99")
    legacy_rewritten = rechain(chain[:3], key=None) + chain[3:]

    broken = verify_chain(legacy_rewritten, key=KEY, keyed_from=4)

    assert broken is not None
    assert (broken.seq, broken.kind) == (4, BreakKind.RELINKED)


def test_moving_keyed_from_up_does_not_pass_keyed_records_off_as_legacy() -> None:
    chain = make_keyed_chain(8, legacy=3)
    broken = verify_chain(chain, key=KEY, keyed_from=6)
    assert broken is not None
    assert broken.seq == 4


def test_break_kinds_are_given_for_every_chain_break() -> None:
    chain = make_keyed_chain(5)
    edited_2 = dataclasses.replace(chain[1], actor="x")
    missing = verify_chain(chain[:2] + chain[3:], key=KEY)
    relinked = verify_chain(
        [chain[0], dataclasses.replace(edited_2, hash=edited_2.computed_hash(KEY)), *chain[2:]],
        key=KEY,
    )
    edited = verify_chain(
        [*chain[:2], dataclasses.replace(chain[2], actor="x"), *chain[3:]], key=KEY
    )
    malformed = verify_chain(
        [*chain[:2], dataclasses.replace(chain[2], at=datetime(2026, 1, 1)), *chain[3:]],  # noqa: DTZ001
        key=KEY,
    )
    assert missing is not None and (missing.seq, missing.kind) == (3, BreakKind.MISSING)
    assert relinked is not None and (relinked.seq, relinked.kind) == (3, BreakKind.RELINKED)
    assert edited is not None and (edited.seq, edited.kind) == (3, BreakKind.EDITED)
    assert malformed is not None and (malformed.seq, malformed.kind) == (3, BreakKind.MALFORMED)


# -- anchors -------------------------------------------------------------------


def anchor_of(chain: list[AuditRecord], *, keyed_from: int = 1) -> Anchor:
    return Anchor(
        at=START + timedelta(hours=1),
        count=len(chain),
        seq=chain[-1].seq if chain else 0,
        hash=chain[-1].hash if chain else GENESIS_HASH,
        keyed_from=keyed_from,
    )


def test_an_anchor_line_round_trips_under_its_key() -> None:
    anchor = anchor_of(make_keyed_chain(4))
    line = encode_anchor(anchor, KEY)
    assert line.endswith("\n") and line.count("\n") == 1
    assert decode_anchor(line, KEY) == anchor
    assert decode_anchor(line.rstrip("\n"), KEY) == anchor


@pytest.mark.parametrize(
    "tamper",
    [
        lambda doc: doc.update(count=doc["count"] - 1),
        lambda doc: doc.update(seq=doc["seq"] + 1),
        lambda doc: doc.update(hash="f" * 64),
        lambda doc: doc.update(at="2026-11-22T09:00:00.000000+00:00"),
        lambda doc: doc.update(keyed_from=99),
        lambda doc: doc.update(extra=1),
        lambda doc: doc.pop("keyed_from"),
        lambda doc: doc.update(mac="0" * 64),
        lambda doc: doc.update(mac=None),
    ],
)
def test_an_edited_anchor_line_does_not_verify(tamper: Any) -> None:
    document = json.loads(encode_anchor(anchor_of(make_keyed_chain(4)), KEY))
    tamper(document)
    assert decode_anchor(json.dumps(document), KEY) is None


def test_an_anchor_line_made_without_the_key_does_not_verify() -> None:
    anchor = anchor_of(make_keyed_chain(4))
    assert decode_anchor(encode_anchor(anchor, OTHER_KEY), KEY) is None
    for junk in ("", "{}", "[1]", "not json", '{"v": 1}', "\x00" * 10):
        assert decode_anchor(junk, KEY) is None


def test_an_anchor_mac_is_not_a_chain_hash() -> None:
    """One key signs both: the anchor's domain prefix keeps the two apart."""
    chain = make_keyed_chain(1)
    anchor = anchor_of(chain)
    mac = json.loads(encode_anchor(anchor, KEY))["mac"]
    assert mac not in {record.hash for record in chain}


def test_a_chain_that_still_holds_the_anchored_head_matches() -> None:
    chain = make_keyed_chain(6)
    anchor = anchor_of(chain[:4])
    assert compare_with_anchor(anchor, count=6, hash_at_seq=chain[3].hash, keyed_from=1) is None
    empty = anchor_of([])
    assert compare_with_anchor(empty, count=0, hash_at_seq=GENESIS_HASH, keyed_from=1) is None


def test_fewer_entries_than_anchored_is_truncation() -> None:
    chain = make_keyed_chain(6)
    anchor = anchor_of(chain)
    broken = compare_with_anchor(anchor, count=4, hash_at_seq=None, keyed_from=1)
    assert broken is not None
    assert (broken.seq, broken.kind) == (5, BreakKind.TRUNCATED)


def test_another_hash_at_the_anchored_seq_is_rewriting() -> None:
    chain = make_keyed_chain(6)
    anchor = anchor_of(chain[:4])
    rewritten = rechain(
        [*chain[:2], dataclasses.replace(chain[2], actor="x"), *chain[3:]], key=KEY, start=2
    )
    assert verify_chain(rewritten, key=KEY) is None  # whoever holds the key can re-chain
    broken = compare_with_anchor(anchor, count=6, hash_at_seq=rewritten[3].hash, keyed_from=1)
    assert broken is not None
    assert (broken.seq, broken.kind) == (4, BreakKind.REWRITTEN)


def test_a_moved_keyed_from_is_reported() -> None:
    chain = make_keyed_chain(6)
    anchor = anchor_of(chain, keyed_from=1)
    broken = compare_with_anchor(anchor, count=6, hash_at_seq=chain[5].hash, keyed_from=7)
    assert broken is not None
    assert broken.kind is BreakKind.REKEYED
