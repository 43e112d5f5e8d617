"""The HTTP surface: paths, tokens, body encodings, getMe and the webhook calls."""

from __future__ import annotations

import httpx
import pytest
from telegram import Bot
from telegram.error import InvalidToken

from bot.sandbox.fake_telegram import FakeTelegram
from tests.sandbox.conftest import assert_fully_parsed


async def test_get_me_describes_the_bot(bot: Bot, server: FakeTelegram) -> None:
    me = await bot.get_me()
    assert_fully_parsed(me)
    assert me.is_bot
    assert me.id == 123456  # the token's prefix, as on Telegram
    assert me.username == "vhbot_test_bot"
    assert me.can_read_all_group_messages is False
    assert server.calls("getMe")[0].status == 200


async def test_unknown_method_is_404(server: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await http.post(f"/bot{server.token}/sendTelepathy", data={"chat_id": "1"})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert server.calls("sendTelepathy")[0].status == 404


async def test_wrong_token_is_401(server: FakeTelegram, http: httpx.AsyncClient) -> None:
    response = await http.post("/bot999:WRONG/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

    wrong = Bot("999:WRONG", base_url=server.base_url)
    try:
        with pytest.raises(InvalidToken, match="rejected"):
            await wrong.initialize()
    finally:
        await wrong.shutdown()


async def test_method_names_are_case_insensitive(
    server: FakeTelegram, http: httpx.AsyncClient
) -> None:
    response = await http.get(f"/bot{server.token}/GETME")
    assert response.json()["result"]["username"] == "vhbot_test_bot"
    assert server.requests[-1].method == "getMe"


async def test_json_and_query_string_bodies(server: FakeTelegram, http: httpx.AsyncClient) -> None:
    anna = server.add_user("Anna", started=True)
    as_json = await http.post(
        f"/bot{server.token}/sendMessage",
        json={
            "chat_id": anna.id,
            "text": "42",
            "reply_markup": '{"inline_keyboard": [[{"text": "Ja", "callback_data": "1"}]]}',
        },
    )
    assert as_json.status_code == 200, as_json.text
    assert as_json.json()["result"]["text"] == "42"
    as_query = await http.get(
        f"/bot{server.token}/sendMessage", params={"chat_id": str(anna.id), "text": "true"}
    )
    assert as_query.json()["result"]["text"] == "true"
    # text stays a string, nested values are decoded, callback_data stays a string
    first, second = server.calls("sendMessage")
    assert first.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "1"
    assert second.params == {"chat_id": anna.id, "text": "true"}


async def test_webhook_calls_and_dropping_pending_updates(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna")
    server.send_text(anna, "hallo")
    info = await bot.get_webhook_info()
    assert_fully_parsed(info)
    assert (info.url, info.pending_update_count) == ("", 1)
    assert await bot.delete_webhook(drop_pending_updates=True)
    assert server.pending_updates == []
    assert await bot.close()
    assert await bot.log_out()
