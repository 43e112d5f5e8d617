"""A fake Telegram Bot API server on 127.0.0.1, for tests and ``vhbot demo``.

The bot talks to it over real HTTP exactly as it talks to Telegram
(``Bot(token, base_url=f"{fake.api_root}/bot")``); the fake answers with
Telegram's JSON, Telegram's error wording and Telegram's flood limits. Tests act
as people (``send_text``, ``press_button``, ``join_group``) and read what the
bot did (``sent``, ``requests``, ``wait_for_message``).

All methods that change the world are synchronous and must be called from the
event loop the server runs on.

    async with FakeTelegram() as telegram:
        anna = telegram.add_user("Anna")
        ...  # start the bot with base_url=telegram.base_url
        telegram.send_text(anna, "/start")
        reply = await telegram.wait_for_message(anna.id, contains="Welkom")
        telegram.press_button(anna, reply, reply.button_data("Ja"))
        await telegram.wait_for_call("answerCallbackQuery")
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import struct
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any, Final, Protocol, TypeVar

from aiohttp import web
from multidict import MultiMapping

from bot.clock import Clock
from bot.sandbox._faults import Faults, error_description, outage_mode
from bot.sandbox._flood import FloodControl, FloodLimits
from bot.sandbox._formatting import (
    EntityParseError,
    FormattedText,
    bot_command_entities,
    format_text,
)

__all__ = [
    "BanRecord",
    "FakeChat",
    "FakeTelegram",
    "FakeUser",
    "FloodLimits",
    "ManualMonotonic",
    "MessageLike",
    "RecordedCall",
    "SentMessage",
    "UnbanRecord",
    "UploadedFile",
]

JSONDict = dict[str, Any]
PayloadObserver = Callable[[str, Mapping[str, Any]], None]
_T = TypeVar("_T")


class MessageRef(Protocol):
    """Anything that names a message: a SentMessage, or PTB's own Message."""

    @property
    def chat_id(self) -> int: ...

    @property
    def message_id(self) -> int: ...


# A message as a test holds it: the dict send_text returned, a SentMessage, a PTB Message.
MessageLike = Mapping[str, Any] | MessageRef

# Parameters Telegram treats as strings even when they look like JSON ("42", "true").
_STRING_PARAMS: Final = frozenset(
    {
        "action",
        "business_connection_id",
        "callback_data",
        "callback_query_id",
        "caption",
        "custom_title",
        "data",
        "description",
        "emoji",
        "inline_message_id",
        "invite_link",
        "ip_address",
        "language_code",
        "message_effect_id",
        "name",
        "parse_mode",
        "photo",
        "query",
        "secret_token",
        "short_description",
        "text",
        "title",
        "url",
    }
)
# Update types a bot only gets when it names them in allowed_updates.
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_PRESENT: Final = frozenset({"creator", "administrator", "member", "restricted"})
_ADMINS: Final = frozenset({"creator", "administrator"})
_STATUSES: Final = frozenset({"creator", "administrator", "member", "left", "kicked"})
_BUTTON_ACTIONS: Final = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_SCOPE_TYPES: Final = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)/?$")
_NOT_MODIFIED: Final = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_TOO_OLD: Final = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
_MAX_TEXT: Final = 4096
_MAX_CAPTION: Final = 1024


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.field!r}, {self.filename!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class RecordedCall:
    """One HTTP request the bot made, with what the fake answered.

    A dropped connection has status 0; its ``response`` is the answer that was lost
    (empty when the call was dropped before it was carried out).
    """

    method: str
    params: Mapping[str, Any]
    status: int
    response: Mapping[str, Any]
    files: Mapping[str, UploadedFile]
    at: float  # the fake's monotonic clock

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        description = self.response.get("description")
        return description if isinstance(description, str) else None

    def __str__(self) -> str:
        params = json.dumps(dict(self.params), ensure_ascii=False, default=str)
        if len(params) > 160:
            params = params[:157] + "..."
        if self.status == 0:
            outcome = "connection dropped"
        else:
            outcome = str(self.status) if self.ok else f"{self.status} {self.description}"
        return f"{self.method} {params} -> {outcome}"


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent or edited successfully.

    ``text`` is what the person sees (markup parsed, caption for photos);
    ``raw_text`` is the parameter as the bot sent it.
    """

    chat_id: int
    message_id: int
    text: str
    reply_markup: JSONDict | None
    method: str
    at: float  # the fake's monotonic clock
    raw_text: str = ""
    parse_mode: str | None = None
    entities: tuple[JSONDict, ...] = ()
    date: int = 0
    photo: UploadedFile | None = None

    def buttons(self) -> list[JSONDict]:
        """The inline keyboard's buttons, row by row, flattened."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard") or []
        return [dict(button) for row in rows for button in row]

    def button_data(self, label: str) -> str:
        """The callback_data of the inline button labelled ``label``."""
        for button in self.buttons():
            if button.get("text") == label and isinstance(button.get("callback_data"), str):
                data: str = button["callback_data"]
                return data
        labels = [button.get("text") for button in self.buttons()]
        raise KeyError(f"no callback button {label!r} on message {self.message_id}; {labels}")


@dataclass(frozen=True)
class BanRecord:
    chat_id: int
    user_id: int
    until_date: int  # 0: for ever
    revoke_messages: bool
    at: float


@dataclass(frozen=True)
class UnbanRecord:
    chat_id: int
    user_id: int
    only_if_banned: bool
    at: float


# --------------------------------------------------------------------------- the world


@dataclass
class FakeUser:
    """A person on Telegram."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "nl"
    is_bot: bool = False

    def to_dict(self) -> JSONDict:
        user: JSONDict = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name is not None:
            user["last_name"] = self.last_name
        if self.username is not None:
            user["username"] = self.username
        if self.language_code is not None:
            user["language_code"] = self.language_code
        return user


@dataclass
class FakeChat:
    """A chat: a person's private chat with the bot, a group or a supergroup."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def to_dict(self) -> JSONDict:
        chat: JSONDict = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value is not None:
                chat[key] = value
        return chat

    def full_info(self) -> JSONDict:
        """The ChatFullInfo object of getChat."""
        info = self.to_dict()
        info["accent_color_id"] = 0
        info["max_reaction_count"] = 11
        info["accepted_gift_types"] = {
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        }
        if not self.is_private:
            info["permissions"] = {
                "can_send_messages": True,
                "can_send_audios": True,
                "can_send_documents": True,
                "can_send_photos": True,
                "can_send_videos": True,
                "can_send_video_notes": True,
                "can_send_voice_notes": True,
                "can_send_polls": True,
                "can_send_other_messages": True,
                "can_add_web_page_previews": True,
                "can_change_info": False,
                "can_invite_users": True,
                "can_pin_messages": False,
                "can_manage_topics": False,
            }
        return info


class ManualMonotonic:
    """A monotonic clock that moves only when told; pass it as ``monotonic=``."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock does not go back")
        self.now += seconds


# --------------------------------------------------------------------------- internals


class _ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


class _Signal:
    """Wakes every waiter at once; ``notify`` is synchronous so world changes can call it."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)


@dataclass
class _Update:
    update_id: int
    kind: str
    payload: JSONDict

    def to_dict(self) -> JSONDict:
        return {"update_id": self.update_id, self.kind: self.payload}


@dataclass
class _Call:
    params: dict[str, Any]
    files: dict[str, UploadedFile]
    request: web.Request


@dataclass
class _Member:
    status: str
    can_restrict_members: bool = False
    until_date: int = 0


def _decode_value(key: str, value: str) -> Any:
    """Form values arrive as strings with nested values JSON-encoded (as PTB sends them)."""
    if key in _STRING_PARAMS:
        return value
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, dict | list | bool | int | float):
        return decoded
    return value


def _image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of a PNG, GIF, JPEG or WebP image; None when it is none of those."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 512, 512
    if data[:2] == b"\xff\xd8":
        index = 2
        while index + 9 <= len(data):
            if data[index] != 0xFF:
                return None
            marker = data[index + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                index += 2
                continue
            (length,) = struct.unpack(">H", data[index + 2 : index + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[index + 5 : index + 9])
                return int(width), int(height)
            index += 2 + length
    return None


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise _bad(f"invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise _bad(f"invalid {name} specified")


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


# --------------------------------------------------------------------------- the server


class FakeTelegram:
    """A fake Telegram Bot API server: the bot's side over HTTP, the people's side in Python.

    Args:
        token: the only token the server accepts; the part before ``:`` is the bot's id.
        bot_username: the bot's username (without ``@``).
        limits: flood limits; Telegram's published limits when None.
        monotonic: the time source of flood control and of ``at`` stamps.
        clock: the time source of message ``date`` fields; the system clock when None.
        bot_first_name: the bot's display name.
        privacy_mode: like a bot's privacy mode: a bot that is a plain member of a group
            only receives commands, replies to itself and mentions of itself.
    """

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN",  # noqa: S107 - a made-up token for a fake server
        bot_username: str = "vhbot_test_bot",
        limits: FloodLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Clock | None = None,
        bot_first_name: str = "VH Testbot",
        privacy_mode: bool = True,
    ) -> None:
        self.token = token
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 123456
        self.bot_username = bot_username
        self.bot_user: JSONDict = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self.privacy_mode = privacy_mode
        self.limits = limits or FloodLimits()
        self._monotonic = monotonic
        self._clock = clock
        self._flood = FloodControl(self.limits, monotonic)

        # inspection
        self.requests: list[RecordedCall] = []
        self.sent: list[SentMessage] = []
        self.payload_observers: list[PayloadObserver] = []
        # Calls carried out whose answer was lost (fault mode "drop_after"); also in requests.
        self.lost_responses: list[RecordedCall] = []
        self._faults = Faults()
        self.observer_errors: list[BaseException] = []
        self.bans: list[BanRecord] = []
        self.unbans: list[UnbanRecord] = []
        self.deleted: list[tuple[int, int]] = []
        self.callback_answers: dict[str, JSONDict] = {}
        # (canonical scope JSON, language_code or "") -> commands
        self.my_commands: dict[tuple[str, str], list[JSONDict]] = {}

        # the world
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self._members: dict[int, dict[int, _Member]] = {}
        self._started: set[int] = set()
        self._blocked: set[int] = set()
        self._messages: dict[tuple[int, int], JSONDict] = {}
        self._message_ids: dict[int, int] = {}
        self._files: dict[str, UploadedFile] = {}
        self._file_count = 0
        self._queries: dict[str, bool] = {}  # callback query id -> answered
        self._query_count = 0
        self._next_user_id = 5_000_000_001
        self._next_group = 1

        # updates
        self._updates: list[_Update] = []
        self._next_update_id = 1
        self._allowed: frozenset[str] | None = None  # None: Telegram's default set
        self._poll_generation = 0
        self._parked = 0

        self._updates_signal = _Signal()
        self._activity = _Signal()
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._host = "127.0.0.1"
        self._port: int | None = None
        self._closing = False

        self._methods: dict[str, tuple[str, Callable[[_Call], Any]]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("answerCallbackQuery", self._answer_callback_query),
            ("sendPhoto", self._send_photo),
            ("getChat", self._get_chat),
            ("getChatMember", self._get_chat_member),
            ("getChatAdministrators", self._get_chat_administrators),
            ("banChatMember", self._ban_chat_member),
            ("unbanChatMember", self._unban_chat_member),
            ("leaveChat", self._leave_chat),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("deleteMessage", self._delete_message),
            ("sendChatAction", self._send_chat_action),
            ("close", self._true),
            ("logOut", self._true),
        ):
            self._methods[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port``; port 0 picks a free one."""
        if self._runner is not None:
            raise RuntimeError("the fake Telegram server is already running")
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a long poll the bot abandons ends with it, unrecorded.
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._site = site
        address = runner.addresses[0]
        self._host = host
        self._port = int(address[1])
        self._closing = False

    async def stop(self) -> None:
        """Stop listening; re-raises the first payload observer error, if any."""
        if self._runner is not None:
            self._closing = True
            self._updates_signal.notify()
            runner, self._runner = self._runner, None
            self._site = None
            await runner.cleanup()
        self._raise_observer_error()

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def api_root(self) -> str:
        """E.g. ``http://127.0.0.1:41234``; the bot calls ``{api_root}/bot{token}/{method}``."""
        if self._port is None:
            raise RuntimeError("the fake Telegram server has not been started")
        return f"http://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        """What to pass as PTB's ``base_url``."""
        return f"{self.api_root}/bot"

    # ------------------------------------------------------------------ the world

    def add_user(
        self,
        first_name: str,
        *,
        last_name: str | None = None,
        language_code: str | None = "nl",
        username: str | None = None,
        started: bool = False,
    ) -> FakeUser:
        """A person. Their private chat with the bot opens when they first write to it
        (or with ``started=True``); until then the bot cannot message them (403)."""
        user = FakeUser(
            id=self._next_user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )
        self._next_user_id += 1
        self.users[user.id] = user
        self.chats[user.id] = FakeChat(
            id=user.id,
            type="private",
            username=username,
            first_name=first_name,
            last_name=last_name,
        )
        if started:
            self._started.add(user.id)
        return user

    def private_chat(self, user: FakeUser) -> FakeChat:
        return self.chats[user.id]

    def add_group(
        self,
        title: str,
        *,
        chat_id: int | None = None,
        bot_status: str = "administrator",
        bot_can_restrict: bool = True,
        chat_type: str = "supergroup",
        members: Iterable[FakeUser] = (),
        username: str | None = None,
    ) -> FakeChat:
        """A group the bot is already in (``bot_status``), with ``members`` already in it.

        No updates are queued; use ``add_bot_to_group`` / ``join_group`` for those.
        """
        if chat_type not in {"group", "supergroup"}:
            raise ValueError("chat_type must be 'group' or 'supergroup'")
        if bot_status not in _STATUSES - {"creator"}:
            raise ValueError(f"unknown bot_status {bot_status!r}")
        if chat_id is None:
            base = 1_002_000_000_000 if chat_type == "supergroup" else 4_000_000_000
            chat_id = -(base + self._next_group)
            self._next_group += 1
        if chat_id >= 0 or chat_id in self.chats:
            raise ValueError(f"chat id {chat_id} is taken or not a group id")
        group = FakeChat(id=chat_id, type=chat_type, title=title, username=username)
        self.chats[chat_id] = group
        self._members[chat_id] = {
            self.bot_id: _Member(bot_status, can_restrict_members=bot_can_restrict)
        }
        for user in members:
            self._members[chat_id][user.id] = _Member("member")
        return group

    def set_member_status(
        self,
        group: FakeChat,
        user: FakeUser,
        status: str,
        *,
        can_restrict_members: bool = False,
    ) -> None:
        """Set a person's status in a group silently (test setup; no update is queued)."""
        if status not in _STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._group_members(group)[user.id] = _Member(
            status, can_restrict_members=can_restrict_members
        )

    @property
    def chat_members(self) -> dict[int, dict[int, str]]:
        """Group id -> user id -> status (creator/administrator/member/left/kicked)."""
        return {
            chat_id: {user_id: member.status for user_id, member in members.items()}
            for chat_id, members in self._members.items()
        }

    def member_status(self, group: FakeChat, user: FakeUser | int) -> str:
        user_id = user if isinstance(user, int) else user.id
        member = self._group_members(group).get(user_id)
        return member.status if member else "left"

    def bot_status(self, group: FakeChat) -> str:
        return self.member_status(group, self.bot_id)

    # ------------------------------------------------------------------ acting as a person

    def send_text(
        self,
        user: FakeUser,
        text: str,
        *,
        chat: FakeChat | None = None,
        reply_to: MessageLike | None = None,
    ) -> JSONDict:
        """``user`` writes ``text`` in ``chat`` (default: their private chat with the bot).

        Returns the Message. A ``message`` update is queued when the bot can see it: always
        in private chats; in groups when the bot is in the group and, with privacy mode on
        and the bot a plain member, only for commands, replies to the bot and mentions.
        A person the group has never seen counts as a member; one who left or was banned
        cannot write there (ValueError).
        """
        chat = chat or self.chats[user.id]
        if chat.is_private:
            if chat.id != user.id:
                raise ValueError(f"{user.first_name} cannot write in someone else's private chat")
            self._started.add(user.id)
            if user.id in self._blocked:
                self.unblock_bot(user)
        else:
            members = self._group_members(chat)
            if user.id not in members:
                # Someone the group never saw: taken to be a member all along (no update).
                members[user.id] = _Member("member")
            elif members[user.id].status not in _PRESENT:
                raise ValueError(
                    f"{user.first_name} cannot write in {chat.title!r}: "
                    f"they are {members[user.id].status}"
                )
        content: JSONDict = {"text": text}
        entities = bot_command_entities(text)
        if entities:
            content["entities"] = entities
        if reply_to is not None:
            content["reply_to_message"] = self._reply_source(chat, reply_to)
        message = self._new_message(chat, user.to_dict(), content)
        if self._bot_sees(chat, message):
            self._queue("message", message)
        return copy.deepcopy(message)

    def press_button(
        self, user: FakeUser, message: MessageLike, data: str, *, forged: bool = False
    ) -> str:
        """``user`` presses the inline button with callback_data ``data``; returns the query id.

        The button must be on the message as it is now (after any edits), unless
        ``forged``: a modified client can send any callback data for any message
        it sees, and the bot must cope.
        """
        chat_id, message_id = self._message_key(message)
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            raise ValueError(f"message {message_id} in chat {chat_id} does not exist")
        chat = self.chats[chat_id]
        if chat.is_private and chat_id != user.id:
            raise ValueError(f"{user.first_name} cannot see a message in another private chat")
        rows = (stored.get("reply_markup") or {}).get("inline_keyboard") or []
        offered = [button.get("callback_data") for row in rows for button in row]
        if data not in offered and not forged:
            raise ValueError(
                f"message {message_id} has no button with callback_data {data!r}; "
                f"it offers {[d for d in offered if d is not None]}"
            )
        self._query_count += 1
        query_id = str(3_200_000_000_000_000_000 + self._query_count)
        self._queries[query_id] = False
        self._queue(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_dict(),
                "message": copy.deepcopy(stored),
                "chat_instance": str((chat_id * 2_654_435_761) % 2**63),
                "data": data,
            },
        )
        return query_id

    def join_group(self, user: FakeUser, group: FakeChat) -> None:
        """``user`` joins ``group``: a ``chat_member`` update left -> member (delivered only
        to a bot that is an administrator there and asked for "chat_member"), and the
        ``new_chat_members`` service message."""
        status = self.member_status(group, user)
        if status == "kicked":
            raise ValueError(f"{user.first_name} is banned from {group.title!r}")
        if status in _PRESENT:
            raise ValueError(f"{user.first_name} is already in {group.title!r}")
        self._change_member(group, user.to_dict(), user.to_dict(), _Member("member"))
        self._service_message(group, user.to_dict(), {"new_chat_members": [user.to_dict()]})

    def leave_group(self, user: FakeUser, group: FakeChat) -> None:
        """``user`` leaves ``group``: ``chat_member`` member -> left and the service message."""
        if self.member_status(group, user) not in _PRESENT:
            raise ValueError(f"{user.first_name} is not in {group.title!r}")
        self._change_member(group, user.to_dict(), user.to_dict(), _Member("left"))
        self._service_message(group, user.to_dict(), {"left_chat_member": user.to_dict()})

    def add_bot_to_group(
        self,
        group: FakeChat,
        *,
        by: FakeUser,
        status: str | None = None,
        can_restrict_members: bool | None = None,
    ) -> None:
        """``by`` adds the bot: a ``my_chat_member`` update left -> ``status``.

        ``status`` defaults to the ``bot_status`` the group was created with ("member" if
        that was "left"/"kicked").
        """
        members = self._group_members(group)
        current = members[self.bot_id]
        if status is None:
            status = current.status if current.status in _PRESENT else "member"
        if status not in {"member", "administrator"}:
            raise ValueError("the bot can be added as 'member' or 'administrator'")
        if by.id not in members or members[by.id].status not in _PRESENT:
            members[by.id] = _Member("member")
        if can_restrict_members is None:
            can_restrict_members = current.can_restrict_members
        if current.status in _PRESENT:
            # re-adding: start from outside the group, as the update must show
            members[self.bot_id] = _Member("left")
        self._change_member(
            group, by.to_dict(), self.bot_user, _Member(status, can_restrict_members)
        )
        self._service_message(group, by.to_dict(), {"new_chat_members": [dict(self.bot_user)]})

    def remove_bot_from_group(self, group: FakeChat, *, by: FakeUser) -> None:
        """``by`` removes the bot: a ``my_chat_member`` update -> kicked."""
        self._change_member(group, by.to_dict(), self.bot_user, _Member("kicked"))

    def block_bot(self, user: FakeUser) -> None:
        """``user`` blocks the bot: ``my_chat_member`` member -> kicked in the private chat."""
        if user.id in self._blocked:
            return
        self._blocked.add(user.id)
        self._private_member_update(user, "member", "kicked")

    def unblock_bot(self, user: FakeUser) -> None:
        if user.id not in self._blocked:
            return
        self._blocked.discard(user.id)
        self._private_member_update(user, "kicked", "member")

    # ------------------------------------------------------------------ inspection

    def messages_to(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to (or edited in) ``chat_id``, in order."""
        return [message for message in self.sent if message.chat_id == chat_id]

    def calls(self, method: str) -> list[RecordedCall]:
        return [call for call in self.requests if call.method.lower() == method.lower()]

    def message(self, chat_id: int, message_id: int) -> JSONDict:
        """A message as it is now (after edits)."""
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        return copy.deepcopy(stored)

    def commands(self, scope: Mapping[str, Any] | None = None, language_code: str = "") -> Any:
        """The commands set for ``scope`` (default scope when None) and ``language_code``."""
        key = (self._scope_key(dict(scope or {"type": "default"})), language_code)
        return copy.deepcopy(self.my_commands.get(key, []))

    @property
    def pending_updates(self) -> list[JSONDict]:
        """Updates not yet confirmed by a getUpdates offset, whatever allowed_updates says."""
        return [update.to_dict() for update in self._updates]

    @property
    def allowed_updates(self) -> frozenset[str] | None:
        """The remembered allowed_updates; None means Telegram's default set."""
        return self._allowed

    # ------------------------------------------------------------------ faults

    def fail_next(
        self, method: str, *, count: int = 1, status: int = 500, mode: str = "status"
    ) -> None:
        """The next ``count`` calls of ``method`` fail as Telegram's do in a bad moment.

        Modes: "status" answers ``status`` with Telegram's error body (500 Internal Server
        Error, 502 Bad Gateway, ...) and does nothing; "drop_before" closes the connection
        without an answer and does nothing; "drop_after" carries the call out (a message is
        sent and in ``sent``) and then closes the connection: the answer is lost
        (``lost_responses``). Queued faults come before those of ``fault_rate``.
        """
        self._faults.fail_next(method, count=count, status=status, mode=mode)

    def fault_rate(
        self,
        rate: float,
        *,
        seed: int = 0,
        methods: Iterable[str] | None = None,
        modes: Iterable[str] = ("status", "drop_before", "drop_after"),
    ) -> None:
        """From now on each call of ``methods`` (None: all but getUpdates) fails with
        probability ``rate``, in a mode drawn from ``modes`` (status 500 or 502).

        The same seed and the same calls give the same faults; ``rate`` 0 ends it.
        """
        self._faults.fault_rate(rate, seed=seed, methods=methods, modes=modes)

    def delay(self, seconds: float, *, method: str | None = None) -> None:
        """Hold calls of ``method`` (None: all but getUpdates) ``seconds`` of real time
        before carrying them out and answering; ``delay(0)`` ends it. Where several
        delays apply, the longest counts. A call the bot gives up on is not carried out."""
        self._faults.delay(seconds, method=method)

    def throttle(
        self, seconds: float, *, chat_id: int | None = None, method: str | None = None
    ) -> None:
        """A 429 window of ``seconds`` on the server's monotonic clock, for calls to
        ``chat_id``, of ``method``, or both when both are given (neither: every call but
        getUpdates). Calls in it get "Too Many Requests: retry after N" with N the whole
        seconds left (at least 1). A new window for the same chat and method replaces the
        old one, so ``throttle(0, ...)`` ends it."""
        self._faults.throttle(self._monotonic() + seconds, chat_id=chat_id, method=method)

    def forbid(self, chat_id: int, description: str | None = None) -> None:
        """Every call to ``chat_id`` answers 403 until ``allow``. The default description
        is Telegram's for the chat type: "Forbidden: bot was blocked by the user" for a
        person, "Forbidden: bot was kicked from the supergroup chat" for a group; pass
        e.g. "Forbidden: bot is not a member of the supergroup chat" for another."""
        self._faults.forbid(chat_id, description)

    def allow(self, chat_id: int) -> None:
        """End ``forbid`` for ``chat_id``."""
        self._faults.allow(chat_id)

    async def go_down(self, mode: str = "refused") -> None:
        """A full outage until ``come_back``.

        "refused": the listening socket is closed (new connections are refused) and open
        connections are closed; "status": every call answers 502 Bad Gateway; "drop":
        every call's connection is closed without an answer. A parked getUpdates ends.
        """
        checked = outage_mode(mode)
        if self._runner is None:
            raise RuntimeError("the fake Telegram server is not running")
        self._faults.outage = checked
        if checked == "refused":
            if self._site is not None:
                site, self._site = self._site, None
                await site.stop()
            server = self._runner.server
            for connection in server.connections if server is not None else []:
                connection.force_close()
        self._updates_signal.notify()

    async def come_back(self) -> None:
        """End the outage; after "refused" the server listens again on the same port."""
        if self._runner is not None and self._site is None:
            site = web.TCPSite(self._runner, self._host, self._port)
            await site.start()
            self._site = site
        self._faults.outage = None

    async def wait_for_call(
        self,
        method: str,
        *,
        predicate: Callable[[RecordedCall], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the harness's API
        count: int = 1,
        since: int = 0,
    ) -> RecordedCall:
        """The ``count``-th call of ``method`` (matching ``predicate``) among
        ``requests[since:]``, waiting for it if needed. Any status counts."""

        def probe() -> RecordedCall | None:
            found = [
                call
                for call in self.requests[since:]
                if call.method.lower() == method.lower() and (predicate is None or predicate(call))
            ]
            return found[count - 1] if len(found) >= count else None

        what = f"{count} {method} call(s)" + (" matching the predicate" if predicate else "")
        return await self._wait(probe, timeout, what)

    async def wait_for_message(
        self,
        chat_id: int,
        *,
        contains: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the harness's API
        since: int = 0,
    ) -> SentMessage:
        """The first message among ``sent[since:]`` to ``chat_id`` whose text contains
        ``contains``, waiting for it if needed."""

        def probe() -> SentMessage | None:
            for message in self.sent[since:]:
                if message.chat_id == chat_id and (contains is None or contains in message.text):
                    return message
            return None

        what = f"a message to {chat_id}" + (f" containing {contains!r}" if contains else "")
        return await self._wait(probe, timeout, what)

    async def wait_until_polling(self, *, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until a getUpdates long poll is parked on the server."""
        await self._wait(lambda: True if self._parked else None, timeout, "a parked getUpdates")

    async def _wait(
        self,
        probe: Callable[[], _T | None],
        timeout: float,  # noqa: ASYNC109
        what: str,
    ) -> _T:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._raise_observer_error()
                    found = probe()
                    if found is not None:
                        return found
                    await self._activity.wait()
        except TimeoutError:
            recent = "\n  ".join(str(call) for call in self.requests[-15:]) or "(none)"
            raise TimeoutError(
                f"timed out after {timeout}s waiting for {what}; recent calls:\n  {recent}"
            ) from None

    def _raise_observer_error(self) -> None:
        if self.observer_errors:
            raise self.observer_errors[0]

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        match = _PATH.match(request.path)
        method = match.group("method") if match else request.path
        if match and match.group("method").lower() in self._methods:
            method = self._methods[match.group("method").lower()][0]
        try:
            params, files = await self._read_params(request)
        except _ApiError as error:
            return self._answer(method, {}, {}, error.status, error.body())

        for observer in list(self.payload_observers):
            try:
                observer(method, MappingProxyType(params))
            except Exception as exc:  # surfaced through wait_* and stop()
                self.observer_errors.append(exc)
                body = {
                    "ok": False,
                    "error_code": 500,
                    "description": f"Internal Server Error: payload observer failed: {exc!r}",
                }
                return self._answer(method, params, files, 500, body)

        held = self._faults.delay_for(method)
        if held:
            await asyncio.sleep(held)
        if self._faults.outage is not None:
            return self._outage_answer(request, method, params, files, {})

        if match is None:
            return self._answer(method, params, files, 404, _ApiError(404, "Not Found").body())
        if match.group("token") != self.token:
            return self._answer(method, params, files, 401, _ApiError(401, "Unauthorized").body())
        entry = self._methods.get(match.group("method").lower())
        if entry is None:
            return self._answer(method, params, files, 404, _ApiError(404, "Not Found").body())
        fault = self._faults.fault_for(method)
        if fault is not None and fault.mode == "status":
            body = _ApiError(fault.status, error_description(fault.status)).body()
            return self._answer(method, params, files, fault.status, body)
        if fault is not None and fault.mode == "drop_before":
            return self._drop(request, method, params, files, {})
        try:
            self._fault_gates(method, params)
            result = entry[1](_Call(params, files, request))
            if asyncio.iscoroutine(result):
                result = await result
        except _ApiError as error:
            status, body = error.status, error.body()
        else:
            status, body = 200, {"ok": True, "result": result}
        if self._faults.outage is not None:  # it began during a long poll
            return self._outage_answer(request, method, params, files, body)
        if fault is not None:  # drop_after: carried out, the answer is lost
            return self._drop(request, method, params, files, body, lost=status == 200)
        return self._answer(method, params, files, status, body)

    def _fault_gates(self, method: str, params: Mapping[str, Any]) -> None:
        """403 for a forbidden chat, then 429 in a throttle window."""
        chat_id = self._target_chat_id(params)
        forbidden, description = self._faults.forbidden(chat_id)
        if forbidden:
            raise _ApiError(403, description or self._forbidden_description(chat_id))
        retry_after = self._faults.retry_after(method, chat_id, self._monotonic())
        if retry_after:
            raise _ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def _target_chat_id(self, params: Mapping[str, Any]) -> int | None:
        try:
            return self._chat(params).id
        except _ApiError:
            raw = params.get("chat_id")
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
            return None

    def _forbidden_description(self, chat_id: int | None) -> str:
        chat = self.chats.get(chat_id) if chat_id is not None else None
        if (chat is None and chat_id is not None and chat_id > 0) or (chat and chat.is_private):
            return "Forbidden: bot was blocked by the user"
        kind = self._kind(chat) if chat is not None else "supergroup"
        return f"Forbidden: bot was kicked from the {kind} chat"

    def _outage_answer(
        self,
        request: web.Request,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        body: JSONDict,
    ) -> web.StreamResponse:
        """During an outage: 502 Bad Gateway, or the connection dropped; nothing counts as done."""
        if self._faults.outage == "status":
            return self._answer(method, params, files, 502, _ApiError(502, "Bad Gateway").body())
        return self._drop(request, method, params, files, body)

    def _drop(
        self,
        request: web.Request,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        body: JSONDict,
        *,
        lost: bool = False,
    ) -> web.StreamResponse:
        """Close the connection without an answer; record the call with status 0.

        ``body`` is the answer that would have been given; ``lost``: the call was carried out.
        """
        call = RecordedCall(
            method=method,
            params=params,
            status=0,
            response=copy.deepcopy(body),
            files=files,
            at=self._monotonic(),
        )
        self.requests.append(call)
        if lost:
            self.lost_responses.append(call)
        self._activity.notify()
        request.protocol.force_close()
        return web.Response()

    def _answer(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, UploadedFile],
        status: int,
        body: JSONDict,
    ) -> web.Response:
        self.requests.append(
            RecordedCall(
                method=method,
                params=params,
                status=status,
                response=copy.deepcopy(body),
                files=files,
                at=self._monotonic(),
            )
        )
        self._activity.notify()
        return web.json_response(body, status=status)

    async def _read_params(
        self, request: web.Request
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        params: dict[str, Any] = {}
        files: dict[str, UploadedFile] = {}
        self._merge_form(request.query, params, files)
        if request.method not in {"POST", "PUT"} or not request.can_read_body:
            return params, files
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise _bad("JSON request body must be an object")
            for key, value in body.items():
                params[key] = _decode_value(key, value) if isinstance(value, str) else value
        elif request.content_type in {"multipart/form-data", "application/x-www-form-urlencoded"}:
            self._merge_form(await request.post(), params, files)
        return params, files

    @staticmethod
    def _merge_form(
        form: MultiMapping[Any], params: dict[str, Any], files: dict[str, UploadedFile]
    ) -> None:
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = UploadedFile(
                    field=key,
                    filename=value.filename,
                    content_type=value.content_type,
                    data=value.file.read(),
                )
            else:
                params[key] = _decode_value(key, str(value))

    # ------------------------------------------------------------------ updates

    def _queue(self, kind: str, payload: JSONDict) -> None:
        self._updates.append(_Update(self._next_update_id, kind, copy.deepcopy(payload)))
        self._next_update_id += 1
        self._updates_signal.notify()

    def _deliverable(self, limit: int) -> list[JSONDict]:
        batch = []
        for update in self._updates:
            if self._allowed is None:
                wanted = update.kind not in _OPT_IN_UPDATES
            else:
                wanted = update.kind in self._allowed
            if wanted:
                batch.append(update.to_dict())
                if len(batch) == limit:
                    break
        return batch

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._updates = [update for update in self._updates if update.update_id >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    async def _get_updates(self, call: _Call) -> list[JSONDict]:
        params = call.params
        offset = _as_int(params.get("offset", 0) or 0, "offset")
        limit = min(max(_as_int(params.get("limit", 100) or 100, "limit"), 1), 100)
        raw_timeout = params.get("timeout", 0) or 0
        if isinstance(raw_timeout, bool) or not isinstance(raw_timeout, int | float):
            raise _bad("invalid timeout specified")
        timeout = max(float(raw_timeout), 0.0)
        allowed = params.get("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list):
                raise _bad("can't parse allowed updates")
            self._allowed = frozenset(str(kind) for kind in allowed) or None

        self._confirm(offset)
        # A new getUpdates ends any older one with 409, as Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._updates_signal.notify()
        batch = self._deliverable(limit)
        if batch or timeout == 0 or self._closing:
            return batch
        self._parked += 1
        self._activity.notify()
        try:
            async with asyncio.timeout(timeout):
                while True:
                    await self._updates_signal.wait()
                    if self._poll_generation != generation:
                        raise _ApiError(
                            409,
                            "Conflict: terminated by other getUpdates request; "
                            "make sure that only one bot instance is running",
                        )
                    if self._closing or self._faults.outage is not None:
                        return []
                    batch = self._deliverable(limit)
                    if batch:
                        return batch
        except TimeoutError:
            return []
        finally:
            self._parked -= 1

    def _delete_webhook(self, call: _Call) -> bool:
        if _as_bool(call.params.get("drop_pending_updates", False)):
            self._updates.clear()
        return True

    def _get_webhook_info(self, call: _Call) -> JSONDict:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    # ------------------------------------------------------------------ helpers

    def _now(self) -> int:
        if self._clock is not None:
            return int(self._clock.now().timestamp())
        return int(time.time())

    def _user_dict(self, user_id: int) -> JSONDict | None:
        if user_id == self.bot_id:
            return dict(self.bot_user)
        user = self.users.get(user_id)
        return user.to_dict() if user else None

    def _group_members(self, group: FakeChat) -> dict[int, _Member]:
        if group.id not in self._members:
            raise ValueError(f"{group.id} is not a group of this fake")
        return self._members[group.id]

    def _message_key(self, message: MessageLike) -> tuple[int, int]:
        if isinstance(message, Mapping):
            return int(message["chat"]["id"]), int(message["message_id"])
        return int(message.chat_id), int(message.message_id)

    def _reply_source(self, chat: FakeChat, reply_to: MessageLike) -> JSONDict:
        chat_id, message_id = self._message_key(reply_to)
        stored = self._messages.get((chat_id, message_id))
        if stored is None or chat_id != chat.id:
            raise ValueError(f"message {message_id} is not in chat {chat.id}")
        source = copy.deepcopy(stored)
        source.pop("reply_to_message", None)
        return source

    def _new_message(self, chat: FakeChat, sender: JSONDict, content: JSONDict) -> JSONDict:
        message_id = self._message_ids.get(chat.id, 0) + 1
        self._message_ids[chat.id] = message_id
        message: JSONDict = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": chat.to_dict(),
            "date": self._now(),
            **content,
        }
        self._messages[(chat.id, message_id)] = message
        return message

    def _bot_sees(self, chat: FakeChat, message: JSONDict) -> bool:
        if chat.is_private:
            return True
        status = self.bot_status(chat)
        if status not in _PRESENT:
            return False
        if status in _ADMINS or not self.privacy_mode:
            return True
        text = str(message.get("text", ""))
        reply = message.get("reply_to_message")
        return (
            text.startswith("/")
            or (reply is not None and reply.get("from", {}).get("id") == self.bot_id)
            or f"@{self.bot_username}".lower() in text.lower()
        )

    def _member_dict(self, user: JSONDict, member: _Member) -> JSONDict:
        status = member.status
        if status == "creator":
            return {"status": "creator", "user": user, "is_anonymous": False}
        if status == "administrator":
            return {
                "status": "administrator",
                "user": user,
                "can_be_edited": False,
                "is_anonymous": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": True,
                "can_restrict_members": member.can_restrict_members,
                "can_promote_members": False,
                "can_change_info": True,
                "can_invite_users": True,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_pin_messages": True,
                "can_manage_topics": False,
            }
        if status == "kicked":
            return {"status": "kicked", "user": user, "until_date": member.until_date}
        return {"status": status, "user": user}

    def _change_member(self, chat: FakeChat, actor: JSONDict, user: JSONDict, new: _Member) -> None:
        """Change a status and queue the (my_)chat_member update Telegram would send."""
        members = self._group_members(chat)
        old = members.get(user["id"], _Member("left"))
        members[user["id"]] = new
        update = {
            "chat": chat.to_dict(),
            "from": dict(actor),
            "date": self._now(),
            "old_chat_member": self._member_dict(dict(user), old),
            "new_chat_member": self._member_dict(dict(user), new),
        }
        if user["id"] == self.bot_id:
            self._queue("my_chat_member", update)
        elif self.bot_status(chat) in _ADMINS:
            # Only administrators get chat_member updates (and only when they ask for them).
            self._queue("chat_member", update)

    def _service_message(self, chat: FakeChat, actor: JSONDict, content: JSONDict) -> None:
        message = self._new_message(chat, actor, content)
        if self.bot_status(chat) in _PRESENT:
            self._queue("message", message)

    def _private_member_update(self, user: FakeUser, old: str, new: str) -> None:
        self._queue(
            "my_chat_member",
            {
                "chat": self.chats[user.id].to_dict(),
                "from": user.to_dict(),
                "date": self._now(),
                "old_chat_member": self._member_dict(dict(self.bot_user), _Member(old)),
                "new_chat_member": self._member_dict(dict(self.bot_user), _Member(new)),
            },
        )

    def _chat(self, params: Mapping[str, Any], name: str = "chat_id") -> FakeChat:
        raw = params.get(name)
        if raw is None or raw == "":
            raise _bad(f"{name} is empty")
        if isinstance(raw, str) and raw.startswith("@"):
            for candidate in self.chats.values():
                if (
                    candidate.username
                    and candidate.username.lower() == raw[1:].lower()
                    and not candidate.is_private
                ):
                    return candidate
            raise _bad("chat not found")
        try:
            chat_id = _as_int(raw, name)
        except _ApiError:
            raise _bad("chat not found") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _kind(self, chat: FakeChat) -> str:
        return "supergroup" if chat.type == "supergroup" else "group"

    def _require_bot_in(self, chat: FakeChat) -> None:
        if chat.is_private:
            return
        status = self.bot_status(chat)
        if status == "kicked":
            raise _ApiError(403, f"Forbidden: bot was kicked from the {self._kind(chat)} chat")
        if status not in _PRESENT:
            raise _ApiError(403, f"Forbidden: bot is not a member of the {self._kind(chat)} chat")

    def _require_can_send(self, chat: FakeChat) -> None:
        if chat.is_private:
            if chat.id in self._blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            if chat.id not in self._started:
                raise _ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        self._require_bot_in(chat)

    def _require_can_restrict(self, chat: FakeChat) -> None:
        if chat.is_private:
            raise _bad("chat member status can't be changed in private chats")
        self._require_bot_in(chat)
        bot = self._members[chat.id][self.bot_id]
        if bot.status != "creator" and not (
            bot.status == "administrator" and bot.can_restrict_members
        ):
            raise _bad("not enough rights to restrict/unrestrict chat member")

    def _flood_gate(self, chat: FakeChat | None) -> None:
        chat_id = chat.id if chat else None
        is_private = bool(chat and chat.is_private)
        retry_after = self._flood.retry_after(chat_id, is_private=is_private)
        if retry_after:
            raise _ApiError(
                429,
                f"Too Many Requests: retry after {retry_after}",
                {"retry_after": retry_after},
            )

    def _spend(self, chat: FakeChat) -> None:
        self._flood.spend(chat.id, is_private=chat.is_private)

    def _format(self, text: str, parse_mode: Any) -> FormattedText:
        if parse_mode is not None and not isinstance(parse_mode, str):
            raise _bad("unsupported parse_mode")
        try:
            return format_text(text, parse_mode, self._user_dict)
        except EntityParseError as error:
            raise _bad(f"can't parse entities: {error}") from None
        except ValueError:
            raise _bad(f"unsupported parse_mode {parse_mode}") from None

    def _reply_markup(self, params: Mapping[str, Any]) -> JSONDict | None:
        raw = params.get("reply_markup")
        if raw is None or raw == "":
            return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise _bad("can't parse reply keyboard markup JSON object") from None
        if not isinstance(raw, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in raw:
            rows = raw["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('Field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
            for row in rows:
                for button in row:
                    self._check_button(button)
        elif not {"keyboard", "remove_keyboard", "force_reply"} & raw.keys():
            raise _bad("can't parse reply keyboard markup JSON object")
        return raw

    @staticmethod
    def _check_button(button: Any) -> None:
        if not isinstance(button, dict) or not isinstance(button.get("text"), str):
            raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
        actions = [key for key in _BUTTON_ACTIONS if key in button]
        if not actions:
            raise _bad(
                "can't parse inline keyboard button: "
                "Text buttons are unallowed in the inline keyboard"
            )
        if "callback_data" in button:
            data = button["callback_data"]
            if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                raise _bad("BUTTON_DATA_INVALID")
        if "url" in button:
            url = button["url"]
            if not isinstance(url, str) or not re.match(r"^(https?|tg)://\S+$", url):
                raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")

    def _reply_to(self, chat: FakeChat, params: Mapping[str, Any]) -> JSONDict | None:
        reference = params.get("reply_parameters")
        allow_missing = _as_bool(params.get("allow_sending_without_reply", False))
        if isinstance(reference, dict):
            message_id = reference.get("message_id")
            allow_missing = allow_missing or _as_bool(
                reference.get("allow_sending_without_reply", False)
            )
        else:
            message_id = params.get("reply_to_message_id")
        if message_id is None:
            return None
        stored = self._messages.get((chat.id, _as_int(message_id, "message_id")))
        if stored is None:
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        source = copy.deepcopy(stored)
        source.pop("reply_to_message", None)
        return source

    def _message_content(
        self, formatted: FormattedText, markup: JSONDict | None, *, key: str = "text"
    ) -> JSONDict:
        content: JSONDict = {key: formatted.text}
        if formatted.entities:
            content["entities" if key == "text" else "caption_entities"] = formatted.entities
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        return content

    def _record_sent(
        self,
        method: str,
        message: JSONDict,
        *,
        raw_text: str,
        parse_mode: Any,
        markup: JSONDict | None,
        photo: UploadedFile | None = None,
    ) -> None:
        entities = message.get("entities") or message.get("caption_entities") or []
        self.sent.append(
            SentMessage(
                chat_id=int(message["chat"]["id"]),
                message_id=int(message["message_id"]),
                text=str(message.get("text", message.get("caption", ""))),
                reply_markup=copy.deepcopy(markup),
                method=method,
                at=self._monotonic(),
                raw_text=raw_text,
                parse_mode=parse_mode if isinstance(parse_mode, str) else None,
                entities=tuple(copy.deepcopy(entities)),
                date=int(message.get("edit_date") or message["date"]),
                photo=photo,
            )
        )
        self._activity.notify()

    # ------------------------------------------------------------------ methods

    def _true(self, call: _Call) -> bool:
        return True

    def _get_me(self, call: _Call) -> JSONDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _checked_text(self, params: Mapping[str, Any]) -> tuple[str, FormattedText]:
        """The text parameter as sent and as shown, refused like Telegram refuses it."""
        raw_text = params.get("text")
        if raw_text is None or str(raw_text) == "":
            raise _bad("message text is empty")
        raw_text = str(raw_text)
        formatted = self._format(raw_text, params.get("parse_mode"))
        if not formatted.text:
            raise _bad("message text is empty")
        if len(formatted.text) > _MAX_TEXT:
            raise _bad("message is too long")
        return raw_text, formatted

    def _send_message(self, call: _Call) -> JSONDict:
        params = call.params
        chat = self._chat(params)
        raw_text, formatted = self._checked_text(params)
        markup = self._reply_markup(params)
        reply = self._reply_to(chat, params)
        self._require_can_send(chat)
        self._flood_gate(chat)
        content = self._message_content(formatted, markup)
        if reply is not None:
            content["reply_to_message"] = reply
        message = self._new_message(chat, self.bot_user, content)
        self._spend(chat)
        self._record_sent(
            "sendMessage",
            message,
            raw_text=raw_text,
            parse_mode=params.get("parse_mode"),
            markup=markup,
        )
        return copy.deepcopy(message)

    def _message_to_edit(self, params: Mapping[str, Any]) -> tuple[FakeChat, JSONDict]:
        if params.get("inline_message_id"):
            raise _bad("message to edit not found")
        chat = self._chat(params)
        if params.get("message_id") is None:
            raise _bad("message identifier is not specified")
        message_id = _as_int(params["message_id"], "message_id")
        stored = self._messages.get((chat.id, message_id))
        if stored is None:
            raise _bad("message to edit not found")
        if stored["from"]["id"] != self.bot_id:
            raise _bad("message can't be edited")
        self._require_bot_in(chat)
        return chat, stored

    def _edit_message_text(self, call: _Call) -> JSONDict:
        params = call.params
        chat, stored = self._message_to_edit(params)
        if "text" not in stored:
            raise _bad("there is no text in the message to edit")
        raw_text, formatted = self._checked_text(params)
        markup = self._reply_markup(params)
        inline = markup if markup is not None and "inline_keyboard" in markup else None
        if (
            formatted.text == stored["text"]
            and formatted.entities == stored.get("entities", [])
            and inline == stored.get("reply_markup")
        ):
            raise _bad(_NOT_MODIFIED[len("Bad Request: ") :])
        self._flood_gate(chat)
        stored["text"] = formatted.text
        stored.pop("entities", None)
        if formatted.entities:
            stored["entities"] = formatted.entities
        stored.pop("reply_markup", None)
        if inline is not None:
            stored["reply_markup"] = inline
        stored["edit_date"] = self._now()
        self._spend(chat)
        self._record_sent(
            "editMessageText",
            stored,
            raw_text=raw_text,
            parse_mode=params.get("parse_mode"),
            markup=inline,
        )
        return copy.deepcopy(stored)

    def _edit_message_reply_markup(self, call: _Call) -> JSONDict:
        params = call.params
        chat, stored = self._message_to_edit(params)
        markup = self._reply_markup(params)
        inline = markup if markup is not None and "inline_keyboard" in markup else None
        if inline == stored.get("reply_markup"):
            raise _bad(_NOT_MODIFIED[len("Bad Request: ") :])
        self._flood_gate(chat)
        stored.pop("reply_markup", None)
        if inline is not None:
            stored["reply_markup"] = inline
        stored["edit_date"] = self._now()
        self._spend(chat)
        self._record_sent(
            "editMessageReplyMarkup",
            stored,
            raw_text=str(stored.get("text", stored.get("caption", ""))),
            parse_mode=None,
            markup=inline,
        )
        return copy.deepcopy(stored)

    def _answer_callback_query(self, call: _Call) -> bool:
        params = call.params
        query_id = str(params.get("callback_query_id") or "")
        if self._queries.get(query_id, True):
            raise _bad(_QUERY_TOO_OLD[len("Bad Request: ") :])
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._queries[query_id] = True
        self.callback_answers[query_id] = {
            key: params[key] for key in ("text", "show_alert", "url", "cache_time") if key in params
        }
        return True

    def _photo_upload(self, call: _Call) -> UploadedFile:
        raw = call.params.get("photo")
        upload = call.files.get("photo")
        if upload is None and isinstance(raw, str) and raw.startswith("attach://"):
            upload = call.files.get(raw[len("attach://") :])
            if upload is None:
                raise _bad("wrong file identifier/HTTP URL specified")
        if upload is None:
            if not isinstance(raw, str) or not raw:
                raise _bad("there is no photo in the request")
            known = self._files.get(raw)
            if known is not None:
                return known
            if re.match(r"^https?://\S+$", raw):
                # Telegram would fetch it; the fake cannot, so it stands in an empty image.
                return UploadedFile(field="photo", filename=raw, content_type="", data=b"")
            raise _bad("wrong file identifier/HTTP URL specified")
        if not upload.data:
            raise _bad("file must be non-empty")
        if _image_size(upload.data) is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        return upload

    def _photo_sizes(self, upload: UploadedFile) -> list[JSONDict]:
        width, height = _image_size(upload.data) or (800, 600)
        largest = max(width, height, 1)
        bounds = [bound for bound in (90, 320, 800, 1280) if bound < largest] + [min(largest, 2560)]
        sizes = []
        for bound in bounds:
            scale = bound / largest
            self._file_count += 1
            file_id = f"AgACAgQAAxkBAAI{self._file_count:010d}"
            self._files[file_id] = upload
            sizes.append(
                {
                    "file_id": file_id,
                    "file_unique_id": f"AQAD{self._file_count:08d}",
                    "width": max(1, round(width * scale)),
                    "height": max(1, round(height * scale)),
                    "file_size": max(1, round(len(upload.data) * scale * scale)),
                }
            )
        return sizes

    def _send_photo(self, call: _Call) -> JSONDict:
        params = call.params
        chat = self._chat(params)
        upload = self._photo_upload(call)
        raw_caption = str(params.get("caption") or "")
        formatted = self._format(raw_caption, params.get("parse_mode"))
        if len(formatted.text) > _MAX_CAPTION:
            raise _bad("message caption is too long")
        markup = self._reply_markup(params)
        reply = self._reply_to(chat, params)
        self._require_can_send(chat)
        self._flood_gate(chat)
        content: JSONDict = {"photo": self._photo_sizes(upload)}
        if formatted.text:
            content.update(self._message_content(formatted, None, key="caption"))
        if markup is not None and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        if reply is not None:
            content["reply_to_message"] = reply
        message = self._new_message(chat, self.bot_user, content)
        self._spend(chat)
        self._record_sent(
            "sendPhoto",
            message,
            raw_text=raw_caption,
            parse_mode=params.get("parse_mode"),
            markup=markup,
            photo=upload,
        )
        return copy.deepcopy(message)

    def _delete_message(self, call: _Call) -> bool:
        chat = self._chat(call.params)
        message_id = _as_int(call.params.get("message_id"), "message_id")
        stored = self._messages.get((chat.id, message_id))
        if stored is None:
            raise _bad("message to delete not found")
        self._require_bot_in(chat)
        if (
            not chat.is_private
            and stored["from"]["id"] != self.bot_id
            and self.bot_status(chat) not in _ADMINS
        ):
            raise _bad("message can't be deleted")
        del self._messages[(chat.id, message_id)]
        self.deleted.append((chat.id, message_id))
        return True

    def _send_chat_action(self, call: _Call) -> bool:
        chat = self._chat(call.params)
        self._require_can_send(chat)
        return True

    def _get_chat(self, call: _Call) -> JSONDict:
        chat = self._chat(call.params)
        self._require_bot_in(chat)
        return chat.full_info()

    def _target_user(self, params: Mapping[str, Any]) -> JSONDict:
        if params.get("user_id") is None:
            raise _bad("user_id is empty")
        user = self._user_dict(_as_int(params["user_id"], "user_id"))
        if user is None:
            raise _bad("user not found")
        return user

    def _get_chat_member(self, call: _Call) -> JSONDict:
        chat = self._chat(call.params)
        user = self._target_user(call.params)
        if chat.is_private:
            if user["id"] not in {chat.id, self.bot_id}:
                raise _bad("user not found")
            return {"status": "member", "user": user}
        self._require_bot_in(chat)
        member = self._members[chat.id].get(user["id"], _Member("left"))
        return self._member_dict(user, member)

    def _get_chat_administrators(self, call: _Call) -> list[JSONDict]:
        chat = self._chat(call.params)
        if chat.is_private:
            raise _bad("there are no administrators in the private chat")
        self._require_bot_in(chat)
        admins = []
        for user_id, member in self._members[chat.id].items():
            user = self._user_dict(user_id)
            if member.status in _ADMINS and user is not None:
                admins.append(self._member_dict(user, member))
        return admins

    def _ban_chat_member(self, call: _Call) -> bool:
        params = call.params
        chat = self._chat(params)
        user = self._target_user(params)
        self._require_can_restrict(chat)
        current = self._members[chat.id].get(user["id"], _Member("left"))
        if user["id"] == self.bot_id:
            raise _bad("can't remove self")
        if current.status == "creator":
            raise _bad("can't remove chat owner")
        if current.status == "administrator":
            raise _bad("user is an administrator of the chat")
        until_date = _as_int(params.get("until_date", 0) or 0, "until_date")
        revoke = _as_bool(params.get("revoke_messages", False))
        now = self._now()
        if until_date and not now + 30 <= until_date <= now + 366 * 86400:
            until_date = 0  # Telegram: outside 30 s .. 366 days means for ever
        self._change_member(chat, self.bot_user, user, _Member("kicked", until_date=until_date))
        self.bans.append(BanRecord(chat.id, user["id"], until_date, revoke, self._monotonic()))
        return True

    def _unban_chat_member(self, call: _Call) -> bool:
        params = call.params
        chat = self._chat(params)
        user = self._target_user(params)
        self._require_can_restrict(chat)
        only_if_banned = _as_bool(params.get("only_if_banned", False))
        current = self._members[chat.id].get(user["id"], _Member("left"))
        if current.status == "kicked" or (
            not only_if_banned and current.status in {"member", "restricted"}
        ):
            # Without only_if_banned, unbanning a member removes them: Telegram's documented
            # behaviour ("guarantees that after the call the user is not a member").
            self._change_member(chat, self.bot_user, user, _Member("left"))
        elif not only_if_banned and current.status in _ADMINS:
            raise _bad("user is an administrator of the chat")
        self.unbans.append(UnbanRecord(chat.id, user["id"], only_if_banned, self._monotonic()))
        return True

    def _leave_chat(self, call: _Call) -> bool:
        chat = self._chat(call.params)
        if chat.is_private:
            raise _bad("chat member status can't be changed in private chats")
        self._require_bot_in(chat)
        self._change_member(chat, self.bot_user, self.bot_user, _Member("left"))
        return True

    def _scope_key(self, scope: Any) -> str:
        if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
            raise _bad("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat = self._chat(scope)
            scope = {**scope, "chat_id": chat.id}
            if kind == "chat_member":
                scope["user_id"] = self._target_user(scope)["id"]
        return json.dumps(scope, sort_keys=True)

    def _commands_key(self, params: Mapping[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        language_code = str(params.get("language_code") or "")
        if language_code and not re.fullmatch(r"[a-z]{2}", language_code):
            raise _bad("invalid language code specified")
        return self._scope_key(scope), language_code

    def _set_my_commands(self, call: _Call) -> bool:
        commands = call.params.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        stored = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name = command.get("command")
            description = command.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME.match(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            stored.append({"command": name, "description": description})
        key = self._commands_key(call.params)
        if stored:
            self.my_commands[key] = stored
        else:
            self.my_commands.pop(key, None)
        return True

    def _get_my_commands(self, call: _Call) -> list[JSONDict]:
        return copy.deepcopy(self.my_commands.get(self._commands_key(call.params), []))

    def _delete_my_commands(self, call: _Call) -> bool:
        self.my_commands.pop(self._commands_key(call.params), None)
        return True
