"""Removal and invite requests at the service: the rules hold inside the transaction."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.access import RemovalRefusal, removal_refusal
from bot.domain.roles import Role
from bot.services.audit import CLI
from bot.services.members import InviteAwaiting, InviteDecision, RemovalOutcome
from bot.storage.models import AccessRequest, Invite, Member, OutboxMessage


def _coordinators(core: Core, count: int) -> list[int]:
    ids = []
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Politie", code="POL", themes=None, actor=CLI
        )
        for n in range(count):
            member = core.memberships.add_member(
                session,
                telegram_id=900 + n,
                name=f"Coordinator {n}",
                organisation_code="POL",
                roles=[Role.COORDINATOR],
                actor=CLI,
            )
            assert member.id is not None
            ids.append(member.id)
    return ids


def test_two_coordinators_removing_each_other_leave_one(core: Core) -> None:
    """Both pressed at once: each was an active coordinator when the bot looked."""
    a, b = _coordinators(core, 2)
    with core.db.session() as session:
        a_removes_b = core.memberships.request_removal(session, member_id=b, requester_id=a)
        b_removes_a = core.memberships.request_removal(session, member_id=a, requester_id=b)
    assert a_removes_b.request_id and b_removes_a.request_id
    with core.db.session() as session:
        first = core.memberships.decide_removal(
            session, request_id=a_removes_b.request_id, member_id=a, confirm=True
        )
    with core.db.session() as session:
        second = core.memberships.decide_removal(
            session, request_id=b_removes_a.request_id, member_id=b, confirm=True
        )
    assert first.outcome is RemovalOutcome.DEACTIVATED
    # B's own deactivation closed B's request; a request still open would meet the rule.
    assert second.outcome is RemovalOutcome.CLOSED_OR_UNKNOWN
    with core.db.session() as session:
        remaining = core.memberships.coordinators(session)
        assert [r.telegram_id for r in remaining] == [900]


def test_the_last_coordinator_rule_is_checked_when_the_button_is_pressed(core: Core) -> None:
    a, b = _coordinators(core, 2)
    with core.db.session() as session:
        asked = core.memberships.request_removal(session, member_id=b, requester_id=a)
    assert asked.request_id is not None
    # Meanwhile A stops being a coordinator on the server (and so does not count).
    with core.db.session() as session:
        member = session.get(Member, a)
        assert member is not None
        member.roles = "partner"
        session.add(member)
    with core.db.session() as session:
        step = core.memberships.decide_removal(
            session, request_id=asked.request_id, member_id=a, confirm=True
        )
    assert step.outcome is RemovalOutcome.LAST_COORDINATOR
    with core.db.session() as session:
        target = session.get(Member, b)
        request = session.get(AccessRequest, asked.request_id)
        assert target is not None and target.active
        assert request is not None and request.status == "closed"


@given(
    requester=st.integers(1, 5),
    target=st.integers(1, 5),
    active=st.booleans(),
    coordinator=st.booleans(),
    others=st.sets(st.integers(1, 5)),
)
def test_removal_rules(
    requester: int, target: int, active: bool, coordinator: bool, others: set[int]
) -> None:
    roles = {Role.COORDINATOR} if coordinator else {Role.PARTNER}
    everyone = others | ({target} if active and coordinator else set())
    refusal = removal_refusal(
        requester_id=requester,
        target_id=target,
        target_active=active,
        target_roles=roles,
        active_coordinator_ids=everyone,
    )
    if requester == target:
        assert refusal is RemovalRefusal.SELF
    elif not active:
        assert refusal is RemovalRefusal.ALREADY_INACTIVE
    elif coordinator and not everyone - {target}:
        assert refusal is RemovalRefusal.LAST_COORDINATOR
    else:
        assert refusal is None


def test_an_invite_request_dies_with_its_requester(core: Core, clock: FrozenClock) -> None:
    a, b = _coordinators(core, 2)
    with core.db.session() as session:
        waiting = core.memberships.invite_from_telegram(
            session, organisation_code="POL", roles=[Role.COORDINATOR], requester_id=a
        )
    assert isinstance(waiting, InviteAwaiting) and waiting.asked == 1
    with core.db.session() as session:
        core.memberships.deactivate(session, member_id=a, actor=CLI)
    with core.db.session() as session:
        decided = core.memberships.decide_invite_request(
            session, request_id=waiting.request_id, member_id=b, confirm=True
        )
        assert decided.outcome is InviteDecision.CLOSED_OR_UNKNOWN
        assert session.exec(select(Invite)).all() == []
    clock.advance(timedelta(hours=73))
    with core.db.session() as session:
        assert core.memberships.expire_requests(session) == 0  # closed already, not pending
        keys = [m.dedupe_key for m in session.exec(select(OutboxMessage))]
    assert keys == [f"invite-request:{waiting.request_id}:{b}"]
