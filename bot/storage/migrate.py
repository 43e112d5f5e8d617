"""Schema migrations with Alembic, driven from code (`vhbot db upgrade`)."""

from __future__ import annotations

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
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, head_revision() if revision == "head" else revision


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
