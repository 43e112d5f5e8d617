"""The database the suite runs on, and the schema the models and the migrations describe."""

from __future__ import annotations

import os

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import bot.storage.models  # noqa: F401  (registers the tables on the metadata)
from bot.storage import migrate
from bot.storage.engine import make_engine

# .ci/run sets this for each of its runs, so a misspelt VHBOT_TEST_DATABASE_URL
# cannot make the PostgreSQL step quietly test SQLite a second time.
EXPECT_DIALECT = os.environ.get("VHBOT_TEST_EXPECT_DIALECT", "").strip()


def test_the_suite_runs_on_the_database_it_was_asked_for(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            dialect = connection.dialect.name
    finally:
        engine.dispose()
    assert dialect in {"sqlite", "postgresql"}
    if EXPECT_DIALECT:
        assert dialect == EXPECT_DIALECT, (
            f"VHBOT_TEST_EXPECT_DIALECT={EXPECT_DIALECT}, but the tests run on {dialect}: "
            "is VHBOT_TEST_DATABASE_URL set (and spelt) right?"
        )


def test_the_models_and_the_migrations_describe_the_same_schema(
    empty_database_url: str,
) -> None:
    """A fresh database migrated to head has every table, column, type, default,
    index, unique and foreign key the SQLModel models declare, and nothing more."""
    engine = make_engine(empty_database_url)
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            differences = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert differences == []
