"""Calendar days between two timestamps, counted in the database, on both databases.

Timestamps are stored in UTC; a day is a local one (VHBOT_TIMEZONE): a melding on
1 March and a decision on 1 April are 31 days apart also across the change to
summer time, and a decision at 00:30 local time is on its own day. PostgreSQL
converts with `AT TIME ZONE`; SQLite knows no time zones, so the engine gives each
SQLite connection `vh_local_date` (`register_sqlite_functions`), which converts in
Python the way the rest of the bot does.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, SQLColumnExpression, cast, func
from sqlalchemy.sql.elements import ColumnElement

SQLITE_LOCAL_DATE = "vh_local_date"


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _local_date(stored: str | None, zone: str | None) -> str | None:
    """`vh_local_date(timestamp, zone)` on SQLite: the local ISO date of a stored UTC
    timestamp (`YYYY-MM-DD HH:MM:SS.ffffff`); NULL stays NULL."""
    if stored is None or zone is None:
        return None
    moment = datetime.fromisoformat(stored)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(_zone(zone)).date().isoformat()


def register_sqlite_functions(connection: sqlite3.Connection | Any) -> None:
    """Give a new SQLite connection the functions `local_days_between` uses."""
    connection.create_function(SQLITE_LOCAL_DATE, 2, _local_date, deterministic=True)


def local_days_between(
    dialect: str, start: SQLColumnExpression[Any], end: SQLColumnExpression[Any], zone: str
) -> ColumnElement[int]:
    """Whole local days from `start` to `end` (timestamps), as a SQL expression.

    Args:
        dialect: `sqlite` or `postgresql`.
        start: the earlier timestamp's column or expression.
        end: the later one's.
        zone: the IANA zone whose days count (VHBOT_TIMEZONE).
    """
    if dialect == "postgresql":
        days = cast(func.timezone(zone, end), Date) - cast(func.timezone(zone, start), Date)
        return cast(days, Integer)
    local = getattr(func, SQLITE_LOCAL_DATE)
    return cast(func.julianday(local(end, zone)) - func.julianday(local(start, zone)), Integer)
