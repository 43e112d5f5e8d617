from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from bot.app import Core, open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram


@dataclass
class RunningBot:
    core: Core
    telegram: FakeTelegram
    group: FakeChat


@pytest.fixture
def partner_group(telegram: FakeTelegram) -> FakeChat:
    return telegram.add_group("Partners Veiligheidshuis Midden-Limburg")


@pytest.fixture
def bot_settings(settings: Settings, telegram: FakeTelegram, partner_group: FakeChat) -> Settings:
    return settings.model_copy(
        update={"telegram_api_url": telegram.api_root, "partner_chat_id": partner_group.id}
    )


@pytest.fixture
async def running(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, partner_group: FakeChat
) -> AsyncIterator[RunningBot]:
    """`vhbot run`'s serve() polling the fake server, stopped after the test."""
    core = open_core(bot_settings, clock=clock)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
    waiter = asyncio.create_task(ready.wait())
    done, _ = await asyncio.wait({task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        task.result()  # raises what went wrong at start-up
    assert waiter in done, "the bot did not start within 10 s"
    try:
        yield RunningBot(core, telegram, partner_group)
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        core.db.dispose()
