"""Engine and unit of work.

Async code reaches the database through sync sessions run in a worker thread
(`Database.run`): one way, the same on SQLite and PostgreSQL, see README.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, TypeVar

import psycopg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from bot.storage.dates import register_sqlite_functions

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger(__name__)

# What SQLite says when its file cannot be opened or locked for now; any other
# sqlite3.OperationalError (no such table, a disk I/O error) is not waited out.
_SQLITE_AWAY = ("unable to open", "database is locked")


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets foreign keys, WAL, a busy timeout and the
    functions of `bot.storage.dates`.

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
            register_sqlite_functions(dbapi_connection)

        @event.listens_for(engine, "begin")
        def _sqlite_begin(connection: Any) -> None:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # A server that does not answer (a network partition) fails a connect or a
    # statement within seconds instead of holding a worker thread, and so a stop, for
    # ever: connect_timeout for new connections, tcp_user_timeout and keepalives for
    # open ones, pool_timeout for waiting on a connection.
    return create_engine(
        url,
        pool_pre_ping=True,
        hide_parameters=True,
        pool_timeout=5,
        connect_args={
            "connect_timeout": 3,
            "tcp_user_timeout": 5000,
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
        },
    )


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


def unavailable(error: BaseException) -> bool:
    """Tell whether `error` (or what it was raised from) means the database is away for now.

    Away: the server cannot be reached, the connection broke, the pool has no
    connection to give, or SQLite cannot open or lock its file. Work that failed so
    may simply be done again later; any other error is not retried.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _away(current):
            return True
        # What it was raised from; `raise ... from None` keeps that as __context__: a
        # service that hides a database error behind its own exception still says so.
        # (An error merely raised while handling another one is not taken for it.)
        if current.__cause__ is not None:
            current = current.__cause__
        else:
            current = current.__context__ if current.__suppress_context__ else None
    return False


def _away(error: BaseException) -> bool:
    if isinstance(error, sa_exc.TimeoutError):  # no connection free in the pool
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if isinstance(error.orig, sqlite3.OperationalError):
        return str(error.orig).lower().startswith(_SQLITE_AWAY)
    # PostgreSQL: connection refused or lost, the server shutting down or out of
    # connections; also a statement cancelled or a deadlock, which a retry resolves.
    return isinstance(error.orig, psycopg.OperationalError | psycopg.InterfaceError)


class Outages:
    """The log of a database outage: one line per job when it first meets the database
    away, one when that job works again. Never the error's text: SQLAlchemy's holds the
    statement (and without hide_parameters its values)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._since: dict[str, float] = {}

    def failed(self, job: str, error: BaseException) -> None:
        """`job` met the database away (see `unavailable`); logged once per outage."""
        if job in self._since:
            return
        self._since[job] = time.monotonic()
        log.warning(
            "database.unavailable",
            extra={"database": self.database, "job": job, "error": type(error).__name__},
        )

    def worked(self, job: str) -> None:
        """`job` reached the database; ends its outage in the log, if it had one."""
        since = self._since.pop(job, None)
        if since is not None:
            log.info(
                "database.back",
                extra={
                    "database": self.database,
                    "job": job,
                    "seconds": round(time.monotonic() - since, 1),
                },
            )


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector waits while a large read builds its rows.

    Tens of thousands of row tuples (the national sweep) hold no reference cycles, but
    each allocation burst sets off collections that walk the whole heap again: a
    third of the read's time. Memory is still freed as before (reference counting);
    only the cycle search waits, and runs again when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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


# Real seconds between tries of `Database.record` while the database is away.
RECORD_PAUSES = (0.2, 0.5, 1.0, 2.0)


class Database:
    """The engine plus a unit-of-work scope; repositories get its sessions."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outages = Outages(engine.url.render_as_string(hide_password=True))
        self._stopping = asyncio.Event()

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

    async def transact(
        self, work: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """`work(session, *args, **kwargs)` as one transaction in a worker thread: what
        handlers and pages call, so that none of them repeats the session boilerplate."""

        def unit() -> T:
            with self.session() as session:
                return work(session, *args, **kwargs)

        return await self.run(unit)

    async def record(self, job: str, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`run` for recording what was already done outside (a message sent, someone
        removed): while the database is away it is tried again until it is back, not
        forgotten (a message would be sent twice, a removal never reported). Ends
        with the last error only when the process stops (`stop_waiting`)."""
        tries = 0
        while True:
            try:
                result = await self.run(work, *args, **kwargs)
            except Exception as error:
                if not unavailable(error) or self._stopping.is_set():
                    raise
                self.outages.failed(job, error)
                pause = RECORD_PAUSES[min(tries, len(RECORD_PAUSES) - 1)]
                tries += 1
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(pause):
                        await self._stopping.wait()
                continue
            self.outages.worked(job)
            return result

    def stop_waiting(self) -> None:
        """The process stops: `record` waits no longer for the database."""
        self._stopping.set()

    def dispose(self) -> None:
        self.engine.dispose()
