"""Keeps every call to Telegram within its flood limits, chat by chat.

Telegram allows about 30 messages a second overall, one a second in a private
chat and 20 a minute in a group (edits count too). The pacer books a slot for
each call before it goes out, so normal operation never meets a 429. A 429 (or a
chat the sender put on hold) delays that chat only: other chats, button
acknowledgements and private replies go on.

Three kinds of callers (`rate_limit_args`), most urgent first:
  reply       (the default: handlers answering an update) wait at most a few
              seconds for their chat's slot, a 429 included; a chat that cannot
              take a message that soon raises RetryAfter at once. Updates are
              handled one at a time, so a reply may never hold up the next
              person's update for long;
  BACKGROUND  (tally edits, in their own tasks) wait up to a minute;
  BULK        (the outbox) never wait: the sender asks `ready_in` first and only
              sends to chats that are free; a 429 is raised at once, so the
              message waits on its own.
While people are active in a group (a reply or edit there in the last two
minutes) each kind keeps to its share of the group's 20 a minute (bulk 16,
background 18, replies all 20), so a long queue of announcements or edits does
not make a reply wait a minute; otherwise each may use all 20.

Time comes from `monotonic` and waiting from `sleep`: tests pass a virtual clock
that moves when the pacer waits, shared with the fake Telegram server.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import math
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
BACKGROUND = "background"


@dataclass(frozen=True)
class PaceLimits:
    """Telegram's published limits, the shares of a busy group, the longest waits."""

    overall_per_second: int = 30
    private_per_second: int = 1
    group_per_minute: int = 20
    group_bulk_per_minute: int = 16
    group_background_per_minute: int = 18
    # How long after a reply or edit in a group the other kinds keep to their share.
    active_for: float = 120.0
    # The longest a reply waits for its chat (a 429 included); then RetryAfter.
    reply_max_wait: float = 3.0
    # The longest a background call waits for its chat (a 429 included).
    background_max_wait: float = 60.0


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
        """The earliest time from `now` on at which a slot is free (within `count`).

        `now` itself when every window around it has room, even with slots booked
        later on (a tally edit waiting for a later slot does not push a reply
        behind it); else after the last slot booked, the window permitting.
        """
        self._forget(now)
        limit = self.count if count is None else count
        if self._fits(now, limit):
            return now
        slots = self._slots
        if len(slots) < limit:
            return max(now, slots[-1])
        return max(now, slots[-1], slots[-limit] + self.period)

    def _fits(self, at: float, limit: int) -> bool:
        """Whether one more slot at `at` keeps every window holding it within `limit`."""
        slots, period = self._slots, self.period
        # The windows holding `at` start in (at - period, at]; their counts change
        # only where a slot lies, so those starts and the earliest one are checked.
        # Slots are kept in order: each count is two bisections.
        lo, hi = bisect.bisect_right(slots, at - period), bisect.bisect_right(slots, at)
        starts = [at - period + 1e-9, *itertools.islice(slots, lo, hi)]
        return all(
            bisect.bisect_left(slots, start + period) - bisect.bisect_left(slots, start) + 1
            <= limit
            for start in starts
        )

    def book(self, at: float) -> None:
        bisect.insort(self._slots, at)

    def empty(self, now: float) -> bool:
        """No slot taken in the last period (nor later): the window holds nothing."""
        self._forget(now)
        return not self._slots

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

    def _chat_free_at(self, chat_id: int, now: float, kind: str | None) -> float:
        held = self._held_until.get(chat_id, 0.0)
        share = None
        busy = now - self._active.get(chat_id, -1e18) < self.limits.active_for
        if chat_id < 0 and busy and kind is not None:
            limits = self.limits
            share = (
                limits.group_bulk_per_minute if kind == BULK else limits.group_background_per_minute
            )
        return max(held, self._window(chat_id).free_at(now, count=share))

    def now(self) -> float:
        """The pacer's clock (monotonic seconds)."""
        return self._monotonic()

    def ready_in(self, chat_id: int, kind: str | None = BULK) -> float:
        """Seconds until a message of `kind` to `chat_id` may go (0: now)."""
        now = self._monotonic()
        return max(0.0, self._chat_free_at(chat_id, now, kind) - now)

    def paced_chats(self, kind: str | None = BULK, *, beyond: float = 0.0) -> list[int]:
        """The chats a message of `kind` may not go to within `beyond` seconds: their
        window is full, or a 429 holds them. Only chats sent to lately can be paced, so
        this looks at those (and forgets the windows that hold nothing any more)."""
        now = self._monotonic()
        self._forget_holds(now)
        paced = []
        for chat_id in [*self._chats.keys() | self._held_until.keys()]:
            if self._chat_free_at(chat_id, now, kind) - now > beyond:
                paced.append(chat_id)
            elif chat_id not in self._held_until and self._chats[chat_id].empty(now):
                del self._chats[chat_id]
        return paced

    def _max_wait(self, kind: str | None) -> float:
        if kind == BULK:
            return 1.0  # the sender asked ready_in first: only the overall limit may wait
        if kind == BACKGROUND:
            return self.limits.background_max_wait
        return self.limits.reply_max_wait

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

    async def _book(self, chat_id: int, kind: str | None) -> tuple[float, float]:
        """Wait for, and take, a slot for one call to `chat_id`; returns the slots taken.

        Raises RetryAfter (booking nothing) when the slot is further off than the
        caller's kind may wait.
        """
        now = self._monotonic()
        self._forget_holds(now)
        if kind != BULK and chat_id < 0:
            self._active[chat_id] = now
        chat_slot = self._chat_free_at(chat_id, now, kind)
        if chat_slot - now > self._max_wait(kind):
            raise RetryAfter(max(1, math.ceil(chat_slot - now)))
        window = self._window(chat_id)
        window.book(chat_slot)
        overall_slot: float | None = None
        try:
            if chat_slot > now:
                await self._sleep(chat_slot - now)
            # The overall limit is taken last, close to the moment of sending, and
            # looked at again on waking: a call that wakes late (the loop was held up,
            # by a garbage collection or a busy machine) counts when it really goes,
            # so that calls held up together do not reach Telegram together.
            while True:
                now = self._monotonic()
                overall_slot = self._overall.free_at(now)
                self._overall.book(overall_slot)
                if overall_slot <= now:
                    return chat_slot, overall_slot
                await self._sleep(overall_slot - now)
                self._overall.cancel(overall_slot)
                overall_slot = None
        except BaseException:
            window.cancel(chat_slot)
            if overall_slot is not None:
                self._overall.cancel(overall_slot)
            raise

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
        kind = rate_limit_args
        waited_out = False
        while True:
            # Like Telegram: only messages (sent or edited) count against the limits;
            # answerCallbackQuery, getUpdates, getChatMember and the like pass at once.
            slots = None if chat_id is None else await self._book(chat_id, kind)
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
                if kind == BULK or waited_out or seconds > self._max_wait(kind):
                    raise
                waited_out = True
                if chat_id is None:
                    await self._sleep(seconds)  # else the booking waits for the hold


def _chat_kind(chat_id: int | None) -> str:
    if chat_id is None:
        return "none"
    return "private" if chat_id > 0 else "group"
