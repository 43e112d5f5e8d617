"""Calendar days between two timestamps, counted in the database, on both databases.

Timestamps are stored in UTC; a day is a local one (VHBOT_TIMEZONE): a melding on
1 March and a decision on 1 April are 31 days apart also across the change to
summer time, and a decision at 00:30 local time is on its own day. PostgreSQL
converts with `AT TIME ZONE`; SQLite knows no time zones, so the engine gives each
SQLite connection `vh_local_date` (`register_sqlite_functions`), which converts in
Python the way the rest of the bot does.
"""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, SQLColumnExpression, case, cast, func
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
    dialect: str,
    start: SQLColumnExpression[Any],
    end: SQLColumnExpression[Any],
    zone: str,
    years: tuple[int, int] | None = None,
) -> ColumnElement[int]:
    """Whole local days from `start` to `end` (timestamps), as a SQL expression.

    Args:
        dialect: `sqlite` or `postgresql`.
        start: the earlier timestamp's column or expression.
        end: the later one's.
        zone: the IANA zone whose days count (VHBOT_TIMEZONE).
        years: SQLite: the years (first, last) most timestamps lie in. Their local dates
            are then worked out by SQLite itself, from the zone's offsets in those years
            (`_sqlite_local_date`); others, and all without `years`, by Python.
    """
    if dialect == "postgresql":
        days = cast(func.timezone(zone, end), Date) - cast(func.timezone(zone, start), Date)
        return cast(days, Integer)
    return cast(
        func.julianday(_sqlite_local_date(end, zone, years))
        - func.julianday(_sqlite_local_date(start, zone, years)),
        Integer,
    )


def _sqlite_local_date(
    moment: SQLColumnExpression[Any], zone: str, years: tuple[int, int] | None
) -> ColumnElement[str]:
    """The local ISO date of a stored UTC timestamp on SQLite, without a Python call per
    row for the moments within `years`: SQLite's `date(moment, '+N minutes')` with N the
    zone's offset at that moment, picked by a CASE over the offset changes in those
    years (a year's report reads a hundred thousand cases: calling Python for each took
    more than a second). Moments outside `years`, and all without them, go to
    `vh_local_date`."""
    local = getattr(func, SQLITE_LOCAL_DATE)
    if years is None:
        every: ColumnElement[str] = local(moment, zone)
        return every
    spans = _offsets(zone, *years)
    branches: list[tuple[ColumnElement[bool], ColumnElement[str]]] = [
        (moment < spans[0][0], local(moment, zone))
    ]
    for (_, minutes), (next_start, _) in itertools.pairwise([*spans, (_end_of(years), 0)]):
        branches.append(
            (
                moment < next_start,
                func.date(moment, f"{minutes:+d} minutes"),
            )
        )
    return case(*branches, else_=local(moment, zone))


def _end_of(years: tuple[int, int]) -> datetime:
    return datetime(years[1] + 1, 1, 1, tzinfo=UTC)


@cache
def _offsets(zone: str, first_year: int, last_year: int) -> tuple[tuple[datetime, int], ...]:
    """The zone's UTC offsets in minutes from 1 January `first_year` (UTC) to the end of
    `last_year`: (the UTC moment from which it holds, minutes), in order."""
    tz = _zone(zone)

    def offset(moment: datetime) -> int:
        found = moment.astimezone(tz).utcoffset()
        return 0 if found is None else int(found.total_seconds() // 60)

    moment, end = datetime(first_year, 1, 1, tzinfo=UTC), _end_of((first_year, last_year))
    spans = [(moment, offset(moment))]
    while moment < end:
        following = min(moment + timedelta(days=1), end)
        if offset(following) != spans[-1][1]:
            # The change lies in this day: to the minute (zones change on minutes).
            before, after = moment, following
            while after - before > timedelta(minutes=1):
                middle = before + (after - before) / 2
                middle -= timedelta(seconds=middle.second, microseconds=middle.microsecond)
                if middle <= before:
                    middle = before + timedelta(minutes=1)
                if offset(middle) == spans[-1][1]:
                    before = middle
                else:
                    after = middle
            spans.append((after, offset(after)))
        moment = following
    return tuple(spans)
