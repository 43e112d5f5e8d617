"""Which database errors are an outage to wait out (bot.storage.engine.unavailable)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.services.detention import ImportInterrupted
from bot.storage.engine import unavailable


def _sql(
    orig: Exception, kind: type[OperationalError | InterfaceError] = OperationalError
) -> Exception:
    return kind("SELECT 1", {}, orig)


@pytest.mark.parametrize(
    ("error", "away"),
    [
        (_sql(sqlite3.OperationalError("unable to open database file")), True),
        (_sql(sqlite3.OperationalError("database is locked")), True),
        (_sql(psycopg.OperationalError("connection refused")), True),
        (_sql(psycopg.InterfaceError("the connection is closed"), InterfaceError), True),
        (PoolTimeout("QueuePool limit reached"), True),
        # A bug or a broken file, not an outage: retrying would never end.
        (_sql(sqlite3.OperationalError("no such table: member")), False),
        (_sql(sqlite3.OperationalError("disk I/O error")), False),
        (_sql(sqlite3.InterfaceError("Error binding parameter 1"), InterfaceError), False),
        (_sql(Exception("disk I/O error")), False),
        (ValueError("unable to open database file"), False),
    ],
)
def test_an_outage_is_told_from_other_errors(error: Exception, away: bool) -> None:
    assert unavailable(error) is away


def _hidden() -> None:
    """As a service hides an outage: its own error, `from None`."""
    try:
        raise _sql(psycopg.OperationalError("server closed the connection unexpectedly"))
    except OperationalError:
        raise ImportInterrupted(1, 1, "OperationalError") from None


def _incidental() -> None:
    """A bug met while handling an outage: raised during it, not from it."""
    try:
        raise _sql(psycopg.OperationalError("server closed the connection unexpectedly"))
    except OperationalError:
        raise KeyError("a bug in the handling")  # noqa: B904 - the case under test


def test_an_outage_hidden_behind_another_error_is_still_one() -> None:
    with pytest.raises(ImportInterrupted) as raised:
        _hidden()
    assert unavailable(raised.value)


def test_an_error_merely_raised_while_handling_an_outage_is_not_one() -> None:
    with pytest.raises(KeyError) as raised:
        _incidental()
    assert not unavailable(raised.value)
