from __future__ import annotations

import json
import re
import stat
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.domain.roles import Role
from bot.i18n import translator
from bot.privacy.anchor_file import AnchorFile, AnchorFileError, AnchorReading
from bot.privacy.audit_chain import AuditRecord, BreakKind, next_record
from bot.scheduling.duties import check_and_anchor, verify_audit_chain
from bot.services.audit import CLI, _as_record
from bot.storage import migrate
from bot.storage.engine import make_engine
from bot.storage.models import AuditEntry, OutboxMessage
from bot.storage.repositories import AuditRepository
from bot.views.audit import anchor_line_notice, anchor_notice, break_notice


def _fill(core: Core, clock: FrozenClock, count: int) -> None:
    for index in range(count):
        with core.db.session() as session:
            core.audit.record(
                session, actor="cli", action="test.event", subject=f"thing:{index}", n=index
            )
        clock.advance(timedelta(seconds=1))


def test_chain_verifies(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 5)
    assert core.audit.verify(core.db) == (5, None)


def test_database_refuses_update_and_delete(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 2)
    for statement in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), core.db.session() as session:
            session.execute(text(statement))


def _drop_triggers(core: Core) -> None:
    """What someone with database rights would do first to cover their tracks."""
    with core.db.session() as session:
        if core.db.dialect == "postgresql":
            session.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
        else:
            session.execute(text("DROP TRIGGER audit_log_no_update"))
            session.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_verify_reports_the_first_edited_row(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 6)
    _drop_triggers(core)
    with core.db.session() as session:
        session.execute(
            text("UPDATE audit_log SET details = :d WHERE seq = 4"),
            {"d": json.dumps({"n": 99})},
        )
    checked, broken = core.audit.verify(core.db)
    assert broken is not None
    assert broken.seq == 4
    assert checked == 4  # stops reading at the first break


def test_verify_reports_a_removed_row(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 6)
    _drop_triggers(core)
    with core.db.session() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    _checked, broken = core.audit.verify(core.db)
    assert broken is not None
    assert broken.seq in (3, 4)


# -- replace, upsert, truncate and out-of-place inserts are refused -------------


def _rows(core: Core) -> list[tuple[object, ...]]:
    with core.db.session() as session:
        return [
            tuple(row)
            for row in session.execute(
                text(
                    "SELECT seq, at, actor, action, subject, details, prev_hash, hash "
                    "FROM audit_log ORDER BY seq"
                )
            )
        ]


# Each copies stored rows, so the values are real; each must be refused.
REFUSED = [
    pytest.param(
        "sqlite",
        "INSERT OR REPLACE INTO audit_log "
        "(seq, at, actor, action, subject, details, prev_hash, hash) "
        "SELECT seq, at, 'intruder', action, subject, details, prev_hash, hash "
        "FROM audit_log WHERE seq = 2",
        id="sqlite-insert-or-replace",
    ),
    pytest.param(
        "sqlite",
        "REPLACE INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "SELECT seq, at, actor, action, subject, '{}', prev_hash, hash "
        "FROM audit_log WHERE seq = 3",
        id="sqlite-replace-into",
    ),
    pytest.param(
        "any",
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash "
        "FROM audit_log WHERE seq = 2 ON CONFLICT (seq) DO UPDATE SET actor = 'x'",
        id="upsert",
    ),
    pytest.param("postgresql", "TRUNCATE audit_log", id="pg-truncate"),
    pytest.param(
        "any",
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "SELECT seq + 2, at, actor, action, subject, details, hash, hash "
        "FROM audit_log WHERE seq = 3",
        id="seq-skips-one",
    ),
    pytest.param(
        "any",
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "SELECT 0, at, actor, action, subject, details, prev_hash, hash "
        "FROM audit_log WHERE seq = 1",
        id="seq-before-the-first",
    ),
    pytest.param(
        "any",
        "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
        "SELECT seq + 1, at, actor, action, subject, details, prev_hash, hash "
        "FROM audit_log WHERE seq = 3",
        id="prev-hash-not-the-head",
    ),
]


@pytest.mark.parametrize(("dialect", "statement"), REFUSED)
def test_database_refuses_replacing_or_misplacing_entries(
    core: Core, clock: FrozenClock, dialect: str, statement: str
) -> None:
    if dialect not in ("any", core.db.dialect):
        pytest.skip(f"{dialect} syntax")
    _fill(core, clock, 3)
    before = _rows(core)

    with pytest.raises(DBAPIError, match="append-only"), core.db.session() as session:
        session.execute(text(statement))

    assert _rows(core) == before
    assert core.audit.verify(core.db) == (3, None)


def test_the_next_entry_may_be_inserted_but_a_forged_one_does_not_verify(
    core: Core, clock: FrozenClock
) -> None:
    """The triggers let a well-placed row in; without the key its hash cannot be right."""
    _fill(core, clock, 3)
    with core.db.session() as session:
        session.execute(
            text(
                "INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash) "
                "SELECT seq + 1, at, 'intruder', action, subject, details, hash, hash "
                "FROM audit_log WHERE seq = 3"
            )
        )
    _checked, broken = core.audit.verify(core.db)
    assert broken is not None
    assert (broken.seq, broken.kind) == (4, BreakKind.EDITED)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_keying SET keyed_from = 1000",
        "DELETE FROM audit_keying",
        "INSERT INTO audit_keying (id, keyed_from, recorded_at) "
        "SELECT 2, 1000, recorded_at FROM audit_keying",
        "TRUNCATE audit_keying",
        "REPLACE INTO audit_keying (id, keyed_from, recorded_at) "
        "SELECT 1, 1000, recorded_at FROM audit_keying",
    ],
)
def test_database_refuses_changes_to_keyed_from(core: Core, statement: str) -> None:
    if statement.startswith("TRUNCATE") and core.db.dialect != "postgresql":
        pytest.skip("PostgreSQL syntax")
    if statement.startswith("REPLACE") and core.db.dialect != "sqlite":
        pytest.skip("SQLite syntax")
    with pytest.raises(DBAPIError, match="audit_keying is fixed"), core.db.session() as session:
        session.execute(text(statement))
    with core.db.session() as session:
        assert AuditRepository().keyed_from(session=session) == 1


# -- the chain is keyed ---------------------------------------------------------


def _drop_all_triggers(core: Core) -> None:
    """Everything an intruder with full database rights would drop first."""
    with core.db.session() as session:
        if core.db.dialect == "postgresql":
            for trigger, table in (
                ("audit_log_no_change", "audit_log"),
                ("audit_log_no_truncate", "audit_log"),
                ("audit_log_append_next", "audit_log"),
                ("audit_keying_no_change", "audit_keying"),
            ):
                session.execute(text(f"DROP TRIGGER {trigger} ON {table}"))
        else:
            for trigger in (
                "audit_log_no_update",
                "audit_log_no_delete",
                "audit_log_append_next",
                "audit_keying_no_update",
            ):
                session.execute(text(f"DROP TRIGGER {trigger}"))


def _rechain(core: Core, *, key: bytes | None, start: int = 1, actor: str | None = None) -> None:
    """Recompute every hash from seq `start` on, optionally editing the actor first."""
    with core.db.session() as session:
        entries = list(AuditRepository().in_order(session=session))
        previous = None
        for entry in entries:
            record = _as_record(entry)
            if record.seq < start:
                previous = record
                continue
            rebuilt = next_record(
                previous,
                at=record.at,
                actor=actor or record.actor,
                action=record.action,
                subject=record.subject,
                details=record.details,
                key=key,
            )
            session.execute(
                text("UPDATE audit_log SET actor = :a, prev_hash = :p, hash = :h WHERE seq = :s"),
                {"a": rebuilt.actor, "p": rebuilt.prev_hash, "h": rebuilt.hash, "s": rebuilt.seq},
            )
            previous = rebuilt


def test_new_entries_are_hashed_with_the_audit_key(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 2)
    with core.db.session() as session:
        first = _as_record(next(iter(AuditRepository().in_order(session=session))))
    assert first.hash == first.computed_hash(core.keys.audit_key)
    assert first.hash != first.computed_hash(None)


@pytest.mark.parametrize("key", [None, b"k" * 32], ids=["plain-sha256", "another-key"])
def test_a_log_rechained_without_the_audit_key_no_longer_verifies(
    core: Core, clock: FrozenClock, key: bytes | None
) -> None:
    _fill(core, clock, 5)
    _drop_all_triggers(core)
    _rechain(core, key=key, start=3, actor="member:99")

    _checked, broken = core.audit.verify(core.db)

    assert broken is not None
    assert (broken.seq, broken.kind) == (3, BreakKind.EDITED)


def test_legacy_entries_keep_verifying_after_the_upgrade(
    settings: Settings, empty_database_url: str, clock: FrozenClock
) -> None:
    """A database at 0004 holds SHA-256 entries; after `db upgrade` they verify and new ones key."""
    engine = make_engine(empty_database_url)
    migrate.upgrade(engine, "0004")
    legacy: list[AuditRecord] = []
    with Session(engine) as session:
        for n in range(3):
            record = next_record(
                legacy[-1] if legacy else None,
                at=clock.now() + timedelta(seconds=n),
                actor="cli",
                action="legacy.event",
                subject=f"thing:{n}",
                details={"n": n},
            )
            legacy.append(record)
            session.add(
                AuditEntry(
                    seq=record.seq,
                    at=record.at,
                    actor=record.actor,
                    action=record.action,
                    subject=record.subject,
                    details=json.dumps(record.details),
                    prev_hash=record.prev_hash,
                    hash=record.hash,
                )
            )
        session.commit()
    migrate.upgrade(engine)
    engine.dispose()
    core = open_core(settings.model_copy(update={"database_url": empty_database_url}), clock=clock)
    try:
        with core.db.session() as session:
            assert AuditRepository().keyed_from(session=session) == 4
        assert core.audit.verify(core.db) == (3, None)
        _fill(core, clock, 2)
        assert core.audit.verify(core.db) == (5, None)
        with core.db.session() as session:
            fourth = _as_record(list(AuditRepository().in_order(session=session))[3])
        assert fourth.prev_hash == legacy[-1].hash
        assert fourth.hash == fourth.computed_hash(core.keys.audit_key)

        # Rewriting the legacy part (unkeyed, so anyone can re-hash it) breaks the link.
        _drop_all_triggers(core)
        _rechain(core, key=None, start=2, actor="member:99")
        with core.db.session() as session:
            session.execute(
                text("UPDATE audit_log SET prev_hash = :p WHERE seq = 4"),
                {"p": fourth.prev_hash},  # as it was: the keyed entry cannot be re-hashed
            )
        _checked, broken = core.audit.verify(core.db)
        assert broken is not None
        assert (broken.seq, broken.kind) == (4, BreakKind.RELINKED)
    finally:
        core.db.dispose()


# -- anchoring -----------------------------------------------------------------


def _coordinator(core: Core, telegram_id: int = 7001, *, language: str | None = None) -> None:
    with core.db.session() as session:
        if core.memberships.organisations(session) == []:
            core.memberships.add_organisation(
                session, name="Politie Limburg", code="POL", themes=None, actor=CLI
            )
        member = core.memberships.add_member(
            session,
            telegram_id=telegram_id,
            name="Fenna Testlid",
            organisation_code="POL",
            roles=[Role.COORDINATOR],
            actor=CLI,
        )
        member.language = language
        session.add(member)


def _outbox(core: Core) -> list[OutboxMessage]:
    with core.db.session() as session:
        return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all())


def _anchors(core: Core) -> AnchorReading:
    return AnchorFile(core.settings.anchor_file, core.keys.audit_key).read()


def test_the_check_anchors_the_head_and_tells_each_coordinator(
    core: Core, clock: FrozenClock
) -> None:
    _coordinator(core, 7001)
    _coordinator(core, 7002, language="en")
    _fill(core, clock, 2)

    checked = check_and_anchor(core)

    reading = _anchors(core)
    assert core.settings.anchor_file == core.settings.key_file.with_name("vhbot.keys.anchors")
    assert stat.S_IMODE(core.settings.anchor_file.stat().st_mode) == 0o600
    assert len(reading.anchors) == 1 and reading.problems == ()
    anchor = reading.anchors[0]
    with core.db.session() as session:
        head = AuditRepository().last(session=session)
    assert head is not None
    assert (anchor.count, anchor.seq, anchor.hash) == (checked, head.seq, head.hash)
    assert anchor.at == clock.now()
    notices = {m.chat_id: m.text for m in _outbox(core)}
    assert notices == {
        7001: anchor_notice(translator("nl"), count=anchor.count, short_hash=anchor.hash[:8]),
        7002: anchor_notice(translator("en"), count=anchor.count, short_hash=anchor.hash[:8]),
    }
    # Nothing but the count and the short hash: every other word is the template's.
    english = notices[7002]
    assert f"Entries: {anchor.count}." in english and f"Fingerprint: {anchor.hash[:8]}." in english
    assert anchor.hash[8:16] not in english


def test_no_new_anchor_when_nothing_changed_but_one_a_day(core: Core, clock: FrozenClock) -> None:
    _coordinator(core)
    check_and_anchor(core)
    clock.advance(timedelta(hours=3))
    check_and_anchor(core)  # a restart the same day: nothing changed
    assert len(_anchors(core).anchors) == 1
    assert len(_outbox(core)) == 1

    _fill(core, clock, 1)
    check_and_anchor(core)  # changed: anchored again
    assert len(_anchors(core).anchors) == 2

    clock.advance(timedelta(days=1))
    check_and_anchor(core)  # unchanged, but a new day
    reading = _anchors(core)
    assert len(reading.anchors) == 3
    assert reading.anchors[1].same_state(reading.anchors[2])
    assert len(_outbox(core)) == 3


def test_truncation_is_found_against_the_anchor_and_told_without_data(
    core: Core, clock: FrozenClock
) -> None:
    _coordinator(core)
    _fill(core, clock, 5)
    check_and_anchor(core)
    anchored = _anchors(core).anchors[-1]
    _drop_all_triggers(core)
    with core.db.session() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq > :s"), {"s": anchored.seq - 2})
    assert core.audit.verify(core.db)[1] is None  # the chain alone cannot see it

    check = core.audit.check(core.db)
    clock.advance(timedelta(days=1))
    entries = check_and_anchor(core)

    assert check.anchor_break is not None
    assert (check.anchor_break.seq, check.anchor_break.kind) == (
        anchored.seq - 1,
        BreakKind.TRUNCATED,
    )
    assert entries == anchored.count - 2
    assert len(_anchors(core).anchors) == 1  # a tampered log is never anchored
    told = [m.text for m in _outbox(core)][1:]
    assert told == [break_notice(translator("nl"), BreakKind.TRUNCATED, seq=anchored.seq - 1)]
    check_and_anchor(core)  # the next day's check does not repeat the same notice
    assert len(_outbox(core)) == 2


def test_a_log_rechained_by_a_key_holder_is_found_against_the_anchor(
    core: Core, clock: FrozenClock
) -> None:
    _fill(core, clock, 5)
    check_and_anchor(core)
    _drop_all_triggers(core)
    _rechain(core, key=core.keys.audit_key, start=2, actor="member:99")
    assert core.audit.verify(core.db)[1] is None

    check = core.audit.check(core.db)

    assert check.anchor_break is not None
    assert (check.anchor_break.seq, check.anchor_break.kind) == (5, BreakKind.REWRITTEN)


def test_moving_keyed_from_to_pass_off_a_plain_rechain_is_found(
    core: Core, clock: FrozenClock
) -> None:
    _fill(core, clock, 5)
    check_and_anchor(core)
    _drop_all_triggers(core)
    with core.db.session() as session:
        session.execute(text("UPDATE audit_keying SET keyed_from = 1000"))
    _rechain(core, key=None, actor="member:99")
    assert core.audit.verify(core.db)[1] is None  # every entry now reads as legacy

    check = core.audit.check(core.db)

    assert check.anchor_break is not None
    assert check.anchor_break.kind is BreakKind.REKEYED


def test_a_tampered_anchor_line_is_told_and_anchoring_goes_on(
    core: Core, clock: FrozenClock
) -> None:
    _coordinator(core)
    check_and_anchor(core)
    path = core.settings.anchor_file
    path.write_text(re.sub(r'"count":\d+', '"count":99', path.read_text()))
    _fill(core, clock, 1)

    check_and_anchor(core)

    reading = _anchors(core)
    assert [p.line for p in reading.problems] == [1]
    assert len(reading.anchors) == 1  # the new line, under the one that no longer verifies
    texts = [m.text for m in _outbox(core)]
    assert anchor_line_notice(translator("nl"), line=1, replayed=False) in texts


def test_no_anchor_file_means_the_chain_alone_is_checked(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 3)
    check = core.audit.check(core.db)
    assert check.anchor_file is not None and not check.anchor_file.exists
    assert check.anchor is None and check.intact
    assert check.entries == 3


def test_the_same_head_is_not_anchored_twice_by_two_checks(core: Core, clock: FrozenClock) -> None:
    """`vhbot run` and `vhbot sweep` checking at the same moment write one line, not two."""
    _coordinator(core)
    first, second = core.audit.check(core.db), core.audit.check(core.db)
    settings = core.settings
    assert core.audit.anchor(core.db, first, tz=settings.tz, locale=settings.locale) is not None
    assert core.audit.anchor(core.db, second, tz=settings.tz, locale=settings.locale) is None
    assert len(_anchors(core).anchors) == 1
    assert len(_outbox(core)) == 1


def test_an_unreadable_anchor_file_still_gets_the_chain_checked_and_told(
    core: Core, clock: FrozenClock
) -> None:
    _coordinator(core)
    _fill(core, clock, 3)
    core.settings.anchor_file.mkdir()  # not a file: cannot be read as one
    _drop_all_triggers(core)
    with core.db.session() as session:
        session.execute(text("UPDATE audit_log SET actor = 'member:99' WHERE seq = 4"))

    with pytest.raises(AnchorFileError, match="not a regular file"):
        check_and_anchor(core)
    assert verify_audit_chain(core) == 0  # the daily duty logs it and goes on

    assert [m.text for m in _outbox(core)] == [
        break_notice(translator("nl"), BreakKind.EDITED, seq=4)
    ]
