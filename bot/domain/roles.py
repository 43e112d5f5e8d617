"""Roles a member may hold and the themes a case can have."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    PARTNER = "partner"
    CASEMANAGER = "casemanager"
    COORDINATOR = "coordinator"


class Theme(StrEnum):
    NAZORG = "nazorg"
    TOP_X = "top_x"
    RADICALISERING = "radicalisering"
    HUISELIJK_GEWELD = "huiselijk_geweld"
    VERWARD_GEDRAG = "verward_gedrag"
    JEUGD = "jeugd"
    MULTIPROBLEMATIEK = "multiproblematiek"
    OGGZ = "oggz"


# Visible only to organisations granted them explicitly (covenant: smaller circle).
RESTRICTED_THEMES: frozenset[Theme] = frozenset({Theme.RADICALISERING})

DEFAULT_THEMES: frozenset[Theme] = frozenset(Theme) - RESTRICTED_THEMES


def parse_roles(text: str) -> frozenset[Role]:
    """Roles from their stored comma-separated form."""
    return frozenset(Role(part) for part in text.split(",") if part)


def format_roles(roles: frozenset[Role] | set[Role]) -> str:
    return ",".join(sorted(role.value for role in roles))


def parse_themes(text: str) -> frozenset[Theme]:
    return frozenset(Theme(part) for part in text.split(",") if part)


def format_themes(themes: frozenset[Theme] | set[Theme]) -> str:
    return ",".join(sorted(theme.value for theme in themes))
