"""Requests that wait for a coordinator's button, and who may be deactivated. Pure rules.

Two kinds of request share one life: a removal (/verwijder) waits for its own
requester's confirmation; a coordinator invite waits for a second coordinator's.
Each is pending until someone decides it or it runs out.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.roles import Role

# How long a request waits for its button before it ends by itself.
REQUEST_VALIDITY = timedelta(hours=72)


class RequestKind(StrEnum):
    REMOVAL = "removal"
    INVITE = "invite"


class RequestStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REFUSED = "refused"  # an invite request turned down by a second coordinator
    CANCELLED = "cancelled"  # a removal the requester cancelled
    EXPIRED = "expired"
    CLOSED = "closed"  # overtaken: its requester or its subject was deactivated meanwhile


class RemovalRefusal(StrEnum):
    SELF = "self"
    ALREADY_INACTIVE = "already_inactive"
    LAST_COORDINATOR = "last_coordinator"


def request_open(*, status: str, expires_at: datetime, now: datetime) -> bool:
    """Whether a request still waits for a decision."""
    return status == RequestStatus.PENDING and now < expires_at


def needs_second_coordinator(roles: Collection[Role], *, other_coordinators: int) -> bool:
    """A coordinator invite made from Telegram waits for a second coordinator, if there is one.

    Args:
        roles: the roles the invite grants.
        other_coordinators: active coordinators besides the one asking.
    """
    return Role.COORDINATOR in roles and other_coordinators > 0


def removal_refusal(
    *,
    requester_id: int,
    target_id: int,
    target_active: bool,
    target_roles: Collection[Role],
    active_coordinator_ids: Collection[int],
) -> RemovalRefusal | None:
    """Why a coordinator may not deactivate this member from Telegram, or None if they may.

    Nobody removes themselves (not by command, not by button), and the last active
    coordinator stays: without one, nobody could invite or remove anyone from
    Telegram any more (the server's `vhbot member remove` still can).

    Args:
        requester_id: the coordinator asking.
        target_id: the member to deactivate.
        target_active: whether that member is active now.
        target_roles: that member's roles.
        active_coordinator_ids: every active coordinator now, the target included.
    """
    if target_id == requester_id:
        return RemovalRefusal.SELF
    if not target_active:
        return RemovalRefusal.ALREADY_INACTIVE
    if Role.COORDINATOR in target_roles and not set(active_coordinator_ids) - {target_id}:
        return RemovalRefusal.LAST_COORDINATOR
    return None
