from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.privacy.audit_chain import (
    GENESIS_HASH,
    AuditRecord,
    ChainBreak,
    chain_hash,
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
