"""Keeps every call to Telegram within its flood limits, chat by chat.

Telegram allows about 30 messages a second overall, one a second in a private
chat and 20 a minute in a group (edits count too). The pacer books a slot for
each call before it goes out, so normal operation never meets a 429. A 429 (or a
chat the sender put on hold) delays that chat only: other chats, button
acknowledgements and private replies go on.

Two kinds of callers:
  interactive  (replies, acknowledgements, tally edits; the default) wait for
               their chat's slot, and wait out a 429 once before giving up;
  bulk         (the outbox, `rate_limit_args=BULK`) never wait long: the sender
               asks `ready_in` first and only sends to chats that are free; a 429
               is raised at once, so the message waits on its own. While people
               are active in a group (an interactive call in the last minutes),
               bulk keeps a few of its 20 per minute free for them, so a long
               queue of announcements does not make a reply or a tally wait a
               minute; otherwise bulk may use all 20.

Time comes from `monotonic` and waiting from `sleep`: tests pass a virtual clock
that moves when the pacer waits, shared with the fake Telegram server.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.ext import BaseRateLimiter

from bot.backoff import retry_after_seconds

log = logging.getLogger(__name__)

BULK = "bulk"


@dataclass(frozen=True)
class PaceLimits:
    """Telegram's published limits; `group_bulk_per_minute` is the outbox's share."""

    overall_per_second: int = 30
    private_per_second: int = 1
    group_per_minute: int = 20
    group_bulk_per_minute: int = 16
    # How long after an interactive call in a group bulk keeps to its share.
    active_for: float = 120.0
    # An interactive call waits at most this long for a 429 to pass, once.
    interactive_max_wait: float = 60.0


class _Window:
    """At most `count` slots in any `period` seconds; slots are booked in time order."""

    def __init__(self, count: int, period: float) -> None:
        self.count = count
        self.period = period
        self._slots: deque[float] = deque()

    def _forget(self, now: float) -> None:
        while self._slots and self._slots[0] <= now - self.period:
            self._slots.popleft()

    def free_at(self, now: float, *, count: int | None = None) -> float:
        """The earliest time from `now` on at which a slot is free (within `count`)."""
        self._forget(now)
        limit = self.count if count is None else count
        slots = self._slots
        if len(slots) < limit:
            # Booked slots lie in the past or present; a new one may go after the last.
            return max(now, slots[-1]) if slots and slots[-1] > now else now
        return max(now, slots[-limit] + self.period)

    def book(self, at: float) -> None:
        bisect.insort(self._slots, at)

    def cancel(self, at: float) -> None:
        with contextlib.suppress(ValueError):
            self._slots.remove(at)


def _counted(endpoint: str) -> bool:
    """Telegram's limits are on messages: sending, forwarding, copying and editing them."""
    name = endpoint.lower()
    if name == "sendchataction":
        return False
    return name.startswith(("send", "edit", "copymessage", "forwardmessage"))


def _chat_of(data: dict[str, Any]) -> int | None:
    chat_id = data.get("chat_id")
    if chat_id is None:
        return None
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return None  # @channelname: not used by this bot; overall limit only


class Pacer(BaseRateLimiter[str]):
    def __init__(
        self,
        limits: PaceLimits | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or PaceLimits()
        self._monotonic = monotonic
        self._sleep = sleep
        self._overall = _Window(self.limits.overall_per_second, 1.0)
        self._chats: dict[int, _Window] = {}
        self._held_until: dict[int, float] = {}
        self._active: dict[int, float] = {}  # group -> time of its last interactive call
        self.throttled = 0  # 429s met, for the benchmark and tests

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    # ---------------------------------------------------------------- questions

    def _window(self, chat_id: int) -> _Window:
        window = self._chats.get(chat_id)
        if window is None:
            limits = self.limits
            window = (
                _Window(limits.private_per_second, 1.0)
                if chat_id > 0
                else _Window(limits.group_per_minute, 60.0)
            )
            self._chats[chat_id] = window
        return window

    def _chat_free_at(self, chat_id: int, now: float, *, bulk: bool) -> float:
        held = self._held_until.get(chat_id, 0.0)
        share = None
        if bulk and chat_id < 0 and now - self._active.get(chat_id, -1e18) < self.limits.active_for:
            share = self.limits.group_bulk_per_minute
        return max(held, self._window(chat_id).free_at(now, count=share))

    def now(self) -> float:
        """The pacer's clock (monotonic seconds)."""
        return self._monotonic()

    def ready_in(self, chat_id: int, *, bulk: bool = True) -> float:
        """Seconds until a message to `chat_id` may go (0: now)."""
        now = self._monotonic()
        return max(0.0, self._chat_free_at(chat_id, now, bulk=bulk) - now)

    def hold(self, chat_id: int, seconds: float) -> None:
        """Send nothing to `chat_id` for `seconds`."""
        until = self._monotonic() + seconds
        self._held_until[chat_id] = max(self._held_until.get(chat_id, 0.0), until)

    async def wait(self, seconds: float) -> None:
        """Wait on the pacer's clock (virtual in tests)."""
        await self._sleep(seconds)

    def _forget_holds(self, now: float) -> None:
        for chat_id, until in list(self._held_until.items()):
            if until <= now:
                del self._held_until[chat_id]

    # ---------------------------------------------------------------- sending

    async def _book(self, chat_id: int, *, bulk: bool) -> tuple[float, float]:
        """Wait for, and take, a slot for one call to `chat_id`; returns the slots taken."""
        now = self._monotonic()
        self._forget_holds(now)
        if not bulk and chat_id < 0:
            self._active[chat_id] = now
        chat_slot = self._chat_free_at(chat_id, now, bulk=bulk)
        window = self._window(chat_id)
        window.book(chat_slot)
        try:
            if chat_slot > now:
                await self._sleep(chat_slot - now)
            now = self._monotonic()
            # The overall limit is taken last, close to the moment of sending.
            overall_slot = self._overall.free_at(now)
            self._overall.book(overall_slot)
        except BaseException:
            window.cancel(chat_slot)
            raise
        try:
            if overall_slot > now:
                await self._sleep(overall_slot - now)
        except BaseException:
            self._give_back(chat_id, (chat_slot, overall_slot))
            raise
        return chat_slot, overall_slot

    def _give_back(self, chat_id: int, slots: tuple[float, float]) -> None:
        """A call Telegram did not count (refused before it was done): its slots are free."""
        self._window(chat_id).cancel(slots[0])
        self._overall.cancel(slots[1])

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: str | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = _chat_of(data) if _counted(endpoint) else None
        bulk = rate_limit_args == BULK
        waited_out = False
        while True:
            # Like Telegram: only messages (sent or edited) count against the limits;
            # answerCallbackQuery, getUpdates, getChatMember and the like pass at once.
            slots = None if chat_id is None else await self._book(chat_id, bulk=bulk)
            try:
                return await callback(*args, **kwargs)
            except TimedOut:
                raise  # it may have been done: the slots stay taken
            except NetworkError:
                # A 5xx or a connection that failed: not done, so not counted (a
                # response lost after the work is the rare exception, and at worst
                # costs one 429, which holds only this chat).
                if chat_id is not None and slots is not None:
                    self._give_back(chat_id, slots)
                raise
            except RetryAfter as exc:
                if chat_id is not None and slots is not None:
                    self._give_back(chat_id, slots)
                self.throttled += 1
                seconds = retry_after_seconds(exc)
                if chat_id is not None:
                    self.hold(chat_id, seconds)
                log.warning(
                    "telegram.throttled",
                    extra={
                        "method": endpoint,
                        "chat_kind": _chat_kind(chat_id),
                        "retry_after": seconds,
                    },
                )
                if bulk or waited_out or seconds > self.limits.interactive_max_wait:
                    raise
                waited_out = True
                if chat_id is None:
                    await self._sleep(seconds)  # else the booking waits for the hold


def _chat_kind(chat_id: int | None) -> str:
    if chat_id is None:
        return "none"
    return "private" if chat_id > 0 else "group"
