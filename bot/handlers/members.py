"""/wie, /leden, /uitnodigen, /verwijder, and the buttons that confirm a removal or a
coordinator invite."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from sqlmodel import Session
from telegram import Bot, CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.domain.roles import Role
from bot.handlers.common import (
    CLOSED_OR_UNKNOWN,
    Caller,
    authorize_button,
    authorize_command,
    role_names,
)
from bot.i18n import Translator, mark, translator
from bot.safe import BLANK, Code, MemberName, OrganisationName, SafeText, printable_name
from bot.scheduling.group_removal import request_group_removal
from bot.services.members import (
    DirectoryEntry,
    InviteAwaiting,
    InviteDecision,
    InviteIssued,
    MembershipError,
    RemovalOutcome,
    RemovalStep,
)

if TYPE_CHECKING:
    from bot.core import Core

LANGUAGE_NAMES = {"nl": mark("Dutch"), "en": mark("English")}
ROLE_WORDS: dict[str, Role] = {
    "partner": Role.PARTNER,
    "casemanager": Role.CASEMANAGER,
    "coordinator": Role.COORDINATOR,
    "coördinator": Role.COORDINATOR,
}
log = logging.getLogger(__name__)

# Buttons name a stored request, never a member: rm:<request id>:<y|n> (a removal,
# answered by its requester) and ic:<request id>:<y|n> (a coordinator invite,
# answered by a second coordinator).
REMOVE_DATA = re.compile(r"^rm:([0-9]{1,9}):([yn])$")
INVITE_DATA = re.compile(r"^ic:([0-9]{1,9}):([yn])$")


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = MemberHandlers(core)
    application.add_handler(CommandHandler("wie", handlers.whoami))
    application.add_handler(CommandHandler("leden", handlers.directory))
    application.add_handler(CommandHandler("uitnodigen", handlers.invite))
    application.add_handler(CommandHandler("verwijder", handlers.remove))
    application.add_handler(CallbackQueryHandler(handlers.confirm_removal, pattern=r"^rm:"))
    application.add_handler(CallbackQueryHandler(handlers.decide_invite, pattern=r"^ic:"))


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

        def read(session: Session) -> tuple[list[tuple[str, str]], list[DirectoryEntry]]:
            organisations = [(o.code, o.name) for o in core.memberships.organisations(session)]
            return organisations, core.memberships.directory(session, actor=caller.actor)

        organisations, entries = await core.db.transact(read)
        await self._reply(update, caller, render_directory(organisations, entries, caller.tr, core))

    async def invite(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/uitnodigen ORG [role ...]: a code, or a request for a second coordinator."""
        caller = await authorize_command(update, self._core, "uitnodigen")
        if caller is None or caller.member is None:
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
        try:
            result = await core.db.transact(
                core.memberships.invite_from_telegram,
                organisation_code=args[0],
                roles=[role for role in roles if role is not None],
                requester_id=caller.member.member_id,
            )
        except MembershipError:
            # Never the typed value: the answer must not differ with what was typed.
            await self._reply(
                update,
                caller,
                _(
                    "There is no organisation with that code. Coordinators see the codes "
                    "with /leden."
                ),
            )
            return
        if isinstance(result, InviteAwaiting):
            await self._reply(
                update,
                caller,
                _(
                    "An invite with the coordinator role for {organisation} needs the "
                    "confirmation of a second coordinator. I have asked the other "
                    "coordinators ({count}); you get the code as soon as one of them "
                    "confirms. Without an answer the request ends after 72 hours.",
                    organisation=OrganisationName(result.organisation_name),
                    count=result.asked,
                ),
            )
            return
        await self._reply(update, caller, invite_text(result, update.get_bot(), caller.tr, core))

    async def remove(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/verwijder NUMBER: asks the coordinator to confirm deactivating that member."""
        caller = await authorize_command(update, self._core, "verwijder")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        args = context.args or []
        number = args[0].removeprefix("#") if len(args) == 1 else ""
        if not (number.isascii() and number.isdigit()):
            await self._reply(
                update,
                caller,
                _("Usage: /verwijder NUMBER, with the member's number from /leden."),
            )
            return
        core = self._core
        step = await core.db.transact(
            core.memberships.request_removal,
            member_id=int(number),
            requester_id=caller.member.member_id,
        )
        target = step.target
        if step.outcome is RemovalOutcome.ASK and target is not None:
            keyboard = InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            _("Deactivate"), callback_data=f"rm:{step.request_id}:y"
                        ),
                        InlineKeyboardButton(_("Cancel"), callback_data=f"rm:{step.request_id}:n"),
                    ]
                ]
            )
            await self._reply(
                update,
                caller,
                _(
                    "Deactivate member {number} of {organisation}? They can then no longer "
                    "use the bot and are removed from the partner group.",
                    number=target.member_id,
                    organisation=OrganisationName(target.organisation_name),
                ),
                reply_markup=keyboard,
            )
            return
        await self._reply(update, caller, removal_refused_text(step, _))

    async def _pressed(
        self, update: Update, kind: str, pattern: re.Pattern[str]
    ) -> tuple[CallbackQuery, Caller, re.Match[str], int] | None:
        """A permitted press of a member's button with well-formed data, or None (answered)."""
        query = update.callback_query
        caller = await authorize_button(update, self._core, kind)
        if caller is None or query is None or caller.member is None:
            return None
        match = pattern.match(query.data or "")
        if match is None:
            await query.answer(caller.tr(CLOSED_OR_UNKNOWN), show_alert=True)
            return None
        return query, caller, match, caller.member.member_id

    async def confirm_removal(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """The coordinator's answer to their own removal question."""
        pressed = await self._pressed(update, "rm", REMOVE_DATA)
        if pressed is None:
            return
        query, caller, match, presser = pressed
        _ = caller.tr
        core = self._core
        step = await core.db.transact(
            core.memberships.decide_removal,
            request_id=int(match.group(1)),
            member_id=presser,
            confirm=match.group(2) == "y",
        )
        target = step.target
        if step.outcome is RemovalOutcome.CLOSED_OR_UNKNOWN or target is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        if step.outcome is RemovalOutcome.DEACTIVATED:
            request_group_removal(context.application, core)  # first: the rest is wording
        await acknowledge(query, _("Done.") if step.outcome is RemovalOutcome.DEACTIVATED else None)
        if step.outcome is RemovalOutcome.CANCELLED:
            await query.edit_message_text(_("Cancelled: nothing was changed."))
            return
        if step.outcome is not RemovalOutcome.DEACTIVATED:
            await query.edit_message_text(removal_refused_text(step, _))
            return
        await query.edit_message_text(
            _(
                "Member {number} of {organisation} is deactivated and will be removed from "
                "the partner group.",
                number=target.member_id,
                organisation=OrganisationName(target.organisation_name),
            )
        )

    async def decide_invite(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A second coordinator confirms or refuses a coordinator invite."""
        pressed = await self._pressed(update, "ic", INVITE_DATA)
        if pressed is None:
            return
        query, caller, match, presser = pressed
        _ = caller.tr
        core = self._core
        decided = await core.db.transact(
            core.memberships.decide_invite_request,
            request_id=int(match.group(1)),
            member_id=presser,
            confirm=match.group(2) == "y",
        )
        if decided.outcome is InviteDecision.OWN_REQUEST:
            await query.answer(
                _("You cannot confirm your own request; another coordinator must."),
                show_alert=True,
            )
            return
        if decided.outcome is InviteDecision.REFUSED:
            await acknowledge(query)
            await query.edit_message_text(_("Refused: no invite was made."))
            return
        issued, requester = decided.issued, decided.requester
        if decided.outcome is not InviteDecision.CONFIRMED or issued is None or requester is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        bot = update.get_bot()
        # The code goes only to the requester, straight away: it is never stored in clear.
        theirs = translator(requester.language or core.settings.locale)
        try:
            await bot.send_message(
                requester.telegram_id, confirmed_invite_text(issued, presser, bot, theirs, core)
            )
        except TelegramError as exc:
            log.warning("invite.not_delivered", extra={"error": type(exc).__name__})
            assert decided.invite_id is not None  # noqa: S101 - set with the issued code
            await core.db.transact(
                core.memberships.revoke_invite,
                invite_id=decided.invite_id,
                actor="system",
                reason="not_delivered",
            )
            await acknowledge(query)
            await query.edit_message_text(
                _(
                    "Confirmed, but I could not deliver the code to member {number}, so I "
                    "withdrew it. They can ask again.",
                    number=decided.requester_number or 0,
                )
            )
            return
        await acknowledge(query)
        await query.edit_message_text(
            _(
                "Confirmed: member {number} has received the invite code for {organisation}.",
                number=decided.requester_number or 0,
                organisation=OrganisationName(issued.organisation_name),
            )
        )


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
                    MemberName(printable_name(entry.name) or "?"),
                    role_names(entry.roles, _),
                    state,
                )
            )
    if not organisations:
        lines += [BLANK, _("No members yet.")]
    return SafeText.joined("\n", lines)


async def acknowledge(query: CallbackQuery, text: SafeText | None = None) -> None:
    """Answer a press whose decision is made; one too old to answer (the bot was down a
    while) must not keep the rest from happening."""
    try:
        await query.answer(text)
    except BadRequest as exc:
        log.info("button.not_acknowledged", extra={"error": type(exc).__name__})


def invite_text(issued: InviteIssued, bot: Bot, _: Translator, core: Core) -> SafeText:
    """The code with its link, for the coordinator who hands it on."""
    link = f"https://t.me/{bot.username}?start={issued.code}"
    return _(
        "Invite code for {organisation} ({roles}): {code}\n"
        "Valid until {expires}, once. The professional sends /start {code} to me "
        "in a private chat, or opens {link}",
        organisation=OrganisationName(issued.organisation_name),
        roles=role_names(issued.roles, _),
        code=Code(issued.code),
        expires=_.datetime(issued.expires_at, core.settings.tz),
        link=Code(link),
    )


def confirmed_invite_text(
    issued: InviteIssued, confirmed_by: int, bot: Bot, _: Translator, core: Core
) -> SafeText:
    """The requester's code, once a second coordinator confirmed it."""
    return SafeText.joined(
        "\n\n",
        [
            _(
                "Member {number} confirmed your request for a coordinator invite.",
                number=confirmed_by,
            ),
            invite_text(issued, bot, _, core),
        ],
    )


def removal_refused_text(step: RemovalStep, _: Translator) -> SafeText:
    """Why a /verwijder (or its button) changed nothing; never the number as typed."""
    target = step.target
    if step.outcome is RemovalOutcome.SELF:
        return _("You cannot deactivate yourself.")
    if step.outcome is RemovalOutcome.LAST_COORDINATOR:
        return _(
            "Member {number} is the last active coordinator and cannot be deactivated "
            "from Telegram. Invite another coordinator first.",
            number=target.member_id if target else 0,
        )
    if step.outcome is RemovalOutcome.ALREADY_INACTIVE and target is not None:
        return _("Member {number} is already deactivated.", number=target.member_id)
    return _("There is no member with that number.")
