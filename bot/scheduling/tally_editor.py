"""Keeps each announcement showing who answered, with as few edits as possible.

An answer asks for a render of its announcement; the first request starts a
short timer (VHBOT_EDIT_DELAY_SECONDS) and later ones within it ride along, so
many presses in a few seconds give one edit. The state is in the database
(answers_version / rendered_version): after a restart `catch_up` renders
whatever was left behind. Group edits also pass PTB's rate limiter, which keeps
to Telegram's 20 per minute and honours retry_after.

A failed edit is tried again with backoff (from the edit delay, doubling, at
most 30 s; after Telegram's retry_after when it gave one) until it is shown, and
the running bot calls `catch_up` now and again for whatever is still behind. An
edit Telegram refuses for good (the message was deleted) is given up, with one
log line, until the next answer on that announcement asks again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardMarkup
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.backoff import Backoff, unless_stopped
from bot.i18n import translator
from bot.scheduling.pacer import BACKGROUND
from bot.services.guard import PiiRefused
from bot.storage.models import Announcement
from bot.views.announcements import announcement_text, answer_keyboard

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)


class TallyEditor:
    def __init__(self, core: Core, *, delay: float, backoff: Backoff | None = None) -> None:
        self._core = core
        self._delay = delay
        self._backoff = backoff or Backoff(first=delay, cap=30.0)
        # announcement id -> the task waiting to render it (debounce or retry)
        self._scheduled: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # waiting or rendering
        self._failures: dict[int, int] = {}  # failed edits in a row
        self._given_up: set[int] = set()
        self._closed = False
        self._closing = asyncio.Event()  # ends a catch-up's wait for the group's slot

    def request(self, bot: ExtBot[Any], announcement_id: int) -> None:
        """Ask for the announcement to show its current state soon."""
        if self._closed:
            return
        # A press came from the message, so it is there to edit after all.
        self._given_up.discard(announcement_id)
        if announcement_id in self._scheduled:
            return  # a render is already on its way and will read the newest state
        self._schedule(bot, announcement_id, self._delay)

    def _schedule(self, bot: ExtBot[Any], announcement_id: int, wait: float) -> None:
        task = asyncio.create_task(self._render_after(bot, announcement_id, wait))
        self._scheduled[announcement_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _render_after(self, bot: ExtBot[Any], announcement_id: int, wait: float) -> None:
        try:
            await asyncio.sleep(wait)
        finally:
            if self._scheduled.get(announcement_id) is asyncio.current_task():
                del self._scheduled[announcement_id]
        await self._attempt(bot, announcement_id)

    async def _attempt(self, bot: ExtBot[Any], announcement_id: int) -> None:
        """Render once; after a failure, schedule the next try or give up."""
        try:
            await self.render(bot, announcement_id)
        except (BadRequest, PiiRefused) as exc:
            # The same edit will be refused again (message deleted, text refused).
            self._failures.pop(announcement_id, None)
            self._given_up.add(announcement_id)
            log.error(
                "tally.edit_given_up",
                extra={"announcement_id": announcement_id, "error": type(exc).__name__},
            )
        except Exception as exc:  # network, 5xx, 403, flood control, database: passing
            failures = self._failures.get(announcement_id, 0) + 1
            self._failures[announcement_id] = failures
            wait = self._backoff.wait_after(exc, failures)
            log.warning(
                "tally.edit_failed",
                extra={
                    "announcement_id": announcement_id,
                    "error": type(exc).__name__,
                    "attempt": failures,
                    "retry_in": wait,
                },
            )
            if not self._closed and announcement_id not in self._scheduled:
                self._schedule(bot, announcement_id, wait)
        else:
            self._failures.pop(announcement_id, None)

    async def render(self, bot: ExtBot[Any], announcement_id: int) -> None:
        """Edit the announcement to its current state; raises what Telegram refused."""
        core = self._core
        _ = translator(core.settings.locale)

        def read() -> tuple[int, int, int | None, str, str] | None:
            with core.db.session() as session:
                announcement = session.get(Announcement, announcement_id)
                if announcement is None:
                    return None
                facts = core.answers.facts(session, announcement_id)
                tally = core.answers.tally(session, announcement_id)
                return (
                    announcement.answers_version,
                    announcement.chat_id,
                    announcement.message_id,
                    announcement_text(facts, tally, _, core.settings.tz),
                    answer_keyboard(announcement_id, _),
                )

        state = await core.db.run(read)
        if state is None or state[2] is None:
            return
        version, chat_id, message_id, text, keyboard = state
        try:
            await bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=InlineKeyboardMarkup.de_json(json.loads(keyboard), bot),
                rate_limit_args=BACKGROUND,  # its own task: may wait for the group's slot
            )
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise

        def done() -> None:
            with core.db.session() as session:
                core.answers.mark_rendered(session, announcement_id, version)

        await core.db.run(done)

    async def catch_up(self, bot: ExtBot[Any]) -> int:
        """Render every announcement whose shown state is behind (e.g. after downtime).

        Leaves out those already on their way (waiting, or retrying) and those given
        up; returns how many it tried.
        """
        core = self._core

        def behind() -> list[int]:
            with core.db.session() as session:
                return core.answers.needing_render(session)

        pending = [
            announcement_id
            for announcement_id in await core.db.run(behind)
            if announcement_id not in self._scheduled and announcement_id not in self._given_up
        ]
        for announcement_id in pending:
            # An edit may wait up to a minute for the group's slot: a stop ends it.
            if self._closed or not await unless_stopped(
                self._attempt(bot, announcement_id), self._closing
            ):
                break
        return len(pending)

    async def close(self) -> None:
        """Stop every waiting render and retry; later requests are ignored."""
        self._closed = True
        self._closing.set()
        tasks = list(self._tasks)
        self._scheduled.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
