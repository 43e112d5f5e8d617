"""The Bekend / Niet bekend buttons under an announcement, in the partner group or privately."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes

from bot.handlers.common import CLOSED_OR_UNKNOWN, authorize_button
from bot.services.announcements import AnswerOutcome

if TYPE_CHECKING:
    from bot.core import Core
    from bot.scheduling.tally_editor import TallyEditor

# ans:<announcement id>:<y|n>; anything else is forged or stale.
ANSWER_DATA = re.compile(r"^ans:([0-9]{1,12}):([yn])$")


def register(
    application: Application[Any, Any, Any, Any, Any, Any], core: Core, editor: TallyEditor
) -> None:
    async def answer(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Records the presser's organisation's answer; confirms at once, edits later."""
        query = update.callback_query
        caller = await authorize_button(update, core, "ans")
        if caller is None or query is None or caller.member is None:
            return
        _ = caller.tr
        match = ANSWER_DATA.match(query.data or "")
        message = query.message
        if match is None or message is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        announcement_id, known = int(match.group(1)), match.group(2) == "y"
        result = await core.db.transact(
            core.announcements.record,
            announcement_id=announcement_id,
            chat_id=message.chat.id,
            message_id=message.message_id,
            member=caller.member,
            known=known,
            now=core.clock.now(),
        )
        if result.outcome is AnswerOutcome.CLOSED_OR_UNKNOWN:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        organisation = result.organisation_name
        assert organisation is not None  # noqa: S101 - set for every other outcome
        if result.outcome is AnswerOutcome.THEME_NOT_ALLOWED:
            await query.answer(
                _(
                    "{organisation} does not take part in this theme; nothing was recorded.",
                    organisation=organisation,
                ),
                show_alert=True,
            )
            return
        answer_text = _("known") if known else _("not known")
        try:
            await query.answer(
                _(
                    "Noted for {organisation}: {answer}.",
                    organisation=organisation,
                    answer=answer_text,
                )
            )
        finally:
            # The answer is recorded: the tally shows it even if the confirmation failed.
            if result.outcome is not AnswerOutcome.UNCHANGED:
                editor.request(context.bot, announcement_id)

    application.add_handler(CallbackQueryHandler(answer, pattern=r"^ans:"))
