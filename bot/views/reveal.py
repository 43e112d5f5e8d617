"""The wording about reveal links that goes to Telegram: never a person's data."""

from __future__ import annotations

from bot.i18n import Translator
from bot.safe import MemberName, OrganisationName, SafeText, printable_name


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
