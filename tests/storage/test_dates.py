"""Local days between two stored moments, counted in the database, equal Python's count:
across the changes to and from summer time, at local midnight, and (SQLite) for moments
inside and outside the years whose offsets SQLite works out itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import literal, select

from bot.core import Core
from bot.storage.dates import local_days_between
from bot.storage.models import UTCDateTime

ZONES = ["Europe/Amsterdam", "Asia/Kolkata", "America/St_Johns", "Asia/Beirut"]


def _moments() -> list[datetime]:
    """Every 40 minutes around the 2025 changes of summer time (Amsterdam's and
    Newfoundland's, Beirut's at midnight), around New Year, and a few far outside 2024-2025."""
    days = [
        datetime(2025, 3, 29, 20, tzinfo=UTC),
        datetime(2025, 3, 9, 1, tzinfo=UTC),
        datetime(2025, 10, 25, 20, tzinfo=UTC),
        datetime(2024, 12, 31, 18, tzinfo=UTC),
        datetime(2025, 12, 31, 18, tzinfo=UTC),
    ]
    found = [start + timedelta(minutes=40 * n) for start in days for n in range(12)]
    return [*found, datetime(2019, 6, 1, 22, 30, tzinfo=UTC), datetime(2031, 1, 1, tzinfo=UTC)]


@pytest.mark.parametrize("zone", ZONES)
def test_the_database_counts_local_days_as_python_does(core: Core, zone: str) -> None:
    tz = ZoneInfo(zone)
    moments = _moments()
    pairs = [(a, b) for a in moments[::15] for b in moments]
    for years in (None, (2024, 2025)):
        columns = [
            local_days_between(
                core.db.dialect,
                literal(start, UTCDateTime()),
                literal(end, UTCDateTime()),
                zone,
                years,
            )
            for start, end in pairs
        ]
        with core.db.session() as session:
            counted = []
            for chunk in range(0, len(columns), 200):
                counted += list(session.execute(select(*columns[chunk : chunk + 200])).one())
        expected = [
            (end.astimezone(tz).date() - start.astimezone(tz).date()).days for start, end in pairs
        ]
        assert counted == expected, (zone, years)
