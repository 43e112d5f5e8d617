"""payload_observers: every request passes them first, and their failures fail the test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from telegram import Bot
from telegram.error import BadRequest, NetworkError

from bot.sandbox.fake_telegram import FakeTelegram


class Leak(AssertionError):
    pass


async def test_observers_see_every_request_before_it_is_handled(
    bot: Bot, server: FakeTelegram
) -> None:
    seen: list[tuple[str, dict[str, Any], int]] = []

    def observe(method: str, params: Mapping[str, Any]) -> None:
        seen.append((method, dict(params), len(server.requests)))

    server.payload_observers.append(observe)
    before = len(server.requests)  # the bot fixture's getMe
    anna = server.add_user("Anna", started=True)
    await bot.send_message(anna.id, "hallo")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(12, "niemand")
    await bot.get_updates(timeout=0)

    assert [method for method, _, _ in seen] == ["sendMessage", "sendMessage", "getUpdates"]
    assert seen[0][1] == {"chat_id": anna.id, "text": "hallo"}
    # each observer call came before its request was recorded
    assert [recorded - before for _, _, recorded in seen] == [0, 1, 2]


async def test_an_observer_failure_surfaces_in_the_test(monotonic: Any) -> None:
    server = FakeTelegram(monotonic=monotonic)

    def guard(method: str, params: Mapping[str, Any]) -> None:
        if "BSN" in str(params.get("text", "")):
            raise Leak(f"{method} payload holds a BSN")

    server.payload_observers.append(guard)
    await server.start()
    anna = server.add_user("Anna", started=True)
    async with Bot(server.token, base_url=server.base_url) as bot:
        with pytest.raises(NetworkError, match="payload observer failed"):
            await bot.send_message(anna.id, "BSN 123456782")
    assert server.sent == []  # refused, not processed
    assert server.calls("sendMessage")[0].status == 500

    with pytest.raises(Leak, match="holds a BSN"):
        await server.wait_for_message(anna.id)
    with pytest.raises(Leak, match="holds a BSN"):
        await server.stop()
