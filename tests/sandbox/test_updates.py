"""getUpdates: what people do reaches the bot, with Telegram's offset and filtering rules."""

from __future__ import annotations

import asyncio

import httpx
from telegram import Bot, ChatMember, InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.sandbox.fake_telegram import FakeTelegram
from tests.sandbox.conftest import assert_fully_parsed


async def test_text_and_button_press_arrive_in_order(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", last_name="de Vries", username="anna_dv")
    server.send_text(anna, "/start abc123")
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="ans:1:y")]])
    question = await bot.send_message(anna.id, "Kom je?", reply_markup=keyboard)
    query_id = server.press_button(anna, question, "ans:1:y")  # PTB's Message will do

    first, second = await bot.get_updates(timeout=0)
    assert_fully_parsed(first)
    assert_fully_parsed(second)
    message = first.message
    assert message is not None and message.text == "/start abc123"
    assert message.from_user is not None and message.from_user.language_code == "nl"
    assert message.parse_entities(["bot_command"]) == {message.entities[0]: "/start"}
    query = second.callback_query
    assert query is not None and query.id == query_id and query.data == "ans:1:y"
    assert query.message is not None and query.message.message_id == question.message_id
    assert second.update_id == first.update_id + 1


async def test_offset_confirms_earlier_updates(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    for text in ("een", "twee", "drie"):
        server.send_text(anna, text)
    updates = await bot.get_updates(timeout=0, limit=2)
    assert [u.message.text for u in updates if u.message] == ["een", "twee"]
    again = await bot.get_updates(timeout=0)  # nothing confirmed yet: all three again
    assert len(again) == 3
    rest = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
    assert [u.message.text for u in rest if u.message] == ["drie"]
    assert len(server.pending_updates) == 1
    assert await bot.get_updates(offset=rest[-1].update_id + 1, timeout=0) == ()
    assert server.pending_updates == []


async def test_chat_member_updates_only_when_asked_for(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    group = server.add_group("Partners")
    server.join_group(anna, group)

    # Telegram's default set leaves chat_member out; the service message still comes.
    default = await bot.get_updates(timeout=0)
    assert [u.message.new_chat_members[0].id for u in default if u.message] == [anna.id]
    assert all(u.chat_member is None for u in default)

    asked = await bot.get_updates(timeout=0, allowed_updates=["message", "chat_member"])
    member_update = next(u.chat_member for u in asked if u.chat_member)
    assert_fully_parsed(member_update)
    assert member_update.old_chat_member.status == ChatMember.LEFT
    assert member_update.new_chat_member.status == ChatMember.MEMBER
    assert member_update.new_chat_member.user.id == anna.id

    # allowed_updates is remembered until the bot names another set
    server.leave_group(anna, group)
    remembered = await bot.get_updates(offset=asked[-1].update_id + 1, timeout=0)
    assert [u.chat_member.new_chat_member.status for u in remembered if u.chat_member] == ["left"]
    assert server.allowed_updates == frozenset({"message", "chat_member"})
    assert server.member_status(group, anna) == "left"


async def test_long_poll_wakes_as_soon_as_an_update_arrives(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
    await server.wait_until_polling()
    assert not poll.done()
    server.send_text(anna, "hallo")
    async with asyncio.timeout(5):  # far below the poll's 30 s
        updates = await poll
    assert [u.message.text for u in updates if u.message] == ["hallo"]


async def test_long_poll_without_updates_returns_empty(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    # Telegram takes whole seconds; the fake also takes a fraction, to keep this test short.
    response = await http.post(f"/bot{server.token}/getUpdates", data={"timeout": "0.05"})
    assert response.json() == {"ok": True, "result": []}


async def test_a_second_poller_ends_the_first_with_409(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    url = f"/bot{server.token}/getUpdates"
    first = asyncio.create_task(http.post(url, data={"timeout": "30"}, timeout=40))
    await server.wait_until_polling()
    second = await http.post(url, data={"timeout": "0"})
    assert second.json() == {"ok": True, "result": []}
    conflict = await first
    assert conflict.status_code == 409
    assert conflict.json()["description"].startswith("Conflict: terminated by other getUpdates")


async def test_bot_added_to_a_group_gets_my_chat_member(bot: Bot, server: FakeTelegram) -> None:
    fenna = server.add_user("Fenna")
    group = server.add_group("Partners", bot_status="left")
    server.add_bot_to_group(group, by=fenna, status="administrator")
    updates = await bot.get_updates(timeout=0)
    mine = next(u.my_chat_member for u in updates if u.my_chat_member)
    assert_fully_parsed(mine)
    assert mine.from_user.id == fenna.id
    assert (mine.old_chat_member.status, mine.new_chat_member.status) == ("left", "administrator")
    assert server.bot_status(group) == "administrator"


async def test_privacy_mode_hides_plain_group_chatter(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    group = server.add_group("Partners", bot_status="member", members=[anna])
    server.send_text(anna, "gewoon een bericht", chat=group)
    server.send_text(anna, "/help", chat=group)
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["/help"]
    assert all(isinstance(u, Update) for u in updates)
