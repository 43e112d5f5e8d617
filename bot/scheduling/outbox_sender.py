"""Sends what the outbox holds. Runs every few seconds in `vhbot run`, once in `vhbot sweep`."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from telegram import Bot, InlineKeyboardMarkup, ReplyParameters
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from bot.handlers.common import notify_coordinators
from bot.i18n import Translator
from bot.safe import SafeText
from bot.services import outbox
from bot.services.guard import PiiRefused

if TYPE_CHECKING:
    from bot.app import Core

log = logging.getLogger(__name__)


def _withheld_notice(_: Translator, *, number: int) -> SafeText:
    return _(
        "Message {number} was not sent: it contained personal data of a person. Check the "
        "data of the latest notifications; the log has the details without the data.",
        number=number,
    )


# After this many failed sends in a row Telegram is taken to be away: the pass stops.
MAX_FAILURES_IN_A_ROW = 3


async def drain_outbox(bot: Bot, core: Core, *, batch: int = 20) -> int:
    """Send every due message; returns how many were sent.

    A message whose send fails waits (with backoff) on its own: the others go on.
    Only when several sends in a row fail, or Telegram asks to slow down, does the
    pass stop; the messages it did not try are given back at once, not left to
    wait for their lease.
    """
    sent = 0
    failures_in_a_row = 0
    while True:
        claimed = await core.db.run(outbox.claim_due, core.db, core.clock.now(), limit=batch)
        if not claimed:
            return sent
        for position, message in enumerate(claimed):
            if failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
                await core.db.run(outbox.release, core.db, claimed[position:])
                return sent
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
                    message.chat_id, message.text, reply_markup=markup, reply_parameters=reply
                )
            except RetryAfter as exc:
                wait = exc.retry_after
                seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
                await core.db.run(
                    outbox.mark_retry,
                    core.db,
                    message,
                    error="RetryAfter",
                    now=core.clock.now(),
                    after=timedelta(seconds=seconds),
                )
                # Telegram asks us to slow down: stop this pass, the rest is due again.
                await core.db.run(outbox.release, core.db, claimed[position + 1 :])
                return sent
            except (PiiRefused, Forbidden, BadRequest) as exc:
                log.error(
                    "outbox.failed", extra={"outbox_id": message.id, "error": type(exc).__name__}
                )
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
                    await notify_coordinators(
                        bot, core, partial(_withheld_notice, number=message.id)
                    )
            except TelegramError as exc:
                log.warning(
                    "outbox.retry", extra={"outbox_id": message.id, "error": type(exc).__name__}
                )
                await core.db.run(
                    outbox.mark_retry,
                    core.db,
                    message,
                    error=type(exc).__name__,
                    now=core.clock.now(),
                )
                failures_in_a_row += 1  # this one waits; the next is tried
            else:
                failures_in_a_row = 0
                await core.db.run(
                    outbox.mark_sent,
                    core.db,
                    message,
                    message_id=result.message_id,
                    now=core.clock.now(),
                )
                sent += 1
