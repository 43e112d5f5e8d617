"""Figures of ended periods, counted once and kept until their data changes.

/stand reads long stretches of the past at national scale (the chart's 8 quarters,
the answer rates' 90 days). An ended period's figures change only when its data
does, so they are kept in a table of their own and read back; database triggers on
the counted tables delete a period's rows the moment a change could alter them
(migrations 0023 and 0024), so what is kept is always what counting again gives.

Counting a missing period and keeping it must not race a writer: a row written
between the count and the keep would be missing from the figures, and its
trigger would have deleted nothing yet. `count_and_keep` rules that out on both
databases:

- SQLite: the caller's transaction began holding the database's write lock
  (BEGIN IMMEDIATE), so it counts and keeps in that transaction;
- PostgreSQL: in a short transaction of its own that first takes a SHARE lock on
  the counted tables (writers wait for that count only, not for the rest of what the
  caller does). Writers in flight that do not finish within a moment mean the
  figures are counted in the caller's transaction and not kept. The caller's own
  transaction counts as such a writer: count before writing to the counted tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel

from bot.storage.engine import Database

log = logging.getLogger(__name__)

# How long a count waits for writers in flight before it counts without keeping.
LOCK_WAIT_MS = 200

_ROWS_PER_INSERT = 100

K = TypeVar("K")
V = TypeVar("V")


def count_and_keep(
    db: Database,
    session: Session,
    missing: Sequence[K],
    *,
    tables: Sequence[str],
    count: Callable[[Session, Sequence[K]], Mapping[K, V]],
    keep: Callable[[Session, Mapping[K, V]], None],
) -> Mapping[K, V]:
    """The figures of the `missing` periods, counted by `count`, and kept by `keep`
    where no writer of `tables` can come in between (see the module)."""
    if not missing:
        return {}
    if db.dialect == "postgresql":
        with db.session() as own:
            if hold_writers(own, tables):
                figures = count(own, missing)
                keep(own, figures)
                return figures
        return count(session, missing)
    figures = count(session, missing)
    keep(session, figures)
    return figures


def hold_writers(session: Session, tables: Sequence[str]) -> bool:
    """PostgreSQL: keep writers of `tables` waiting until this transaction ends; False
    when the writers in flight do not finish within LOCK_WAIT_MS (nothing is held)."""
    names = ", ".join(tables)
    try:
        with session.begin_nested():
            session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_WAIT_MS}ms'"))
            session.execute(text(f"LOCK TABLE {names} IN SHARE MODE"))
            session.execute(text("SET LOCAL lock_timeout = DEFAULT"))
    except OperationalError:
        log.info("kept.not_kept", extra={"reason": "writers busy", "tables": names})
        return False
    return True


def insert_absent(session: Session, model: type[SQLModel], rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows`, leaving out those whose key is there already (kept by a
    transaction that counted the same period at the same time: the same figures)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = model.__table__  # type: ignore[attr-defined]
    # In slices: one statement's parameters stay under SQLite's limit.
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = list(rows[start : start + _ROWS_PER_INSERT])
        session.execute(insert(table).values(chunk).on_conflict_do_nothing())
