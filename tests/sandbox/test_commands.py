"""setMyCommands / getMyCommands / deleteMyCommands per scope and language."""

from __future__ import annotations

import pytest
from telegram import Bot, BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeChat
from telegram.error import BadRequest

from bot.sandbox.fake_telegram import FakeTelegram


async def test_commands_are_stored_per_scope_and_language(bot: Bot, server: FakeTelegram) -> None:
    dutch = [BotCommand("start", "Aanmelden met je uitnodigingscode")]
    english = [BotCommand("start", "Register with your invite code")]
    fallback = [BotCommand("help", "Help")]
    assert await bot.set_my_commands(fallback)
    assert await bot.set_my_commands(dutch, language_code="nl")
    assert await bot.set_my_commands(english, language_code="en")
    group = server.add_group("Partners")
    assert await bot.set_my_commands(fallback, scope=BotCommandScopeChat(group.id))

    assert server.commands(language_code="nl") == [
        {"command": "start", "description": "Aanmelden met je uitnodigingscode"}
    ]
    assert server.commands()[0]["command"] == "help"
    assert server.commands({"type": "chat", "chat_id": group.id}) == server.commands()
    assert server.commands({"type": "all_private_chats"}) == []
    assert len(server.my_commands) == 4

    assert await bot.get_my_commands(language_code="en") == tuple(english)
    assert await bot.get_my_commands(scope=BotCommandScopeAllGroupChats()) == ()
    assert await bot.delete_my_commands(language_code="nl")
    assert await bot.get_my_commands(language_code="nl") == ()


async def test_invalid_commands_are_refused(bot: Bot, server: FakeTelegram) -> None:
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Start", "Hoofdletter")])
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.set_my_commands([BotCommand("start", "x")], scope=BotCommandScopeChat(-1))
    assert server.my_commands == {}
