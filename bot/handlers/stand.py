"""/stand [THEMA]: today's state, one message, with its chart as a photo.

The photo goes first: with the whole text as its caption when that fits
Telegram's 1024 characters, else with a short caption and the text right after
it. The typed theme is parsed here and never repeated in an answer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.handlers.common import authorize_command, theme_argument
from bot.views.agenda import themes_text
from bot.views.stand import stand_chart, stand_messages

if TYPE_CHECKING:
    from bot.core import Core


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    application.add_handler(CommandHandler("stand", StandHandlers(core).stand))


class StandHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def stand(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/stand [THEMA]: the state of affairs and its chart."""
        core = self._core
        caller = await authorize_command(update, core, "stand")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        bot = update.get_bot()
        try:
            theme = theme_argument(context.args or [])
        except ValueError:
            heading = _("There is no such theme. Narrow the state with one of these: /stand THEMA")
            await bot.send_message(caller.chat_id, themes_text(_, heading))
            return
        facts = await core.db.transact(
            core.stand.facts, core.clock.now(), member_id=caller.member.member_id, theme=theme
        )
        if facts is None:
            await bot.send_message(
                caller.chat_id,
                _(
                    "Your organisation does not work on that theme, so its state is not "
                    "shown to you. /stand shows the themes it does work on."
                ),
            )
            return
        caption, text = stand_messages(facts, _, core.settings.tz)
        # Drawing takes a moment (a tenth of a second or more): off the event loop.
        chart = await asyncio.to_thread(stand_chart, facts.chart, _)
        await bot.send_photo(caller.chat_id, chart, caption=caption, filename="stand.png")
        if text is not None:
            await bot.send_message(caller.chat_id, text)
