"""The outbox sends in batches: one claim for many chats, deliveries recorded together,
the guard's look once a batch; and each message keeps the guarantees it had alone."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy import event
from sqlmodel import col, select

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.i18n import translator
from bot.safe import CaseReference
from bot.sandbox.fake_telegram import FakeTelegram, FakeUser, ManualMonotonic
from bot.scheduling.pacer import PaceLimits, Pacer
from bot.services import outbox
from bot.storage.models import OutboxMessage
from bot.telegram_app import build_application, outbox_sender
from tests.app.test_outbox import sending

# A notice with a value in it, so that the guard scans it (a text with none it passes).
NOTICE = translator("nl")("Case {reference} is closed.", reference=CaseReference("VH-2026-00001"))


def _people(telegram: FakeTelegram, count: int) -> list[FakeUser]:
    return [telegram.add_user(f"Lid{n}", started=True) for n in range(count)]


def _queue(core: Core, people: list[FakeUser]) -> None:
    """One private notice to each, as any notice queues one."""
    with core.db.session() as session:
        for person in people:
            outbox.enqueue(
                session,
                key=f"test:{person.id}",
                chat_id=person.id,
                text=NOTICE,
                now=core.clock.now(),
            )


def _copies(telegram: FakeTelegram, person: FakeUser) -> int:
    """How many times the notice reached `person`."""
    return sum(1 for message in telegram.messages_to(person.id) if message.text == str(NOTICE))


def _rows(core: Core) -> dict[int, OutboxMessage]:
    with core.db.session() as session:
        rows = session.exec(select(OutboxMessage)).all()
        for row in rows:
            session.expunge(row)
    return {row.chat_id: row for row in rows}


class Statements:
    """Counts the statements of one kind the bot sends to the database."""

    def __init__(self, core: Core) -> None:
        self.engine = core.db.engine
        self.seen: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement)

    def count(self, prefix: str) -> int:
        return sum(1 for statement in self.seen if statement.startswith(prefix))

    def __enter__(self) -> Statements:
        event.listen(self.engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *_exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self)


async def test_a_batch_is_one_claim_one_guard_look_and_few_writes(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
) -> None:  # fmt: skip
    """Twelve chats, a message each: claimed in one statement, the guard looks once for
    the batch (not between each send's slot and the send), the deliveries are recorded
    together (they finish within moments of each other), and all twelve go."""
    core = open_core(bot_settings, clock=clock)
    people = _people(telegram, 12)
    _queue(core, people)
    async with sending(core, flood_clock) as (bot, sender):
        with Statements(core) as statements:
            assert await sender.drain(bot) == 12
    assert statements.count("UPDATE outbox SET claimed_until") == 1
    assert statements.count("SELECT person.id, person.identity_stored_at") == 1
    assert 1 <= sender.writes <= 3, sender.writes  # one as a rule; one each would be 12
    assert all(_copies(telegram, person) == 1 for person in people)
    assert {row.status for row in _rows(core).values()} == {"sent"}
    core.db.dispose()


async def test_one_failed_send_in_a_batch_leaves_the_others_sent_and_it_waits_alone(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
) -> None:  # fmt: skip
    """A 500 on one send of a batch of six: the five others are recorded sent (with
    their message ids, claims released), the sixth waits for its own backoff only."""
    core = open_core(bot_settings, clock=clock)
    people = _people(telegram, 6)
    _queue(core, people)
    telegram.fail_next("sendMessage", status=500)
    async with sending(core, flood_clock) as (bot, sender):
        assert await sender.drain(bot) == 5
        rows = _rows(core)
        [waiting] = [row for row in rows.values() if row.status == "pending"]
        sent = [row for row in rows.values() if row.status == "sent"]
        assert len(sent) == 5
        assert all(row.message_id and row.claimed_until is None for row in sent)
        assert all(row.attempts == 1 and row.sent_at == clock.now() for row in sent)
        assert waiting.claimed_until is None and waiting.attempts == 1
        assert waiting.last_error is not None
        assert waiting.next_attempt_at == clock.now() + outbox.BACKOFF[0]
        assert await sender.drain(bot, patience=0) == 0  # not before its backoff
        clock.advance(outbox.BACKOFF[0])
        assert await sender.drain(bot) == 1
    assert all(_copies(telegram, person) == 1 for person in people)
    core.db.dispose()


async def test_a_sender_killed_mid_batch_loses_nothing_and_repeats_a_message_once_at_most(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
) -> None:  # fmt: skip
    """A sender claims eight messages; three go out (Telegram allows it three a second
    here), five wait for their slot; then the process dies before it records anything.
    Another process, once the claims have run out, sends the five once and the three
    again: nothing lost, nothing sent a third time, everything recorded."""
    first = open_core(bot_settings, clock=clock)
    people = _people(telegram, 8)
    _queue(first, people)
    dialect = first.db.engine.dialect.name
    dead = [False]

    def database_gone(*_args: Any) -> None:  # a dead process writes nothing more
        if dead[0]:
            if dialect == "sqlite":
                raise sqlite3.OperationalError("unable to open database file")
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    async def no_slot_yet(seconds: float) -> None:
        if seconds > 0:
            await asyncio.Event().wait()  # the rest of the batch waits for its slot

    pacer = Pacer(PaceLimits(overall_per_second=3), monotonic=flood_clock, sleep=no_slot_yet)
    application = build_application(first, pacer=pacer)
    event.listen(first.db.engine, "before_cursor_execute", database_gone)
    async with application:
        drain = asyncio.create_task(outbox_sender(application).drain(application.bot))

        def kill_after_the_third(method: str, _params: Any) -> None:
            if method == "sendMessage" and len(telegram.calls("sendMessage")) == 2:
                dead[0] = True  # this third call is carried out, and then the end
                first.db.stop_waiting()
                drain.cancel()

        telegram.payload_observers.append(kill_after_the_third)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(drain, timeout=15)
        telegram.payload_observers.remove(kill_after_the_third)
    event.remove(first.db.engine, "before_cursor_execute", database_gone)
    first.db.dispose()
    went = [person for person in people if _copies(telegram, person)]
    assert len(went) == 3
    rows = _rows(first)
    # What it recorded before it died (it waits a moment to record sends together, so
    # as a rule nothing) is sent; the rest is still claimed, for the lease to run out.
    recorded = {chat_id for chat_id, row in rows.items() if row.status == "sent"}
    assert recorded <= {person.id for person in went}
    assert all(row.claimed_until for chat_id, row in rows.items() if chat_id not in recorded)

    clock.advance(outbox.LEASE + timedelta(seconds=1))
    flood_clock.advance(60)
    second = open_core(bot_settings, clock=clock)  # the restarted process
    async with sending(second, flood_clock) as (bot, sender):
        assert await sender.drain(bot) == 8 - len(recorded)
    for person in people:
        repeated = person in went and person.id not in recorded
        assert _copies(telegram, person) == (2 if repeated else 1), person.first_name
    with second.db.session() as session:
        statuses = session.exec(
            select(OutboxMessage.status).where(
                col(OutboxMessage.chat_id).in_([p.id for p in people])
            )
        ).all()
    assert statuses == ["sent"] * 8
    second.db.dispose()
