"""Updates in: fetched from Telegram by long polling, handled one at a time, and
confirmed to Telegram only once handled.

Telegram keeps an update until a getUpdates call asks for later ones (its
offset). PTB's Updater moves the offset on as soon as it has fetched a batch,
before any handler ran, and once more when it stops: what someone pressed while
the database was away was confirmed, then dropped. Here the offset passes an
update only after it was handled; one whose handling the stop cut (see
bot.handlers.wait) stays with Telegram, which delivers it again at the next
start. A process killed between handling and confirming gets that update once
more: at most one repeat, never a loss.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TimedOut
from telegram.ext import Application

from bot.backoff import retry_after_seconds, unless_stopped
from bot.handlers.wait import DatabaseWait

log = logging.getLogger(__name__)

T = TypeVar("T")

# A long poll's answer may come this much later than its timeout before it counts as lost.
READ_MARGIN = 10.0
# A confirming call at the stop may take this long; then the stop goes on without it.
CONFIRM_TIMEOUT = 2.0


class Intake:
    """The bot's own polling loop (the Application is built without an Updater).

    Args:
        application: the initialized, started Application whose handlers get the updates.
        allowed_updates: the kinds of update to ask Telegram for.
        timeout: seconds one getUpdates call waits for an update (long polling).
        first_delay: seconds before asking again after a failed call; doubled each time.
        max_delay: the longest wait between two failed calls.
    """

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        *,
        allowed_updates: Sequence[str],
        timeout: int,
        first_delay: float = 0.5,
        max_delay: float = 5.0,
    ) -> None:
        self._application = application
        self._allowed = list(allowed_updates)
        self._timeout = timeout
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._offset = 0  # the first update not yet handled (0: whatever Telegram holds)
        self._confirmed = 0  # the offset Telegram was last given
        self._failing: set[str] = set()  # failure kinds logged since the last good call

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and handle updates until `stop` is set, then confirm what was handled.

        Raises:
            InvalidToken: Telegram no longer accepts the token.
        """
        wait = DatabaseWait.of(self._application)
        try:
            bot = self._application.bot
            # No webhook may be set while polling (PTB's Updater does the same).
            if await self._call(bot.delete_webhook, stop) is None:
                return
            while not stop.is_set():
                offset = self._offset
                updates = await self._call(functools.partial(self._fetch, offset), stop)
                if updates is None:
                    return
                self._confirmed = offset
                for update_id, update in updates:
                    if update is not None:
                        await self._handle(update)
                        if wait.was_cut(update):
                            return  # it, and all after it, stay with Telegram
                    self._offset = update_id + 1
                    if stop.is_set():
                        return  # the rest of the batch comes again at the next start
        finally:
            await self._confirm()

    async def _fetch(self, offset: int) -> list[tuple[int, Update | None]]:
        """The updates from `offset` on, each with its id; None for one PTB cannot read.

        Not `bot.get_updates`: PTB reads a batch as a whole, so one update it cannot
        read fails them all (and would hold up every later one), and it logs the raw
        batch, people's messages included, at CRITICAL. Here the JSON is read update
        by update, and an unreadable one is passed over with only its id in the log.
        No public call returns that JSON (do_api_request refuses methods PTB has):
        this is PTB's own `_post`, as `get_updates` itself uses it.
        """
        raw = await self._application.bot._post(
            "getUpdates",
            {"offset": offset, "timeout": self._timeout, "allowed_updates": self._allowed},
            read_timeout=self._timeout + READ_MARGIN,
        )
        return [self._read(entry) for entry in raw if isinstance(entry, dict)]

    def _read(self, entry: dict[str, Any]) -> tuple[int, Update | None]:
        update_id = int(entry.get("update_id", 0))
        try:
            return update_id, Update.de_json(entry, self._application.bot)
        except Exception as error:  # what PTB cannot read, nobody can handle
            log.error(
                "update.unreadable", extra={"update_id": update_id, "error": type(error).__name__}
            )
            return update_id, None

    async def _handle(self, update: Update) -> None:
        try:
            await self._application.process_update(update)
        except Exception as error:
            # Handlers' errors go to the error handler; this is PTB itself failing.
            log.error(
                "update.failed",
                extra={"update_id": update.update_id, "error": type(error).__name__},
            )

    async def _call(
        self, call: Callable[[], Coroutine[Any, Any, T]], stop: asyncio.Event
    ) -> T | None:
        """What `call()` returns, calling again after failures; None once `stop` is set."""
        delay = self._first_delay
        while True:
            try:
                task = asyncio.ensure_future(call())
                if not await unless_stopped(task, stop):
                    return None
                result = task.result()
            except InvalidToken:
                raise
            except RetryAfter as error:
                self._failed(error)
                pause_seconds = retry_after_seconds(error)
            except TimedOut as error:
                self._failed(error)
                pause_seconds = 0.0  # a long poll that took too long: ask again at once
            except Exception as error:  # TelegramError, or no answer at all
                self._failed(error)
                pause_seconds, delay = delay, min(delay * 2, self._max_delay)
            else:
                if self._failing:
                    log.info("polling.back", extra={"failures": sorted(self._failing)})
                    self._failing.clear()
                return result
            if not await _pause(pause_seconds, stop):
                return None

    def _failed(self, error: BaseException) -> None:
        kind = type(error).__name__
        if kind not in self._failing:
            self._failing.add(kind)
            log.warning("polling.failed", extra={"error": kind})

    async def _confirm(self) -> None:
        """Tell Telegram which updates were handled (a short call that fetches nothing new)."""
        if self._offset <= self._confirmed:
            return
        try:
            async with asyncio.timeout(CONFIRM_TIMEOUT):
                # Raw, like _fetch: the update it returns is not read (it may be unreadable).
                await self._application.bot._post(
                    "getUpdates",
                    {"offset": self._offset, "timeout": 0, "limit": 1},
                )
        except Exception as error:
            # They come again at the next start: handled twice, never lost.
            log.warning("updates.not_confirmed", extra={"error": type(error).__name__})
        else:
            self._confirmed = self._offset


async def _pause(seconds: float, stop: asyncio.Event) -> bool:
    """Wait `seconds`; False when `stop` is set meanwhile."""
    if stop.is_set():
        return False
    if seconds <= 0:
        return True
    try:
        async with asyncio.timeout(seconds):
            await stop.wait()
    except TimeoutError:
        return True
    return False
