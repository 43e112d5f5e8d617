"""Announcements: what kinds there are, and where one of a theme goes.

An announcement asks every organisation that takes part in its theme for
"bekend / niet bekend". Its kind says what it is about (its subject): a
detention notification (a melding), and later an agenda item (a case).
"""

from __future__ import annotations

from enum import StrEnum

from bot.domain.roles import RESTRICTED_THEMES, Theme


class AnnouncementKind(StrEnum):
    """What an announcement is about; its `subject_id` names a row of that kind."""

    DETENTION = "detention"  # subject: a melding
    AGENDA_ITEM = "agenda_item"  # subject: an agenda item (a case on a meeting's agenda)


class Audience(StrEnum):
    PARTNER_GROUP = "partner_group"
    # One private message to every active member of the organisations granted the theme.
    ENTITLED_MEMBERS = "entitled_members"


def audience(theme: Theme) -> Audience:
    """Where an announcement of `theme` goes: a restricted theme never to the group."""
    return Audience.ENTITLED_MEMBERS if theme in RESTRICTED_THEMES else Audience.PARTNER_GROUP
