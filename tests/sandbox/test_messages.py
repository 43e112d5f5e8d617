"""Sending, editing and answering: results PTB parses, errors with Telegram's wording."""

from __future__ import annotations

import struct
import zlib

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from bot.sandbox.fake_telegram import FakeTelegram
from tests.sandbox.conftest import assert_fully_parsed


def _keyboard(*labels: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=f"ans:7:{label.lower()}")] for label in labels]
    )


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"".join(b"\x00" + b"\x80" * width for _ in range(height)))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_send_message_round_trip_with_inline_keyboard(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    message = await bot.send_message(anna.id, "Kom je morgen?", reply_markup=_keyboard("Ja", "Nee"))

    assert_fully_parsed(message)
    assert message.text == "Kom je morgen?"
    assert message.chat.id == anna.id and message.chat.type == "private"
    assert message.from_user is not None and message.from_user.is_bot
    assert message.reply_markup == _keyboard("Ja", "Nee")
    [sent] = server.messages_to(anna.id)
    assert (sent.message_id, sent.method, sent.text) == (
        message.message_id,
        "sendMessage",
        message.text,
    )
    assert sent.button_data("Nee") == "ans:7:nee"


async def test_html_is_parsed_into_entities(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    message = await bot.send_message(
        anna.id, "  <b>Let op</b> 😀 <i>a &lt; b</i>\n", parse_mode="HTML"
    )
    assert_fully_parsed(message)
    assert message.text == "Let op 😀 a < b"  # trimmed, entities decoded
    bold, italic = message.entities
    assert (bold.type, bold.offset, bold.length) == ("bold", 0, 6)
    assert (italic.type, italic.offset, italic.length) == ("italic", 10, 5)  # 😀 is 2 UTF-16 units
    assert server.sent[-1].raw_text.startswith("  <b>Let op</b>")


async def test_unescaped_markup_is_refused_like_telegram(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "3" at byte offset 4'):
        await bot.send_message(anna.id, "Jan <3 Piet", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(anna.id, "Versie 1.0", parse_mode="MarkdownV2")
    assert server.calls("sendMessage")[0].description == (
        'Bad Request: can\'t parse entities: Unsupported start tag "3" at byte offset 4'
    )
    assert server.sent == []


async def test_send_errors(bot: Bot, server: FakeTelegram) -> None:
    stranger = server.add_user("Kees")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "hallo")
    with pytest.raises(Forbidden, match="can't initiate conversation"):
        await bot.send_message(stranger.id, "hallo")
    server.send_text(stranger, "/start")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(stranger.id, "   ")
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(
            stranger.id,
            "hallo",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("x", callback_data="x" * 65)]]
            ),
        )
    server.block_bot(stranger)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await bot.send_message(stranger.id, "hallo")
    assert [call.status for call in server.calls("sendMessage")] == [400, 403, 400, 400, 403]


async def test_edit_message_text(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    sent = await bot.send_message(anna.id, "Kom je?", reply_markup=_keyboard("Ja"))

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "Kom je?", anna.id, sent.message_id, reply_markup=_keyboard("Ja")
        )
    edited = await bot.edit_message_text("Bedankt!", anna.id, sent.message_id)
    assert not isinstance(edited, bool)
    assert_fully_parsed(edited)
    assert edited.text == "Bedankt!" and edited.edit_date is not None
    # Editing the text without reply_markup drops the keyboard, as on Telegram.
    assert edited.reply_markup is None
    assert "reply_markup" not in server.message(anna.id, sent.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", anna.id, 999)
    user_message = server.send_text(anna, "hoi")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("x", anna.id, user_message["message_id"])
    assert [(m.method, m.text) for m in server.messages_to(anna.id)] == [
        ("sendMessage", "Kom je?"),
        ("editMessageText", "Bedankt!"),
    ]


async def test_edit_message_reply_markup(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    sent = await bot.send_message(anna.id, "Kom je?", reply_markup=_keyboard("Ja", "Nee"))
    edited = await bot.edit_message_reply_markup(
        anna.id, sent.message_id, reply_markup=_keyboard("Ja")
    )
    assert not isinstance(edited, bool)
    assert edited.reply_markup == _keyboard("Ja")
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(anna.id, sent.message_id, reply_markup=_keyboard("Ja"))
    await bot.edit_message_reply_markup(anna.id, sent.message_id)
    assert server.sent[-1].reply_markup is None


async def test_answer_callback_query_once(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    await bot.send_message(anna.id, "Kom je?", reply_markup=_keyboard("Ja"))
    query_id = server.press_button(anna, server.sent[-1], "ans:7:ja")

    assert await bot.answer_callback_query(query_id, text="Genoteerd")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("1234")
    assert server.callback_answers == {query_id: {"text": "Genoteerd"}}


async def test_press_button_needs_the_button(server: FakeTelegram, bot: Bot) -> None:
    anna = server.add_user("Anna", started=True)
    sent = await bot.send_message(anna.id, "Kom je?", reply_markup=_keyboard("Ja"))
    await bot.edit_message_reply_markup(anna.id, sent.message_id)
    with pytest.raises(ValueError, match="no button"):
        server.press_button(anna, server.sent[0], "ans:7:ja")


async def test_send_photo_as_upload(bot: Bot, server: FakeTelegram) -> None:
    anna = server.add_user("Anna", started=True)
    message = await bot.send_photo(
        anna.id, _png(1000, 500), caption="<b>Rooster</b>", parse_mode="HTML", filename="r.png"
    )
    assert_fully_parsed(message)
    assert message.caption == "Rooster"
    assert [(size.width, size.height) for size in message.photo][-1] == (1000, 500)
    [call] = server.calls("sendPhoto")
    assert call.files["photo"].filename == "r.png"
    assert server.sent[-1].photo is not None and server.sent[-1].text == "Rooster"

    again = await bot.send_photo(anna.id, message.photo[-1].file_id)
    assert again.photo[-1].width == 1000
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(anna.id, b"not an image")
