"""Keeps each announcement showing who answered, with as few edits as possible.

An answer asks for a render of its announcement; the first request starts a
short timer (VHBOT_EDIT_DELAY_SECONDS) and later ones within it ride along, so
many presses in a few seconds give one edit. The state is in the database
(answers_version / rendered_version): after a restart `catch_up` renders
whatever was left behind. Group edits also pass PTB's rate limiter, which keeps
to Telegram's 20 per minute and honours retry_after.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, TelegramError

from bot.i18n import translator
from bot.storage.models import Announcement
from bot.views.announcements import announcement_text, answer_keyboard

if TYPE_CHECKING:
    from bot.app import Core

log = logging.getLogger(__name__)


class TallyEditor:
    def __init__(self, core: Core, *, delay: float) -> None:
        self._core = core
        self._delay = delay
        self._scheduled: dict[int, asyncio.Task[None]] = {}

    def request(self, bot: Bot, announcement_id: int) -> None:
        """Ask for the announcement to show its current state soon."""
        if announcement_id in self._scheduled:
            return  # a render is already on its way and will read the newest state
        task = asyncio.create_task(self._render_later(bot, announcement_id))
        self._scheduled[announcement_id] = task

    async def _render_later(self, bot: Bot, announcement_id: int) -> None:
        try:
            await asyncio.sleep(self._delay)
        finally:
            self._scheduled.pop(announcement_id, None)
        await self.render(bot, announcement_id)

    async def render(self, bot: Bot, announcement_id: int) -> None:
        core = self._core
        _ = translator(core.settings.locale)

        def read() -> tuple[int, int, int | None, str, str]:
            with core.db.session() as session:
                announcement = session.get(Announcement, announcement_id)
                assert announcement is not None  # noqa: S101 - requested for existing ids
                facts = core.answers.facts(session, announcement_id)
                tally = core.answers.tally(session, announcement_id)
                return (
                    announcement.answers_version,
                    announcement.chat_id,
                    announcement.message_id,
                    announcement_text(facts, tally, _, core.settings.tz),
                    answer_keyboard(announcement_id, _),
                )

        version, chat_id, message_id, text, keyboard = await core.db.run(read)
        if message_id is None:
            return
        try:
            await bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                reply_markup=InlineKeyboardMarkup.de_json(json.loads(keyboard), bot),
            )
        except BadRequest as exc:
            if "not modified" not in str(exc):
                log.warning("tally.edit_failed", extra={"error": type(exc).__name__})
                return
        except TelegramError as exc:
            # Stays behind in the database; the next answer or catch_up renders it.
            log.warning("tally.edit_failed", extra={"error": type(exc).__name__})
            return

        def done() -> None:
            with core.db.session() as session:
                core.answers.mark_rendered(session, announcement_id, version)

        await core.db.run(done)

    async def catch_up(self, bot: Bot) -> int:
        """Render every announcement whose shown state is behind (e.g. after downtime)."""
        core = self._core

        def behind() -> list[int]:
            with core.db.session() as session:
                return core.answers.needing_render(session)

        pending = await core.db.run(behind)
        for announcement_id in pending:
            await self.render(bot, announcement_id)
        return len(pending)

    async def close(self) -> None:
        for task in list(self._scheduled.values()):
            task.cancel()
        self._scheduled.clear()
