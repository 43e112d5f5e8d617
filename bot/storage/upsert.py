"""Insert a row unless one with the same unique key is there: race-free on both databases.

Two transactions that both read "not there" and then insert would make the second
fail on the unique constraint (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises
writers already). `INSERT ... ON CONFLICT DO NOTHING` makes the second wait for the
first and then do nothing; the caller selects the row afterwards, which under READ
COMMITTED sees the first one's row once it has committed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel


def insert_if_absent(
    session: Session, model: type[SQLModel], unique: list[str], **values: Any
) -> bool:
    """Insert `values` into `model`'s table unless a row with the same `unique` columns exists.

    Returns whether this call inserted the row. Never commits.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING says it exactly: a row when inserted, none on a conflict (the
    # driver's rowcount is not reliable for this statement).
    table = model.__table__  # type: ignore[attr-defined]
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=unique)
        .returning(*table.primary_key.columns)
    )
    return session.execute(statement).first() is not None
