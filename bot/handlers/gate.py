"""The gate: the bot acts only in the partner group and in private chats."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, ContextTypes, TypeHandler

from bot.handlers.common import chat_kind

if TYPE_CHECKING:
    from bot.app import Core

log = logging.getLogger(__name__)


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    async def gate(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stops every update that does not come from one of our chats."""
        chat = update.effective_chat
        if chat is None or chat_kind(chat, core) is None:
            log.info(
                "update.ignored",
                extra={"chat_type": chat.type if chat else None, "update_id": update.update_id},
            )
            raise ApplicationHandlerStop

    application.add_handler(TypeHandler(Update, gate), group=-1)
