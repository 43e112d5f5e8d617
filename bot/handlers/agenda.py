"""/agenda [THEMA], its page buttons and the decision buttons under its items.

Typed input and callback data are parsed here and never repeated in an answer.
Page buttons (agp:<page>:<version>:<theme>) show another page only while the
agenda is the one they were made for; decision buttons (agd:<item id>:p|d|a,
agd:<item id>:d:<ORG>, agd:<item id>:a:<reason>) go to the decisions service only
while their agenda item is current: an item since decided, closed or rolled over
to another meeting answers that the agenda is outdated and changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.domain.decisions import CloseReason, Decision
from bot.domain.roles import Theme
from bot.handlers.common import (
    CLOSED_OR_UNKNOWN,
    authorize_button,
    authorize_command,
    theme_argument,
)
from bot.handlers.decisions import decided_text
from bot.handlers.members import acknowledge
from bot.i18n import Translator
from bot.safe import CaseReference, OrganisationName, SafeText, printable_name
from bot.services.agenda import ItemState
from bot.services.decisions import Decided
from bot.views.agenda import (
    Page,
    agenda_pages,
    agenda_version,
    close_reason_label,
    theme_code,
    theme_from_code,
    themes_text,
)

if TYPE_CHECKING:
    from bot.core import Core

PAGE_DATA = re.compile(r"agp:([0-9]{1,3}):([0-9]{1,10}):(a|[0-9]{1,2})")
# The third part: an organisation's code (bot.services.members: letters, digits, _ and -)
# or a close reason's code.
DECIDE_DATA = re.compile(r"agd:([0-9]{1,9}):(p|d|a)(?::([A-Za-z0-9_-]{1,16}))?")

T = TypeVar("T")


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = AgendaHandlers(core)
    application.add_handler(CommandHandler("agenda", handlers.agenda))
    application.add_handler(CallbackQueryHandler(handlers.page, pattern=r"^agp:"))
    application.add_handler(CallbackQueryHandler(handlers.decide, pattern=r"^agd:"))


def _outdated(_: Translator) -> SafeText:
    return _("This agenda is outdated. Ask /agenda again.")


def _stale(state: ItemState, _: Translator) -> SafeText:
    """The answer to a decision button whose item is not (or no longer) on the agenda."""
    if state is ItemState.GONE:
        return _("This case is no longer on the agenda. Ask /agenda again.")
    if state is ItemState.OUTDATED:
        return _outdated(_)
    return _(CLOSED_OR_UNKNOWN)


def page_markup(
    pages: list[Page], number: int, version: int, theme: Theme | None, _: Translator
) -> InlineKeyboardMarkup | None:
    """Decision buttons per item of page `number` (from 1), then the page buttons."""
    page = pages[number - 1]
    rows = [
        [
            InlineKeyboardButton(
                _("{reference}: procesregie", reference=CaseReference(item.reference)),
                callback_data=f"agd:{item.item_id}:p",
            ),
            InlineKeyboardButton(_("doorgeleid"), callback_data=f"agd:{item.item_id}:d"),
            InlineKeyboardButton(_("afgesloten"), callback_data=f"agd:{item.item_id}:a"),
        ]
        for item in page.items
    ]
    moves = []
    code = theme_code(theme)
    if number > 1:
        moves.append(
            InlineKeyboardButton(
                _("« Previous"), callback_data=f"agp:{number - 1}:{version}:{code}"
            )
        )
    if number < len(pages):
        moves.append(
            InlineKeyboardButton(_("Next »"), callback_data=f"agp:{number + 1}:{version}:{code}")
        )
    if moves:
        rows.append(moves)
    return InlineKeyboardMarkup(rows) if rows else None


class AgendaHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def _in_session(self, step: Callable[[Session], T]) -> T:
        core = self._core

        def work() -> T:
            with core.db.session() as session:
                return step(session)

        return await core.db.run(work)

    async def _pages(self, theme: Theme | None, member_id: int, _: Translator) -> list[Page]:
        core = self._core
        meetings = await self._in_session(
            lambda session: core.agenda.overview(
                session, core.clock.now(), theme, member_id=member_id
            )
        )
        return agenda_pages(meetings, _, core.settings.tz)

    async def agenda(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/agenda [THEMA]: the next meetings and their items, page 1."""
        caller = await authorize_command(update, self._core, "agenda")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        member_id = caller.member.member_id
        try:
            theme = theme_argument(context.args or [])
        except ValueError:
            await update.get_bot().send_message(caller.chat_id, themes_text(_))
            return
        if theme is not None:
            core, word = self._core, theme.value
            if not await self._in_session(
                lambda session: core.decisions.member_entitled(session, member_id, word)
            ):
                await update.get_bot().send_message(
                    caller.chat_id,
                    _(
                        "Your organisation does not work on that theme, so its agenda is not "
                        "shown to you. /agenda shows the themes it does work on."
                    ),
                )
                return
        pages = await self._pages(theme, member_id, _)
        version = agenda_version(pages)
        await update.get_bot().send_message(
            caller.chat_id,
            pages[0].text,
            reply_markup=page_markup(pages, 1, version, theme, _),
        )

    async def page(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Another page of the agenda, while it is still the same agenda."""
        query = update.callback_query
        caller = await authorize_button(update, self._core, "agp")
        if caller is None or query is None or caller.member is None:
            return
        _ = caller.tr
        match = PAGE_DATA.fullmatch(query.data or "")
        if match is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        try:
            theme = theme_from_code(match[3])
        except ValueError:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        pages = await self._pages(theme, caller.member.member_id, _)
        number, version = int(match[1]), int(match[2])
        if version != agenda_version(pages) or not 1 <= number <= len(pages):
            await query.answer(_outdated(_), show_alert=True)
            return
        await acknowledge(query)
        await query.edit_message_text(
            pages[number - 1].text, reply_markup=page_markup(pages, number, version, theme, _)
        )

    async def decide(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """A decision button under an item: procesregie at once; the others ask first."""
        query = update.callback_query
        caller = await authorize_button(update, self._core, "agd")
        if caller is None or query is None or caller.member is None:
            return
        _ = caller.tr
        match = DECIDE_DATA.fullmatch(query.data or "")
        reason = None
        if match is not None and match[2] == "a" and match[3] is not None:
            try:
                reason = CloseReason(match[3])
            except ValueError:
                match = None
        if match is None or (match[2] == "p" and match[3] is not None):
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        item_id, word, extra = int(match[1]), match[2], match[3]
        member_id = caller.member.member_id
        core = self._core

        def step(
            session: Session,
        ) -> tuple[ItemState, str | None, Decided | None, list[tuple[str, str]]]:
            state, reference = core.agenda.item_on_agenda(
                session, item_id, core.clock.now(), member_id=member_id
            )
            if reference is None:
                return state, None, None, []
            if word == "d" and extra is None:
                organisations = [
                    (o.code, o.name)
                    for o in core.decisions.referral_organisations(session, reference)
                ]
                return state, reference, None, organisations
            if word == "a" and reason is None:
                return state, reference, None, []
            decision = {"p": Decision.PROCESREGIE, "d": Decision.DOORGELEID}.get(
                word, Decision.AFGESLOTEN
            )
            decided = core.decisions.decide(
                session,
                reference=reference,
                decision=decision,
                member_id=member_id,
                organisation_code=extra if word == "d" else None,
                reason=reason,
            )
            return state, reference, decided, []

        state, reference, decided, organisations = await self._in_session(step)
        shown = CaseReference.or_none(reference or "")
        if shown is None:
            await query.answer(_stale(state, _), show_alert=True)
            return
        await acknowledge(query)
        if decided is not None:
            await update.get_bot().send_message(caller.chat_id, decided_text(decided, _))
            return
        if word == "d":
            rows = [
                [
                    InlineKeyboardButton(
                        SafeText.layout("{}", OrganisationName(printable_name(name) or "?")),
                        callback_data=f"agd:{item_id}:d:{code}",
                    )
                ]
                for code, name in organisations
            ]
            text = _("To which organisation does case {reference} go?", reference=shown)
        else:
            rows = [
                [
                    InlineKeyboardButton(
                        close_reason_label(_, r), callback_data=f"agd:{item_id}:a:{r.value}"
                    )
                ]
                for r in CloseReason
            ]
            text = _("Why is case {reference} closed?", reference=shown)
        await update.get_bot().send_message(
            caller.chat_id, text, reply_markup=InlineKeyboardMarkup(rows)
        )
