"""The plan of approach in Telegram: how an action is named, the owner's notices and
buttons (new, given to another owner, cancelled), the casemanager's notices of a
postponement and of an action done, the [Wijzig] buttons under /plan.

An action is named by its domain and catalogue label, or "own action #N": its own
title is typed text and never goes into a Telegram message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

from bot.domain.plan import (
    CATALOGUE_BY_CODE,
    POSTPONE_REASON_LABELS,
    ZRM_DOMAIN_LABELS,
    ActionState,
    ActionVerb,
    PostponeReason,
    ZrmDomain,
    action_button_data,
)
from bot.i18n import Translator, mark
from bot.safe import CaseReference, SafeText

ACTION_DONE = mark("Done")
STATE_LABELS = {
    ActionState.OPEN: mark("open"),
    ActionState.DONE: mark("done"),
    ActionState.CANCELLED: mark("cancelled"),
}
# What happened to an action (action_event.kind), on the case page.
EVENT_LABELS = {
    "created": mark("added"),
    "done": mark("done"),
    "postponed": mark("postponed"),
    "reassigned": mark("reassigned"),
    "cancelled": mark("cancelled"),
}
ACTION_POSTPONE = mark("Postpone")


@dataclass(frozen=True)
class ActionNamed:
    """What Telegram may say of an action: its case, domain, catalogue entry or number."""

    reference: str
    domain: ZrmDomain
    catalogue_code: str | None
    number: int
    action_id: int
    version: int


def domain_label(_: Translator, domain: ZrmDomain) -> SafeText:
    return _(ZRM_DOMAIN_LABELS[domain])


def action_label(_: Translator, named: ActionNamed) -> SafeText:
    """`housing: find housing`, or `housing: own action #3` for an own title."""
    entry = CATALOGUE_BY_CODE.get(named.catalogue_code or "")
    if entry is not None:
        return SafeText.layout("{}: {}", domain_label(_, named.domain), _(entry[1].label))
    return _(
        "{domain}: own action #{number}",
        domain=domain_label(_, named.domain),
        number=named.number,
    )


def reason_label(_: Translator, reason: PostponeReason) -> SafeText:
    return _(POSTPONE_REASON_LABELS[reason])


def action_buttons(_: Translator, action_id: int, version: int) -> list[tuple[SafeText, str]]:
    """[Afgerond] [Uitstellen] under an action: (label, callback data)."""
    return [
        (_(ACTION_DONE), action_button_data(action_id, version, ActionVerb.DONE)),
        (_(ACTION_POSTPONE), action_button_data(action_id, version, ActionVerb.POSTPONE)),
    ]


def change_button(_: Translator, named: ActionNamed) -> tuple[SafeText, str]:
    """[Wijzig #N] under /plan, for an open action: (label, callback data)."""
    return (
        _("Change #{number}", number=named.number),
        action_button_data(named.action_id, named.version, ActionVerb.CHANGE),
    )


def action_keyboard(_: Translator, action_id: int, version: int) -> str:
    """The same buttons as Bot API JSON, for the outbox."""
    return json.dumps(
        {
            "inline_keyboard": [
                [
                    {"text": str(label), "callback_data": data}
                    for label, data in action_buttons(_, action_id, version)
                ]
            ]
        }
    )


def new_action_notice(_: Translator, named: ActionNamed, deadline: date) -> SafeText:
    """The owner's message about a new action (with [Afgerond] [Uitstellen])."""
    return _(
        "A new action of case {reference} is yours: {action}. Deadline: {date}. Press Done "
        "when it is done, or Postpone for a new date.",
        reference=CaseReference(named.reference),
        action=action_label(_, named),
        date=_.date(deadline),
    )


def postponed_notice(
    _: Translator,
    named: ActionNamed,
    *,
    old: date,
    new: date,
    reason: PostponeReason,
    by: int,
) -> SafeText:
    """The casemanager's message: an action of their case was postponed."""
    return _(
        "Member {number} postponed an action of case {reference} ({action}) from {old} to "
        "{new}: {reason}.",
        number=by,
        reference=CaseReference(named.reference),
        action=action_label(_, named),
        old=_.date(old),
        new=_.date(new),
        reason=reason_label(_, reason),
    )


def done_notice(_: Translator, named: ActionNamed, *, by: int) -> SafeText:
    """The casemanager's message: an action of their case was marked done."""
    return _(
        "Member {number} marked an action of case {reference} as done: {action}.",
        number=by,
        reference=CaseReference(named.reference),
        action=action_label(_, named),
    )


def reassigned_notice(_: Translator, named: ActionNamed) -> SafeText:
    """The earlier owner's message: the action was given to another owner."""
    return _(
        "An action of case {reference} ({action}) was given to another owner; it is no "
        "longer yours, and its buttons no longer work.",
        reference=CaseReference(named.reference),
        action=action_label(_, named),
    )


def cancelled_notice(_: Translator, named: ActionNamed) -> SafeText:
    """The owner's message: the action was cancelled."""
    return _(
        "An action of case {reference} ({action}) was cancelled; there is nothing more to "
        "do for it.",
        reference=CaseReference(named.reference),
        action=action_label(_, named),
    )
