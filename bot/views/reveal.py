"""The wording about reveal links that goes to Telegram: never a person's data."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.reveal import MELDING_FORM_VALIDITY
from bot.i18n import Translator
from bot.safe import (
    CaseReference,
    Code,
    MemberName,
    OrganisationName,
    Pseudonym,
    SafeText,
    printable_name,
)


def daily_limit_notice(
    _: Translator, *, number: int, name: str, organisation: str, limit: int
) -> SafeText:
    """Told once a day to the coordinators when a member goes over the daily reveals."""
    return _(
        "Member {number} ({name}, {organisation}) tried to view personal details more "
        "than {limit} times today. I refused; they can view again tomorrow.",
        number=number,
        name=MemberName(printable_name(name) or "?"),
        organisation=OrganisationName(organisation),
        limit=limit,
    )


def lock_notice(_: Translator, *, number: int, name: str, organisation: str) -> SafeText:
    """Told to the coordinators when a member's links lock after wrong PINs."""
    return _(
        "Member {number} ({name}, {organisation}) entered a wrong PIN or set-up code "
        "too often; their links to personal details are locked. Check with them by phone "
        "whether it was them, then unlock with /ontgrendel {number}.",
        number=number,
        name=MemberName(printable_name(name) or "?"),
        organisation=OrganisationName(organisation),
    )


def link_text(
    _: Translator,
    *,
    url: str,
    subject: str,
    expires_at: datetime,
    needs_setup: bool,
    tz: ZoneInfo,
) -> SafeText:
    """The private message with a one-time link; the link names no person."""
    named = CaseReference.or_none(subject) or Pseudonym.or_none(subject)
    lines = [
        _(
            "Your link to the personal details of {subject}:",
            subject=named or Code("?"),
        ),
        SafeText.layout("{}", Code(url)),
        _(
            "It works once, until {time}, and only for you. Do not forward it.",
            time=_.datetime(expires_at, tz),
        ),
    ]
    if needs_setup:
        lines.append(
            _(
                "The first time, the page asks for a set-up code: a coordinator gives it to "
                "you by phone or in person (they ask me with /pincode)."
            )
        )
    else:
        lines.append(_("The page asks for your PIN."))
    return SafeText.joined("\n", lines)


def setup_code_text(
    _: Translator,
    *,
    code: str,
    number: int,
    name: str,
    organisation: str,
    expires_at: datetime,
    tz: ZoneInfo,
) -> SafeText:
    """For the coordinator who asked /pincode: the code and how to hand it over."""
    return _(
        "Set-up code for member {number} ({name}, {organisation}): {code}\n"
        "Valid until {time}, once; it replaces any older code. Give it to them by phone "
        "or in person, never through Telegram: then a stolen Telegram account alone is "
        "never enough. With it they choose a PIN on the page of their next link.",
        number=number,
        name=MemberName(printable_name(name) or "?"),
        organisation=OrganisationName(organisation),
        code=Code(code),
        time=_.datetime(expires_at, tz),
    )


def melding_form_link_text(
    _: Translator, *, url: str, expires_at: datetime, needs_setup: bool, tz: ZoneInfo
) -> SafeText:
    """The private message with a one-time link to the form for a new melding."""
    lines = [
        _("Your link to the form for a new melding:"),
        SafeText.layout("{}", Code(url)),
        _(
            "It works once, until {time}, and only for you. Do not forward it.",
            time=_.datetime(expires_at, tz),
        ),
        _(
            "The first time, the page asks for a set-up code: a coordinator gives it to "
            "you by phone or in person (they ask me with /pincode)."
        )
        if needs_setup
        else _("The page asks for your PIN."),
        _(
            "After that you have {minutes} minutes to fill in the form. Type the personal "
            "details only there, never in Telegram.",
            minutes=int(MELDING_FORM_VALIDITY.total_seconds() // 60),
        ),
    ]
    return SafeText.joined("\n", lines)


def melding_stored_text(_: Translator, *, reference: str, new_case: bool) -> SafeText:
    """Told privately to the member who sent the melding form: only the case reference."""
    case = CaseReference.or_none(reference) or Code("?")
    if new_case:
        return _("The melding from the form is stored: it opened case {reference}.", reference=case)
    return _("The melding from the form is stored: it joined case {reference}.", reference=case)
