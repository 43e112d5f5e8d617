"""Hostile review of issue 8: stopping within 10 s while Telegram hangs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest
from sqlmodel import select

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram, ManualMonotonic
from bot.scheduling.pacer import Pacer
from bot.storage.models import Announcement
from tests.app.conftest import RunningBot
from tests.app.test_delivery import _import
from tests.app.test_detention import announcements
from tests.conftest import People


async def test_stop_within_10_s_while_telegram_hangs_on_tally_edits(
    monkeypatch: pytest.MonkeyPatch,
    bot_settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    partner_group: FakeChat,
    flood_clock: ManualMonotonic,
    pacer: Pacer,
    people: People,
    tmp_path: Path,
) -> None:
    """Issue 8.7 ("finish the call in flight, leave the rest to the next start").

    Three tallies are behind and Telegram stops answering edits (each call then takes
    PTB's 5 s read timeout). The stop runs Application.stop(), which waits for running
    jobs (JobQueue.stop(wait=True)); the tally catch-up job goes through every tally
    behind, one after the other, without looking at the stop: 3 x 5 s. With 20 tallies
    behind it would be well over a minute, past systemd's 30 s."""
    monkeypatch.setattr("bot.runner.TALLY_CATCH_UP_SECONDS", 0.5)
    core = open_core(bot_settings, clock=clock)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1, pacer=pacer))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        running = RunningBot(core, telegram, partner_group, flood_clock)
        _import(running, people, tmp_path, 3)
        await announcements(telegram, partner_group.id, 3, core)
        telegram.delay(30, method="editMessageText")  # Telegram hangs on edits
        with core.db.session() as session:  # three tallies behind (as after presses)
            for announcement in session.exec(select(Announcement)).all():
                announcement.answers_version += 1
                session.add(announcement)
        await asyncio.sleep(1.0)  # the catch-up job is in its first edit (answered late)
        started = time.monotonic()
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=25)
        took = time.monotonic() - started
    finally:
        stop.set()
        telegram.delay(0)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=30)
        core.db.dispose()
    assert took < 10, f"stopping took {took:.1f} s"
