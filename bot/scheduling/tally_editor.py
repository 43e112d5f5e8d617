"""Keeps each announcement showing who answered, with as few edits as possible.

An announcement may show in several messages (the partner group, or one private
chat per member for a restricted theme): a render edits each of them that is
behind. An answer asks for a render of its announcement; the first request starts a
short timer (VHBOT_EDIT_DELAY_SECONDS) and later ones within it ride along, so
many presses in a few seconds give one edit. The state is in the database
(answers_version, and rendered_version per message): after a restart `catch_up` renders
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
from bot.scheduling.pacer import BACKGROUND
from bot.services.announcements import Edit
from bot.services.guard import PiiRefused

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
        self._catching_up: set[asyncio.Task[Any]] = set()
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
        """Edit every message of the announcement that is behind to its current state.

        The messages (the group's, or one per member in private chats) are edited
        side by side; each is marked shown as its edit succeeds. Raises what Telegram
        refused: a passing failure before one refused for good, so a retry follows.
        """
        core = self._core

        def read() -> list[Edit]:
            with core.db.session() as session:
                return core.announcements.edits(session, announcement_id)

        edits = await core.db.run(read)
        results = await asyncio.gather(
            *(self._edit(bot, announcement_id, edit) for edit in edits), return_exceptions=True
        )
        failures = [result for result in results if isinstance(result, BaseException)]
        for failure in failures:
            if not isinstance(failure, Exception):
                raise failure  # cancelled: the editor is closing
        passing = [f for f in failures if not isinstance(f, (BadRequest, PiiRefused))]
        if failures:
            raise (passing or failures)[0]

    async def _edit(self, bot: ExtBot[Any], announcement_id: int, edit: Edit) -> None:
        core = self._core
        try:
            await bot.edit_message_text(
                edit.text,
                chat_id=edit.chat_id,
                message_id=edit.message_id,
                reply_markup=InlineKeyboardMarkup.de_json(json.loads(edit.keyboard), bot),
                rate_limit_args=BACKGROUND,  # its own task: may wait for the chat's slot
            )
        except BadRequest as exc:
            if "not modified" not in str(exc):
                raise

        def done() -> None:
            with core.db.session() as session:
                core.announcements.mark_rendered(
                    session, announcement_id, edit.chat_id, edit.version
                )

        await core.db.run(done)

    async def catch_up(self, bot: ExtBot[Any]) -> int:
        """Render every announcement whose shown state is behind (e.g. after downtime).

        Leaves out those already on their way (waiting, or retrying) and those given
        up; returns how many it tried.
        """
        task = asyncio.current_task()
        assert task is not None  # noqa: S101 - called from a task, as every coroutine
        self._catching_up.add(task)
        try:
            return await self._catch_up(bot)
        finally:
            self._catching_up.discard(task)

    async def _catch_up(self, bot: ExtBot[Any]) -> int:
        core = self._core

        def behind() -> list[int]:
            with core.db.session() as session:
                return core.announcements.needing_render(session)

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

    async def idle(self) -> None:
        """Wait until no render is waiting, retrying or under way, and no catch-up runs.

        What a test waits for before it counts edits: every edit asked for has had
        its chance to happen.
        """
        while busy := [*self._tasks, *self._catching_up]:
            await asyncio.wait(busy)

    async def close(self) -> None:
        """Stop every waiting render and retry; later requests are ignored."""
        self._closed = True
        self._closing.set()
        tasks = list(self._tasks)
        self._scheduled.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
