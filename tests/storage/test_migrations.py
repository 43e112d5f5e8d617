from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.storage import migrate
from bot.storage.engine import make_engine


def test_upgrade_creates_schema_and_is_idempotent(empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    try:
        with pytest.raises(migrate.SchemaOutdated, match="vhbot db upgrade"):
            migrate.ensure_current(engine)
        before, after = migrate.upgrade(engine)
        assert before is None
        assert after == migrate.head_revision()
        assert {"organisation", "member", "person", "audit_log"} <= set(
            inspect(engine).get_table_names()
        )
        assert migrate.upgrade(engine) == (after, after)
        migrate.ensure_current(engine)
    finally:
        engine.dispose()


def test_older_schema_is_refused_with_the_command_to_run(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '0000'"))
        with pytest.raises(migrate.SchemaOutdated, match="run `vhbot db upgrade`"):
            migrate.ensure_current(engine)
    finally:
        engine.dispose()


def test_timestamps_keep_their_moment_on_every_database(database_url: str) -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from sqlmodel import Session

    from bot.storage.models import Organisation

    amsterdam = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("Europe/Amsterdam"))
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            session.add(Organisation(code="T", name="Test", themes="", created_at=amsterdam))
            session.commit()
        with Session(engine) as session:
            stored = session.exec(select(Organisation)).one().created_at
        assert stored == amsterdam
        assert stored.tzinfo is not None
        assert stored.astimezone(UTC).hour == 11
        naive = Organisation(code="N", name="Naive", themes="", created_at=datetime(2026, 1, 1))  # noqa: DTZ001
        with Session(engine) as session:
            session.add(naive)
            with pytest.raises(Exception, match="naive"):
                session.commit()
    finally:
        engine.dispose()


def test_models_match_the_migrations(database_url: str) -> None:
    """models.py and the migrations describe the same schema (on this database)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    import bot.storage.models  # noqa: F401 - registers every table

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), SQLModel.metadata) == []
    finally:
        engine.dispose()


def test_the_audit_chain_step_downgrades_and_upgrades_again(database_url: str) -> None:
    from alembic import command

    engine = make_engine(database_url)
    try:
        config = migrate._config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0004")
        assert "audit_keying" not in inspect(engine).get_table_names()
        migrate.upgrade(engine)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT keyed_from FROM audit_keying")).scalar() == 1
    finally:
        engine.dispose()


def test_the_decisions_step_downgrades_and_upgrades_again(database_url: str) -> None:
    """0011 adds the decision columns and case_assignment, and takes them away again."""
    from alembic import command

    engine = make_engine(database_url)
    try:
        config = migrate._config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0011-1")
        tables = set(inspect(engine).get_table_names())
        assert "case_assignment" not in tables
        assert "decision" not in {c["name"] for c in inspect(engine).get_columns("vh_case")}
        migrate.upgrade(engine)
        columns = {c["name"] for c in inspect(engine).get_columns("vh_case")}
        assert {"decision", "decision_organisation_id", "decision_reason", "decided_at"} <= columns
        assert {"decided_by"} <= columns
        assert "case_assignment" in inspect(engine).get_table_names()
        uniques = inspect(engine).get_unique_constraints("case_assignment")
        assert [sorted(u["column_names"]) for u in uniques] == [["case_id", "current"]]
    finally:
        engine.dispose()


def _seed_detention_announcements(engine: Engine) -> None:
    """Two announcements as version 0009 stored them: one sent and answered, one queued."""
    at = {"at": datetime(2026, 11, 23, 9, tzinfo=UTC)}
    statements = [
        "INSERT INTO organisation (id, code, name, themes, created_at) "
        "VALUES (1, 'POL', 'Politie', 'nazorg', :at)",
        "INSERT INTO member (id, telegram_id, name_ct, organisation_id, roles, active, "
        "created_at) VALUES (1, 501, 'x', 1, 'partner', true, :at)",
        "INSERT INTO person (id, identity_key, pseudonym, created_at, identity_stored_at) "
        "VALUES (1, 'k1', 'P-001', :at, :at), (2, 'k2', 'P-002', :at, :at)",
        "INSERT INTO melding (id, bron_id, soort, person_id, municipality, event_date, "
        "received_at, source_line) VALUES "
        "(11, 'DJI-1', 'uitstroom', 1, 'Weert', '2026-12-01', :at, 1), "
        "(12, 'DJI-2', 'uitstroom', 2, 'Weert', '2026-12-01', :at, 2)",
        "INSERT INTO vh_case (id, reference, year, number, theme, person_id, municipality, "
        "opened_at, procesregie) VALUES (7, 'VH-2026-0001', 2026, 1, 'nazorg', 1, 'Weert', "
        ":at, false)",
        "INSERT INTO announcement (id, melding_id, case_id, theme, chat_id, message_id, "
        "deadline, created_at, answers_version, rendered_version, chased_at) VALUES "
        "(3, 11, 7, 'nazorg', -100200, 42, :at, :at, 2, 1, :at), "
        "(4, 12, NULL, 'nazorg', -100200, NULL, :at, :at, 0, 0, NULL)",
        "INSERT INTO answer (id, announcement_id, organisation_id, member_id, known, "
        "answered_at) VALUES (1, 3, 1, 1, true, :at)",
        "INSERT INTO outbox (id, dedupe_key, chat_id, text, announcement_id, status, "
        "attempts, created_at, next_attempt_at) VALUES "
        "(1, 'announce:12', -100200, 'Nieuwe detentiemelding', 4, 'pending', 0, :at, :at)",
    ]
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), at)


def test_announcements_of_0009_become_detention_announcements_with_their_message(
    empty_database_url: str,
) -> None:
    """0010 keeps every announcement, its answers and outbox row; its message moves over."""
    engine = make_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "0009")
        _seed_detention_announcements(engine)
        migrate.upgrade(engine)
        with engine.connect() as connection:
            announcements = connection.execute(text(
                "SELECT id, kind, subject_id, case_id, theme, answers_version, "
                "chased_at IS NOT NULL FROM announcement ORDER BY id"
            )).all()  # fmt: skip
            messages = connection.execute(text(
                "SELECT announcement_id, chat_id, message_id, rendered_version "
                "FROM announcement_message ORDER BY announcement_id"
            )).all()  # fmt: skip
            answers = connection.execute(text("SELECT announcement_id FROM answer")).all()
            outbox = connection.execute(text("SELECT announcement_id FROM outbox")).all()
        assert [tuple(row) for row in announcements] == [
            (3, "detention", 11, 7, "nazorg", 2, True),
            (4, "detention", 12, None, "nazorg", 0, False),
        ]
        assert [tuple(row) for row in messages] == [(3, -100200, 42, 1), (4, -100200, None, 0)]
        assert [tuple(row) for row in answers] == [(3,)]
        assert [tuple(row) for row in outbox] == [(4,)]
        columns = {c["name"] for c in inspect(engine).get_columns("announcement")}
        assert not columns & {"melding_id", "chat_id", "message_id", "rendered_version"}
        # One announcement per kind and subject.
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO announcement (kind, subject_id, theme, deadline, created_at, "
                    "answers_version) VALUES ('detention', 11, 'nazorg', :at, :at, 0)"
                ),
                {"at": datetime(2026, 11, 23, 9, tzinfo=UTC)},
            )
        # ... and back: the same rows as 0009 had them.
        migrate.downgrade(engine, "0009")
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT id, melding_id, chat_id, message_id, rendered_version "
                "FROM announcement ORDER BY id"
            )).all()  # fmt: skip
        assert [tuple(row) for row in rows] == [(3, 11, -100200, 42, 1), (4, 12, -100200, None, 0)]
    finally:
        engine.dispose()


def test_the_agenda_step_downgrades_and_upgrades_again(database_url: str) -> None:
    """0013 adds meetings, agenda items and announcement.chase_from, and takes them away."""
    from alembic import command

    engine = make_engine(database_url)
    try:
        config = migrate._config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0013-1")
        tables = set(inspect(engine).get_table_names())
        assert not {"meeting", "agenda_item"} & tables
        assert "chase_from" not in {c["name"] for c in inspect(engine).get_columns("announcement")}
        migrate.upgrade(engine)
        assert {"meeting", "agenda_item"} <= set(inspect(engine).get_table_names())
        assert "chase_from" in {c["name"] for c in inspect(engine).get_columns("announcement")}
        uniques = inspect(engine).get_unique_constraints("agenda_item")
        assert [sorted(u["column_names"]) for u in uniques] == [["case_id", "meeting_id"]]
    finally:
        engine.dispose()


def test_detention_notifications_get_their_sender_and_the_key_becomes_sender_and_id(
    empty_database_url: str,
) -> None:
    """0014: the melding key is (bron_id, bron); detention rows get the prison service."""
    engine = make_engine(empty_database_url)
    at = {"at": datetime(2026, 11, 23, 9, tzinfo=UTC)}
    insert = (
        "INSERT INTO melding (bron_id, bron, soort, person_id, municipality, event_date, "
        "received_at, source_line) VALUES ('DJI-1', :bron, 'melding', 2, 'Weert', "
        "'2026-12-01', :at, 3)"
    )
    try:
        migrate.upgrade(engine, "0009")
        _seed_detention_announcements(engine)
        migrate.upgrade(engine)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, bron FROM melding ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [(11, "dji"), (12, "dji")]
        # Another sender may use the same id; the same sender may not.
        with engine.begin() as connection:
            connection.execute(text(insert), {**at, "bron": "politie"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(insert), {**at, "bron": "dji"})
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(text(insert), {**at, "bron": None})
        # Back to 0013 once the shared id is gone: bron empty again for detention rows.
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM melding WHERE bron = 'politie'"))
        migrate.downgrade(engine, "0013")
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, bron FROM melding ORDER BY id")).all()
        assert [tuple(row) for row in rows] == [(11, None), (12, None)]
    finally:
        engine.dispose()


def test_the_owner_history_step_downgrades_and_upgrades_again(database_url: str) -> None:
    """0019 adds the owners before and after to action_event, and takes them away."""
    owners = {
        "old_owner_member_id",
        "old_owner_organisation_id",
        "new_owner_member_id",
        "new_owner_organisation_id",
    }
    engine = make_engine(database_url)
    try:
        migrate.downgrade(engine, "0018")
        assert not owners & {c["name"] for c in inspect(engine).get_columns("action_event")}
        migrate.upgrade(engine)
        assert owners <= {c["name"] for c in inspect(engine).get_columns("action_event")}
        keys = inspect(engine).get_foreign_keys("action_event")
        assert {(k["constrained_columns"][0], k["referred_table"]) for k in keys} >= {
            ("old_owner_member_id", "member"),
            ("old_owner_organisation_id", "organisation"),
            ("new_owner_member_id", "member"),
            ("new_owner_organisation_id", "organisation"),
        }
    finally:
        engine.dispose()


def test_cases_in_procesregie_get_the_moment_of_their_first_procesregie_decision(
    empty_database_url: str,
) -> None:
    """0021: vh_case.procesregie_at from the audit log's first procesregie decision of the
    case (also when a later decision closed it), else its decision's moment."""
    from zoneinfo import ZoneInfo

    from sqlalchemy import insert
    from sqlmodel import Session

    from bot.clock import FrozenClock
    from bot.services.audit import AuditLog
    from bot.storage.models import Case, Person

    amsterdam = ZoneInfo("Europe/Amsterdam")
    moments = [datetime(2026, 3, day, 10, tzinfo=amsterdam) for day in (1, 2, 3, 4)]
    engine = make_engine(empty_database_url)
    try:
        migrate.upgrade(engine, "0018")
        cases = [
            # (id, procesregie, decision, decided_at)
            (1, True, "procesregie", moments[1]),
            (2, True, "afgesloten", moments[3]),  # procesregie on the 1st, closed on the 4th
            (3, False, "doorgeleid", moments[2]),
            (4, True, "afgesloten", moments[2]),  # no audit entry (never happens): decided_at
        ]
        # The tables' own column types store the moments as every version reads them.
        with engine.begin() as connection:
            connection.execute(
                insert(Person.__table__).values(  # type: ignore[attr-defined]
                    id=1, identity_key="k1", pseudonym="P-001", created_at=moments[0],
                    identity_stored_at=moments[0],
                )
            )  # fmt: skip
            for case_id, procesregie, decision, decided_at in cases:
                connection.execute(
                    insert(Case.__table__).values(  # type: ignore[attr-defined]
                        id=case_id, reference=f"VH-2026-000{case_id}", year=2026,
                        number=case_id, theme="top_x", person_id=1, municipality="Weert",
                        opened_at=moments[0], procesregie=procesregie, decision=decision,
                        decided_at=decided_at,
                        closed_at=None if case_id == 1 else decided_at,
                    )
                )  # fmt: skip
        clock = FrozenClock(moments[0])
        audit = AuditLog(clock, key=b"k" * 32)
        history = [
            (moments[0], 2, "procesregie", None),
            (moments[1], 1, "procesregie", None),
            (moments[2], 2, "procesregie", "procesregie"),  # a second one: the first counts
            (moments[3], 2, "afgesloten", "procesregie"),
            (moments[2], 3, "doorgeleid", None),
        ]
        for at, case_id, decision, replaced in history:
            clock.set(at)
            with Session(engine) as session:
                audit.record(
                    session, actor="member:1", action="case.decision", subject=f"case:{case_id}",
                    reference=f"VH-2026-000{case_id}", decision=decision, replaced=replaced,
                )  # fmt: skip
                session.commit()
        migrate.upgrade(engine)
        with Session(engine) as session:
            read = {c.id: c.procesregie_at for c in session.exec(select(Case))}
        assert read == {1: moments[1], 2: moments[0], 3: None, 4: moments[2]}
        migrate.downgrade(engine, "0018")
        columns = {c["name"] for c in inspect(engine).get_columns("vh_case")}
        assert "procesregie_at" not in columns
    finally:
        engine.dispose()
