"""The gate: the bot acts only in the partner group and in private chats.

Added to any other group, it says one line and leaves. In the partner group,
an update that shows someone who is not an active member removes them and goes
no further (see bot.handlers.group).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram import Chat, ChatMember, Update
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot.domain.commands import ChatKind
from bot.handlers.common import chat_kind
from bot.handlers.group import turn_away_strangers
from bot.i18n import translator
from bot.storage.engine import unavailable

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

GONE = {ChatMember.LEFT, ChatMember.BANNED}


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    unremovable: dict[int, datetime] = {}

    async def gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stops every update that does not come from one of our chats, or from a stranger."""
        chat = update.effective_chat
        kind = chat_kind(chat, core) if chat is not None else None
        if kind is ChatKind.PARTNER_GROUP:
            try:
                turned_away = await turn_away_strangers(update, context.bot, core, unremovable)
            except Exception as exc:
                if unavailable(exc):
                    raise  # the update waits for the database (bot.handlers.wait)
                # Unsure who is there: the update goes no further.
                log.error("gate.check_failed", extra={"error": type(exc).__name__})
                raise ApplicationHandlerStop from None
            if turned_away:
                raise ApplicationHandlerStop
            return
        if kind is not None:
            return
        log.info(
            "update.ignored",
            extra={"chat_type": chat.type if chat else None, "update_id": update.update_id},
        )
        if chat is not None and chat.type != Chat.PRIVATE:
            await _leave(update, context, chat, core)
        raise ApplicationHandlerStop

    application.add_handler(TypeHandler(Update, gate), group=-1)


async def _leave(
    update: Update, context: ContextTypes.DEFAULT_TYPE, chat: Chat, core: Core
) -> None:
    change = update.my_chat_member
    if change is not None and change.new_chat_member.status in GONE:
        return  # removed from it already
    try:
        if change is not None:  # just added: say why we go
            _ = translator(core.settings.locale)
            await context.bot.send_message(
                chat.id,
                _("I only work in the partner group of the Veiligheidshuis, so I am leaving."),
            )
        await context.bot.leave_chat(chat.id)
        log.info("chat.left", extra={"chat_type": chat.type})
    except TelegramError as exc:
        log.warning("chat.leave_failed", extra={"error": type(exc).__name__})
