"""The test-side helpers: waiting for calls and messages, and acting as people."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot

from bot.sandbox.fake_telegram import FakeTelegram, ManualMonotonic


async def test_wait_for_message_wakes_on_the_send(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    waiter = asyncio.create_task(server.wait_for_message(anna.id, contains="Welkom"))
    await asyncio.sleep(0)  # let the waiter park; no time passes
    assert not waiter.done()
    await bot.send_message(anna.id, "Eerst iets anders")
    await bot.send_message(anna.id, "Welkom bij het Veiligheidshuis")
    found = await waiter
    assert found.text == "Welkom bij het Veiligheidshuis"
    assert found is server.sent[1]


async def test_wait_for_call_counts_and_filters(
    bot: Bot, server: FakeTelegram, monotonic: ManualMonotonic
) -> None:
    anna = server.add_user("Anna", started=True)
    for text in ("een", "twee", "drie"):
        await bot.send_message(anna.id, text)
        monotonic.advance(1)  # stay inside the private chat's flood limit
    second = await server.wait_for_call("sendMessage", count=2)
    assert second.params["text"] == "twee"
    drie = await server.wait_for_call(
        "sendMessage", predicate=lambda call: call.params["text"] == "drie"
    )
    assert drie.result["text"] == "drie"
    mark = len(server.requests)
    waiter = asyncio.create_task(server.wait_for_call("sendMessage", since=mark))
    await asyncio.sleep(0)
    assert not waiter.done()
    await bot.send_message(anna.id, "vier")
    assert (await waiter).params["text"] == "vier"


async def test_a_timeout_lists_recent_calls(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    await bot.send_message(anna.id, "hallo")
    with pytest.raises(TimeoutError) as caught:
        await server.wait_for_message(anna.id, contains="Welkom", timeout=0.01)
    message = str(caught.value)
    assert "a message to" in message and "'Welkom'" in message
    assert 'sendMessage {"chat_id"' in message and "-> 200" in message


async def test_people_in_groups(server: FakeTelegram) -> None:
    anna, kees = server.add_user("Anna"), server.add_user("Kees")
    group = server.add_group("Partners")
    # someone the group never saw counts as a member all along
    server.send_text(anna, "/help", chat=group)
    assert server.member_status(group, anna) == "member"
    server.set_member_status(group, kees, "kicked")
    with pytest.raises(ValueError, match="they are kicked"):
        server.send_text(kees, "hallo", chat=group)
    with pytest.raises(ValueError, match="already in"):
        server.join_group(anna, group)
    reply_source = server.send_text(anna, "eerste", chat=group)
    reply = server.send_text(anna, "tweede", chat=group, reply_to=reply_source)
    assert reply["reply_to_message"]["text"] == "eerste"


async def test_blocking_and_coming_back(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    server.send_text(anna, "/start")
    server.block_bot(anna)
    server.send_text(anna, "/start")  # pressing Restart unblocks
    kinds = [next(k for k in u if k != "update_id") for u in server.pending_updates]
    assert kinds == ["message", "my_chat_member", "my_chat_member", "message"]
    updates = await bot.get_updates(timeout=0)
    assert [u.my_chat_member.new_chat_member.status for u in updates if u.my_chat_member] == [
        "kicked",
        "member",
    ]
    await bot.send_message(anna.id, "welkom terug")
