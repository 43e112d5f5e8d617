"""A handler that meets the database away runs again once it is back.

What someone pressed or said is never dropped because the database could not be
reached for a while: the handler that failed is tried again (a short backoff,
capped at a few seconds) until it gets through. The person is told "one moment"
once when that takes long. Updates are handled one at a time, so the ones after
it wait their turn. When the bot stops meanwhile, the update is cut: the intake
(bot.intake) then leaves it unconfirmed, and Telegram delivers it again at the
next start.

A handler may be run more than once this way, so it must (and does) do its
database work before its Telegram calls, in one transaction.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop

from bot.i18n import language_for, translator
from bot.storage.engine import unavailable

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

Callback = Callable[[Any, Any], Coroutine[Any, Any, Any]]

# Where register_all keeps the one DatabaseWait of an Application.
DATABASE_WAIT = "database_wait"


@dataclass
class _Waiting:
    update_id: int
    since: datetime
    told: bool = False


class DatabaseWait:
    """Runs every handler of an Application again while the database is away.

    Args:
        core: the database (and its outage log) and the clock.
        first_delay: seconds before the first try again; doubled each time.
        max_delay: the longest wait between two tries.
        tell_after: how long an update may wait before the person hears "one moment".
    """

    def __init__(
        self,
        core: Core,
        *,
        first_delay: float = 0.25,
        max_delay: float = 2.0,
        tell_after: timedelta = timedelta(seconds=2),
    ) -> None:
        self._core = core
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._tell_after = tell_after
        self._stopping = asyncio.Event()
        self._waiting: _Waiting | None = None
        self._cut: set[int] = set()

    @classmethod
    def of(cls, application: Application[Any, Any, Any, Any, Any, Any]) -> DatabaseWait:
        """The DatabaseWait that `register_all` put on `application`."""
        wait = application.bot_data[DATABASE_WAIT]
        assert isinstance(wait, cls)  # noqa: S101 - set by register_all
        return wait

    def wrap(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Make every handler registered so far wait for the database (call it once, last)."""
        application.bot_data[DATABASE_WAIT] = self
        for handlers in application.handlers.values():
            for handler in handlers:
                handler.callback = self._patient(handler.callback)

    def stop(self) -> None:
        """End every wait now: the update waiting is cut (see `was_cut`)."""
        self._stopping.set()

    def was_cut(self, update: object) -> bool:
        """Tell whether `update` was left unfinished because the bot stopped."""
        return isinstance(update, Update) and update.update_id in self._cut

    def _patient(self, callback: Callback) -> Callback:
        job = f"{callback.__module__.rsplit('.', 1)[-1]}.{callback.__name__}"
        outages = self._core.db.outages

        @functools.wraps(callback)
        async def patient(update: object, context: Any) -> Any:
            attempt = 0
            while True:
                try:
                    result = await callback(update, context)
                except ApplicationHandlerStop:
                    raise
                except Exception as error:
                    if not unavailable(error):
                        raise
                    outages.failed(job, error)
                    if not await self._wait(update, context, attempt):
                        if isinstance(update, Update):
                            self._cut.add(update.update_id)
                        raise ApplicationHandlerStop from None
                    attempt += 1
                    continue
                outages.worked(job)
                return result

        return patient

    async def _wait(self, update: object, context: Any, attempt: int) -> bool:
        """Sleep before the next try; False: the bot is stopping."""
        if self._stopping.is_set():
            return False
        delay = min(self._first_delay * 2**attempt, self._max_delay)
        if isinstance(update, Update):
            now = self._core.clock.now()
            waiting = self._waiting
            if waiting is None or waiting.update_id != update.update_id:
                waiting = self._waiting = _Waiting(update.update_id, now)
            if not waiting.told:
                left = (waiting.since + self._tell_after - now).total_seconds()
                if left <= 0:
                    waiting.told = True
                    await _one_moment(update, context, self._core.settings.locale)
                else:
                    delay = min(delay, left)
        try:
            async with asyncio.timeout(delay):
                await self._stopping.wait()
        except TimeoutError:
            return True
        return False


async def _one_moment(update: Update, context: Any, default_locale: str) -> None:
    """Tell the person their press or command waits; nothing for other updates."""
    user, chat, message = update.effective_user, update.effective_chat, update.message
    query = update.callback_query
    command = message is not None and (message.text or "").startswith("/")
    if user is None or chat is None or (query is None and not command):
        return
    _ = translator(language_for(user.language_code, default_locale))
    text = _("One moment, please: I will handle this as soon as I can.")
    try:
        if query is not None:
            await query.answer(text)
        else:
            await context.bot.send_message(chat.id, text)
    except TelegramError as error:
        log.warning("one_moment.not_sent", extra={"error": type(error).__name__})
