"""Groups and their members: getChatMember shapes, bans, unbans, admins, leaving."""

from __future__ import annotations

import pytest
from telegram import Bot, ChatMember, ChatMemberAdministrator
from telegram.error import BadRequest, Forbidden

from bot.sandbox.fake_telegram import FakeTelegram
from tests.sandbox.conftest import assert_fully_parsed


async def test_get_chat_and_member_shapes(bot: Bot, server: FakeTelegram) -> None:
    anna, fenna, kees = server.add_user("Anna"), server.add_user("Fenna"), server.add_user("Kees")
    group = server.add_group("Partners", members=[anna])
    server.set_member_status(group, fenna, "creator")

    chat = await bot.get_chat(group.id)
    assert_fully_parsed(chat)
    assert (chat.type, chat.title) == ("supergroup", "Partners")
    assert str(group.id).startswith("-100")
    private = await bot.get_chat(anna.id)
    assert_fully_parsed(private)
    assert private.first_name == "Anna"

    statuses = {}
    for user_id in (anna.id, fenna.id, kees.id, server.bot_id):
        member = await bot.get_chat_member(group.id, user_id)
        assert_fully_parsed(member)
        statuses[user_id] = member.status
    assert statuses == {
        anna.id: ChatMember.MEMBER,
        fenna.id: ChatMember.OWNER,
        kees.id: ChatMember.LEFT,
        server.bot_id: ChatMember.ADMINISTRATOR,
    }
    me = await bot.get_chat_member(group.id, server.bot_id)
    assert isinstance(me, ChatMemberAdministrator) and me.can_restrict_members
    admins = await bot.get_chat_administrators(group.id)
    assert_fully_parsed(admins)
    assert {admin.user.id for admin in admins} == {fenna.id, server.bot_id}
    with pytest.raises(BadRequest, match="User not found"):
        await bot.get_chat_member(group.id, 77)


async def test_ban_and_unban_change_member_state(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    group = server.add_group("Partners", members=[anna])

    assert await bot.ban_chat_member(group.id, anna.id)
    assert server.member_status(group, anna) == "kicked"
    assert server.chat_members[group.id][anna.id] == "kicked"
    assert [(ban.chat_id, ban.user_id, ban.until_date) for ban in server.bans] == [
        (group.id, anna.id, 0)
    ]
    banned = await bot.get_chat_member(group.id, anna.id)
    assert_fully_parsed(banned)
    assert banned.status == ChatMember.BANNED
    with pytest.raises(ValueError, match="banned"):
        server.join_group(anna, group)

    assert await bot.unban_chat_member(group.id, anna.id, only_if_banned=True)
    assert server.member_status(group, anna) == "left"
    server.join_group(anna, group)
    assert server.member_status(group, anna) == "member"
    # only_if_banned leaves a member alone ...
    assert await bot.unban_chat_member(group.id, anna.id, only_if_banned=True)
    assert server.member_status(group, anna) == "member"
    # ... without it, "unbanning" a member removes them, as Telegram documents
    assert await bot.unban_chat_member(group.id, anna.id)
    assert server.member_status(group, anna) == "left"
    assert [unban.only_if_banned for unban in server.unbans] == [True, True, False]


async def test_bans_need_rights_and_spare_admins(bot: Bot, server: FakeTelegram) -> None:
    anna, fenna = server.add_user("Anna"), server.add_user("Fenna")
    weak = server.add_group("Zonder rechten", bot_can_restrict=False, members=[anna])
    with pytest.raises(BadRequest, match="Not enough rights"):
        await bot.ban_chat_member(weak.id, anna.id)
    group = server.add_group("Partners", members=[anna])
    server.set_member_status(group, fenna, "creator")
    with pytest.raises(BadRequest, match="Can't remove chat owner"):
        await bot.ban_chat_member(group.id, fenna.id)
    gone = server.add_group("Weg", bot_status="kicked")
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.ban_chat_member(gone.id, anna.id)
    assert server.bans == []


async def test_bans_reach_the_bot_as_chat_member_updates(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    group = server.add_group("Partners", members=[anna])
    await bot.get_updates(timeout=0, allowed_updates=["chat_member"])
    await bot.ban_chat_member(group.id, anna.id)
    [update] = await bot.get_updates(timeout=0)
    assert update.chat_member is not None
    assert update.chat_member.from_user.id == server.bot_id
    assert update.chat_member.new_chat_member.status == ChatMember.BANNED


async def test_leave_chat(bot: Bot, server: FakeTelegram) -> None:
    group = server.add_group("Partners")
    assert await bot.leave_chat(group.id)
    assert server.bot_status(group) == "left"
    [update] = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == ChatMember.LEFT
    with pytest.raises(Forbidden, match="bot is not a member"):
        await bot.send_message(group.id, "nog iemand?")
