"""The secured partner group: whoever is in it without being an active member is removed.

Telegram cannot list a group's members, and a join the bot did not see (it was
down, or not yet an administrator) is never reported again. So the bot looks at
everyone an update in the group shows it (who wrote, pressed a button, joined or
was added) and removes a stranger, or a deactivated member, on sight.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from telegram import Bot, ChatMember, Update
from telegram.error import TelegramError

from bot.backoff import is_passing
from bot.i18n import Translator
from bot.safe import SafeText
from bot.scheduling.group_removal import remove_from_group
from bot.scheduling.notices import notify_coordinators

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

PRESENT = {ChatMember.MEMBER, ChatMember.RESTRICTED, ChatMember.ADMINISTRATOR, ChatMember.OWNER}
# Telegram lets no bot remove these; only a person can.
BEYOND_REACH = {ChatMember.ADMINISTRATOR, ChatMember.OWNER}
RETRY_UNREMOVABLE = timedelta(minutes=10)


def people_in(update: Update, bot_id: int) -> set[int]:
    """The Telegram ids of the people an update shows in the group (the bot aside)."""
    found: set[int] = set()
    message = update.effective_message
    # A message sent on behalf of a chat (an anonymous administrator, a linked
    # channel) carries a placeholder account, not a person we could look up.
    if update.effective_user is not None and (message is None or message.sender_chat is None):
        found.add(update.effective_user.id)
    change = update.chat_member
    if change is not None and change.new_chat_member.status in PRESENT:
        found.add(change.new_chat_member.user.id)
    if message is not None:
        found.update(user.id for user in message.new_chat_members or ())
    found.discard(bot_id)
    return found


async def turn_away_strangers(
    update: Update, bot: Bot, core: Core, unremovable: dict[int, datetime]
) -> bool:
    """Remove everyone in this partner-group update who is not an active member.

    Returns True when someone was removed (or could not be): the update must then do
    nothing else (no answer recorded, no reply). Each removal is told to the
    coordinators once; an update from someone already gone (sent before they were
    removed) is left to the usual refusals, which change nothing either.

    `unremovable`: Telegram id -> until when not to try again someone who could not
    be removed (an administrator, or the bot lacks the right): their every message
    would otherwise cost calls from the group's budget of 20 a minute.
    """
    people = people_in(update, bot.id)
    if not people:
        return False

    strangers = await core.db.transact(core.memberships.outsiders, people)
    chat_id = core.settings.partner_chat_id
    assert chat_id is not None  # noqa: S101 - the gate only calls this for the partner group
    acted = [
        await _remove_stranger(bot, core, chat_id, user_id, unremovable) for user_id in strangers
    ]
    return any(acted)


async def _remove_stranger(
    bot: Bot, core: Core, chat_id: int, user_id: int, unremovable: dict[int, datetime]
) -> bool:
    """Remove one stranger still in the group; False when they are gone already."""
    now = core.clock.now()
    if now < unremovable.get(user_id, now):
        return True  # could not a moment ago: reported, and their update still stops
    try:
        status = (await bot.get_chat_member(chat_id, user_id)).status
    except TelegramError as exc:
        log.warning("group.stranger_unchecked", extra={"error": type(exc).__name__})
        status = ChatMember.MEMBER  # cannot tell: treat as present, removing is harmless
    if status not in PRESENT:
        return False  # an update from before they left or were removed: told already
    removed = status not in BEYOND_REACH
    if removed:
        try:
            await remove_from_group(bot, chat_id, user_id)
        except TelegramError as exc:
            removed = False
            log.warning("group.stranger_not_removed", extra={"error": type(exc).__name__})
    if removed:
        unremovable.pop(user_id, None)
    else:
        unremovable[user_id] = now + RETRY_UNREMOVABLE

    def removed_notice(_: Translator) -> SafeText:
        return _(
            "An account that is not registered (Telegram id {id}) joined the partner "
            "group and was removed. Invite people with /uitnodigen.",
            id=user_id,
        )

    def stuck_notice(_: Translator) -> SafeText:
        return _(
            "An account that is not registered (Telegram id {id}) joined the partner "
            "group and I could not remove it. Remove it by hand and check that I am "
            "an administrator who may ban users.",
            id=user_id,
        )

    def record() -> None:
        with core.db.session() as session:
            core.memberships.record_stranger_removed(
                session,
                user_id,
                removed=removed,
                notice=removed_notice if removed else stuck_notice,
            )

    # Recorded even through a short database outage: the removal itself is done, and
    # a handler run again would find the stranger gone and report nothing.
    await core.db.record("gate", record)
    return True


async def check_group_rights(bot: Bot, core: Core) -> bool:
    """At start-up: am I an administrator of the partner group who may remove members?

    Raises the TelegramError when Telegram could not say for a passing reason (a
    network error, a 5xx, flood control): the caller asks again later, and the
    coordinators are not alarmed about rights that may well be there.
    """
    chat_id = core.settings.partner_chat_id
    assert chat_id is not None  # noqa: S101 - `vhbot run` requires it
    try:
        me = await bot.get_chat_member(chat_id, bot.id)
        allowed = me.status == ChatMember.OWNER or (
            me.status == ChatMember.ADMINISTRATOR
            and bool(getattr(me, "can_restrict_members", False))
        )
    except TelegramError as exc:
        if is_passing(exc):
            raise
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
