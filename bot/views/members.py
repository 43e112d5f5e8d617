"""The wording about members: role names, and what coordinators are told privately.

Only member numbers, member and organisation names and roles appear here.
"""

from __future__ import annotations

import json

from bot.domain.roles import Role
from bot.i18n import Translator, mark
from bot.safe import MemberName, OrganisationName, SafeText, printable_name

ROLE_LABELS: dict[Role, str] = {
    Role.PARTNER: mark("partner"),
    Role.CASEMANAGER: mark("casemanager"),
    Role.COORDINATOR: mark("coordinator"),
}


def role_names(roles: frozenset[Role], _: Translator) -> SafeText:
    return SafeText.joined(", ", [_(ROLE_LABELS[role]) for role in sorted(roles)])


def new_member_notice(
    _: Translator,
    *,
    number: int,
    organisation: str,
    roles: frozenset[Role],
    rejoined: bool,
    inviter: tuple[int, str] | None,
) -> SafeText:
    """Who joined, for which organisation, as what, and who invited them.

    `inviter`: the inviting member's number and name; None for the command line.
    """
    shown = role_names(roles, _)
    if inviter is None:
        if rejoined:
            return _(
                "Member {number} joined again for {organisation} as {roles}, with an invite "
                "from the command line.",
                number=number,
                organisation=OrganisationName(organisation),
                roles=shown,
            )
        return _(
            "New member {number} joined for {organisation} as {roles}, with an invite from "
            "the command line.",
            number=number,
            organisation=OrganisationName(organisation),
            roles=shown,
        )
    inviter_number, inviter_name = inviter
    if rejoined:
        return _(
            "Member {number} joined again for {organisation} as {roles}, invited by member "
            "{inviter} ({inviter_name}).",
            number=number,
            organisation=OrganisationName(organisation),
            roles=shown,
            inviter=inviter_number,
            inviter_name=MemberName(printable_name(inviter_name) or "?"),
        )
    return _(
        "New member {number} joined for {organisation} as {roles}, invited by member "
        "{inviter} ({inviter_name}).",
        number=number,
        organisation=OrganisationName(organisation),
        roles=shown,
        inviter=inviter_number,
        inviter_name=MemberName(printable_name(inviter_name) or "?"),
    )


def invite_request_question(
    _: Translator, *, number: int, name: str, organisation: str, roles: frozenset[Role]
) -> SafeText:
    """What every other coordinator is asked about a coordinator invite."""
    return _(
        "Member {number} ({name}) asks for an invite for {organisation} with the roles "
        "{roles}. A coordinator invite needs the confirmation of a second coordinator. "
        "Without an answer the request ends after 72 hours.",
        number=number,
        name=MemberName(printable_name(name) or "?"),
        organisation=OrganisationName(organisation),
        roles=role_names(roles, _),
    )


def invite_request_keyboard(request_id: int, _: Translator) -> str:
    """Confirm / Refuse as Bot API JSON (stored in the outbox); bound to the request."""
    return json.dumps(
        {
            "inline_keyboard": [
                [
                    {"text": _("Confirm"), "callback_data": f"ic:{request_id}:y"},
                    {"text": _("Refuse"), "callback_data": f"ic:{request_id}:n"},
                ]
            ]
        }
    )


def invite_request_refused(_: Translator, *, number: int, organisation: str) -> SafeText:
    return _(
        "Member {number} refused your request for a coordinator invite for "
        "{organisation}. No invite was made.",
        number=number,
        organisation=OrganisationName(organisation),
    )


def invite_request_expired(_: Translator, *, organisation: str) -> SafeText:
    return _(
        "Your request for a coordinator invite for {organisation} got no answer within "
        "72 hours and has ended. No invite was made.",
        organisation=OrganisationName(organisation),
    )


def unreachable_member_notice(
    _: Translator, *, number: int, name: str, organisation: str
) -> SafeText:
    """Told once to the coordinators when Telegram refuses a member's private chat."""
    return _(
        "I cannot reach member {number} ({name}, {organisation}): they blocked me or never "
        "started a chat with me. My messages for them wait until they write to me; please "
        "ask them to open the chat with me and send /start.",
        number=number,
        name=MemberName(printable_name(name) or "?"),
        organisation=OrganisationName(organisation),
    )


def group_refused_notice(_: Translator) -> SafeText:
    """Told once to the coordinators when Telegram refuses the bot in the partner group."""
    return _(
        "I cannot post in the partner group: Telegram refuses (I was removed or lost my "
        "rights there). Announcements wait and go out as soon as I can post again; please "
        "check my membership and rights in the group."
    )


def group_back_notice(_: Translator) -> SafeText:
    """Told to the coordinators when the partner group takes messages again."""
    return _("I can post in the partner group again; the waiting announcements are going out.")
