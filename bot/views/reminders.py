"""The daily digest: a person's actions due and overdue, grouped by case, with buttons.

Made of safe kinds only: the case reference, pseudonym and theme, the life
domain, a catalogue label or "own action #N" (an own title is typed text and
never goes to Telegram), dates, counts and member or organisation names.

A digest longer than Telegram allows (4096 characters, 100 buttons) is split
into parts; a case that goes on in the next part repeats its heading, marked as
continued, and every part says which part it is.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.domain.plan import (
    CATALOGUE_BY_CODE,
    ZRM_DOMAIN_LABELS,
    ActionVerb,
    ZrmDomain,
    action_button_data,
)
from bot.domain.roles import Theme
from bot.i18n import Translator
from bot.safe import (
    BLANK,
    CaseReference,
    MemberName,
    OrganisationName,
    Pseudonym,
    SafeText,
)
from bot.views.announcements import MESSAGE_LIMIT, THEME_LABELS

# Telegram allows 100 buttons a message; each own action takes two.
MAX_BUTTONS = 100


class Why(StrEnum):
    """Why an action is in this person's digest."""

    OWNER = "owner"  # theirs (or their organisation's): with buttons
    CASEMANAGER = "casemanager"  # overdue beyond the casemanager's threshold
    COORDINATOR = "coordinator"  # overdue beyond the coordinators' threshold


@dataclass(frozen=True)
class ActionDue:
    action_id: int
    version: int
    number: int
    domain: ZrmDomain
    catalogue_code: str | None
    deadline: date
    overdue: int  # working days; 0 when not yet overdue
    why: Why
    owner: MemberName | OrganisationName | None = None  # shown on escalations


@dataclass
class CaseDigest:
    reference: str
    pseudonym: str
    theme: Theme
    actions: list[ActionDue] = field(default_factory=list)
    # The day since which nothing happened in the plan (stagnation), if it stagnates.
    quiet_since: date | None = None
    # The next ZRM measurement's due date, when due within the horizon or overdue.
    zrm_due: date | None = None
    zrm_first: bool = True


@dataclass(frozen=True)
class DigestPart:
    text: SafeText
    reply_markup: str | None
    buttons: int


def _action_label(_: Translator, action: ActionDue) -> SafeText:
    if action.catalogue_code is not None and action.catalogue_code in CATALOGUE_BY_CODE:
        return _(CATALOGUE_BY_CODE[action.catalogue_code][1].label)
    return _("own action #{number}", number=action.number)


def _action_line(_: Translator, action: ActionDue, today: date) -> SafeText:
    domain = _(ZRM_DOMAIN_LABELS[action.domain])
    label = _action_label(_, action)
    deadline = _.date(action.deadline)
    if action.why is Why.OWNER:
        if action.overdue:
            return _(
                "• {domain}: {action}, deadline {date}, overdue ({days} working days)",
                domain=domain,
                action=label,
                date=deadline,
                days=action.overdue,
            )
        if action.deadline <= today:
            return _("• {domain}: {action}, deadline today", domain=domain, action=label)
        return _(
            "• {domain}: {action}, deadline {date}", domain=domain, action=label, date=deadline
        )
    owner: SafeText | MemberName | OrganisationName = (
        action.owner if action.owner is not None else _("no owner")
    )
    return _(
        "• {domain}: {action} of {owner}, deadline {date}, overdue ({days} working days)",
        domain=domain,
        action=label,
        owner=owner,
        date=deadline,
        days=action.overdue,
    )


def _heading(_: Translator, case: CaseDigest, *, continued: bool) -> SafeText:
    reference, pseudonym = CaseReference(case.reference), Pseudonym(case.pseudonym)
    theme = _(THEME_LABELS[case.theme])
    if continued:
        return _(
            "{reference} · {pseudonym} · {theme} (continued)",
            reference=reference,
            pseudonym=pseudonym,
            theme=theme,
        )
    return _(
        "{reference} · {pseudonym} · {theme}", reference=reference, pseudonym=pseudonym, theme=theme
    )


def _buttons(_: Translator, case: CaseDigest, action: ActionDue) -> list[dict[str, str]]:
    reference = CaseReference(case.reference)
    return [
        {
            "text": _("Done {reference} #{number}", reference=reference, number=action.number),
            "callback_data": action_button_data(action.action_id, action.version, ActionVerb.DONE),
        },
        {
            "text": _("Postpone {reference} #{number}", reference=reference, number=action.number),
            "callback_data": action_button_data(
                action.action_id, action.version, ActionVerb.POSTPONE
            ),
        },
    ]


@dataclass
class _Block:
    """One line (or a few) of a case, with its buttons."""

    lines: list[SafeText]
    buttons: list[dict[str, str]]


def _case_blocks(_: Translator, case: CaseDigest, today: date) -> list[_Block]:
    blocks: list[_Block] = []
    order = {Why.OWNER: 0, Why.CASEMANAGER: 1, Why.COORDINATOR: 2}
    for action in sorted(
        case.actions, key=lambda a: (order[a.why], a.deadline, a.number, a.action_id)
    ):
        buttons = _buttons(_, case, action) if action.why is Why.OWNER else []
        blocks.append(_Block([_action_line(_, action, today)], buttons))
    if case.zrm_due is not None:
        when = _.date(case.zrm_due)
        if case.zrm_first:
            line = _("• ZRM: the first measurement is due {date} (/zrm)", date=when)
        else:
            line = _("• ZRM: the follow-up measurement is due {date} (/zrm)", date=when)
        blocks.append(_Block([line], []))
    if case.quiet_since is not None:
        blocks.append(
            _Block(
                [
                    _(
                        "• Stagnating: no action added, completed or postponed since {date}",
                        date=_.date(case.quiet_since),
                    )
                ],
                [],
            )
        )
    return blocks


def _size(lines: Sequence[SafeText]) -> int:
    return sum(len(line) + 1 for line in lines)


def digest_parts(
    _: Translator, cases: Sequence[CaseDigest], today: date, *, limit: int = MESSAGE_LIMIT
) -> list[DigestPart]:
    """A person's digest in parts of at most `limit` characters and MAX_BUTTONS buttons.

    Cases in the order given; within a case the person's own actions first (with
    [Done] [Postpone] buttons, one row each), then escalations, the ZRM and
    stagnation. Empty when there is nothing to tell.
    """
    chunks: list[tuple[list[SafeText], list[list[dict[str, str]]]]] = [([], [])]
    # Room for the header with its part numbers.
    room = limit - 120

    def place(lines: list[SafeText], row: list[dict[str, str]], again: list[SafeText]) -> None:
        page, rows = chunks[-1]
        buttons = sum(len(r) for r in rows)
        if page and (_size(page) + _size(lines) > room or buttons + len(row) > MAX_BUTTONS):
            chunks.append(([], []))
            page, rows = chunks[-1]
            lines = again + lines
        page.extend(lines)
        if row:
            rows.append(row)

    for case in cases:
        blocks = _case_blocks(_, case, today)
        if not blocks:
            continue
        heading = [BLANK, _heading(_, case, continued=False)]
        again = [BLANK, _heading(_, case, continued=True)]
        for number, block in enumerate(blocks):
            if number == 0:
                place(heading + block.lines, block.buttons, [])
            else:
                place(block.lines, block.buttons, again)
    if not chunks[0][0]:
        return []
    parts = []
    for number, (lines, rows) in enumerate(chunks, start=1):
        if len(chunks) == 1:
            header = _("Your reminders for {date}:", date=_.date(today))
        else:
            header = _(
                "Your reminders for {date} (part {part} of {parts}):",
                date=_.date(today),
                part=number,
                parts=len(chunks),
            )
        markup = json.dumps({"inline_keyboard": rows}, ensure_ascii=False) if rows else None
        parts.append(
            DigestPart(
                SafeText.joined("\n", [header, *lines]),
                markup,
                sum(len(row) for row in rows),
            )
        )
    return parts
