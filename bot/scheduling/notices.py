"""Direct messages to the coordinators, sent at once (not through the outbox).

Used by the outbox sender (a message the guard withheld) and the group gate (a
stranger who could not be removed). It sits with the duties, below the
handlers, so both can use it without a cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from telegram import Bot
from telegram.error import TelegramError

from bot.i18n import Translator, translator
from bot.safe import SafeText

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)


async def notify_coordinators(
    bot: Bot, core: Core, render: Callable[[Translator], SafeText]
) -> int:
    """Send a private message to every active coordinator, each in their language.

    Returns how many were reached; a coordinator who blocked the bot is logged, not fatal.
    """

    reached = 0
    for coordinator in await core.db.transact(core.memberships.coordinators):
        language = coordinator.language or core.settings.locale
        try:
            await bot.send_message(coordinator.telegram_id, render(translator(language)))
            reached += 1
        except TelegramError as exc:
            log.warning("coordinator.unreachable", extra={"error": type(exc).__name__})
    return reached
