"""Sends what the outbox holds: a loop in `vhbot run`, one drain in `vhbot sweep`.

Each pass claims, in one transaction, the oldest due message of every chat that
may take one now (the pacer knows) and starts sending them side by side; a pass
comes again when half of them are done, so the pacer always has the next ones
while the last are on their way, and never more than about a second's worth are
claimed. Deliveries are recorded together, a few transactions a second (see
`_Deliveries`); the guard looks for new persons once a batch. What happens to one
message touches only that message or its chat:

  sent                 recorded; an announcement learns its message id;
  passing fault        (5xx, network, timeout) the message waits with backoff;
  429                  the chat waits as long as Telegram asks (the pacer holds it);
  403 private          the member is unreachable: their messages wait until they
                       write to the bot, and the coordinators are told once;
  403 partner group    announcements wait, the group is tried again with backoff,
                       the coordinators are told once (and again when it works);
  refused by the guard withheld for good, the coordinators are told;
  400                  failed for good (it will not work by trying again).

When several sends in a row meet passing faults, Telegram is taken to be away:
the sender pauses (growing, capped at a few seconds) and then tries one message,
so it finds out within seconds that Telegram is back without hammering it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import ExtBot

from bot.i18n import Translator
from bot.safe import SafeText
from bot.scheduling.notices import notify_coordinators
from bot.scheduling.pacer import BULK, Pacer
from bot.services import outbox
from bot.services.guard import Look, OutgoingGuard, PiiRefused
from bot.storage.engine import unavailable
from bot.views.members import group_back_notice, group_refused_notice

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)


def _withheld_notice(_: Translator, *, number: int) -> SafeText:
    return _(
        "Message {number} was not sent: it contained personal data of a person. Check the "
        "data of the latest notifications; the log has the details without the data.",
        number=number,
    )


# After this many passing faults in a row Telegram is taken to be away.
MAX_FAILURES_IN_A_ROW = 3
# Pauses while Telegram is away, before one message is tried again (the last repeats).
AWAY_PAUSES = (1.0, 2.0, 4.0, 5.0)
# A chat whose slot comes within this many seconds is sent to in this pass.
SLACK = 0.05
# How long a delivery may wait to be recorded with those that finish after it.
LINGER = 0.2


class Outcome(Enum):
    SENT = "sent"
    FAULT = "fault"  # passing: network, timeout, 5xx
    THROTTLED = "throttled"
    HELD = "held"
    FAILED = "failed"


@dataclass
class _Away:
    """Telegram taken to be away: no pass before `until` (pacer time)."""

    until: float = 0.0
    pauses: int = 0


class _Deliveries:
    """Deliveries recorded together: a write waits a moment (`LINGER`) for the sends
    still on their way, and what finishes while it runs goes in the next one. Sends
    at Telegram's pace cost a few transactions a second, not one each; a crash in
    that moment repeats those few sends once (their claims run out), loses none."""

    def __init__(self, core: Core, *, on_the_way: Callable[[], int], most: int) -> None:
        self._core = core
        self._on_the_way = on_the_way  # sends in flight, recorded or not
        self._most = most
        self._queue: list[tuple[outbox.Delivery, asyncio.Future[bool]]] = []
        self._waiting = 0  # sends waiting for their delivery to be recorded
        self._arrived = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self.writes = 0  # transactions, for tests and the benchmark

    async def record(self, message: outbox.Claimed, message_id: int) -> bool:
        """Record a delivery; True when it lifted its chat's hold."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        delivery = outbox.Delivery(message, message_id, self._core.clock.now())
        self._queue.append((delivery, done))
        self.nudge()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="outbox-deliveries")
        self._waiting += 1
        try:
            return await done
        finally:
            self._waiting -= 1

    def nudge(self) -> None:
        """A send ended (recorded or not): the write may not need to wait longer."""
        self._arrived.set()

    async def _gather(self) -> None:
        """Wait up to LINGER for the sends on their way, while any is and the write is
        not full."""
        loop = asyncio.get_running_loop()
        until = loop.time() + LINGER
        while len(self._queue) < self._most and self._on_the_way() > self._waiting:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(until):
                    await self._arrived.wait()
            if loop.time() >= until:
                return

    async def _write(self) -> None:
        core = self._core
        while self._queue:
            await self._gather()
            batch, self._queue = self._queue, []
            try:
                # Waits for the database while it is away: a delivery left unrecorded
                # would be sent again when its claim runs out.
                lifted = await core.db.record(
                    "outbox", outbox.record_deliveries, core.db, [d for d, _ in batch]
                )
            except asyncio.CancelledError:
                for _, done in [*batch, *self._queue]:
                    done.cancel()
                self._queue = []
                raise
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.writes += 1
            for (_, done), reopened in zip(batch, lifted, strict=True):
                if not done.done():
                    done.set_result(reopened)

    async def close(self) -> None:
        """Wait for the write under way (the sends before it are done)."""
        if self._writer is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer


class OutboxSender:
    """Claims due messages in batches and sends them side by side, within the pacer's
    limits; the next batch is claimed while the last is still on its way."""

    def __init__(self, core: Core, pacer: Pacer, guard: OutgoingGuard, *, batch: int = 30) -> None:
        self._core = core
        self._pacer = pacer
        self._guard = guard
        # At most this many messages claimed and not yet done: about a second's worth
        # of Telegram's overall limit, so claims stay short and the pacer never idles.
        self._batch = batch
        self._failures_in_a_row = 0
        self._away = _Away()
        self._wake = asyncio.Event()
        self._paced: list[int] = []  # chats with messages due that the pacer keeps back
        self._in_flight: dict[int, tuple[int, asyncio.Task[Outcome]]] = {}  # id: chat, send
        self._deliveries = _Deliveries(core, on_the_way=lambda: len(self._in_flight), most=batch)
        self.sent = 0  # messages sent by this sender, for `drain` and the benchmark

    def wake(self) -> None:
        """Something was queued: look now instead of at the next interval."""
        self._wake.set()

    @property
    def writes(self) -> int:
        """Transactions that recorded deliveries (for tests and the benchmark)."""
        return self._deliveries.writes

    # ------------------------------------------------------------------ loops

    async def run(self, bot: ExtBot[Any], stop: asyncio.Event) -> None:
        """Send until `stop` is set; the sends in flight are finished, the rest waits."""
        interval = self._core.settings.outbox_interval_seconds
        try:
            while not stop.is_set():
                self._wake.clear()
                try:
                    await self._claim(bot)
                except Exception as exc:
                    if unavailable(exc):  # logged once per outage; tried again at the interval
                        self._core.db.outages.failed("outbox", exc)
                    else:
                        log.error("outbox.pass_failed", extra={"error": type(exc).__name__})
                else:
                    self._core.db.outages.worked("outbox")
                if stop.is_set():
                    break
                await self._idle(stop, interval)
        finally:
            await self._settle()

    async def drain(self, bot: ExtBot[Any], *, patience: float = 120.0) -> int:
        """Send what is due now, waiting for paced chats at most `patience` seconds in all.

        Returns how many were sent.
        """
        sent_before = self.sent
        waited = 0.0
        try:
            while True:
                self._wake.clear()
                await self._claim(bot)
                if self._in_flight:
                    await self._wake.wait()  # room for the next batch, or all done
                    continue
                pause = self._next_pause()
                if pause is None or waited + pause > patience:
                    return self.sent - sent_before
                await self._pacer.wait(pause)
                waited += pause
        finally:
            await self._settle()

    async def _idle(self, stop: asyncio.Event, interval: float) -> None:
        """Wait for the interval, a wake-up (room for more, something queued) or stop;
        less when a paced chat frees up sooner."""
        pause = self._next_pause()
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        # New messages may be queued by other processes: look again at the interval.
        waiters.append(asyncio.ensure_future(asyncio.sleep(interval)))
        if pause is not None:
            waiters.append(asyncio.ensure_future(self._pacer.wait(pause)))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            for waiter in waiters:
                with contextlib.suppress(asyncio.CancelledError):
                    await waiter

    async def _settle(self) -> None:
        """The sends in flight finish and are recorded; when this task is being
        cancelled (a stop cut short) they are cut too, and their claims run out."""
        sends = [send for _, send in self._in_flight.values()]
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            for send in sends:
                send.cancel()
        await asyncio.gather(*sends, return_exceptions=True)
        await self._deliveries.close()

    def _next_pause(self) -> float | None:
        """Seconds until something due can go: a paced chat frees up or the pause ends."""
        away = self._away.until - self._pacer.now()
        if away > 0:
            return away
        waits = [self._pacer.ready_in(chat_id, BULK) for chat_id in self._paced]
        return min(waits) if waits else None

    # ------------------------------------------------------------------ one pass

    def _room(self) -> int:
        """How many more messages may be claimed now."""
        if self._away.until > self._pacer.now():
            return 0
        if self._away.pauses:  # Telegram seemed away: one message tells whether it is back
            return 0 if self._in_flight else 1
        return self._batch - len(self._in_flight)

    async def _claim(self, bot: ExtBot[Any]) -> int:
        """Claim what may go now and start sending it; returns how many were claimed.

        Left out: chats the pacer keeps back and chats with a send in flight (one
        message per chat at a time, so a chat's messages keep their order).
        """
        room = self._room()
        if room <= 0:
            return 0
        core, pacer = self._core, self._pacer
        paced = set(pacer.paced_chats(BULK, beyond=SLACK))
        flying = {chat_id for chat_id, _ in self._in_flight.values()}
        claim = await core.db.run(
            outbox.claim_due, core.db, core.clock.now(), limit=room, skip_chats=paced | flying
        )
        self._paced = [chat_id for chat_id in claim.skipped if chat_id in paced]
        if not claim.messages:
            return 0
        # The guard looks for new identities once for the batch, now: not between a
        # send's slot and the send (sends released apart would reach Telegram together).
        # When it cannot (the database away), the claims run out and are tried again.
        look = await self._guard.looked()
        for message in claim.messages:
            send = asyncio.create_task(self._send(bot, message, look), name="outbox-send")
            self._in_flight[message.id] = (message.chat_id, send)
            send.add_done_callback(partial(self._done, message.id))
        return len(claim.messages)

    def _done(self, message_id: int, send: asyncio.Task[Outcome]) -> None:
        """One send is over: count its outcome, and wake the loop when there is room."""
        del self._in_flight[message_id]
        self._deliveries.nudge()
        if send.cancelled():
            return
        error = send.exception()
        outcome = self._outcome(send.result() if error is None else error)
        self._note([outcome])
        if outcome is Outcome.SENT:
            self.sent += 1
        # Claimed in batches: look again when half the room is free, or all of it.
        if len(self._in_flight) in (0, self._batch // 2):
            self._wake.set()

    def _outcome(self, result: Outcome | BaseException) -> Outcome:
        """One send's outcome; an error (the database away while recording it) touches
        only that message, whose claim runs out and which is then tried again."""
        if isinstance(result, Outcome):
            return result
        if unavailable(result):
            self._core.db.outages.failed("outbox", result)
        else:
            log.error("outbox.send_failed", extra={"error": type(result).__name__})
        return Outcome.FAILED

    def _note(self, outcomes: list[Outcome]) -> None:
        """Keep count of passing faults in a row; pause when Telegram seems away."""
        for outcome in outcomes:
            if outcome is Outcome.FAULT:
                self._failures_in_a_row += 1
            elif outcome is not Outcome.THROTTLED:
                self._failures_in_a_row = 0
                self._away = _Away()
        if self._failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            pause = AWAY_PAUSES[min(self._away.pauses, len(AWAY_PAUSES) - 1)]
            if self._away.pauses == 0:
                log.warning("telegram.away", extra={"pause": pause})
            self._away = _Away(until=self._pacer.now() + pause, pauses=self._away.pauses + 1)

    async def _send(self, bot: ExtBot[Any], message: outbox.Claimed, look: Look) -> Outcome:
        core = self._core
        try:
            markup = (
                InlineKeyboardMarkup.de_json(json.loads(message.reply_markup), bot)
                if message.reply_markup
                else None
            )
            reply = (
                ReplyParameters(message.reply_to_message_id, allow_sending_without_reply=True)
                if message.reply_to_message_id
                else None
            )
            with look.covering():  # this message only: the batch's look covers its text
                result = await bot.send_message(
                    message.chat_id,
                    message.text,
                    reply_markup=markup,
                    reply_parameters=reply,
                    rate_limit_args=BULK,
                )
        except RetryAfter:
            # The pacer now holds this chat for as long as Telegram asked; the
            # message stays due and goes first when the hold is over.
            await core.db.run(outbox.unclaim, core.db, message, error="RetryAfter")
            return Outcome.THROTTLED
        except Forbidden:
            return await self._refused(bot, message)
        except (PiiRefused, BadRequest) as exc:
            log.error("outbox.failed", extra={"outbox_id": message.id, "error": type(exc).__name__})
            withheld = isinstance(exc, PiiRefused)
            await core.db.run(
                outbox.mark_failed,
                core.db,
                message,
                error=type(exc).__name__,
                now=core.clock.now(),
                withheld_by=core.cipher if withheld else None,
            )
            if withheld:
                # Withheld for good: people must know something did not go out.
                await notify_coordinators(bot, core, partial(_withheld_notice, number=message.id))
            return Outcome.FAILED
        except TelegramError as exc:
            log.warning(
                "outbox.retry", extra={"outbox_id": message.id, "error": type(exc).__name__}
            )
            await core.db.run(
                outbox.mark_retry, core.db, message, error=type(exc).__name__, now=core.clock.now()
            )
            return Outcome.FAULT
        reopened = await self._record_sent(message, result.message_id)
        if reopened:
            log.info("outbox.chat_reopened", extra={"chat_kind": _kind(message.chat_id)})
            if message.chat_id == core.settings.partner_chat_id:
                await core.db.run(self._tell_group_back)
        return Outcome.SENT

    async def _record_sent(self, message: outbox.Claimed, message_id: int) -> bool:
        """Record a delivery with the others that finish about now (see `_Deliveries`)."""
        return await self._deliveries.record(message, message_id)

    async def _refused(self, bot: ExtBot[Any], message: outbox.Claimed) -> Outcome:
        """Telegram answered 403: hold the chat (a member or the group), or fail a stranger's."""
        core = self._core
        now = core.clock.now()
        partner_group = message.chat_id == core.settings.partner_chat_id

        def hold() -> bool:
            with core.db.session() as session:
                if partner_group:
                    held = outbox.hold_chat(session, message.chat_id, now=now, retry=True)
                    if held is not None:
                        core.memberships.tell_coordinators(
                            session,
                            key=f"group-refused:{held.since.isoformat()}",
                            render=group_refused_notice,
                        )
                    return True
                if message.chat_id < 0 or not core.memberships.is_active_member(
                    session, message.chat_id
                ):
                    return False
                held = outbox.hold_chat(session, message.chat_id, now=now, retry=False)
                if held is not None:
                    core.memberships.tell_unreachable(
                        session,
                        message.chat_id,
                        key=f"unreachable:{message.chat_id}:{held.since.isoformat()}",
                    )
                return True

        if await core.db.run(hold):
            log.warning(
                "outbox.chat_refused",
                extra={"outbox_id": message.id, "chat_kind": _kind(message.chat_id)},
            )
            await core.db.run(outbox.unclaim, core.db, message, error="Forbidden")
            return Outcome.HELD
        log.error("outbox.failed", extra={"outbox_id": message.id, "error": "Forbidden"})
        await core.db.run(
            outbox.mark_failed, core.db, message, error="Forbidden", now=core.clock.now()
        )
        return Outcome.FAILED

    def _tell_group_back(self) -> None:
        core = self._core
        with core.db.session() as session:
            core.memberships.tell_coordinators(
                session,
                key=f"group-back:{core.clock.now().isoformat()}",
                render=group_back_notice,
            )


def _kind(chat_id: int) -> str:
    return "private" if chat_id > 0 else "group"
