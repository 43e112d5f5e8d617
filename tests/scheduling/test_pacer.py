"""The pacer books Telegram's limits chat by chat; a 429 holds only its own chat."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram.error import RetryAfter

from bot.sandbox.fake_telegram import ManualMonotonic
from bot.scheduling.pacer import BACKGROUND, BULK, PaceLimits, Pacer

GROUP, PRIVATE, OTHER_PRIVATE = -100123, 42, 43


class Calls:
    """A stand-in for the HTTP call: records when (on the virtual clock) it went out."""

    def __init__(self, clock: ManualMonotonic) -> None:
        self.clock = clock
        self.at: list[tuple[int | None, float]] = []
        self.throttle: dict[int | None, int] = {}  # chat -> retry_after of its next call

    def for_chat(self, chat_id: int | None) -> Any:
        async def call() -> dict[str, Any]:
            retry_after = self.throttle.pop(chat_id, 0)
            if retry_after:
                raise RetryAfter(retry_after)
            self.at.append((chat_id, self.clock()))
            return {}

        return call


@pytest.fixture
def clock() -> ManualMonotonic:  # type: ignore[override]
    return ManualMonotonic()


@pytest.fixture
def pacer(clock: ManualMonotonic) -> Pacer:
    async def sleep(seconds: float) -> None:
        # Concurrent waits overlap, as in real time: the clock moves to the latest end.
        until = clock() + max(seconds, 0.0)
        await asyncio.sleep(0)
        clock.advance(max(0.0, until - clock()))

    return Pacer(monotonic=clock, sleep=sleep)


async def send(
    pacer: Pacer,
    calls: Calls,
    chat_id: int | None,
    *,
    kind: str | None = None,
    method: str = "sendMessage",
) -> None:
    data = {} if chat_id is None else {"chat_id": chat_id}
    await pacer.process_request(calls.for_chat(chat_id), (), {}, method, data, kind)


async def test_a_group_takes_20_a_minute_in_a_sliding_window(
    pacer: Pacer, clock: ManualMonotonic
) -> None:
    pacer.limits = PaceLimits(group_background_per_minute=20)  # the whole window
    calls = Calls(clock)
    start = clock()
    for _ in range(45):  # a tally editor's pace: it waits for the next slot
        await send(pacer, calls, GROUP, kind=BACKGROUND)
    times = [at - start for _, at in calls.at]
    assert times[:20] == [0.0] * 20
    assert times[20] == pytest.approx(60.0)
    assert times[40] == pytest.approx(120.0)
    for index, first in enumerate(times):
        assert sum(1 for t in times[index:] if t < first + 60) <= 20


async def test_bulk_leaves_room_in_a_group_where_people_are_active(
    pacer: Pacer, clock: ManualMonotonic
) -> None:
    calls = Calls(clock)
    await send(pacer, calls, GROUP)  # an edit or a reply: people are active here
    for _ in range(15):
        await send(pacer, calls, GROUP, kind=BULK)
    assert pacer.ready_in(GROUP, BULK) > 50  # bulk's share (16) is used up ...
    assert pacer.ready_in(GROUP, None) == 0  # ... the rest is kept for people
    for _ in range(4):
        await send(pacer, calls, GROUP)
    assert clock() == 1000.0


async def test_a_private_chat_takes_one_a_second_and_all_chats_30_a_second(
    pacer: Pacer, clock: ManualMonotonic
) -> None:
    calls = Calls(clock)
    start = clock()
    await asyncio.gather(*(send(pacer, calls, PRIVATE) for _ in range(3)))
    assert [at - start for _, at in calls.at] == pytest.approx([0.0, 1.0, 2.0])
    calls.at.clear()
    clock.advance(1.0)  # the overall window is empty again
    start = clock()
    await asyncio.gather(*(send(pacer, calls, 1000 + n) for n in range(60)))
    times = sorted(at - start for _, at in calls.at)
    assert times[29] < 1.0 <= times[30]


async def test_a_429_holds_only_its_chat(pacer: Pacer, clock: ManualMonotonic) -> None:
    calls = Calls(clock)
    calls.throttle[GROUP] = 20
    with pytest.raises(RetryAfter):  # the outbox hears it at once and goes on
        await send(pacer, calls, GROUP, kind=BULK)
    assert pacer.ready_in(GROUP) == pytest.approx(20.0)
    start = clock()
    await send(pacer, calls, PRIVATE)  # a private reply: no wait
    await send(pacer, calls, None, method="answerCallbackQuery")  # a button's answer: no wait
    assert clock() == start
    with pytest.raises(RetryAfter):  # a reply may not hold up the next update: at once
        await send(pacer, calls, GROUP)
    assert clock() == start
    await send(pacer, calls, GROUP, kind=BACKGROUND)  # a tally edit waits it out
    assert clock() - start == pytest.approx(20.0)
    assert pacer.throttled == 1


async def test_an_interactive_call_gives_up_after_a_second_429(
    pacer: Pacer, clock: ManualMonotonic
) -> None:
    calls = Calls(clock)
    calls.throttle[PRIVATE] = 3
    await send(pacer, calls, PRIVATE)  # waited out once
    assert len(calls.at) == 1
    calls.throttle[PRIVATE] = 3

    async def twice() -> Any:
        calls.throttle[PRIVATE] = 3
        raise RetryAfter(3)

    with pytest.raises(RetryAfter):
        await pacer.process_request(twice, (), {}, "sendMessage", {"chat_id": PRIVATE}, None)


async def test_a_reply_waits_seconds_at_most_even_for_a_long_hold(
    pacer: Pacer, clock: ManualMonotonic
) -> None:
    """Review: a hold of 600 s made a reply (and so every update after it) wait 600 s."""
    calls = Calls(clock)
    calls.throttle[GROUP] = 600
    with pytest.raises(RetryAfter):
        await send(pacer, calls, GROUP, kind=BULK)
    start = clock()
    for kind in (None, BACKGROUND):
        with pytest.raises(RetryAfter):
            await send(pacer, calls, GROUP, kind=kind)
    assert clock() == start
    # A private chat's own pace (1 a second) is waited for: a reply of three messages.
    for _ in range(3):
        await send(pacer, calls, PRIVATE)
    assert clock() - start == pytest.approx(2.0)


async def test_calls_held_up_together_count_when_they_really_go(clock: ManualMonotonic) -> None:
    """The loop is held up (a garbage collection, a busy machine): the calls whose slots
    fell in that time wake late, together. Each takes its slot again when it really
    goes, so in any second of real sending at most 30 go out, as Telegram counts them;
    counted at their booked times, the next second's 30 would follow them within it."""
    start = clock()
    held_up = [False]

    async def sleep(seconds: float) -> None:
        until = clock() + max(seconds, 0.0)
        await asyncio.sleep(0)
        clock.advance(max(0.0, until - clock()))
        if not held_up[0] and clock() >= start + 1.5:
            held_up[0] = True
            clock.advance(0.4)  # the third second's calls wake 0.4 s late

    pacer = Pacer(monotonic=clock, sleep=sleep)
    calls = Calls(clock)
    await asyncio.gather(*(send(pacer, calls, 1000 + n, kind=BULK) for n in range(120)))
    assert held_up[0]
    times = sorted(at - start for _, at in calls.at)
    assert len(times) == 120
    for index, first in enumerate(times):
        assert sum(1 for t in times[index:] if t < first + 1.0) <= 30, f"from {first:.2f} s"


def test_paced_chats_are_those_whose_next_slot_is_further_off(
    pacer: Pacer, clock: ManualMonotonic
) -> None:
    """The outbox leaves these out of a claim; windows that hold nothing are forgotten."""
    asyncio.run(send(pacer, Calls(clock), PRIVATE, kind=BULK))
    pacer.hold(GROUP, 20)
    assert sorted(pacer.paced_chats(BULK, beyond=0.05)) == [GROUP, PRIVATE]
    clock.advance(0.98)
    assert pacer.paced_chats(BULK, beyond=0.05) == [GROUP]  # due within the slack
    clock.advance(1.0)
    assert pacer.paced_chats(BULK, beyond=0.05) == [GROUP]
