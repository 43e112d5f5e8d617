"""/besluit, /toewijzen and /mijnzaken, and the buttons that pick a casemanager and
answer an offered case.

Typed input is parsed here and never repeated in an answer: a wrong reference,
word, reason, organisation or number gets the same words whatever was typed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.domain.decisions import Decision, DeclineReason, parse_close_reason, parse_decision
from bot.handlers.common import CLOSED_OR_UNKNOWN, Caller, authorize_button, authorize_command
from bot.handlers.members import acknowledge
from bot.i18n import Translator
from bot.safe import (
    BLANK,
    CaseReference,
    MemberName,
    OrganisationName,
    SafeText,
    printable_name,
)
from bot.services.decisions import (
    Assigned,
    AssignOutcome,
    Choices,
    Decided,
    DecisionOutcome,
    MyCase,
    OfferAnswered,
    OfferOutcome,
)
from bot.views.decisions import (
    DecisionShown,
    close_reasons_text,
    decision_text,
    decision_usage,
    decline_reason_label,
    decline_reasons_keyboard,
    theme_label,
)

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

# tw:<case id>:<member number>; cm:<assignment id>:a|d[:<reason>]. Anything else is forged.
PICK_DATA = re.compile(r"tw:([0-9]{1,9}):([0-9]{1,9})")
OFFER_DATA = re.compile(r"cm:([0-9]{1,9}):(a|d)(?::([a-z]{1,8}))?")
NUMBER = re.compile(r"#?([0-9]{1,9})")

T = TypeVar("T")


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = DecisionHandlers(core)
    application.add_handler(CommandHandler("besluit", handlers.decide))
    application.add_handler(CommandHandler("toewijzen", handlers.assign))
    application.add_handler(CommandHandler("mijnzaken", handlers.my_cases))
    application.add_handler(CallbackQueryHandler(handlers.pick, pattern=r"^tw:"))
    application.add_handler(CallbackQueryHandler(handlers.answer_offer, pattern=r"^cm:"))


def _reference(text: str) -> CaseReference | None:
    return CaseReference.or_none(text.upper()) if text.isascii() else None


# Telegram shows at most 200 characters in a button's pop-up.
ALERT_LIMIT = 200


class DecisionHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def _in_session(self, step: Callable[[Session], T]) -> T:
        return await self._core.db.transact(step)

    async def _reply(self, update: Update, caller: Caller, text: SafeText, **kwargs: Any) -> None:
        await update.get_bot().send_message(caller.chat_id, text, **kwargs)

    # -- /besluit ------------------------------------------------------------------------

    async def decide(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/besluit REF procesregie | doorgeleid ORG | afgesloten REASON."""
        caller = await authorize_command(update, self._core, "besluit")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        args = context.args or []
        reference = _reference(args[0]) if args else None
        decision = parse_decision(args[1]) if len(args) >= 2 else None
        if reference is None or len(args) < 2:
            await self._reply(update, caller, decision_usage(_))
            return
        if decision is None:
            await self._reply(
                update,
                caller,
                _(
                    "There is no such decision. A decision is procesregie, doorgeleid or "
                    "afgesloten."
                ),
            )
            return
        extra = args[2:]
        reason = None
        organisation_code = None
        if decision is Decision.PROCESREGIE and extra:
            await self._reply(update, caller, decision_usage(_))
            return
        if decision is Decision.DOORGELEID:
            if len(extra) != 1:
                await self._reply(
                    update,
                    caller,
                    _(
                        "Doorgeleid needs the code of the organisation the case goes to: "
                        "/besluit REF doorgeleid ORG. Coordinators see the codes with /leden."
                    ),
                )
                return
            organisation_code = extra[0]
        if decision is Decision.AFGESLOTEN:
            reason = parse_close_reason(extra[0]) if len(extra) == 1 else None
            if reason is None:
                await self._reply(update, caller, close_reasons_text(_))
                return
        member_id = caller.member.member_id
        decided = await self._in_session(
            lambda session: self._core.decisions.decide(
                session,
                reference=reference,
                decision=decision,
                member_id=member_id,
                organisation_code=organisation_code,
                reason=reason,
            )
        )
        await self._reply(update, caller, decided_text(decided, _))

    # -- /toewijzen ----------------------------------------------------------------------

    async def assign(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/toewijzen REF [NUMBER]: pick a casemanager from buttons, or assign member NUMBER."""
        caller = await authorize_command(update, self._core, "toewijzen")
        if caller is None or caller.member is None:
            return
        _ = caller.tr
        args = context.args or []
        reference = _reference(args[0]) if args else None
        number = NUMBER.fullmatch(args[1]) if len(args) == 2 and args[1].isascii() else None
        if reference is None or len(args) > 2 or (len(args) == 2 and number is None):
            await self._reply(
                update,
                caller,
                _(
                    "Usage: /toewijzen REF [NUMBER], with a case reference such as "
                    "VH-2026-0042 and the casemanager's member number from /leden."
                ),
            )
            return
        by = caller.member.member_id
        decisions = self._core.decisions
        if number is not None:
            member_number = int(number.group(1))
            assigned = await self._in_session(
                lambda session: decisions.assign(
                    session, member_number=member_number, by=by, reference=reference
                )
            )
            await self._reply(update, caller, assigned_text(assigned, _))
            return
        choices = await self._in_session(
            lambda session: decisions.choices(session, reference=reference, member_id=by)
        )
        if choices.outcome is not AssignOutcome.OFFERED or choices.reference is None:
            await self._reply(update, caller, assigned_text(Assigned(choices.outcome), _))
            return
        if not choices.candidates:
            await self._reply(
                update,
                caller,
                _(
                    "There is no active casemanager who may take case {reference}. Invite one "
                    "with /uitnodigen ORG casemanager.",
                    reference=CaseReference(choices.reference),
                ),
            )
            return
        await self._reply(
            update,
            caller,
            _(
                "Who becomes the casemanager of {reference}? (the number of open cases "
                "after each name)",
                reference=CaseReference(choices.reference),
            ),
            reply_markup=choices_keyboard(choices, _),
        )

    async def pick(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """A casemanager picked from the buttons of /toewijzen REF."""
        query = update.callback_query
        caller = await authorize_button(update, self._core, "tw")
        if caller is None or query is None or caller.member is None:
            return
        _ = caller.tr
        match = PICK_DATA.fullmatch(query.data or "")
        if match is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        by, case_id, member_number = caller.member.member_id, int(match[1]), int(match[2])
        assigned = await self._in_session(
            lambda session: self._core.decisions.assign(
                session, member_number=member_number, by=by, case_id=case_id
            )
        )
        if assigned.outcome in (AssignOutcome.OFFERED, AssignOutcome.REASSIGNED):
            await acknowledge(query)
            await query.edit_message_text(assigned_text(assigned, _))
            return
        text = assigned_text(assigned, _)
        if len(text) <= ALERT_LIMIT:
            await query.answer(text, show_alert=True)
        else:  # long member and organisation names: as a message, which has room
            await acknowledge(query)
            await self._reply(update, caller, text)

    # -- the casemanager ---------------------------------------------------------------

    async def answer_offer(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """[Accept], [Decline] and the decline reason under an offered case."""
        query = update.callback_query
        caller = await authorize_button(update, self._core, "cm")
        if caller is None or query is None or caller.member is None:
            return
        _ = caller.tr
        match = OFFER_DATA.fullmatch(query.data or "")
        reason = None
        if match is not None and match[3] is not None:
            try:
                reason = DeclineReason(match[3])
            except ValueError:
                match = None
        if match is None or (match[2] == "a" and match[3] is not None):
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        member_id, assignment_id, accept = caller.member.member_id, int(match[1]), match[2] == "a"
        answered = await self._in_session(
            lambda session: self._core.decisions.answer_offer(
                session,
                assignment_id=assignment_id,
                member_id=member_id,
                accept=accept,
                reason=reason,
            )
        )
        await self._after_answer(query, answered, _)

    async def _after_answer(
        self, query: CallbackQuery, answered: OfferAnswered, _: Translator
    ) -> None:
        reference = CaseReference.or_none(answered.reference or "")
        if reference is None or answered.assignment_id is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        match answered.outcome:
            case OfferOutcome.ASK_REASON:
                await acknowledge(query)
                await query.edit_message_text(
                    _("Why do you decline case {reference}?", reference=reference),
                    reply_markup=InlineKeyboardMarkup(
                        [
                            [InlineKeyboardButton(label, callback_data=data)]
                            for label, data in decline_reasons_keyboard(answered.assignment_id, _)
                        ]
                    ),
                )
            case OfferOutcome.ACCEPTED:
                await acknowledge(query)
                await query.edit_message_text(
                    _(
                        "You are the casemanager of case {reference}. /mijnzaken lists your "
                        "cases; /zaak {reference} gives its page.",
                        reference=reference,
                    )
                )
            case OfferOutcome.DECLINED if answered.reason is not None:
                await acknowledge(query)
                await query.edit_message_text(
                    _(
                        "You declined case {reference} ({reason}). The coordinator has been told.",
                        reference=reference,
                        reason=decline_reason_label(_, answered.reason),
                    )
                )
            case OfferOutcome.ALREADY_ACCEPTED:
                await query.answer(
                    _("You have already accepted case {reference}.", reference=reference),
                    show_alert=True,
                )
            case OfferOutcome.ALREADY_DECLINED:
                await query.answer(
                    _("You have already declined case {reference}.", reference=reference),
                    show_alert=True,
                )
            case _:
                await query.answer(
                    _(
                        "This offer of case {reference} is no longer open: it was assigned "
                        "to someone else or the case is closed.",
                        reference=reference,
                    ),
                    show_alert=True,
                )

    async def my_cases(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """/mijnzaken: the casemanager's open accepted cases with theme and state."""
        caller = await authorize_command(update, self._core, "mijnzaken")
        if caller is None or caller.member is None:
            return
        member_id = caller.member.member_id
        cases = await self._in_session(
            lambda session: self._core.decisions.my_cases(session, member_id)
        )
        await self._reply(update, caller, my_cases_text(cases, caller.tr, self._core))


def decided_text(decided: Decided, _: Translator) -> SafeText:
    """What /besluit did, or why it changed nothing."""
    other = CaseReference.or_none(decided.other_case or "")
    if decided.outcome is DecisionOutcome.OTHER_CASE_OPEN and other is not None:
        return _(
            "This case cannot be reopened: the person has a newer open case of the same "
            "theme, {other}. Record the decision there.",
            other=other,
        )
    reference = CaseReference.or_none(decided.reference or "")
    if reference is None or decided.decision is None:
        return {
            DecisionOutcome.CLOSED: _(
                "This case is closed; a decision can no longer be recorded for it."
            ),
            DecisionOutcome.NO_ORGANISATION: _(
                "There is no organisation with that code. Coordinators see the codes with /leden."
            ),
            DecisionOutcome.ORGANISATION_NOT_ENTITLED: _(
                "That organisation does not work on this case's theme. Choose one that does."
            ),
        }.get(decided.outcome, _("There is no case with that reference."))
    shown = decision_text(_, DecisionShown(decided.decision, decided.organisation, decided.reason))
    if decided.outcome is DecisionOutcome.UNCHANGED:
        return _(
            "Case {reference} already has this decision ({decision}); nothing changed.",
            reference=reference,
            decision=shown,
        )
    if decided.outcome is DecisionOutcome.CORRECTED and decided.previous is not None:
        earlier = decision_text(
            _,
            DecisionShown(decided.previous, decided.previous_organisation, decided.previous_reason),
        )
        return _(
            "Decision for case {reference} corrected: {decision}. It replaces the earlier "
            "decision ({earlier}).",
            reference=reference,
            decision=shown,
            earlier=earlier,
        )
    if decided.decision is Decision.PROCESREGIE:
        return _(
            "Decision for case {reference} recorded: {decision}. It needs a casemanager: "
            "/toewijzen {reference}.",
            reference=reference,
            decision=shown,
        )
    return _(
        "Decision for case {reference} recorded: {decision}. The case is closed.",
        reference=reference,
        decision=shown,
    )


def assigned_text(assigned: Assigned, _: Translator) -> SafeText:
    """What /toewijzen (or its button) did, or why it changed nothing."""
    outcome = assigned.outcome
    if outcome is AssignOutcome.NO_CASE:
        return _("There is no case with that reference.")
    if outcome is AssignOutcome.CLOSED:
        return _("This case is closed; it can no longer be assigned.")
    if outcome is AssignOutcome.NO_MEMBER or assigned.member_number is None:
        return _("There is no member with that number.")
    number = assigned.member_number
    reference = CaseReference.or_none(assigned.reference or "")
    if outcome is AssignOutcome.INACTIVE:
        return _("Member {number} is deactivated and cannot be assigned.", number=number)
    if outcome is AssignOutcome.NOT_CASEMANAGER:
        return _(
            "Member {number} does not have the casemanager role. Coordinators see the roles "
            "with /leden.",
            number=number,
        )
    if outcome is AssignOutcome.NOT_ENTITLED:
        return _(
            "Member {number}'s organisation does not take part in this case's theme.",
            number=number,
        )
    if reference is None:
        return _("There is no case with that reference.")
    who = SafeText.layout(
        "{} ({}, {})",
        number,
        MemberName(printable_name(assigned.member_name or "") or "?"),
        OrganisationName(assigned.organisation or "?"),
    )
    if outcome is AssignOutcome.ALREADY:
        return _(
            "Member {member} is already the casemanager of case {reference}; nothing changed.",
            member=who,
            reference=reference,
        )
    if outcome is AssignOutcome.REASSIGNED and assigned.previous_number is not None:
        return _(
            "Case {reference} is now offered to member {member} instead of member {previous}. "
            "Both have been told; you hear when the new casemanager answers.",
            reference=reference,
            member=who,
            previous=assigned.previous_number,
        )
    return _(
        "Case {reference} is offered to member {member}. You hear when they accept or decline.",
        reference=reference,
        member=who,
    )


def choices_keyboard(choices: Choices, _: Translator) -> InlineKeyboardMarkup:
    """One button per casemanager: name, organisation and number of open cases."""
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    SafeText.layout(
                        "{} ({}) · {}",
                        MemberName(printable_name(candidate.name) or "?"),
                        OrganisationName(candidate.organisation),
                        candidate.open_cases,
                    ),
                    callback_data=f"tw:{choices.case_id}:{candidate.member_id}",
                )
            ]
            for candidate in choices.candidates
        ]
    )


def my_cases_text(cases: list[MyCase], _: Translator, core: Core) -> SafeText:
    if not cases:
        return _("You have no open cases as casemanager.")
    lines = [_("Your open cases ({count}):", count=len(cases)), BLANK]
    for case in cases:
        if case.decision is None:
            state = _("in triage, open since {date}", date=_.date(_local(case.opened_at, core)))
        else:
            state = _(
                "{decision} since {date}",
                decision=decision_text(_, DecisionShown(case.decision)),
                date=_.date(_local(case.decided_at or case.opened_at, core)),
            )
        lines.append(
            SafeText.layout(
                "• {} · {} · {}", CaseReference(case.reference), theme_label(_, case.theme), state
            )
        )
    return SafeText.joined("\n", lines)


def _local(moment: datetime, core: Core) -> date:
    return moment.astimezone(core.settings.tz).date()
