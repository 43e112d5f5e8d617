"""Waiting, in a race test, until the second writer waits for the first one's lock."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

from bot.core import Core


def wait_until_blocked(core: Core, thread: threading.Thread, *, who: str) -> None:
    """Until `thread` (the second `who`) waits for a lock the first holds.

    SQLite: a moment, as its BEGIN IMMEDIATE makes the second wait before it reads
    anything. PostgreSQL: until pg_stat_activity shows a backend waiting for a lock.
    """
    if core.db.dialect != "postgresql":
        time.sleep(0.2)
        return
    deadline = time.monotonic() + 5
    with core.db.engine.connect() as connection:
        while time.monotonic() < deadline and thread.is_alive():
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            connection.rollback()  # pg_stat_activity is a snapshot per transaction
            if waiting:
                return
            time.sleep(0.01)
    pytest.fail(f"the second {who} never waited for the first")
