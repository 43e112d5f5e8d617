from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
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
