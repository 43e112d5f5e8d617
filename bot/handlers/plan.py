"""/actie, /plan, /zrm and /annuleer, the buttons of their conversations, typed answers,
[Afgerond] [Uitstellen] under an action, and [Wijzig #N] under /plan (another owner,
or cancel the action).

Typed input (a reference, an own title, a date) is parsed here or by the service and
never repeated in an answer; an own title is never shown in Telegram at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from sqlmodel import Session
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.domain.plan import (
    ACTION_CATALOGUE,
    DEADLINE_PROBLEM_MESSAGES,
    MAX_TITLE_CHARS,
    ActionState,
    ActionVerb,
    DeadlineProblem,
    PostponeReason,
    QuickDeadline,
    ZrmDomain,
    parse_action_button,
)
from bot.handlers.common import (
    CLOSED_OR_UNKNOWN,
    Caller,
    authorize_button,
    authorize_command,
    identify,
)
from bot.handlers.fallback import not_understood
from bot.handlers.members import acknowledge
from bot.i18n import Translator, mark
from bot.safe import BLANK, CaseReference, MemberName, OrganisationName, SafeText, printable_name
from bot.services.plan import (
    DOMAINS,
    OWNER_PAGE_SIZE,
    ActionAnswered,
    ActionOutcome,
    Change,
    Kind,
    OwnerChoice,
    PlanAction,
    PlanOfApproach,
    PlanShown,
    Problem,
    Step,
    Turn,
    ZrmSummary,
    owner_pages,
)
from bot.views.announcements import split_message
from bot.views.plan import (
    STATE_LABELS,
    action_buttons,
    action_label,
    change_button,
    domain_label,
    reason_label,
)

if TYPE_CHECKING:
    from bot.core import Core

T = TypeVar("T")

# pa|pp|pc:<conversation version>:<step code>:<choice>; zr:<version>:s:<score>. Anything
# else is forged. `g` turns a page of the owner choices: pa|pc:<version>:g:<page>.
STEP_DATA = re.compile(r"(pa|pp|zr|pc):([0-9]{1,9}):([a-z]):([a-z0-9_]{1,32})")
KINDS = {"pa": Kind.ACTIE, "pp": Kind.POSTPONE, "zr": Kind.ZRM, "pc": Kind.CHANGE}
PREFIXES = {kind: prefix for prefix, kind in KINDS.items()}
PAGE = "g"
# Under /plan, the [Wijzig #N] buttons of the open actions, this many to a row.
CHANGE_BUTTONS_PER_ROW = 3
MAX_CHANGE_BUTTONS = 99  # Telegram allows 100 buttons a message

QUICK_LABELS = {
    QuickDeadline.ONE_WEEK: mark("+1 week"),
    QuickDeadline.TWO_WEEKS: mark("+2 weeks"),
    QuickDeadline.ONE_MONTH: mark("+1 month"),
}
PROBLEM_MESSAGES: dict[Problem, str] = {
    Problem.NO_CASE: mark("There is no case with that reference."),
    Problem.CLOSED: mark("This case is closed; its plan can no longer be changed."),
    Problem.NOT_CASEMANAGER: mark(
        "Only the casemanager of this case or a coordinator can do this."
    ),
    Problem.OUTDATED: mark(
        "This button belongs to an earlier step or conversation; it changed nothing."
    ),
    Problem.USE_BUTTONS: mark("Please choose with the buttons above, or stop with /annuleer."),
    Problem.FORGED: CLOSED_OR_UNKNOWN,
    Problem.TITLE_EMPTY: mark("The title is empty. Type the title of the action."),
    Problem.TITLE_PERSONAL: mark(
        "The title holds the name or birth date of the person. Type it again without "
        "them; nothing was stored."
    ),
    Problem.OWNER_INACTIVE: mark("That member is deactivated. Choose another owner."),
    Problem.DATE_UNREADABLE: DEADLINE_PROBLEM_MESSAGES[DeadlineProblem.UNREADABLE],
    Problem.DATE_PAST: DEADLINE_PROBLEM_MESSAGES[DeadlineProblem.PAST],
    Problem.DATE_TOO_FAR: DEADLINE_PROBLEM_MESSAGES[DeadlineProblem.TOO_FAR],
    Problem.DATE_NOT_LATER: mark(
        "Postponing moves the deadline later. Choose a date after the current deadline."
    ),
    Problem.SCORE_INVALID: mark("A ZRM score is 1 to 5. Choose one of the buttons."),
    Problem.SAME_OWNER: mark("That is the owner already. Choose another owner."),
    Problem.ACTION_DONE: mark("This action is done already; nothing was changed."),
    Problem.ACTION_CANCELLED: mark("This action was cancelled already; nothing was changed."),
    Problem.REASSIGNED: mark(
        "This action was given to another owner; it is no longer yours. Nothing was changed."
    ),
    Problem.ACTION_CHANGED: mark(
        "This action has changed meanwhile; nothing was changed. Ask /plan again."
    ),
}

Keyboard = list[list[tuple[SafeText, str]]]


def register(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    handlers = PlanHandlers(core)
    application.add_handler(CommandHandler("actie", handlers.actie))
    application.add_handler(CommandHandler("plan", handlers.plan))
    application.add_handler(CommandHandler("zrm", handlers.zrm))
    application.add_handler(CommandHandler("annuleer", handlers.cancel))
    application.add_handler(CallbackQueryHandler(handlers.step, pattern=r"^(pa|pp|zr|pc):"))
    application.add_handler(CallbackQueryHandler(handlers.action_button, pattern=r"^act:"))
    # Typed answers (an own title, a date); text without a conversation gets the fallback.
    application.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED,
            handlers.typed,
        )
    )


def _reference(args: list[str]) -> CaseReference | None:
    if len(args) != 1 or not args[0].isascii():
        return None
    return CaseReference.or_none(args[0].upper())


class PlanHandlers:
    def __init__(self, core: Core) -> None:
        self._core = core

    async def _in_session(self, step: Callable[[Session], T]) -> T:
        return await self._core.db.transact(step)

    async def _reply(
        self, update: Update, caller: Caller, text: SafeText, keyboard: Keyboard | None = None
    ) -> None:
        markup = _markup(keyboard) if keyboard else None
        await update.get_bot().send_message(caller.chat_id, text, reply_markup=markup)

    # -- commands --------------------------------------------------------------------------

    async def actie(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/actie REF: a new action, step by step."""
        await self._start(
            update, context, "actie",
            mark("Usage: /actie REF, with a case reference such as VH-2026-0042."),
            lambda plan: plan.start_action,
        )  # fmt: skip

    async def zrm(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/zrm REF: a ZRM measurement, a score per domain."""
        await self._start(
            update, context, "zrm",
            mark("Usage: /zrm REF, with a case reference such as VH-2026-0042."),
            lambda plan: plan.start_zrm,
        )  # fmt: skip

    async def _start(
        self,
        update: Update,
        context: ContextTypes.DEFAULT_TYPE,
        command: str,
        usage: str,
        step: Callable[[PlanOfApproach], Callable[..., Turn]],
    ) -> None:
        """A conversation command: authorise, parse REF (or show `usage`), start it."""
        caller = await authorize_command(update, self._core, command)
        if caller is None or caller.member is None:
            return
        reference = _reference(context.args or [])
        if reference is None:
            await self._reply(update, caller, caller.tr(usage))
            return
        member_id, start = caller.member.member_id, step(self._core.plan)
        turn = await self._in_session(
            lambda session: start(session, member_id=member_id, reference=reference)
        )
        await self._show(update, caller, turn)

    async def cancel(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """/annuleer: leave the conversation."""
        caller = await authorize_command(update, self._core, "annuleer")
        if caller is None or caller.member is None:
            return
        member_id, plan = caller.member.member_id, self._core.plan
        left = await self._in_session(lambda session: plan.cancel(session, member_id=member_id))
        _ = caller.tr
        await self._reply(
            update,
            caller,
            _("Stopped; nothing was stored.") if left else _("There is nothing to stop."),
        )

    async def plan(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/plan REF: the actions per domain and the ZRM scores."""
        caller = await authorize_command(update, self._core, "plan")
        if caller is None or caller.member is None:
            return
        reference = _reference(context.args or [])
        if reference is None:
            await self._reply(
                update,
                caller,
                caller.tr(mark("Usage: /plan REF, with a case reference such as VH-2026-0042.")),
            )
            return
        member_id, plan = caller.member.member_id, self._core.plan
        shown = await self._in_session(
            lambda session: plan.plan_of(session, member_id=member_id, reference=reference)
        )
        # A long plan goes in parts (Telegram takes 4096 characters a message), each
        # under the plan's heading; the [Wijzig #N] buttons under the last.
        texts = self._plan_texts(caller.tr, shown)
        for number, text in enumerate(texts, start=1):
            keyboard = _change_keyboard(caller.tr, shown) if number == len(texts) else None
            await self._reply(update, caller, text, keyboard)

    # -- answers ---------------------------------------------------------------------------

    async def step(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """A button of /actie, /zrm or postponing."""
        query = update.callback_query
        data = query.data or "" if query is not None else ""
        caller = await authorize_button(update, self._core, data.split(":", 1)[0])
        if caller is None or query is None or caller.member is None:
            return
        match = STEP_DATA.fullmatch(data)
        if match is None:
            await query.answer(caller.tr(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        member_id, plan = caller.member.member_id, self._core.plan
        kind, version, code, value = KINDS[match[1]], int(match[2]), match[3], match[4]
        turn = await self._in_session(
            lambda session: plan.press(
                session, member_id=member_id, kind=kind, version=version, code=code, value=value
            )
        )
        if code == PAGE and turn.problem is None:
            # Another page of the owner choices: the same question, edited in place.
            await acknowledge(query)
            prompt, keyboard = _prompt(caller.tr, turn)
            try:
                await query.edit_message_text(prompt, reply_markup=_markup(keyboard))
            except BadRequest as exc:  # a second tap on the same arrow: shown already
                if "not modified" not in str(exc).lower():
                    raise
            return
        await self._show(update, caller, turn, query=query, pressed=version)

    async def typed(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text in a private chat: the answer to a typed step, else the fallback."""
        message = update.effective_message
        caller = await identify(update, self._core)
        turn = None
        if caller is not None and caller.member is not None and caller.active and message:
            member_id, plan, text = caller.member.member_id, self._core.plan, message.text or ""
            turn = await self._in_session(
                lambda session: plan.typed(session, member_id=member_id, text=text)
            )
        if caller is None or turn is None:
            await not_understood(update, self._core)
            return
        await self._show(update, caller, turn)

    async def action_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """[Afgerond] or [Uitstellen] under an action, or [Wijzig #N] under /plan."""
        query = update.callback_query
        caller = await authorize_button(update, self._core, "act")
        if caller is None or query is None or caller.member is None:
            return
        _ = caller.tr
        pressed = parse_action_button(query.data or "")
        if pressed is None:
            await query.answer(_(CLOSED_OR_UNKNOWN), show_alert=True)
            return
        member_id, plan = caller.member.member_id, self._core.plan
        if pressed.verb is ActionVerb.CHANGE:
            turn = await self._in_session(
                lambda session: plan.start_change(
                    session,
                    member_id=member_id,
                    action_id=pressed.action_id,
                    version=pressed.version,
                )
            )
            await self._show(update, caller, turn, query=query, pressed=None)
            return
        if pressed.verb is ActionVerb.DONE:
            answered = await self._in_session(
                lambda session: plan.complete(
                    session,
                    member_id=member_id,
                    action_id=pressed.action_id,
                    version=pressed.version,
                )
            )
            if answered.outcome is ActionOutcome.DONE and answered.action is not None:
                await acknowledge(query)
                await self._reply(
                    update,
                    caller,
                    _(
                        "Marked as done: {action} of case {reference}.",
                        action=action_label(_, answered.action),
                        reference=CaseReference(answered.action.reference),
                    ),
                )
                return
            await query.answer(_answered_text(_, answered), show_alert=True)
            return
        started = await self._in_session(
            lambda session: plan.start_postpone(
                session,
                member_id=member_id,
                action_id=pressed.action_id,
                version=pressed.version,
            )
        )
        if isinstance(started, ActionAnswered):
            await query.answer(_answered_text(_, started), show_alert=True)
            return
        await self._show(update, caller, started, query=query, pressed=None)

    # -- showing a turn --------------------------------------------------------------------

    async def _show(
        self,
        update: Update,
        caller: Caller,
        turn: Turn,
        *,
        query: CallbackQuery | None = None,
        pressed: int | None = None,
    ) -> None:
        _ = caller.tr
        if turn.problem is not None:
            text = _problem_text(_, turn.problem)
            if query is not None and (turn.step is None or turn.version == pressed):
                await query.answer(text, show_alert=True)
                return
            if turn.step is None or turn.problem is Problem.USE_BUTTONS:
                await self._reply(update, caller, text)
                return
            prompt, keyboard = _prompt(_, turn)
            if query is not None:
                await acknowledge(query)
            await self._reply(update, caller, SafeText.joined("\n", [text, prompt]), keyboard)
            return
        if query is not None:
            await acknowledge(query)
        if turn.step is None:
            text, keyboard = _finished(_, turn)
            await self._reply(update, caller, text, keyboard)
            return
        prompt, keyboard = _prompt(_, turn)
        await self._reply(update, caller, prompt, keyboard)

    def _plan_texts(self, _: Translator, shown: PlanShown) -> list[SafeText]:
        reference = CaseReference.or_none(shown.reference or "")
        if shown.problem is not None or reference is None:
            return [_problem_text(_, shown.problem or Problem.NO_CASE)]
        heading = _("Plan of approach of case {reference}", reference=reference)
        lines: list[SafeText] = []
        if not shown.actions:
            lines.append(_("No actions yet. Add one with /actie {reference}.", reference=reference))
        current: ZrmDomain | None = None
        for action in shown.actions:
            if action.named.domain is not current:
                current = action.named.domain
                lines += [BLANK, SafeText.layout("{}:", domain_label(_, current))]
            lines.append(_action_line(_, action, self._today()))
        lines += [BLANK, *_zrm_lines(_, shown.zrm, self._core)]
        return split_message(heading, lines)

    def _today(self) -> date:
        return self._core.clock.now().astimezone(self._core.settings.tz).date()


def _change_keyboard(_: Translator, shown: PlanShown) -> Keyboard:
    """[Wijzig #N] per open action of an open case (rows of a few: thumb-sized)."""
    if shown.problem is not None or shown.closed:
        return []
    buttons = [
        change_button(_, action.named)
        for action in shown.actions
        if action.state is ActionState.OPEN
    ][:MAX_CHANGE_BUTTONS]
    return [
        buttons[i : i + CHANGE_BUTTONS_PER_ROW]
        for i in range(0, len(buttons), CHANGE_BUTTONS_PER_ROW)
    ]


def _markup(keyboard: Keyboard) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(label, callback_data=data) for label, data in row]
            for row in keyboard
        ]
    )


def _problem_text(_: Translator, problem: Problem) -> SafeText:
    if problem is Problem.TITLE_TOO_LONG:
        return _(
            "The title is longer than {count} characters. Type a shorter one.",
            count=MAX_TITLE_CHARS,
        )
    return _(PROBLEM_MESSAGES[problem])


def _answered_text(_: Translator, answered: ActionAnswered) -> SafeText:
    reference = CaseReference.or_none(answered.reference or "")
    if reference is None or answered.outcome is ActionOutcome.UNKNOWN:
        return _(CLOSED_OR_UNKNOWN)
    return {
        ActionOutcome.ALREADY_DONE: _("This action is already done."),
        ActionOutcome.OUTDATED: _(
            "This action has changed since this message. See /plan {reference}.",
            reference=reference,
        ),
        ActionOutcome.NOT_YOURS: _("This action is not yours or your organisation's."),
        ActionOutcome.REASSIGNED: _(
            "This action was given to another owner; it is no longer yours. Nothing was changed."
        ),
        ActionOutcome.CANCELLED: _(
            "This action was cancelled; there is nothing more to do. Nothing was changed."
        ),
        ActionOutcome.CLOSED: _("Case {reference} is closed.", reference=reference),
    }.get(answered.outcome, _(CLOSED_OR_UNKNOWN))


def _owner_label(_: Translator, owner: OwnerChoice) -> SafeText:
    name = MemberName.or_none(printable_name(owner.name)) or MemberName("?")
    if owner.kind == "m":
        return SafeText.layout(
            "{} ({})", name, OrganisationName.or_none(owner.organisation or "?") or name
        )
    return _(
        "{organisation} (all its members)",
        organisation=OrganisationName.or_none(owner.name) or OrganisationName("?"),
    )


def _quick(prefix: str, version: int, _: Translator) -> list[tuple[SafeText, str]]:
    return [
        (_(label), f"{prefix}:{version}:w:{quick.value}") for quick, label in QUICK_LABELS.items()
    ]


def _prompt(_: Translator, turn: Turn) -> tuple[SafeText, Keyboard]:
    """The question of the turn's step, and its buttons."""
    v = turn.version
    reference = CaseReference.or_none(turn.reference or "") or CaseReference("VH-0000-0000")
    match turn.step:
        case Step.DOMAIN:
            buttons = [
                (domain_label(_, domain), f"pa:{v}:d:{index}")
                for index, domain in enumerate(DOMAINS)
            ]
            return (
                _("New action for case {reference}. Which life domain?", reference=reference),
                [buttons[i : i + 2] for i in range(0, len(buttons), 2)],
            )
        case Step.ACTION:
            assert turn.domain is not None  # noqa: S101 - set with the domain step
            rows: Keyboard = [
                [(_(entry.label), f"pa:{v}:a:{entry.code}")]
                for entry in ACTION_CATALOGUE[turn.domain]
            ]
            rows.append([(_("Own title"), f"pa:{v}:a:own")])
            return (
                _("Which action for {domain}?", domain=domain_label(_, turn.domain)),
                rows,
            )
        case Step.TITLE:
            return (
                _(
                    "Type the title of the action, at most {count} characters. Never put the "
                    "name or birth date of the person in it. The title is shown on the case "
                    "page only, never here.",
                    count=MAX_TITLE_CHARS,
                ),
                [],
            )
        case Step.OWNER:
            return _owner_prompt(_, turn)
        case Step.CHANGE:
            assert turn.stored is not None  # noqa: S101 - the action changed
            assert turn.deadline is not None  # noqa: S101
            owner = _owner_label(_, turn.owner) if turn.owner is not None else _("no owner")
            return (
                _(
                    "{action} of case {reference}: owner {owner}, deadline {date}. What "
                    "changes? (/annuleer: nothing)",
                    action=action_label(_, turn.stored),
                    reference=reference,
                    owner=owner,
                    date=_.date(turn.deadline),
                ),
                [
                    [
                        (_("Other owner"), f"pc:{v}:c:{Change.REASSIGNED.value}"),
                        (_("Cancel the action"), f"pc:{v}:c:{Change.CANCELLED.value}"),
                    ]
                ],
            )
        case Step.CONFIRM:
            assert turn.stored is not None  # noqa: S101 - the action changed
            return (
                _(
                    "Cancel {action} of case {reference}? Its owner is told; it cannot be undone.",
                    action=action_label(_, turn.stored),
                    reference=reference,
                ),
                [[(_("Yes, cancel it"), f"pc:{v}:x:y"), (_("No, keep it"), f"pc:{v}:x:n")]],
            )
        case Step.DEADLINE:
            return (
                _("What is the deadline? Type it as dd-mm-yyyy, or choose:"),
                [_quick("pa", v, _)],
            )
        case Step.SCORE:
            domain = DOMAINS[turn.zrm_index]
            return (
                _(
                    "ZRM of case {reference}, domain {number} of {count}: {domain}. "
                    "Score 1 (acute) to 5 (fully self-reliant)?",
                    reference=reference,
                    number=turn.zrm_index + 1,
                    count=len(DOMAINS),
                    domain=domain_label(_, domain),
                ),
                [[(SafeText.layout("{}", score), f"zr:{v}:s:{score}") for score in range(1, 6)]],
            )
        case Step.NEW_DATE:
            assert turn.stored is not None  # noqa: S101 - set with the postponing
            assert turn.deadline is not None  # noqa: S101
            return (
                _(
                    "New deadline for {action} of case {reference} (now {date})? Type it as "
                    "dd-mm-yyyy, or choose:",
                    action=action_label(_, turn.stored),
                    reference=reference,
                    date=_.date(turn.deadline),
                ),
                [_quick("pp", v, _)],
            )
        case _:  # Step.REASON
            assert turn.deadline is not None  # noqa: S101 - set with the new date
            return (
                _("Why is it postponed to {date}?", date=_.date(turn.deadline)),
                [
                    [(reason_label(_, reason), f"pp:{v}:r:{reason.value}")]
                    for reason in PostponeReason
                ],
            )


def _owner_prompt(_: Translator, turn: Turn) -> tuple[SafeText, Keyboard]:
    """Who owns (or becomes the owner of) the action: a page of the choices, with « / »
    when there are more than fit on one."""
    prefix, v, page = PREFIXES[turn.kind], turn.version, turn.page
    pages = owner_pages(len(turn.owners))
    shown = turn.owners[page * OWNER_PAGE_SIZE : (page + 1) * OWNER_PAGE_SIZE]
    rows: Keyboard = [[(_owner_label(_, owner), f"{prefix}:{v}:o:{owner.code}")] for owner in shown]
    moves = []
    if page > 0:
        moves.append((_("« Previous"), f"{prefix}:{v}:{PAGE}:{page - 1}"))
    if page + 1 < pages:
        moves.append((_("Next »"), f"{prefix}:{v}:{PAGE}:{page + 1}"))
    if moves:
        rows.append(moves)
    if turn.kind is Kind.CHANGE:
        assert turn.stored is not None  # noqa: S101 - the action changed
        question = _(
            "Who becomes the owner of {action} of case {reference}?",
            action=action_label(_, turn.stored),
            reference=CaseReference.or_none(turn.reference or "") or CaseReference("VH-0000-0000"),
        )
    else:
        question = _("Who owns the action?")
    if pages > 1:
        question = SafeText.joined(
            " ", [question, _("(page {page} of {pages})", page=page + 1, pages=pages)]
        )
    return question, rows


def _finished(_: Translator, turn: Turn) -> tuple[SafeText, Keyboard]:
    """What a finished conversation stored."""
    reference = CaseReference.or_none(turn.reference or "") or CaseReference("VH-0000-0000")
    if turn.kind is Kind.CHANGE:
        return _changed(_, turn, reference), []
    if turn.kind is Kind.ZRM:
        lines = [_("ZRM measurement of case {reference} stored:", reference=reference)]
        lines += [
            SafeText.layout("• {}: {}", domain_label(_, domain), score)
            for domain, score in zip(DOMAINS, turn.zrm_scores, strict=False)
        ]
        return SafeText.joined("\n", lines), []
    assert turn.stored is not None  # noqa: S101 - stored
    assert turn.deadline is not None  # noqa: S101
    if turn.kind is Kind.POSTPONE:
        assert turn.reason is not None  # noqa: S101 - the last step
        return (
            _(
                "Postponed to {date} ({reason}): {action} of case {reference}. The "
                "casemanager has been told.",
                date=_.date(turn.deadline),
                reason=reason_label(_, turn.reason),
                action=action_label(_, turn.stored),
                reference=reference,
            ),
            [action_buttons(_, turn.stored.action_id, turn.version)],
        )
    assert turn.owner is not None  # noqa: S101 - stored with its owner
    return (
        _(
            "Action stored for case {reference}: {action}. Owner: {owner}. Deadline: {date}. "
            "The owner has been told.",
            reference=reference,
            action=action_label(_, turn.stored),
            owner=_owner_label(_, turn.owner),
            date=_.date(turn.deadline),
        ),
        [],
    )


def _changed(_: Translator, turn: Turn, reference: CaseReference) -> SafeText:
    if turn.changed is None or turn.stored is None:
        return _("Nothing was changed.")
    if turn.changed is Change.CANCELLED:
        return _(
            "Cancelled: {action} of case {reference}. The owner has been told.",
            action=action_label(_, turn.stored),
            reference=reference,
        )
    assert turn.owner is not None  # noqa: S101 - reassigned to an owner
    return _(
        "{action} of case {reference} is now owned by {owner}. The new owner and the "
        "earlier one have been told.",
        action=action_label(_, turn.stored),
        reference=reference,
        owner=_owner_label(_, turn.owner),
    )


def _action_line(_: Translator, action: PlanAction, today: date) -> SafeText:
    if action.owner_member is not None:
        owner: SafeText | MemberName = MemberName.or_none(
            printable_name(action.owner_member)
        ) or MemberName("?")
    else:
        owner = _(
            "{organisation} (all its members)",
            organisation=OrganisationName.or_none(action.owner_organisation or "?")
            or OrganisationName("?"),
        )
    state = _(STATE_LABELS[action.state])
    if action.state is ActionState.OPEN and action.deadline < today:
        state = _("overdue")
    return SafeText.layout(
        "• #{} {} · {} · {} · {}",
        action.named.number,
        action_label(_, action.named),
        owner,
        _.date(action.deadline),
        state,
    )


def _zrm_lines(_: Translator, zrm: ZrmSummary, core: Core) -> list[SafeText]:
    if zrm.measurements == 0 or zrm.last_at is None:
        return [_("ZRM: no measurement yet.")]
    lines = [
        _(
            "ZRM: {count} measurement(s), the last on {date}:",
            count=zrm.measurements,
            date=_.date(zrm.last_at.astimezone(core.settings.tz).date()),
        )
    ]
    for domain in DOMAINS:
        if domain not in zrm.last:
            continue
        score, label = zrm.last[domain], domain_label(_, domain)
        change = zrm.change.get(domain)
        if change is None:
            lines.append(SafeText.layout("• {}: {}", label, score))
        elif change > 0:
            lines.append(
                _(
                    "• {domain}: {score} (+{change} since the first)",
                    domain=label,
                    score=score,
                    change=change,
                )
            )
        elif change < 0:
            lines.append(
                _(
                    "• {domain}: {score} (-{change} since the first)",
                    domain=label,
                    score=score,
                    change=-change,
                )
            )
        else:
            lines.append(
                _("• {domain}: {score} (unchanged since the first)", domain=label, score=score)
            )
    return lines
