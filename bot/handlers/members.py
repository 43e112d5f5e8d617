"""/wie, /leden, /uitnodigen, /verwijder and the button that confirms a removal."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.domain.roles import Role
from bot.handlers.common import (
    CLOSED_OR_UNKNOWN,
    Caller,
    authorize_button,
    authorize_command,
    role_names,
)
from bot.i18n import Translator, mark
from bot.safe import BLANK, Code, MemberName, OrganisationName, SafeText
from bot.scheduling.group_removal import request_group_removal
from bot.services.members import DirectoryEntry, InviteIssued, MembershipError, MemberView

if TYPE_CHECKING:
    from bot.app import Core

LANGUAGE_NAMES = {"nl": mark("Dutch"), "en": mark("English")}
ROLE_WORDS: dict[str, Role] = {
    "partner": Role.PARTNER,
    "casemanager": Role.CASEMANAGER,
    "coordinator": Role.COORDINATOR,
    "coördinator": Role.COORDINATOR,
}
# Callback data of the removal confirmation: rm:<member id>:<y|n>.
REMOVE_DATA = re.compile(r"^rm:(\d{1,12}):([yn])$")


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = MemberHandlers(core)
    application.add_handler(CommandHandler("wie", handlers.whoami))
    application.add_handler(CommandHandler("leden", handlers.directory))
    application.add_handler(CommandHandler("uitnodigen", handlers.invite))
    application.add_handler(CommandHandler("verwijder", handlers.remove))
    application.add_handler(CallbackQueryHandler(handlers.confirm_removal, pattern=r"^rm:"))


class MemberHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def _reply(self, update: Update, caller: Caller, text: SafeText, **kwargs: Any) -> None:
        await update.get_bot().send_message(caller.chat_id, text, **kwargs)

    async def whoami(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Shows the member their organisation, roles and language."""
        caller = await authorize_command(update, self._core, "wie")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        member = caller.member
        await self._reply(
            update,
            caller,
            _(
                "You are member {number} of {organisation} ({code}).\n"
                "Roles: {roles}\nLanguage: {language} (follows your Telegram language)",
                number=member.member_id,
                organisation=OrganisationName(member.organisation_name),
                code=Code(member.organisation_code),
                roles=role_names(member.roles, _),
                language=_(LANGUAGE_NAMES[caller.language]),
            ),
        )

    async def directory(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Members per organisation with roles and last activity (coordinators)."""
        caller = await authorize_command(update, self._core, "leden")
        if caller is None:
            return
        core = self._core

        def read() -> tuple[list[tuple[str, str]], list[DirectoryEntry]]:
            with core.db.session() as session:
                organisations = [(o.code, o.name) for o in core.memberships.organisations(session)]
                return organisations, core.memberships.directory(session, actor=caller.actor)

        organisations, entries = await core.db.run(read)
        await self._reply(update, caller, render_directory(organisations, entries, caller.tr, core))

    async def invite(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/uitnodigen ORG [role ...]: a one-time code for a new member (coordinators)."""
        caller = await authorize_command(update, self._core, "uitnodigen")
        if caller is None:
            return
        _ = caller.tr
        args = context.args or []
        roles = [ROLE_WORDS.get(word.lower()) for word in args[1:]]
        if not args or None in roles:
            await self._reply(
                update,
                caller,
                _(
                    "Usage: /uitnodigen ORG [role ...], for example /uitnodigen POL partner. "
                    "Roles: partner, casemanager, coordinator."
                ),
            )
            return
        core = self._core

        def create() -> InviteIssued:
            with core.db.session() as session:
                return core.memberships.create_invite(
                    session,
                    organisation_code=args[0],
                    roles=[role for role in roles if role is not None],
                    actor=caller.actor,
                )

        try:
            issued = await core.db.run(create)
        except MembershipError:
            await self._reply(
                update,
                caller,
                _("There is no organisation with that code. You see the codes with /leden."),
            )
            return
        link = f"https://t.me/{update.get_bot().username}?start={issued.code}"
        await self._reply(
            update,
            caller,
            _(
                "Invite code for {organisation} ({roles}): {code}\n"
                "Valid until {expires}, once. The professional sends /start {code} to me "
                "in a private chat, or opens {link}",
                organisation=OrganisationName(issued.organisation_name),
                roles=role_names(issued.roles, _),
                code=Code(issued.code),
                expires=_.datetime(issued.expires_at, core.settings.tz),
                link=Code(link),
            ),
        )

    async def remove(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/verwijder NUMBER: asks to confirm deactivating that member (coordinators)."""
        caller = await authorize_command(update, self._core, "verwijder")
        if caller is None:
            return
        _ = caller.tr
        args = context.args or []
        if len(args) != 1 or not args[0].lstrip("#").isdigit():
            await self._reply(
                update,
                caller,
                _("Usage: /verwijder NUMBER, with the member's number from /leden."),
            )
            return
        member_id = int(args[0].lstrip("#"))
        target = await self._member(member_id)
        if target is None:
            await self._reply(update, caller, _("There is no member {number}.", number=member_id))
            return
        if caller.member is not None and target.member_id == caller.member.member_id:
            await self._reply(update, caller, _("You cannot deactivate yourself."))
            return
        if not target.active:
            await self._reply(
                update, caller, _("Member {number} is already deactivated.", number=member_id)
            )
            return
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(_("Deactivate"), callback_data=f"rm:{member_id}:y"),
                    InlineKeyboardButton(_("Cancel"), callback_data=f"rm:{member_id}:n"),
                ]
            ]
        )
        await self._reply(
            update,
            caller,
            _(
                "Deactivate member {number} of {organisation}? They can then no longer use "
                "the bot and are removed from the partner group.",
                number=member_id,
                organisation=OrganisationName(target.organisation_name),
            ),
            reply_markup=keyboard,
        )

    async def confirm_removal(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The coordinator's answer to the removal question."""
        query = update.callback_query
        caller = await authorize_button(update, self._core, "rm")
        if caller is None or query is None:
            return
        _ = caller.tr
        match = REMOVE_DATA.match(query.data or "")
        target = await self._member(int(match.group(1))) if match else None
        if match is None or target is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        if match.group(2) == "n":
            await query.answer()
            await query.edit_message_text(_("Cancelled: nothing was changed."))
            return
        core = self._core

        def deactivate() -> MemberView:
            with core.db.session() as session:
                return core.memberships.deactivate(
                    session, member_id=target.member_id, actor=caller.actor
                )

        already = not target.active
        await core.db.run(deactivate)
        await query.answer(_("Done."))
        await query.edit_message_text(
            _(
                "Member {number} of {organisation} is deactivated and will be removed from "
                "the partner group.",
                number=target.member_id,
                organisation=OrganisationName(target.organisation_name),
            )
            if not already
            else _("Member {number} is already deactivated.", number=target.member_id)
        )
        request_group_removal(context.application, core)

    async def _member(self, member_id: int) -> MemberView | None:
        core = self._core

        def find() -> MemberView | None:
            with core.db.session() as session:
                return core.memberships.view(session, member_id)

        return await core.db.run(find)


def render_directory(
    organisations: list[tuple[str, str]],
    entries: list[DirectoryEntry],
    _: Translator,
    core: Core,
) -> SafeText:
    """Every organisation with its code, and its members with roles and last activity."""
    lines = [_("Members per organisation")]
    for code, name in organisations:
        lines += [BLANK, SafeText.layout("{} · {}", Code(code), OrganisationName(name))]
        members = [entry for entry in entries if entry.organisation_code == code]
        if not members:
            lines.append(SafeText.layout("  {}", _("(no members)")))
        for entry in members:
            if not entry.active:
                state = _("deactivated")
            elif entry.last_seen_at is None:
                state = _("not active yet")
            else:
                state = _(
                    "last active {time}", time=_.datetime(entry.last_seen_at, core.settings.tz)
                )
            lines.append(
                SafeText.layout(
                    "  #{} {} · {} · {}",
                    entry.member_id,
                    MemberName(entry.name),
                    role_names(entry.roles, _),
                    state,
                )
            )
    if not organisations:
        lines += [BLANK, _("No members yet.")]
    return SafeText.joined("\n", lines)
