"""Engine and unit of work.

Async code reaches the database through sync sessions run in a worker thread
(`Database.run`): one way, the same on SQLite and PostgreSQL, see README.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

T = TypeVar("T")


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL and a busy timeout.

    hide_parameters: a database error's text would otherwise quote the values of
    the statement, and error texts can end up in logs.
    """
    if url.startswith("sqlite"):
        _private_file(make_url(url).database)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Python's sqlite3 opens transactions lazily; take control so that a
            # unit of work starts with BEGIN IMMEDIATE and two writers never
            # interleave a read-then-write (the audit chain depends on it).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, hide_parameters=True)


def _private_file(database: str | None) -> None:
    """The SQLite file exists, readable by its owner only, whatever the umask.

    SQLite gives its -wal and -shm files the mode of the database file, so they
    follow. A looser file made earlier is tightened.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        fd = os.open(database, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # SQLite reports it when it connects, in its own words
    try:
        if os.fstat(fd).st_mode & 0o077:
            with contextlib.suppress(OSError):  # not ours to change: leave it
                os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


@contextmanager
def savepoint(session: Session) -> Iterator[None]:
    """A nested transaction (SAVEPOINT) whose rollback also rolls back `session.info`.

    `session.info` holds per-transaction caches that must agree with the database
    (the audit chain's head, the case counter): after a rolled-back savepoint they
    would point at rows that no longer exist, and the next audit entry would
    break the chain. So they are restored as they were when the savepoint began.
    """
    saved = dict(session.info)
    try:
        with session.begin_nested():
            yield
    except BaseException:
        session.info.clear()
        session.info.update(saved)
        raise


class Database:
    """The engine plus a unit-of-work scope; repositories get its sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(make_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits when the block ends, rolls back on an exception."""
        with Session(self.engine, expire_on_commit=False) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.info.clear()  # per-transaction caches (e.g. the audit head)

    async def run(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking database work in a worker thread, off the event loop."""
        return await asyncio.to_thread(work, *args, **kwargs)

    def dispose(self) -> None:
        self.engine.dispose()
