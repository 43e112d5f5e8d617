"""Hostile review of issue 8: a chat held by a 429 must not hold up the replies to
others (updates are handled one at a time) nor a stop."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import pytest

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram, ManualMonotonic
from bot.scheduling.pacer import Pacer
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World, seed_world
from tests.app.test_delivery import _import
from tests.conftest import People

# Waits in the pacer take this share of real time (the flood clock moves the full
# amount), so a test can see a wait that the virtual pacer of tests/app makes instant.
SCALE = 0.05


def scaled_pacer(flood_clock: ManualMonotonic) -> Pacer:
    async def sleep(seconds: float) -> None:
        until = flood_clock() + max(seconds, 0.0)
        await asyncio.sleep(max(seconds, 0.0) * SCALE)
        flood_clock.advance(max(0.0, until - flood_clock()))

    return Pacer(monotonic=flood_clock, sleep=sleep)


@pytest.fixture
def pacer(flood_clock: ManualMonotonic) -> Pacer:  # type: ignore[override]
    return scaled_pacer(flood_clock)


@pytest.mark.parametrize("retry_after", [40, 100])
async def test_a_reply_in_a_throttled_group_does_not_freeze_private_replies(
    running: RunningBot, world: World, people: People, tmp_path: Path, retry_after: int
) -> None:
    """Issue 8.2 ("a 429 for one chat delays that chat only; private replies stay under
    1 s"). Updates are handled one at a time, and a reply to the group waits in the pacer
    for the group's hold: while it waits, nobody's private command is answered.

    tests/app/test_delivery.py::test_a_throttled_group_delays_only_itself cannot see
    this: its pacer's waits take no real time, so its "< 1 s" assertion holds whatever
    the pacer makes the intake wait for. Capping the wait at interactive_max_wait fixes
    only the 100 s case: the 40 s one still freezes every private reply for 40 s."""
    telegram, group = running.telegram, running.group
    running.throttling_expected = True
    telegram.throttle(retry_after, chat_id=group.id)  # under and over interactive_max_wait
    _import(running, people, tmp_path, 1)
    await telegram.wait_for_call("sendMessage", predicate=lambda c: c.status == 429)
    # A partner asks for help in the group: the answer must wait for the group...
    telegram.send_text(world.partner, "/help", chat=group)
    await asyncio.sleep(0.3)  # the intake takes it up
    # ... but a private /start must not.
    started = time.monotonic()
    await running.say(world.casemanager, "/start", contains="", reply_in=world.casemanager.id)
    replied = time.monotonic() - started
    # 40 s of hold take 2 s here (SCALE); anything near that is the freeze.
    assert replied < 1.0, f"a private reply waited {replied:.1f} s (x{1 / SCALE:.0f} in reality)"
    # The partner's answer could not go in the group: they hear so privately.
    await telegram.wait_for_message(world.partner.id, contains="houdt mijn berichten")


async def test_stop_is_quick_while_a_reply_waits_for_a_throttled_group(
    bot_settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    partner_group: FakeChat,
    flood_clock: ManualMonotonic,
    pacer: Pacer,
    people: People,
    tmp_path: Path,
) -> None:
    """Issue 8.7: stop within 10 s. The intake finishes the update in hand, and that one
    sleeps in the pacer for the group's whole hold (a 429 may ask for minutes); the stop
    waits for it. Here 100 s of hold are 5 s of real time."""
    core = open_core(bot_settings, clock=clock)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1, pacer=pacer))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        world = seed_world(core, telegram)
        running = RunningBot(core, telegram, partner_group, flood_clock)
        telegram.throttle(100, chat_id=partner_group.id)
        _import(running, people, tmp_path, 1)
        await telegram.wait_for_call("sendMessage", predicate=lambda c: c.status == 429)
        telegram.send_text(world.partner, "/help", chat=partner_group)
        await asyncio.sleep(0.5)  # the intake takes it up
        started = time.monotonic()
        stop.set()
        await asyncio.wait_for(asyncio.shield(task), timeout=EVENT_TIMEOUT)
        took = time.monotonic() - started
    finally:
        stop.set()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=10)
        core.db.dispose()
    # 10 s of real stop time is 0.5 s at this scale.
    assert took < 10 * SCALE, f"stopping took {took / SCALE:.0f} s (scaled back)"
