"""The answer to anything in a private chat that no other handler took: an unknown
command, free text, a photo or a file. Registered last, so every real command and
button comes first. The answer never echoes what was sent, and nothing of it is logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, ContextTypes, MessageHandler, filters

from bot.i18n import language_for, translator

if TYPE_CHECKING:
    from bot.core import Core


async def not_understood(update: Update, core: Core) -> None:
    """The short answer to what nothing else took; never echoes what was sent."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    _ = translator(language_for(user.language_code, core.settings.locale))
    if message.text is not None and message.text.startswith("/"):
        text = _("I do not know that command. Send /help to see the commands you can use.")
    else:
        text = _(
            "I only understand commands. Send /help to see the commands you can use. "
            "Never send personal details to me: I show them only on my own page."
        )
    await update.get_bot().send_message(message.chat.id, text)


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    async def fallback(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        await not_understood(update, core)

    # Service messages (a pinned message, a new chat photo) are not someone talking to us.
    talk = filters.TEXT | filters.COMMAND | filters.ATTACHMENT | filters.CONTACT | filters.LOCATION
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & talk & ~filters.UpdateType.EDITED, fallback)
    )
