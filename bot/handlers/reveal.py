"""Links to the personal details: [Gegevens bekijken] under an announcement and /zaak
REF; a coordinator's /melding (the form for a new melding, on the same pages); and
the coordinators' /pincode, /ontgrendel and /intrekken.

A link always goes to the member's private chat, never to the group. One that
cannot be delivered is withdrawn at once, and the member is told why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session
from telegram import LinkPreviewOptions, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.domain.reveal import LinkKind
from bot.handlers.common import CLOSED_OR_UNKNOWN, NOT_REGISTERED, Caller, authorize_command
from bot.handlers.common import authorize_button as authorize_press
from bot.handlers.members import acknowledge
from bot.i18n import Translator
from bot.safe import CaseReference, SafeText
from bot.services.reveal import (
    CommandRefusal,
    IssuedLink,
    Refusal,
    Refused,
    RevealError,
)
from bot.views.reveal import link_text, melding_form_link_text, setup_code_text

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

# rv:<announcement id>; anything else is forged or stale.
VIEW_DATA = re.compile(r"rv:([0-9]{1,12})")
NUMBER = re.compile(r"#?([0-9]{1,9})")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)  # Telegram must not fetch the page

T = TypeVar("T")


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = RevealHandlers(core)
    application.add_handler(CallbackQueryHandler(handlers.view_details, pattern=r"^rv:"))
    application.add_handler(CommandHandler("zaak", handlers.case_link))
    application.add_handler(CommandHandler("melding", handlers.melding_form_link))
    application.add_handler(CommandHandler("pincode", handlers.setup_code))
    application.add_handler(CommandHandler("ontgrendel", handlers.unlock))
    application.add_handler(CommandHandler("intrekken", handlers.revoke))


class RevealHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    # -- links ---------------------------------------------------------------------

    async def view_details(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """[Gegevens bekijken]: a one-time link to the announcement's page, privately."""
        query = update.callback_query
        caller = await authorize_press(update, self._core, "rv")
        if caller is None or query is None or caller.member is None:
            return
        _ = caller.tr
        match = VIEW_DATA.fullmatch(query.data or "")
        if match is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        member_id, announcement_id = caller.member.member_id, int(match.group(1))
        issued = await self._core.db.transact(
            self._core.reveals.issue_link, member_id, LinkKind.ANNOUNCEMENT, announcement_id
        )
        if isinstance(issued, Refused):
            await query.answer(
                issue_refused_text(issued, LinkKind.ANNOUNCEMENT, _), show_alert=True
            )
            return
        problem = await self._deliver(update, caller, issued)
        if problem is not None:
            await query.answer(problem, show_alert=True)
            return
        await acknowledge(query, _("I have sent you a link in our private chat."))

    async def case_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/zaak REF: a one-time link to the case page."""
        caller = await authorize_command(update, self._core, "zaak")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        args = context.args or []
        reference = CaseReference.or_none(args[0].upper()) if len(args) == 1 else None
        if reference is None:
            await self._reply(
                update,
                caller,
                _("Usage: /zaak REF, with a case reference such as VH-2026-0042."),
            )
            return
        member_id = caller.member.member_id
        issued = await self._core.db.transact(
            self._core.reveals.issue_case_link, member_id, reference
        )
        if isinstance(issued, Refused):
            await self._reply(update, caller, issue_refused_text(issued, LinkKind.CASE, _))
            return
        problem = await self._deliver(update, caller, issued)
        if problem is not None:
            await self._reply(update, caller, problem)

    async def melding_form_link(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/melding: a one-time link to the form for a new melding (typed there, never here)."""
        caller = await authorize_command(update, self._core, "melding")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        if context.args:
            # Whatever followed the command may be personal data: never echoed or kept,
            # and the message itself is deleted where Telegram lets the bot.
            await self._delete_typed(update)
            await self._reply(
                update,
                caller,
                _(
                    "Never type personal details into Telegram: /melding alone gives you a "
                    "link to the form."
                ),
            )
        issued = await self._core.db.transact(
            self._core.reveals.issue_melding_form_link, caller.member.member_id
        )
        if isinstance(issued, Refused):
            await self._reply(update, caller, issue_refused_text(issued, LinkKind.MELDING_FORM, _))
            return
        problem = await self._deliver(update, caller, issued, LinkKind.MELDING_FORM)
        if problem is not None:
            await self._reply(update, caller, problem)

    async def _delete_typed(self, update: Update) -> None:
        message = update.effective_message
        if message is None:
            return
        try:
            await message.delete()
        except TelegramError as exc:
            log.info("reveal.typed_not_deleted", extra={"error": type(exc).__name__})

    async def _deliver(
        self,
        update: Update,
        caller: Caller,
        issued: IssuedLink,
        kind: LinkKind = LinkKind.ANNOUNCEMENT,
    ) -> SafeText | None:
        """Send the link privately; None when sent, else (the link withdrawn) what to tell.

        A link that did not go out for any reason, an unexpected one included, is
        withdrawn: nobody may hold a working link the bot does not know was sent.
        """
        core, _ = self._core, caller.tr
        try:
            text = (
                melding_form_link_text(
                    _,
                    url=issued.url,
                    expires_at=issued.expires_at,
                    needs_setup=issued.needs_setup,
                    tz=core.settings.tz,
                )
                if kind is LinkKind.MELDING_FORM
                else link_text(
                    _,
                    url=issued.url,
                    subject=issued.subject,
                    expires_at=issued.expires_at,
                    needs_setup=issued.needs_setup,
                    tz=core.settings.tz,
                )
            )
            await update.get_bot().send_message(
                caller.telegram_id, text, link_preview_options=NO_PREVIEW
            )
            return None
        except (Forbidden, BadRequest) as exc:
            # Never started a private chat with the bot, or blocked it.
            log.info("reveal.link_undeliverable", extra={"error": type(exc).__name__})
            await self._withdraw(issued, "no_private_chat")
            return _(
                "I cannot send you a private message. Open a private chat with me, press "
                "Start, and ask again."
            )
        except TelegramError as exc:
            log.warning("reveal.link_not_sent", extra={"error": type(exc).__name__})
            await self._withdraw(issued, "telegram")
            return _("I could not send the link just now. Please try again.")
        except Exception:
            await self._withdraw(issued, "failed")
            raise

    async def _withdraw(self, issued: IssuedLink, reason: str) -> None:
        await self._core.db.transact(self._core.reveals.withdraw_link, issued.link_id, reason)

    # -- the coordinators' commands ----------------------------------------------------

    async def setup_code(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/pincode N: a set-up code for member N, to hand over by phone or in person."""
        done = await self._on_member(
            update, context, "pincode", self._core.reveals.create_setup_code
        )
        if done is None:
            return
        caller, _number, issued = done
        text = setup_code_text(
            caller.tr,
            code=issued.code,
            number=issued.member_id,
            name=issued.member_name,
            organisation=issued.organisation,
            expires_at=issued.expires_at,
            tz=self._core.settings.tz,
        )
        await self._reply(update, caller, text)

    async def unlock(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/ontgrendel N: member N's links work again, with five fresh tries."""
        done = await self._on_member(update, context, "ontgrendel", self._core.reveals.unlock)
        if done is None:
            return
        caller, number, was_locked = done
        _ = caller.tr
        if was_locked:
            text = _("Member {number} is unlocked: their links work again.", number=number)
        else:
            text = _("Member {number} was not locked; nothing changed.", number=number)
        await self._reply(update, caller, text)

    async def revoke(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/intrekken N: every open link of member N stops working."""
        done = await self._on_member(update, context, "intrekken", self._core.reveals.revoke_links)
        if done is None:
            return
        caller, number, revoked = done
        _ = caller.tr
        text = _("Revoked {count} open links of member {number}.", count=revoked, number=number)
        await self._reply(update, caller, text)

    async def _on_member(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        command: str,
        work: Callable[[Session, int, str], T],
    ) -> tuple[Caller, int, T] | None:
        """`/command N` by a permitted coordinator: `work(session, N, actor)` in one
        transaction. None when it was answered already: a usage line for a missing or
        malformed number, or the refusal (audited) the service raised."""
        core = self._core
        caller = await authorize_command(update, core, command)
        if caller is None or caller.member is None:
            return None
        _ = caller.tr
        args = context.args or []
        match = NUMBER.fullmatch(args[0]) if len(args) == 1 and args[0].isascii() else None
        if match is None:
            usage = {
                "pincode": _("Usage: /pincode NUMBER, with the member's number from /leden."),
                "ontgrendel": _("Usage: /ontgrendel NUMBER, with the member's number from /leden."),
                "intrekken": _("Usage: /intrekken NUMBER, with the member's number from /leden."),
            }[command]
            await self._reply(update, caller, usage)
            return None
        number = int(match.group(1))
        try:
            return caller, number, await core.db.transact(work, number, caller.actor)
        except RevealError as error:
            reason = error.reason
        await core.db.transact(
            core.memberships.record_refusal,
            actor=caller.actor,
            what=f"command:{command}",
            reason=reason.value,
        )
        await self._reply(update, caller, command_refused_text(reason, _))
        return None

    async def _reply(self, update: Update, caller: Caller, text: SafeText) -> None:
        await update.get_bot().send_message(caller.chat_id, text)


def issue_refused_text(refused: Refused, kind: LinkKind, _: Translator) -> SafeText:
    """Why no link was made; the same words whatever was typed."""
    match refused.reason:
        case Refusal.LOCKED:
            return _(
                "Your links are locked after too many wrong PINs. A coordinator can unlock "
                "them after checking with you (/ontgrendel)."
            )
        case Refusal.MEMBER_INACTIVE:
            return _(NOT_REGISTERED)
        case Refusal.NOT_ALLOWED if kind is LinkKind.MELDING_FORM:
            return _("Only a coordinator can enter a melding.")
        case Refusal.NOT_ALLOWED if kind is LinkKind.CASE:
            return _(
                "Only a coordinator whose organisation takes part in the case's theme, or "
                "the case's casemanager, can open this case."
            )
        case Refusal.NOT_ALLOWED:
            return _("Your organisation does not take part in this theme.")
        case _ if kind is LinkKind.CASE:
            return _("There is no case with that reference.")
        case _:
            return _(CLOSED_OR_UNKNOWN)


def command_refused_text(reason: CommandRefusal, _: Translator) -> SafeText:
    match reason:
        case CommandRefusal.SELF:
            return _("Another coordinator must do this for you.")
        case CommandRefusal.OWN_INVITEE:
            return _(
                "You invited this member yourself, so another coordinator must give them a "
                "set-up code."
            )
        case _:
            return _("There is no active member with that number.")
