"""/start (with an invite code, to join) and /help, and the command lists Telegram shows."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, ContextTypes

from bot.backoff import is_passing
from bot.config import SUPPORTED_LOCALES
from bot.domain.commands import ChatKind, commands_for
from bot.handlers.common import NOT_REGISTERED, Caller, authorize_command, role_names
from bot.i18n import translator
from bot.safe import BLANK, Code, OrganisationName, SafeText
from bot.services.members import MenuOwner, RedeemOutcome

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = StartHandlers(core)
    application.add_handler(CommandHandler("start", handlers.start))
    application.add_handler(CommandHandler("help", handlers.help))


class StartHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greets; with a code, registers the sender as a member."""
        caller = await authorize_command(update, self._core, "start")
        if caller is None:
            return
        if context.args:
            text = await self._redeem(update, caller, " ".join(context.args))
        else:
            text = self._greeting(caller)
        await update.get_bot().send_message(caller.chat_id, text)

    def _greeting(self, caller: Caller) -> SafeText:
        _ = caller.tr
        if caller.member is None:
            return _(
                "Welcome to the partner bot of the Veiligheidshuis.\n"
                "You are not registered yet. Ask the coordinator for an invite code "
                "and send it to me as /start CODE."
            )
        if not caller.member.active:
            return _(NOT_REGISTERED)
        return _(
            "Welcome to the partner bot of the Veiligheidshuis.\n"
            "You are registered for {organisation} as {roles}.\n"
            "Send /help to see what you can do.",
            organisation=OrganisationName(caller.member.organisation_name),
            roles=role_names(caller.member.roles, _),
        )

    async def _redeem(self, update: Update, caller: Caller, code: str) -> SafeText:
        user = update.effective_user
        assert user is not None  # noqa: S101 - identify() found a user
        core = self._core
        result = await core.db.transact(
            core.memberships.redeem_invite,
            telegram_id=caller.telegram_id,
            code_text=code,
            display_name=user.full_name,
            language=caller.language,
        )
        _ = caller.tr
        outcome = result.outcome
        if outcome in (RedeemOutcome.JOINED, RedeemOutcome.REJOINED) and result.member:
            await publish_member_menu(
                update.get_bot(),
                core,
                MenuOwner(caller.telegram_id, result.member.roles, caller.language),
            )
            return _(
                "Welcome! You are now registered for {organisation} as {roles}.\n"
                "Send /help to see what you can do.",
                organisation=OrganisationName(result.member.organisation_name),
                roles=role_names(result.member.roles, _),
            )
        if outcome is RedeemOutcome.ALREADY_MEMBER and result.member:
            return _(
                "You are already registered for {organisation}; the code was not used.",
                organisation=OrganisationName(result.member.organisation_name),
            )
        if outcome is RedeemOutcome.BLOCKED and result.blocked_until:
            return _(
                "Too many wrong codes. Try again after {time}.",
                time=_.datetime(result.blocked_until, core.settings.tz),
            )
        reason = {
            RedeemOutcome.USED: _("This invite code has already been used."),
            RedeemOutcome.EXPIRED: _("This invite code has expired."),
        }.get(outcome, _("This invite code is not valid."))
        if result.blocked_until is not None:
            return _(
                "{reason} Too many wrong codes: try again after {time}.",
                reason=reason,
                time=_.datetime(result.blocked_until, core.settings.tz),
            )
        return _("{reason} Ask the coordinator for a new code.", reason=reason)

    async def help(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Lists the commands the caller's role may use."""
        caller = await authorize_command(update, self._core, "help")
        if caller is None:
            return
        _ = caller.tr
        roles = caller.roles if caller.active else None
        lines = [
            _(
                "This bot announces detention releases to the partners of the "
                "Veiligheidshuis and collects who knows the person. In Telegram it only "
                "ever shows case references and pseudonyms; personal details are on its own "
                "page, behind a one-time link."
            ),
            BLANK,
            _("Your commands:"),
        ]
        lines += [
            SafeText.layout("{} - {}", Code(f"/{spec.name}"), _(spec.description))
            for spec in commands_for(roles)
        ]
        await update.get_bot().send_message(caller.chat_id, SafeText.joined("\n", lines))


async def publish_command_lists(bot: Bot, core: Core) -> None:
    """Registers the command menus Telegram shows (setMyCommands).

    Everyone's private chat: the commands open to anyone, in each language.
    Each active member's own chat: the commands of their roles, in their language.
    Raises the TelegramError of a passing failure (network, 5xx, flood control), after
    trying every member's menu, so the caller tries again later; a member whose menu
    Telegram refuses (never started the bot) is only logged.
    """
    open_commands = commands_for(None, ChatKind.PRIVATE)
    scope = BotCommandScopeAllPrivateChats()
    for language in (None, *SUPPORTED_LOCALES):
        _ = translator(language or core.settings.locale)
        await bot.set_my_commands(
            [BotCommand(spec.name, _(spec.description)) for spec in open_commands],
            scope=scope,
            language_code=language,
        )

    passing: TelegramError | None = None
    for owner in await core.db.transact(core.memberships.menu_owners):
        try:
            await _set_member_menu(bot, core, owner)
        except TelegramError as exc:
            log.info("menu.not_set", extra={"error": type(exc).__name__})
            if is_passing(exc):
                passing = exc
    if passing is not None:
        raise passing


async def publish_member_menu(bot: Bot, core: Core, owner: MenuOwner) -> None:
    """The menu of one member's private chat: the commands their roles allow."""
    try:
        await _set_member_menu(bot, core, owner)
    except TelegramError as exc:  # e.g. never started the bot: the menu waits for later
        log.info("menu.not_set", extra={"error": type(exc).__name__})


async def _set_member_menu(bot: Bot, core: Core, owner: MenuOwner) -> None:
    _ = translator(owner.language or core.settings.locale)
    await bot.set_my_commands(
        [BotCommand(spec.name, _(spec.description)) for spec in commands_for(owner.roles)],
        scope=BotCommandScopeChat(owner.telegram_id),
    )
