"""Sends what the outbox holds: a loop in `vhbot run`, one drain in `vhbot sweep`.

Each pass claims the oldest due message of every chat that may take one now
(the pacer knows), and sends them side by side. What happens to one message
touches only that message or its chat:

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
from bot.services.guard import PiiRefused
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


class OutboxSender:
    def __init__(self, core: Core, pacer: Pacer, *, batch: int = 30) -> None:
        self._core = core
        self._pacer = pacer
        self._batch = batch
        self._failures_in_a_row = 0
        self._away = _Away()
        self._wake = asyncio.Event()
        self._paced: list[int] = []  # chats with messages due that the pacer keeps back
        self.sent = 0  # messages sent by this sender, for `drain` and the benchmark

    def wake(self) -> None:
        """Something was queued: look now instead of at the next interval."""
        self._wake.set()

    # ------------------------------------------------------------------ loops

    async def run(self, bot: ExtBot[Any], stop: asyncio.Event) -> None:
        """Send until `stop` is set; the send in flight is finished, the rest waits."""
        interval = self._core.settings.outbox_interval_seconds
        while not stop.is_set():
            self._wake.clear()
            try:
                progress = await self.send_due(bot)
            except Exception as exc:
                if unavailable(exc):  # logged once per outage; tried again at the interval
                    self._core.db.outages.failed("outbox", exc)
                else:
                    log.error("outbox.pass_failed", extra={"error": type(exc).__name__})
                progress = 0
            else:
                self._core.db.outages.worked("outbox")
            if progress or stop.is_set():
                continue
            await self._idle(stop, interval)

    async def drain(self, bot: ExtBot[Any], *, patience: float = 120.0) -> int:
        """Send what is due now, waiting for paced chats at most `patience` seconds in all.

        Returns how many were sent.
        """
        sent_before = self.sent
        waited = 0.0
        while True:
            if await self.send_due(bot):
                continue
            pause = self._next_pause()
            if pause is None or waited + pause > patience:
                return self.sent - sent_before
            await self._pacer.wait(pause)
            waited += pause

    async def _idle(self, stop: asyncio.Event, interval: float) -> None:
        """Wait for the interval, a wake-up or stop; less when a paced chat frees up sooner."""
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

    def _next_pause(self) -> float | None:
        """Seconds until something due can go: a paced chat frees up or the pause ends."""
        away = self._away.until - self._pacer.now()
        if away > 0:
            return away
        waits = [self._pacer.ready_in(chat_id, BULK) for chat_id in self._paced]
        return min(waits) if waits else None

    # ------------------------------------------------------------------ one pass

    async def send_due(self, bot: ExtBot[Any]) -> int:
        """One pass: claim and send what may go now; returns how many were tried."""
        core, pacer = self._core, self._pacer
        if self._away.until > pacer.now():
            return 0
        now = core.clock.now()
        due = await core.db.run(outbox.due_chats, core.db, now)
        busy = [chat_id for chat_id in due if pacer.ready_in(chat_id, BULK) > SLACK]
        self._paced = busy
        if len(busy) == len(due):
            return 0
        probing = self._away.pauses > 0
        claimed = await core.db.run(
            outbox.claim_due, core.db, now, limit=1 if probing else self._batch, skip_chats=busy
        )
        if not claimed:
            return 0
        results = await asyncio.gather(
            *(self._send(bot, message) for message in claimed), return_exceptions=True
        )
        outcomes = [self._outcome(result) for result in results]
        self._note(outcomes)
        self.sent += sum(1 for outcome in outcomes if outcome is Outcome.SENT)
        return len(outcomes)

    def _outcome(self, result: Outcome | BaseException) -> Outcome:
        """One send's outcome; an error (the database away while recording it) touches
        only that message, whose claim runs out and which is then tried again."""
        if isinstance(result, Outcome):
            return result
        if isinstance(result, asyncio.CancelledError):
            raise result
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

    async def _send(self, bot: ExtBot[Any], message: outbox.Claimed) -> Outcome:
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
        """Record a delivery, waiting a while for the database if it is away: a message
        left unrecorded would be sent again when its claim runs out."""
        core = self._core
        return await core.db.record(
            "outbox",
            outbox.mark_sent,
            core.db,
            message,
            message_id=message_id,
            now=core.clock.now(),
        )

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
