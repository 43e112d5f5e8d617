"""The secured partner group: strangers who join are removed, coordinators told."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import Bot, ChatMember, Update
from telegram.error import TelegramError
from telegram.ext import Application, ChatMemberHandler, ContextTypes

from bot.handlers.common import notify_coordinators
from bot.scheduling.group_removal import remove_from_group

if TYPE_CHECKING:
    from bot.app import Core

log = logging.getLogger(__name__)

PRESENT = {ChatMember.MEMBER, ChatMember.RESTRICTED, ChatMember.ADMINISTRATOR, ChatMember.OWNER}


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    async def on_member_change(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Removes anyone who enters the partner group without being an active member."""
        change = update.chat_member
        if change is None or change.chat.id != core.settings.partner_chat_id:
            return
        user = change.new_chat_member.user
        joined = (
            change.new_chat_member.status in PRESENT
            and change.old_chat_member.status not in PRESENT
        )
        if not joined or user.id == context.bot.id:
            return

        def is_member() -> bool:
            with core.db.session() as session:
                return core.memberships.is_active_member(session, user.id)

        if await core.db.run(is_member):
            return
        removed = True
        try:
            await remove_from_group(context.bot, change.chat.id, user.id)
        except TelegramError as exc:
            removed = False
            log.warning("group.stranger_not_removed", extra={"error": type(exc).__name__})

        def record() -> None:
            with core.db.session() as session:
                core.memberships.record_stranger_removed(session, user.id, removed=removed)

        await core.db.run(record)
        if removed:
            await notify_coordinators(
                context.bot,
                core,
                lambda _: _(
                    "An account that is not registered (Telegram id {id}) joined the partner "
                    "group and was removed. Invite people with /uitnodigen.",
                    id=user.id,
                ),
            )
        else:
            await notify_coordinators(
                context.bot,
                core,
                lambda _: _(
                    "An account that is not registered (Telegram id {id}) joined the partner "
                    "group and I could not remove it. Remove it by hand and check that I am "
                    "an administrator who may ban users.",
                    id=user.id,
                ),
            )

    application.add_handler(
        ChatMemberHandler(on_member_change, chat_member_types=ChatMemberHandler.CHAT_MEMBER)
    )


async def check_group_rights(bot: Bot, core: Core) -> bool:
    """At start-up: am I an administrator of the partner group who may remove members?"""
    chat_id = core.settings.partner_chat_id
    assert chat_id is not None  # noqa: S101 - `vhbot run` requires it
    try:
        me = await bot.get_chat_member(chat_id, bot.id)
        allowed = me.status == ChatMember.OWNER or (
            me.status == ChatMember.ADMINISTRATOR
            and bool(getattr(me, "can_restrict_members", False))
        )
    except TelegramError as exc:
        log.warning("group.check_failed", extra={"error": type(exc).__name__})
        allowed = False
    if not allowed:
        log.warning("group.rights_missing", extra={"chat_id": chat_id})
        await notify_coordinators(
            bot,
            core,
            lambda _: _(
                "I am not an administrator of the partner group with the right to ban users, "
                "so I cannot remove people who do not belong there. Please give me that right."
            ),
        )
    return allowed
