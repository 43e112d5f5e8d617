"""The wording about triage decisions and casemanagers: references, themes, member
numbers and names, organisations and dates; never a person's data."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.decisions import (
    CLOSE_REASON_LABELS,
    DECLINE_REASON_LABELS,
    AssignmentState,
    CloseReason,
    Decision,
    DeclineReason,
)
from bot.domain.roles import Theme
from bot.i18n import Translator, mark
from bot.safe import BLANK, CaseReference, Code, MemberName, OrganisationName, SafeText
from bot.safe import printable_name as printable
from bot.views.announcements import THEME_LABELS

DECISION_LABELS: dict[Decision, str] = {
    Decision.PROCESREGIE: mark("procesregie"),
    Decision.DOORGELEID: mark("referred"),
    Decision.AFGESLOTEN: mark("closed"),
}

ASSIGNMENT_STATE_LABELS: dict[AssignmentState, str] = {
    AssignmentState.OFFERED: mark("offered, no answer yet"),
    AssignmentState.ACCEPTED: mark("accepted"),
    AssignmentState.DECLINED: mark("declined"),
    AssignmentState.WITHDRAWN: mark("withdrawn"),
}


@dataclass(frozen=True)
class DecisionShown:
    """A decision as texts show it: the organisation's name or the reason's code."""

    decision: Decision
    organisation: str | None = None
    reason: CloseReason | None = None


@dataclass(frozen=True)
class WaitingCase:
    """A case in the daily report: waiting for an accepted casemanager."""

    reference: str
    theme: Theme
    since: datetime
    state: AssignmentState | None  # of its current or newest declined assignment; None: neither
    member_number: int | None


def member_label(name: str) -> MemberName:
    return MemberName(printable(name) or "?")


def theme_label(_: Translator, theme: Theme) -> SafeText:
    return _(THEME_LABELS[theme])


def decision_text(_: Translator, shown: DecisionShown) -> SafeText:
    """`procesregie`, `referred to Reclassering Nederland`, `closed: duplicate of another case`."""
    if shown.decision is Decision.DOORGELEID and shown.organisation is not None:
        return _("referred to {organisation}", organisation=OrganisationName(shown.organisation))
    if shown.decision is Decision.AFGESLOTEN and shown.reason is not None:
        return _("closed: {reason}", reason=_(CLOSE_REASON_LABELS[shown.reason]))
    return _(DECISION_LABELS[shown.decision])


def decision_usage(_: Translator) -> SafeText:
    return _(
        "Usage: /besluit REF procesregie, /besluit REF doorgeleid ORG or "
        "/besluit REF afgesloten REASON, with a case reference such as VH-2026-0042."
    )


def close_reasons_text(_: Translator) -> SafeText:
    """The reasons a case can be closed with, each with its code to type."""
    lines = [_("Closing needs one of these reasons: /besluit REF afgesloten REASON")]
    lines += [
        SafeText.layout("• {} - {}", Code(reason.value), _(CLOSE_REASON_LABELS[reason]))
        for reason in CloseReason
    ]
    return SafeText.joined("\n", lines)


def decline_reason_label(_: Translator, reason: DeclineReason) -> SafeText:
    return _(DECLINE_REASON_LABELS[reason])


# -- what the casemanager gets -------------------------------------------------------


def offer_text(_: Translator, *, reference: str, theme: Theme) -> SafeText:
    return _(
        "A coordinator asks you to be the casemanager of case {reference} ({theme}). "
        "Do you accept?",
        reference=CaseReference(reference),
        theme=theme_label(_, theme),
    )


def offer_keyboard(assignment_id: int, _: Translator) -> str:
    """[Accept] [Decline] as Bot API JSON (stored in the outbox); bound to the offer."""
    return json.dumps(
        {
            "inline_keyboard": [
                [
                    {"text": _("Accept"), "callback_data": f"cm:{assignment_id}:a"},
                    {"text": _("Decline"), "callback_data": f"cm:{assignment_id}:d"},
                ]
            ]
        }
    )


def decline_reasons_keyboard(assignment_id: int, _: Translator) -> list[tuple[SafeText, str]]:
    """One button per decline reason: (label, callback data)."""
    return [
        (_(DECLINE_REASON_LABELS[reason]), f"cm:{assignment_id}:d:{reason.value}")
        for reason in DeclineReason
    ]


def offer_withdrawn_text(_: Translator, *, reference: str) -> SafeText:
    return _(
        "Case {reference} has been assigned to another casemanager. You no longer need "
        "to handle it.",
        reference=CaseReference(reference),
    )


# -- what the coordinators get -------------------------------------------------------


def accepted_notice(
    _: Translator, *, number: int, name: str, organisation: str, reference: str
) -> SafeText:
    return _(
        "Member {number} ({name}, {organisation}) accepted case {reference} as casemanager.",
        number=number,
        name=member_label(name),
        organisation=OrganisationName(organisation),
        reference=CaseReference(reference),
    )


def declined_notice(
    _: Translator,
    *,
    number: int,
    name: str,
    organisation: str,
    reference: str,
    reason: DeclineReason,
) -> SafeText:
    return _(
        "Member {number} ({name}, {organisation}) declined case {reference} ({reason}). "
        "Assign another casemanager with /toewijzen {reference}.",
        number=number,
        name=member_label(name),
        organisation=OrganisationName(organisation),
        reference=CaseReference(reference),
        reason=decline_reason_label(_, reason),
    )


def unassigned_report(_: Translator, cases: Sequence[WaitingCase], tz: ZoneInfo) -> SafeText:
    """The daily list of cases waiting two working days or more for a casemanager."""
    lines = [
        _(
            "Cases without an accepted casemanager after 2 working days ({count}):",
            count=len(cases),
        ),
        BLANK,
    ]
    for case in cases:
        if case.state is None or case.member_number is None:
            state = _("not assigned")
        else:
            state = _(
                "member {number}: {state}",
                number=case.member_number,
                state=_(ASSIGNMENT_STATE_LABELS[case.state]),
            )
        lines.append(
            SafeText.layout(
                "• {} · {} · {} · {}",
                CaseReference(case.reference),
                theme_label(_, case.theme),
                _("waiting since {date}", date=_.date(case.since.astimezone(tz).date())),
                state,
            )
        )
    lines += [BLANK, _("Assign one with /toewijzen REF.")]
    return SafeText.joined("\n", lines)
