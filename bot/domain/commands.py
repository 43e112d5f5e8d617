"""Who may do what, where: the one table every handler asks.

Commands and button types, each with the roles that may use it (None: anyone,
registered or not) and the chats it works in. Descriptions are message ids
(English), translated when shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.domain.roles import Role


def mark(message: str) -> str:
    """Marks a message id for extraction (kept here: domain code imports no i18n)."""
    return message


class ChatKind(StrEnum):
    PRIVATE = "private"
    PARTNER_GROUP = "partner_group"


class Refusal(StrEnum):
    NOT_REGISTERED = "not_registered"
    ROLE = "role"
    USE_PRIVATE_CHAT = "use_private_chat"
    # Works elsewhere, but not in a private chat (e.g. the answer buttons of the group).
    USE_PARTNER_GROUP = "use_partner_group"


@dataclass(frozen=True)
class Permission:
    name: str
    description: str
    # None: open to anyone, registered or not (e.g. /start to redeem an invite).
    roles: frozenset[Role] | None
    chat_kinds: frozenset[ChatKind]


ANY_ROLE = frozenset(Role)
COORDINATOR = frozenset({Role.COORDINATOR})
CASEMANAGER = frozenset({Role.CASEMANAGER})
PRIVATE = frozenset({ChatKind.PRIVATE})

COMMANDS: tuple[Permission, ...] = (
    Permission("start", mark("Start, or join with an invite code"), None, PRIVATE),
    Permission("help", mark("What this bot does and which commands you can use"), None, PRIVATE),
    Permission("wie", mark("Your organisation, roles and language"), ANY_ROLE, PRIVATE),
    Permission(
        "leden", mark("Members per organisation, with role and last activity"), COORDINATOR, PRIVATE
    ),
    Permission(
        "uitnodigen",
        mark("Invite a professional: /uitnodigen ORG [role ...]"),
        COORDINATOR,
        PRIVATE,
    ),
    Permission("verwijder", mark("Deactivate a member: /verwijder NUMBER"), COORDINATOR, PRIVATE),
    Permission(
        "besluit",
        mark("Record a triage decision: /besluit REF procesregie|doorgeleid ORG|afgesloten REASON"),
        COORDINATOR,
        PRIVATE,
    ),
    Permission(
        "agenda",
        mark("The next meetings and their items: /agenda [THEMA]"),
        COORDINATOR,
        PRIVATE,
    ),
    Permission(
        "stand",
        mark("Today's state with a chart: /stand [THEMA]"),
        COORDINATOR,
        PRIVATE,
    ),
    Permission(
        "toewijzen",
        mark("Assign a casemanager to a case: /toewijzen REF [NUMBER]"),
        COORDINATOR,
        PRIVATE,
    ),
    Permission("mijnzaken", mark("Your open cases as casemanager"), CASEMANAGER, PRIVATE),
    Permission(
        "zaak",
        mark("A one-time link to a case page: /zaak REF"),
        # A casemanager only for the cases they accepted (the service decides per case).
        COORDINATOR | CASEMANAGER,
        PRIVATE,
    ),
    # The plan of approach and the ZRM: the case's casemanager (the service decides per
    # case: the accepted, current one) or a coordinator.
    Permission(
        "actie",
        mark("Add an action to a case's plan of approach: /actie REF"),
        COORDINATOR | CASEMANAGER,
        PRIVATE,
    ),
    Permission(
        "plan",
        mark("A case's plan of approach and ZRM scores: /plan REF"),
        COORDINATOR | CASEMANAGER,
        PRIVATE,
    ),
    Permission(
        "zrm",
        mark("Record a ZRM measurement of a case: /zrm REF"),
        COORDINATOR | CASEMANAGER,
        PRIVATE,
    ),
    Permission(
        "annuleer",
        mark("Leave the conversation you are in (/actie, /zrm, postponing)"),
        ANY_ROLE,
        PRIVATE,
    ),
    Permission(
        "melding",
        mark("A one-time link to the form for a new melding (personal details only there)"),
        COORDINATOR,
        PRIVATE,
    ),
    Permission(
        "pincode", mark("A PIN set-up code for a member: /pincode NUMBER"), COORDINATOR, PRIVATE
    ),
    Permission(
        "ontgrendel",
        mark("Unlock a member's links after wrong PINs: /ontgrendel NUMBER"),
        COORDINATOR,
        PRIVATE,
    ),
    Permission(
        "intrekken",
        mark("Revoke a member's open links: /intrekken NUMBER"),
        COORDINATOR,
        PRIVATE,
    ),
)

# Button types, by the prefix of their callback data.
BUTTONS: tuple[Permission, ...] = (
    # Confirm or cancel one's own /verwijder request: rm:<request id>:<y|n>.
    Permission("rm", mark("Confirm deactivating a member"), COORDINATOR, PRIVATE),
    # A second coordinator's answer to a coordinator invite: ic:<request id>:<y|n>.
    Permission("ic", mark("Confirm or refuse a coordinator invite"), COORDINATOR, PRIVATE),
    # A coordinator picks the casemanager of /toewijzen REF: tw:<case id>:<member number>.
    Permission("tw", mark("Assign a casemanager"), COORDINATOR, PRIVATE),
    # Another page of /agenda: agp:<page>:<version>:<theme index or a>.
    Permission("agp", mark("Turn a page of the agenda"), COORDINATOR, PRIVATE),
    # A decision under an /agenda item: agd:<item id>:p|d|a, agd:<item id>:d:<ORG>,
    # agd:<item id>:a:<reason>.
    Permission("agd", mark("Record a decision from the agenda"), COORDINATOR, PRIVATE),
    # The casemanager's answer to an offered case: cm:<assignment id>:a (accept),
    # cm:<assignment id>:d (decline: asks the reason), cm:<assignment id>:d:<reason>.
    Permission("cm", mark("Accept or decline a case"), CASEMANAGER, PRIVATE),
    # A step of /actie: pa:<conversation version>:<step>:<choice>.
    Permission("pa", mark("Choose a step of a new action"), COORDINATOR | CASEMANAGER, PRIVATE),
    # A score of /zrm: zr:<conversation version>:<score>.
    Permission("zr", mark("Score a life domain"), COORDINATOR | CASEMANAGER, PRIVATE),
    # [Afgerond] [Uitstellen] under an action: act:<action id>:<action version>:d|p. Any
    # member may own an action (the service checks it is theirs, or their organisation's).
    # [Wijzig #N] under /plan is act:<action id>:<action version>:w: the service lets only
    # the case's casemanager or a coordinator change an action.
    Permission("act", mark("Complete or postpone an action"), ANY_ROLE, PRIVATE),
    # A step of postponing: pp:<conversation version>:<step>:<choice>.
    Permission("pp", mark("Postpone an action"), ANY_ROLE, PRIVATE),
    # A step of changing an action (another owner, or cancel it):
    # pc:<conversation version>:<step>:<choice>.
    Permission(
        "pc",
        mark("Give an action to another owner, or cancel it"),
        COORDINATOR | CASEMANAGER,
        PRIVATE,
    ),
    # Bekend / Niet bekend under an announcement: in the partner group, or in a private
    # chat for a restricted theme (bot.domain.announcements.audience).
    Permission(
        "ans",
        mark("Answer known or not known"),
        ANY_ROLE,
        frozenset({ChatKind.PARTNER_GROUP, ChatKind.PRIVATE}),
    ),
    # Gegevens bekijken under an announcement: rv:<announcement id>; the link comes privately.
    Permission(
        "rv",
        mark("Ask for a link to the personal details"),
        ANY_ROLE,
        frozenset({ChatKind.PARTNER_GROUP, ChatKind.PRIVATE}),
    ),
)

_BY_NAME: dict[str, Permission] = {p.name: p for p in COMMANDS}
_BUTTONS_BY_NAME: dict[str, Permission] = {p.name: p for p in BUTTONS}


def _decide(
    permission: Permission, roles: frozenset[Role] | None, active: bool, chat: ChatKind
) -> Refusal | None:
    if chat not in permission.chat_kinds:
        if ChatKind.PRIVATE in permission.chat_kinds:
            return Refusal.USE_PRIVATE_CHAT
        return Refusal.USE_PARTNER_GROUP
    if permission.roles is None:
        return None
    if roles is None or not active:
        return Refusal.NOT_REGISTERED
    if not roles & permission.roles:
        return Refusal.ROLE
    return None


def decide(
    command: str, *, roles: frozenset[Role] | None, active: bool, chat: ChatKind
) -> Refusal | None:
    """None when the command is allowed, else why not.

    Args:
        command: the command's name, without slash.
        roles: the member's roles; None for someone who is not a member.
        active: False for a deactivated member.
        chat: where the command was sent.
    """
    return _decide(_BY_NAME[command], roles, active, chat)


def decide_button(
    kind: str, *, roles: frozenset[Role] | None, active: bool, chat: ChatKind
) -> Refusal | None:
    """Like `decide`, for a button press; `kind` is the callback-data prefix."""
    return _decide(_BUTTONS_BY_NAME[kind], roles, active, chat)


def commands_for(
    roles: frozenset[Role] | None, chat: ChatKind = ChatKind.PRIVATE
) -> list[Permission]:
    """The commands someone with `roles` may use in `chat`, in table order."""
    return [p for p in COMMANDS if _decide(p, roles, True, chat) is None]
