"""Schema migrations with Alembic, driven from code (`vhbot db upgrade`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutdated(Exception):
    """The database is behind the code; the message says what to run."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the project always ships migrations
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to the newest schema (or `revision`, for tests of an upgrade path).

    Returns (before, after). Safe to run again.
    """
    before = current_revision(engine)
    _run(engine, lambda config: command.upgrade(config, revision))
    return before, head_revision() if revision == "head" else revision


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate back to `revision` (tests of a migration's way back)."""
    _run(engine, lambda config: command.downgrade(config, revision))


def _run(engine: Engine, step: Callable[[Config], None]) -> None:
    """Run migrations in one transaction.

    SQLite changes a table by rebuilding it (copy, drop, rename), which its
    foreign keys would refuse while other rows point at the table. So, as
    SQLite's documentation prescribes, they are off during the migration and
    checked once before the commit: a migration that leaves a broken reference
    is rolled back.
    """
    config = _config()
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        # On the driver's connection, outside a transaction: inside one (and
        # SQLAlchemy begins one for any statement here) this pragma does nothing.
        raw = connection.connection.dbapi_connection
        if sqlite and raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                step(config)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        tables = sorted({str(row[0]) for row in broken})
                        raise MigrationBroke(f"broken foreign keys in {', '.join(tables)}")
        finally:
            if sqlite and raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


class MigrationBroke(Exception):
    """A migration left rows pointing at rows that do not exist; nothing was changed."""


def ensure_current(engine: Engine) -> None:
    """Refuse to run on a database at an older (or unknown) schema."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise SchemaOutdated("the database has no vhbot schema yet; run `vhbot db upgrade`")
    raise SchemaOutdated(
        f"the database schema is at {current}, this vhbot needs {head}; run `vhbot db upgrade`"
    )
