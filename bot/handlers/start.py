"""/start and /help in a private chat, and the command lists Telegram shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.config import SUPPORTED_LOCALES
from bot.domain.commands import ChatKind, Refusal, commands_for, decide
from bot.handlers.common import Caller, chat_kind, identify, role_names
from bot.i18n import translator

if TYPE_CHECKING:
    from bot.app import Core


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = StartHandlers(core)
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help))


class StartHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def _allowed(self, update: Update, command: str) -> Caller | None:
        """The caller when the command table allows them here; otherwise replies and None."""
        chat = update.effective_chat
        caller = await identify(update, self._core)
        if chat is None or caller is None:
            return None
        kind = chat_kind(chat, self._core)
        if kind is None:
            return None
        refusal = decide(command, roles=caller.roles, active=caller.active, chat=kind)
        if refusal is None:
            return caller
        _ = caller.tr
        if refusal is Refusal.USE_PRIVATE_CHAT:
            text = _("Please send this command to me in a private chat.")
        elif refusal is Refusal.NOT_REGISTERED:
            text = _("You are not (or no longer) registered with the Veiligheidshuis.")
        else:
            text = _("Your role does not allow this command.")
        await update.get_bot().send_message(chat.id, text)
        return None

    async def start(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greets; tells a stranger how to register."""
        caller = await self._allowed(update, "start")
        if caller is None or update.effective_chat is None:
            return
        _ = caller.tr
        if caller.member is None:
            text = _(
                "Welcome to the partner bot of the Veiligheidshuis.\n"
                "You are not registered yet. Ask the coordinator for an invite code "
                "and send it to me as /start CODE."
            )
        elif not caller.member.active:
            text = _("You are not (or no longer) registered with the Veiligheidshuis.")
        else:
            text = _(
                "Welcome to the partner bot of the Veiligheidshuis.\n"
                "You are registered for {organisation} as {roles}.\n"
                "Send /help to see what you can do.",
                organisation=caller.member.organisation_name,
                roles=role_names(caller),
            )
        await update.get_bot().send_message(update.effective_chat.id, text)

    async def help(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Lists the commands the caller's role may use."""
        caller = await self._allowed(update, "help")
        if caller is None or update.effective_chat is None:
            return
        _ = caller.tr
        roles = caller.roles if caller.active else None
        lines = [
            _(
                "This bot announces detention releases and triage items to the partners "
                "of the Veiligheidshuis and collects who knows the person. "
                "It only ever shows case references and pseudonyms."
            ),
            "",
            _("Your commands:"),
        ]
        lines += [f"/{spec.name} - {_(spec.description)}" for spec in commands_for(roles)]
        await update.get_bot().send_message(update.effective_chat.id, "\n".join(lines))


async def publish_command_lists(bot: Bot, core: Core) -> None:
    """Registers the private-chat command list in each language (setMyCommands)."""
    open_commands = commands_for(None, ChatKind.PRIVATE)
    scope = BotCommandScopeAllPrivateChats()
    for language in (None, *SUPPORTED_LOCALES):
        _ = translator(language or core.settings.locale)
        await bot.set_my_commands(
            [BotCommand(spec.name, _(spec.description)) for spec in open_commands],
            scope=scope,
            language_code=language,
        )
