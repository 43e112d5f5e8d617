"""The PTB Application of the running bot: guarded requests, every handler, the
error notice, and the tally editor and outbox sender it carries.

Built on a Core that bot.app opened; only the runner and the sandbox build it.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import Update
from telegram.error import RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes, Defaults
from telegram.request import HTTPXRequest, RequestData

from bot.core import Core
from bot.handlers import register_all
from bot.i18n import language_for, translator
from bot.scheduling.outbox_sender import OutboxSender
from bot.scheduling.pacer import Pacer
from bot.scheduling.tally_editor import TallyEditor
from bot.services.guard import OutgoingGuard, PiiRefused

log = logging.getLogger(__name__)

# Updates the bot asks Telegram for. chat_member must be named explicitly:
# Telegram leaves it out by default, and the group gate depends on it.
ALLOWED_UPDATES = ["message", "callback_query", "chat_member", "my_chat_member"]


class GuardedRequest(HTTPXRequest):
    """HTTPXRequest that checks every outgoing payload before it leaves the process.

    A shown text that is not a SafeText is refused (it was not built from safe
    values); the values in one are scanned for the identities held.
    """

    def __init__(self, guard: OutgoingGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._guard = guard

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        write_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        connect_timeout: Any = HTTPXRequest.DEFAULT_NONE,
        pool_timeout: Any = HTTPXRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is not None:
            verdict = await self._guard.check(request_data.parameters)
            if verdict is not None:
                log.error(
                    "outgoing.refused",
                    extra={
                        "method": url.rsplit("/", 1)[-1],
                        "reason": verdict.reason,
                        "kinds": list(verdict.kinds),
                    },
                )
                raise PiiRefused(f"outgoing message refused ({verdict.reason})")
        return await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )


async def _on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failed update by type only: update contents may hold personal data.

    A reply that did not go is not left silent: the person who asked hears, in
    fixed words and privately, that the guard withheld it, or that Telegram held
    back the group (a reply waits seconds at most: see bot.scheduling.pacer).
    """
    error = context.error
    log.error(
        "handler.error",
        extra={
            "error": type(error).__name__,
            "update_id": update.update_id if isinstance(update, Update) else None,
        },
    )
    if not isinstance(update, Update) or update.effective_user is None:
        return
    user, chat = update.effective_user, update.effective_chat
    _ = translator(language_for(user.language_code, context.bot_data[DEFAULT_LOCALE]))
    if isinstance(error, PiiRefused):
        notice = _(
            "I did not send my answer: it would have shown personal data of a "
            "person. The log has the details, without the data."
        )
    elif isinstance(error, RetryAfter) and chat is not None and chat.id != user.id:
        notice = _(
            "Telegram is holding back my messages in the group for a moment, so I could "
            "not answer you there. Please try again in a minute."
        )
    else:
        return
    try:
        await context.bot.send_message(user.id, notice)
    except TelegramError as exc:
        log.warning("refusal.not_told", extra={"error": type(exc).__name__})


def build_application(
    core: Core, *, pacer: Pacer | None = None
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The PTB Application talking to VHBOT_TELEGRAM_API_URL, every handler registered.

    The pacer keeps every call within Telegram's limits, chat by chat; tests pass
    one whose clock is virtual and shared with the fake Telegram server.
    """
    pacer = pacer or Pacer()
    token, _partner_chat = core.settings.require_telegram()
    # The region's place names and the catalogued institutions are constant text,
    # not data about a person: they may not trip the guard on their own.
    guard = OutgoingGuard(
        core.db,
        core.vault,
        core.clock,
        allowed_words=[*core.settings.municipalities, *core.settings.institutions],
    )
    application = (
        Application.builder()
        .token(token)
        .base_url(f"{core.settings.telegram_api_url}/bot")
        .base_file_url(f"{core.settings.telegram_api_url}/file/bot")
        .request(GuardedRequest(guard))
        .get_updates_request(HTTPXRequest(read_timeout=30.0))
        .rate_limiter(pacer)
        .defaults(Defaults(tzinfo=core.settings.tz))
        .updater(None)  # bot.intake polls: it confirms an update only once handled
        .build()
    )
    editor = TallyEditor(core, delay=core.settings.edit_delay_seconds)
    application.bot_data[TALLY_EDITOR] = editor
    application.bot_data[OUTBOX_SENDER] = OutboxSender(core, pacer, guard)
    application.bot_data[DEFAULT_LOCALE] = core.settings.locale
    register_all(application, core, editor)
    application.add_error_handler(_on_error)
    return application


TALLY_EDITOR = "tally_editor"
OUTBOX_SENDER = "outbox_sender"
DEFAULT_LOCALE = "default_locale"


def tally_editor(application: Application[Any, Any, Any, Any, Any, Any]) -> TallyEditor:
    editor = application.bot_data[TALLY_EDITOR]
    assert isinstance(editor, TallyEditor)  # noqa: S101 - set by build_application
    return editor


def outbox_sender(application: Application[Any, Any, Any, Any, Any, Any]) -> OutboxSender:
    sender = application.bot_data[OUTBOX_SENDER]
    assert isinstance(sender, OutboxSender)  # noqa: S101 - set by build_application
    return sender
