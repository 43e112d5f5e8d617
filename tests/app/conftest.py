from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pytest
from sqlmodel import select
from telegram.ext import Application

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.domain.roles import Role
from bot.runner import caught_up, serve
from bot.sandbox.fake_telegram import (
    FakeChat,
    FakeTelegram,
    FakeUser,
    ManualMonotonic,
    SentMessage,
)
from bot.scheduling.pacer import Pacer
from bot.services.audit import CLI
from bot.storage.models import OutboxMessage
from bot.telegram_app import tally_editor

# Waits end on the event, so a generous limit costs nothing when all is well and
# keeps a loaded CI machine (2 cores, two databases) from failing a slow moment.
EVENT_TIMEOUT = 15.0


@dataclass
class RunningBot:
    core: Core
    telegram: FakeTelegram
    group: FakeChat
    flood_clock: ManualMonotonic
    # A test that throttles a chat on purpose (telegram.throttle) sets this.
    throttling_expected: bool = False
    # The running Application (the `running` fixture sets it).
    application: Application[Any, Any, Any, Any, Any, Any] | None = None

    async def settled(self) -> None:
        """Every update sent so far is handled, and every edit it asked for has had
        its chance to happen: what a test waits for before it counts edits."""
        assert self.application is not None, "started without the `running` fixture"
        await until(lambda: not self.telegram.pending_updates, "every update handled")
        async with asyncio.timeout(EVENT_TIMEOUT):
            await tally_editor(self.application).idle()

    async def outbox_drained(self) -> None:
        """Every queued message has been sent (or given up): what a test waits for
        before it asserts what went out."""

        def pending() -> int:
            with self.core.db.session() as session:
                return len(
                    session.exec(
                        select(OutboxMessage.id).where(OutboxMessage.status == "pending")
                    ).all()
                )

        await until(lambda: pending() == 0, "the outbox drained")

    async def say(
        self,
        user: FakeUser,
        text: str,
        *,
        contains: str,
        chat: FakeChat | None = None,
        reply_in: int | None = None,
    ) -> SentMessage:
        """`user` sends `text` and waits for the bot's answer containing `contains`.

        A person takes a moment between messages: the flood clock moves a second,
        so tests stay inside Telegram's limits without sleeping.
        """
        self.flood_clock.advance(1.0)
        since = len(self.telegram.sent)
        self.telegram.send_text(user, text, chat=chat)
        where = reply_in if reply_in is not None else (chat.id if chat else user.id)
        return await self.telegram.wait_for_message(
            where, contains=contains, since=since, timeout=EVENT_TIMEOUT
        )


T = TypeVar("T")


async def until(fact: Callable[[], T], what: str, timeout: float = EVENT_TIMEOUT) -> T:  # noqa: ASYNC109
    """Wait for `fact()` to be true (it reads the database, logs or the fake server)."""
    try:
        async with asyncio.timeout(timeout):
            # The facts (a log line, a row) have no event to wait on.
            while not (found := fact()):  # noqa: ASYNC110
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None
    return found


@pytest.fixture
def partner_group(telegram: FakeTelegram) -> FakeChat:
    return telegram.add_group("Partners Veiligheidshuis Midden-Limburg")


@pytest.fixture
def bot_settings(settings: Settings, telegram: FakeTelegram, partner_group: FakeChat) -> Settings:
    return settings.model_copy(
        update={
            "telegram_api_url": telegram.api_root,
            "partner_chat_id": partner_group.id,
            # Short intervals so tests wait on events for tenths of seconds, not minutes.
            "outbox_interval_seconds": 0.1,
            "edit_delay_seconds": 0.3,
            "inbox_interval_seconds": 0.2,
        }
    )


class VirtualTime(Protocol):
    def __call__(self) -> float: ...

    def advance(self, seconds: float) -> None: ...


def virtual_pacer(flood_clock: VirtualTime) -> Pacer:
    """The bot's pacer on the fake server's flood clock: waiting moves that clock.

    So the bot keeps to Telegram's real limits, as the fake server enforces them,
    without a test ever sleeping through a rate limit.
    """

    async def sleep(seconds: float) -> None:
        # Concurrent waits overlap, as in real time: the clock moves to the latest end.
        until = flood_clock() + max(seconds, 0.0)
        await asyncio.sleep(0)
        flood_clock.advance(max(0.0, until - flood_clock()))

    return Pacer(monotonic=flood_clock, sleep=sleep)


@pytest.fixture
def pacer(flood_clock: ManualMonotonic) -> Pacer:
    return virtual_pacer(flood_clock)


@pytest.fixture
async def running(
    bot_settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    partner_group: FakeChat,
    flood_clock: ManualMonotonic,
    pacer: Pacer,
) -> AsyncIterator[RunningBot]:
    """`vhbot run`'s serve() polling the fake server, stopped after the test."""
    core = open_core(bot_settings, clock=clock)
    stop, ready = asyncio.Event(), asyncio.Event()
    built: list[Application[Any, Any, Any, Any, Any, Any]] = []
    task = asyncio.create_task(
        serve(core, stop=stop, ready=ready, poll_timeout=1, pacer=pacer, built=built.append)
    )
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong at start-up
    assert waiter in done, "the bot did not start within 10 s"
    # A test's own data comes after the duties' runs at start-up, which would otherwise
    # announce or chase it at a moment of their choosing.
    async with asyncio.timeout(EVENT_TIMEOUT):
        await caught_up(built[0]).wait()
    running = RunningBot(core, telegram, partner_group, flood_clock, application=built[0])
    try:
        yield running
        # The pacer keeps to Telegram's limits: normal operation never meets a 429.
        flooded = [str(call) for call in telegram.requests if call.status == 429]
        assert not flooded or running.throttling_expected, f"flood limit hit: {flooded}"
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        core.db.dispose()


@dataclass
class World:
    """Two organisations and one person of each kind, known to the fake Telegram too."""

    partner: FakeUser
    casemanager: FakeUser
    coordinator: FakeUser
    deactivated: FakeUser
    stranger: FakeUser
    member_ids: dict[str, int]


def seed_world(core: Core, telegram: FakeTelegram) -> World:
    users = {
        "partner": telegram.add_user("Bram", language_code="nl", started=True),
        "casemanager": telegram.add_user("Sanne", language_code="nl", started=True),
        "coordinator": telegram.add_user("Fenna", language_code="nl", started=True),
        "deactivated": telegram.add_user("Joost", language_code="nl", started=True),
        "stranger": telegram.add_user("Onbekend", language_code="nl", started=True),
    }
    roles = {
        "partner": [Role.PARTNER],
        "casemanager": [Role.CASEMANAGER],
        "coordinator": [Role.COORDINATOR],
        "deactivated": [Role.COORDINATOR],
    }
    ids: dict[str, int] = {}
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Politie Limburg", code="POL", themes=None, actor=CLI
        )
        core.memberships.add_organisation(
            session, name="Reclassering Nederland", code="RN", themes=None, actor=CLI
        )
        for kind, granted in roles.items():
            member = core.memberships.add_member(
                session,
                telegram_id=users[kind].id,
                name=f"{users[kind].first_name} Testlid",
                organisation_code="POL" if kind in ("partner", "deactivated") else "RN",
                roles=granted,
                actor=CLI,
            )
            assert member.id is not None
            ids[kind] = member.id
        core.memberships.deactivate(session, member_id=ids["deactivated"], actor=CLI)
        core.memberships.mark_removed_from_group(session, ids["deactivated"], was_in_group=False)
    return World(**users, member_ids=ids)  # type: ignore[arg-type]


@pytest.fixture
def world(running: RunningBot) -> World:
    return seed_world(running.core, running.telegram)
