"""Hostile review of issue 8: the intake's confirmation at a stop."""

from __future__ import annotations

import asyncio

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram
from tests.app.conftest import EVENT_TIMEOUT, seed_world


async def test_a_stop_before_an_unreadable_update_confirms_what_was_handled(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, partner_group: FakeChat
) -> None:
    """_fetch reads updates one by one because PTB's get_updates fails a whole batch on
    one it cannot read; but `_confirm` at the stop calls PTB's get_updates(limit=1),
    which fetches the next update. When that one is unreadable, PTB raises a non-Telegram
    error that `_confirm` does not catch: it escapes serve() (traceback, exit 1) and the
    handled update is not confirmed, so it is handled again at the next start."""
    core = open_core(bot_settings, clock=clock)
    world = seed_world(core, telegram)
    user = world.partner
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        telegram.delay(0.5, method="sendMessage")  # the reply is in flight when the stop comes
        telegram.send_text(user, "/start")
        telegram._queue(
            "message",
            {
                "message_id": 9999,
                "date": "gisteren",  # PTB cannot read it
                "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
                "from": {"id": user.id, "is_bot": False, "first_name": user.first_name},
                "text": "hallo",
            },
        )
        await telegram.wait_for_call("sendMessage", count=1, timeout=EVENT_TIMEOUT)
    except Exception:
        stop.set()
        raise
    stop.set()
    error: BaseException | None = None
    try:
        await asyncio.wait_for(task, timeout=10)
    except Exception as exc:
        error = exc
    finally:
        core.db.dispose()
    left = [u for u in telegram.pending_updates if "message" in u]
    texts = [u["message"].get("text") for u in left]
    assert error is None, f"serve() raised {error!r:.200}"
    assert "/start" not in texts, f"a handled update stays unconfirmed: {texts}"
