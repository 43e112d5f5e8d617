"""The bot's commands and who may use them where: the one table handlers ask.

Descriptions are message ids (English), translated when shown.
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


@dataclass(frozen=True)
class CommandSpec:
    name: str
    description: str
    # None: open to anyone, registered or not (e.g. /start to redeem an invite).
    roles: frozenset[Role] | None
    chat_kinds: frozenset[ChatKind]


ANY_ROLE = frozenset(Role)
PRIVATE = frozenset({ChatKind.PRIVATE})

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("start", mark("Start, or join with an invite code"), None, PRIVATE),
    CommandSpec("help", mark("What this bot does and which commands you can use"), None, PRIVATE),
)

BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}


def decide(
    command: str, *, roles: frozenset[Role] | None, active: bool, chat: ChatKind
) -> Refusal | None:
    """None when allowed, else why not.

    Args:
        command: the command's name, without slash.
        roles: the member's roles; None for someone who is not a member.
        active: False for a deactivated member.
        chat: where the command was sent.
    """
    spec = BY_NAME[command]
    if chat not in spec.chat_kinds:
        return Refusal.USE_PRIVATE_CHAT
    if spec.roles is None:
        return None
    if roles is None or not active:
        return Refusal.NOT_REGISTERED
    if not roles & spec.roles:
        return Refusal.ROLE
    return None


def commands_for(
    roles: frozenset[Role] | None, chat: ChatKind = ChatKind.PRIVATE
) -> list[CommandSpec]:
    """The commands someone with `roles` may use in `chat`, in table order."""
    return [
        spec for spec in COMMANDS if decide(spec.name, roles=roles, active=True, chat=chat) is None
    ]
