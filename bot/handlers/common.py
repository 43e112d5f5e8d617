"""What every handler needs: who is asking, may they, and in which language to answer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import Chat, Update

from bot.domain.commands import ChatKind, Refusal, decide, decide_button
from bot.domain.roles import Role, Theme
from bot.i18n import Translator, language_for, mark, translator
from bot.safe import SafeText
from bot.services.members import MemberView
from bot.views.members import ROLE_LABELS as ROLE_LABELS  # re-exported: where handlers look
from bot.views.members import role_names as role_names

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

NOT_REGISTERED = mark("You are not (or no longer) registered with the Veiligheidshuis.")
CLOSED_OR_UNKNOWN = mark("This request is closed or unknown.")


@dataclass(frozen=True)
class Caller:
    """The person behind an update, as far as the bot knows them."""

    telegram_id: int
    member: MemberView | None
    language: str
    chat_id: int
    chat: ChatKind

    @property
    def roles(self) -> frozenset[Role] | None:
        return self.member.roles if self.member is not None else None

    @property
    def active(self) -> bool:
        return self.member is not None and self.member.active

    @property
    def actor(self) -> str:
        if self.member is not None:
            return f"member:{self.member.member_id}"
        return f"tg:{self.telegram_id}"

    @property
    def tr(self) -> Translator:
        return translator(self.language)


def chat_kind(chat: Chat, core: Core) -> ChatKind | None:
    if chat.type == Chat.PRIVATE:
        return ChatKind.PRIVATE
    if chat.id == core.settings.partner_chat_id:
        return ChatKind.PARTNER_GROUP
    return None


async def identify(update: Update, core: Core) -> Caller | None:
    """Look up the sender; records an active member's activity and language."""
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return None
    kind = chat_kind(chat, core)
    if kind is None:
        return None
    language = language_for(user.language_code, core.settings.locale)

    member = await core.db.transact(
        core.memberships.seen, user.id, language, privately=kind is ChatKind.PRIVATE
    )
    return Caller(user.id, member, language, chat.id, kind)


def refusal_text(caller: Caller, refusal: Refusal, *, button: bool = False) -> SafeText:
    _ = caller.tr
    if refusal is Refusal.NOT_REGISTERED:
        return _(NOT_REGISTERED)
    if refusal is Refusal.USE_PARTNER_GROUP:
        return _("This only works in the partner group.")
    if button:
        if refusal is Refusal.USE_PRIVATE_CHAT:
            return _("This button only works in a private chat with me.")
        return _("Your role does not allow this.")
    if refusal is Refusal.USE_PRIVATE_CHAT:
        return _("Please send this command to me in a private chat.")
    return _("Your role does not allow this command.")


async def _record_refusal(core: Core, caller: Caller, what: str, refusal: Refusal) -> None:
    await core.db.transact(
        core.memberships.record_refusal, actor=caller.actor, what=what, reason=refusal.value
    )


async def authorize_command(update: Update, core: Core, command: str) -> Caller | None:
    """The caller when the table allows `command` here; otherwise answers why not and None."""
    caller = await identify(update, core)
    if caller is None:
        return None
    refusal = decide(command, roles=caller.roles, active=caller.active, chat=caller.chat)
    if refusal is None:
        return caller
    await _record_refusal(core, caller, f"command:{command}", refusal)
    await update.get_bot().send_message(caller.chat_id, refusal_text(caller, refusal))
    return None


async def authorize_button(update: Update, core: Core, kind: str) -> Caller | None:
    """Like `authorize_command` for a button press; refusals answer the callback query."""
    query = update.callback_query
    caller = await identify(update, core)
    if caller is None or query is None:
        return None
    refusal = decide_button(kind, roles=caller.roles, active=caller.active, chat=caller.chat)
    if refusal is None:
        return caller
    await _record_refusal(core, caller, f"button:{kind}", refusal)
    await query.answer(refusal_text(caller, refusal, button=True), show_alert=True)
    return None


def theme_argument(args: Sequence[str]) -> Theme | None:
    """The THEMA of `/agenda THEMA` or `/stand THEMA`: None when not given.

    Raises:
        ValueError: anything but one known theme's code (the answer never repeats it).
    """
    if not args:
        return None
    word = args[0].strip().lower() if len(args) == 1 and args[0].isascii() else ""
    return Theme(word)
