"""Hostile review of issue 8: the database away while `vhbot run` starts."""

from __future__ import annotations

import asyncio
import contextlib

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeTelegram
from tests.app.test_db_outage import Outage
from tests.app.test_db_outage import bot_settings as bot_settings  # the proxied URL
from tests.app.test_db_outage import outage as outage  # the fixture


async def test_a_database_away_at_start_up_is_waited_out(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, outage: Outage
) -> None:
    """Issue 8.3/8.5: Telegram away at start-up is waited out, the database is not. With
    the database away for a moment after `vhbot db upgrade` (ExecStartPre) passed, the
    anchor check at start raises OperationalError out of serve(): the process dies with an
    uncaught traceback (which can quote the SQL statement), and systemd's growing RestartSteps
    (up to 2 min) decide when it comes back, not the database."""
    core = open_core(bot_settings, clock=clock)
    outage.watch(core.db.engine)
    outage.cut()
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
    try:
        await asyncio.sleep(1.0)
        if task.done():
            error = task.exception()
            raise AssertionError(f"serve() ended while the database was away: {error!r:.300}")
        outage.restore()
        await asyncio.wait_for(ready.wait(), timeout=10)
    finally:
        stop.set()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=10)
        core.db.dispose()
