"""Hostile review of issue 8: the pacer's kinds and their shares of a busy group."""

from __future__ import annotations

import asyncio
from typing import Any

from telegram.error import RetryAfter

from bot.sandbox.fake_telegram import ManualMonotonic
from bot.scheduling.pacer import BACKGROUND, Pacer

GROUP = -100123


async def test_a_waiting_tally_edit_does_not_refuse_a_reply_the_window_has_room_for() -> None:
    """A busy group has had 18 messages in the last minute (announcements and edits).
    A tally edit (BACKGROUND, share 18) books the slot ~60 s ahead and waits for it.
    The group's window still has room for 2 replies now (the shares exist for that),
    but `_Window.free_at` puts any new slot after the last booked one: the reply's
    slot is the edit's, ~60 s off, so it gets RetryAfter and the person is told
    'try again in a minute'."""
    clock = ManualMonotonic()
    parked = asyncio.Event()

    async def sleep(seconds: float) -> None:
        if seconds > 5:
            await parked.wait()  # the edit keeps waiting for its slot
        clock.advance(max(seconds, 0.0))

    pacer = Pacer(monotonic=clock, sleep=sleep)
    sent: list[float] = []

    async def call() -> dict[str, Any]:
        sent.append(clock())
        return {}

    data = {"chat_id": GROUP}
    await pacer.process_request(call, (), {}, "sendMessage", data, None)  # a reply: busy
    for _ in range(17):
        await pacer.process_request(call, (), {}, "editMessageText", data, BACKGROUND)
    assert len(sent) == 18
    edit = asyncio.create_task(
        pacer.process_request(call, (), {}, "editMessageText", data, BACKGROUND)
    )
    await asyncio.sleep(0.01)  # the edit has booked its slot a minute ahead
    assert not edit.done()
    try:
        await pacer.process_request(call, (), {}, "sendMessage", data, None)
    except RetryAfter as exc:
        raise AssertionError(
            f"a reply was refused (retry_after {exc.retry_after}) with 19 of 20 slots used"
        ) from None
    finally:
        edit.cancel()
    assert len(sent) == 19
