"""Issue 11, reminders delivered: through the outbox to the fake Telegram server.

A digest is sent at most once more after a crash between sending and marking it
sent, never lost; a member who blocked the bot keeps it waiting and the
coordinators are told once; a bot started after the reminder time sends the
day's digests at once, and a second start sends nothing again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlmodel import col, select
from telegram.ext import ExtBot

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.domain.roles import Role
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeTelegram, FakeUser, ManualMonotonic
from bot.scheduling.outbox_sender import OutboxSender
from bot.services import outbox
from bot.services.audit import CLI
from bot.services.reminders import digest_key
from bot.storage.models import ChatHold, OutboxMessage
from bot.telegram_app import build_application, outbox_sender
from tests import plan_factory as pf
from tests.app.conftest import EVENT_TIMEOUT, until, virtual_pacer

MONDAY = date(2026, 11, 23)


@dataclass
class Cast:
    coordinator: FakeUser
    owner: FakeUser
    owner_id: int


def _cast(core: Core, telegram: FakeTelegram) -> Cast:
    """A coordinator and an owner with one overdue action (clock: Monday 09:00)."""
    coordinator = telegram.add_user("Fenna", language_code="nl", started=True)
    owner = telegram.add_user("Bram", language_code="nl", started=True)
    ms = core.memberships
    with core.db.session() as session:
        ms.add_organisation(session, name="Politie Limburg", code="POL", themes=None, actor=CLI)
        boss = pf.member(
            ms, session, telegram_id=coordinator.id, org="POL", roles=[Role.COORDINATOR],
            name="Fenna Testlid",
        )  # fmt: skip
        owner_id = pf.member(
            ms, session, telegram_id=owner.id, org="POL", roles=[Role.PARTNER],
            name="Bram Testlid",
        )  # fmt: skip
        opened = pf.case(session, opened=date(2026, 11, 2), casemanager=boss)
        pf.action(
            session, case=opened, deadline=date(2026, 11, 20), owner=owner_id, created_by=boss
        )
    return Cast(coordinator, owner, owner_id)


@contextlib.asynccontextmanager
async def sending(
    core: Core, flood_clock: ManualMonotonic
) -> AsyncIterator[tuple[ExtBot[Any], OutboxSender]]:
    """The bot's real request stack (guard, pacer) and outbox sender, without polling."""
    application = build_application(core, pacer=virtual_pacer(flood_clock))
    async with application:
        yield application.bot, outbox_sender(application)


def _digest_row(core: Core, member_id: int) -> OutboxMessage:
    with core.db.session() as session:
        row = session.exec(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == digest_key(member_id, MONDAY))
        ).one()
        session.expunge(row)
    return row


def _digests_to(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [m.text for m in telegram.messages_to(chat_id) if "Je herinneringen" in m.text]


async def test_a_lost_response_repeats_the_digest_at_most_once_and_never_loses_it(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
) -> None:  # fmt: skip
    """Telegram delivers the digest, the answer is lost (as if the bot died before it
    marked it sent): sent again once, then marked sent; never a third time."""
    core = open_core(bot_settings, clock=clock)
    cast = _cast(core, telegram)
    assert core.reminders.send_digests(core.db).digests == 1
    telegram.fail_next("sendMessage", mode="drop_after")
    async with sending(core, flood_clock) as (bot, sender):
        await sender.drain(bot, patience=0)
        assert len(_digests_to(telegram, cast.owner.id)) == 1  # delivered, answer lost
        assert _digest_row(core, cast.owner_id).status == "pending"
        clock.advance(timedelta(seconds=5))
        flood_clock.advance(5)
        await sender.drain(bot)
        clock.advance(timedelta(minutes=5))
        flood_clock.advance(300)
        await sender.drain(bot)
    assert len(_digests_to(telegram, cast.owner.id)) == 2
    assert _digest_row(core, cast.owner_id).status == "sent"
    core.db.dispose()


async def test_a_sender_that_dies_after_claiming_loses_nothing(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
) -> None:  # fmt: skip
    core = open_core(bot_settings, clock=clock)
    cast = _cast(core, telegram)
    core.reminders.send_digests(core.db)
    crashed = outbox.claim_due(core.db, clock.now()).messages  # claimed, then the process died
    assert [c.chat_id for c in crashed] == [cast.owner.id]
    clock.advance(outbox.LEASE + timedelta(seconds=1))
    async with sending(core, flood_clock) as (bot, sender):
        await sender.drain(bot)
    assert len(_digests_to(telegram, cast.owner.id)) == 1
    assert _digest_row(core, cast.owner_id).status == "sent"
    core.db.dispose()


async def test_a_member_who_blocked_the_bot_keeps_the_digest_and_is_reported_once(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
) -> None:  # fmt: skip
    core = open_core(bot_settings, clock=clock)
    cast = _cast(core, telegram)
    telegram.block_bot(cast.owner)
    core.reminders.send_digests(core.db)
    async with sending(core, flood_clock) as (bot, sender):
        await sender.drain(bot)
        # The next working day: a new digest waits too; nobody is told again.
        clock.set(pf.local(date(2026, 11, 24)))
        flood_clock.advance(60)
        core.reminders.send_digests(core.db)
        await sender.drain(bot)
    with core.db.session() as session:
        assert session.get(ChatHold, cast.owner.id) is not None
        waiting = session.exec(
            select(OutboxMessage.status).where(col(OutboxMessage.chat_id) == cast.owner.id)
        ).all()
    assert waiting == ["pending", "pending"]
    assert _digests_to(telegram, cast.owner.id) == []
    told = [m for m in telegram.messages_to(cast.coordinator.id) if "Bram Testlid" in m.text]
    assert len(told) == 1
    core.db.dispose()


async def _serve_until(
    core: Core, pacer_clock: ManualMonotonic, telegram: FakeTelegram, chat_id: int
) -> None:
    """`vhbot run` until `chat_id` had a digest and the outbox is empty, then stopped."""
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(
        serve(core, stop=stop, ready=ready, poll_timeout=1, pacer=virtual_pacer(pacer_clock))
    )
    await asyncio.wait_for(ready.wait(), timeout=10)
    await telegram.wait_for_message(chat_id, contains="Je herinneringen", timeout=EVENT_TIMEOUT)
    await until(lambda: outbox.counts(core.db, core.clock.now()).pending == 0, "outbox empty")
    stop.set()
    await asyncio.wait_for(task, timeout=10)


async def test_a_bot_started_after_the_reminder_time_sends_the_digest_once(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
) -> None:  # fmt: skip
    """Down at 08:30: the start at 09:00 sends today's digest. A restart an hour later
    runs the duty again (a newcomer's digest goes) and sends the first one not again."""
    first = open_core(bot_settings, clock=clock)
    cast = _cast(first, telegram)
    await _serve_until(first, flood_clock, telegram, cast.owner.id)
    first.db.dispose()
    assert len(_digests_to(telegram, cast.owner.id)) == 1
    clock.advance(timedelta(hours=1))
    second = open_core(bot_settings, clock=clock)  # a restart: a new process
    newcomer = telegram.add_user("Joost", language_code="nl", started=True)
    with second.db.session() as session:
        joost = pf.member(
            second.memberships, session, telegram_id=newcomer.id, org="POL",
            roles=[Role.PARTNER],
        )  # fmt: skip
        opened = pf.case(session, opened=date(2026, 11, 2))
        pf.action(session, case=opened, deadline=MONDAY, owner=joost, created_by=joost)
    await _serve_until(second, flood_clock, telegram, newcomer.id)
    assert len(_digests_to(telegram, newcomer.id)) == 1
    assert len(_digests_to(telegram, cast.owner.id)) == 1
    second.db.dispose()
