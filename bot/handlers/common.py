"""What every handler needs: who is asking, in which language, in which chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import Chat, Update

from bot.domain.commands import ChatKind
from bot.domain.roles import Role
from bot.i18n import Translator, language_for, mark, translator
from bot.services.members import MemberView

if TYPE_CHECKING:
    from bot.app import Core

ROLE_LABELS: dict[Role, str] = {
    Role.PARTNER: mark("partner"),
    Role.CASEMANAGER: mark("casemanager"),
    Role.COORDINATOR: mark("coordinator"),
}


@dataclass(frozen=True)
class Caller:
    """The person behind an update, as far as the bot knows them."""

    telegram_id: int
    member: MemberView | None
    language: str

    @property
    def roles(self) -> frozenset[Role] | None:
        return self.member.roles if self.member is not None else None

    @property
    def active(self) -> bool:
        return self.member is not None and self.member.active

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
    """Look up the sender; records their activity when they are a member."""
    user = update.effective_user
    if user is None:
        return None

    def lookup() -> MemberView | None:
        with core.db.session() as session:
            view = core.memberships.view_for_telegram(session, user.id)
            if view is not None and view.active:
                core.memberships.touch(session, view.member_id)
            return view

    member = await core.db.run(lookup)
    language = (member.language if member and member.language else None) or language_for(
        user.language_code, core.settings.locale
    )
    return Caller(telegram_id=user.id, member=member, language=language)


def role_names(caller: Caller) -> str:
    _ = caller.tr
    roles = caller.roles or frozenset()
    return ", ".join(_(ROLE_LABELS[role]) for role in sorted(roles))
