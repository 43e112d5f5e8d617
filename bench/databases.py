"""Fresh, migrated databases for the storage benchmark, removed afterwards.

SQLite: the schema is migrated once into a template file in a temporary folder;
every fresh database is a copy of it (as tests/conftest.py does).

PostgreSQL: the benchmark stays inside the database it is given. Every fresh
database is a new schema in it (`vhbot_bench_<pid>_<n>`), migrated, reached
through a URL whose connections set `search_path` to that schema only, and
dropped with everything in it when done.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine, make_url

from bot.storage import migrate
from bot.storage.engine import make_engine, safe_url

_counter = itertools.count(1)


class FreshDatabases(Protocol):
    """Where the storage benchmark gets its databases."""

    description: str

    def fresh(self) -> AbstractContextManager[str]:
        """A new, migrated, empty database; yields its URL and removes it afterwards."""
        ...

    def close(self) -> None: ...


def psycopg_url(url: str) -> str:
    """`postgresql://...` as the psycopg 3 URL vhbot uses (Settings does the same)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()


class SqliteDatabases:
    """Copies of one migrated SQLite file, in `folder`."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._template = folder / "template.sqlite3"
        _migrate(f"sqlite:///{self._template}")
        self.description = "SQLite (temporary file)"

    @contextmanager
    def fresh(self) -> Iterator[str]:
        path = self._folder / f"bench-{next(_counter)}.sqlite3"
        shutil.copyfile(self._template, path)
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        self._template.unlink(missing_ok=True)


class PostgresDatabases:
    """Fresh schemas in the PostgreSQL database at `url`, each dropped after use."""

    def __init__(self, url: str) -> None:
        self._url = psycopg_url(url)
        self._admin: Engine = create_engine(self._url, isolation_level="AUTOCOMMIT")
        with self._admin.connect() as connection:
            version = connection.exec_driver_sql("SHOW server_version").scalar()
        release = str(version).split()[0]
        self.description = f"PostgreSQL {release} ({safe_url(self._url)})"

    @contextmanager
    def fresh(self) -> Iterator[str]:
        schema = f"vhbot_bench_{os.getpid()}_{next(_counter)}"
        with self._admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            url = (
                make_url(self._url)
                .update_query_dict({"options": f"-csearch_path={schema}"})
                .render_as_string(hide_password=False)
            )
            _migrate(url)
            yield url
        finally:
            with self._admin.connect() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def close(self) -> None:
        self._admin.dispose()
