"""Hostile review of issue 8: the outbox when the database fails between a send and its record."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event
from sqlmodel import select

from bot.services import outbox
from bot.storage.models import AnnouncementMessage, OutboxMessage
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World, until
from tests.app.test_delivery import _import
from tests.conftest import People


class FailOnce:
    """The database away for exactly one statement: the one recording a send."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.fired = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.fired or not statement.startswith("UPDATE outbox "):
            return
        if "sent_at" not in statement:
            return
        self.fired = True
        if self.dialect == "sqlite":
            raise sqlite3.OperationalError("unable to open database file")
        raise psycopg.OperationalError("server closed the connection unexpectedly")


async def test_a_blip_in_the_database_after_a_send_sends_nothing_twice(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """Issue 8 ("at most one duplicate per lost response"): Telegram answered, the
    database was away for one statement (mark_sent), back a moment later. The sender
    forgets the answer, leaves the row claimed for the lease (45 s: not "within seconds")
    and then sends the announcement a second time: two messages in the group, no
    response lost. Keeping the outcome and recording it once the database is back
    (as the handlers do, see bot.handlers.wait) avoids both."""
    core, telegram, group = running.core, running.telegram, running.group
    hook = FailOnce(core.db.engine.dialect.name)
    event.listen(core.db.engine, "before_cursor_execute", hook)
    try:
        _import(running, people, tmp_path, 1)
        await telegram.wait_for_call(
            "sendMessage",
            predicate=lambda c: c.ok and "detentiemelding" in str(c.params.get("text")),
            timeout=EVENT_TIMEOUT,
        )
        await until(lambda: hook.fired, "the condition")
        # The database is back at once. A few seconds pass (and then the lease).
        core.clock.advance(outbox.LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
        running.flood_clock.advance(60)

        def recorded() -> bool:
            with core.db.session() as session:
                return session.exec(select(AnnouncementMessage)).one().message_id is not None

        await until(recorded, "the condition")
    finally:
        event.remove(core.db.engine, "before_cursor_execute", hook)
    sent = [m for m in telegram.messages_to(group.id) if "detentiemelding" in m.text]
    with core.db.session() as session:
        [row] = session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == group.id)).all()
    assert len(sent) == 1, f"the announcement went out {len(sent)} times (row: {row.status})"
