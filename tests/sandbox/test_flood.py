"""Flood control: Telegram's limits as token buckets on a clock the test moves."""

from __future__ import annotations

import pytest
from telegram import Bot
from telegram.error import RetryAfter

from bot.sandbox.fake_telegram import FakeTelegram, FloodLimits, ManualMonotonic


async def test_fourth_rapid_message_to_a_private_chat_waits_a_second(
    bot: Bot, server: FakeTelegram, monotonic: ManualMonotonic
) -> None:
    anna = server.add_user("Anna", started=True)
    for number in range(3):
        await bot.send_message(anna.id, f"bericht {number}")
    with pytest.raises(RetryAfter):
        await bot.send_message(anna.id, "bericht 3")
    refused = server.calls("sendMessage")[-1]
    assert refused.status == 429
    assert refused.response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    assert len(server.sent) == 3  # the refused message is not in `sent`

    monotonic.advance(1)
    await bot.send_message(anna.id, "bericht 3")
    assert [m.text for m in server.messages_to(anna.id)][-1] == "bericht 3"


async def test_twenty_first_group_message_in_a_minute_waits(
    bot: Bot, server: FakeTelegram, monotonic: ManualMonotonic
) -> None:
    group = server.add_group("Partners")
    for number in range(20):
        await bot.send_message(group.id, f"melding {number}")
        monotonic.advance(0.1)  # 2 s for all 20: well within a minute
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "melding 20")
    # 20 per minute refills one message every 3 s; 2 s of refill leaves 1 s to wait
    assert server.calls("sendMessage")[-1].response["parameters"] == {"retry_after": 1}

    monotonic.advance(1)
    await bot.send_message(group.id, "melding 20")
    with pytest.raises(RetryAfter):
        await bot.send_message(group.id, "melding 21")
    assert server.calls("sendMessage")[-1].response["parameters"] == {"retry_after": 3}
    monotonic.advance(3)
    await bot.send_message(group.id, "melding 21")
    assert len(server.messages_to(group.id)) == 22


async def test_edits_count_and_other_chats_have_their_own_bucket(
    bot: Bot, server: FakeTelegram, monotonic: ManualMonotonic
) -> None:
    anna, kees = server.add_user("Anna", started=True), server.add_user("Kees", started=True)
    first = await bot.send_message(anna.id, "1")
    await bot.edit_message_text("2", anna.id, first.message_id)
    await bot.edit_message_text("3", anna.id, first.message_id)
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("4", anna.id, first.message_id)
    await bot.send_message(kees.id, "Kees has a full bucket")
    assert server.message(anna.id, first.message_id)["text"] == "3"


async def test_global_limit_spans_chats(monotonic: ManualMonotonic) -> None:
    limits = FloodLimits(global_per_second=2, global_burst=2)
    async with FakeTelegram(limits=limits, monotonic=monotonic) as server:
        users = [server.add_user(f"Persoon {n}", started=True) for n in range(3)]
        async with Bot(server.token, base_url=server.base_url) as bot:
            await bot.send_message(users[0].id, "a")
            await bot.send_message(users[1].id, "b")
            with pytest.raises(RetryAfter):
                await bot.send_message(users[2].id, "c")
            monotonic.advance(0.5)
            await bot.send_message(users[2].id, "c")


async def test_unlimited_limits_never_refuse(monotonic: ManualMonotonic) -> None:
    async with FakeTelegram(limits=FloodLimits.unlimited(), monotonic=monotonic) as server:
        anna = server.add_user("Anna", started=True)
        async with Bot(server.token, base_url=server.base_url) as bot:
            for number in range(50):
                await bot.send_message(anna.id, str(number))
    assert len(server.sent) == 50
