"""Hostile review of issue 8: a handler run again after a database blip loses nothing
it did the first time."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg
from sqlalchemy import event
from sqlmodel import col, select

from bot.storage.models import AuditEntry
from tests.app.conftest import RunningBot, World, until


async def test_a_stranger_removed_during_a_database_blip_is_still_reported(
    running: RunningBot, world: World
) -> None:
    """bot/handlers/wait.py runs a handler again when it met the database away, and says
    handlers "do their database work before their Telegram calls". The gate does not:
    it bans the stranger (Telegram), then records it and tells the coordinators (database).
    One failed statement after the ban: the gate runs again, finds the stranger gone
    ("told already") and records nothing: no audit entry, no notice, ever."""
    core, telegram, group = running.core, running.telegram, running.group
    dialect = core.db.engine.dialect.name
    fired: list[str] = []

    def once_after_the_ban(*args: Any) -> None:
        if fired or not telegram.bans:
            return
        fired.append(str(args[2])[:40])
        if dialect == "sqlite":
            raise sqlite3.OperationalError("unable to open database file")
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    event.listen(core.db.engine, "before_cursor_execute", once_after_the_ban)
    try:
        telegram.send_text(world.stranger, "Goedemorgen allemaal", chat=group)
        await until(lambda: bool(fired), "the condition")
        await running.say(world.coordinator, "/wie", contains="Rollen")  # all handled by now
    finally:
        event.remove(core.db.engine, "before_cursor_execute", once_after_the_ban)
    assert telegram.member_status(group, world.stranger) == "left"
    with core.db.session() as session:
        removed = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "group.stranger_removed")
        ).all()
    await telegram.wait_for_message(world.coordinator.id, contains="verwijderd")
    told = [m for m in telegram.messages_to(world.coordinator.id) if "verwijderd" in m.text]
    assert removed and told, f"removed {len(removed)}, told {len(told)} (failed: {fired})"
