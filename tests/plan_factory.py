"""Rows of a plan of approach, made directly (the service that adds actions is elsewhere).

Cases, their casemanager, actions, action events and ZRM measurements, with
the fewest columns that make them real rows; persons get a fresh pseudonym and
no identity (reminders never read one).
"""

from __future__ import annotations

import itertools
import secrets
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, func, select

from bot.domain.decisions import AssignmentState, Decision
from bot.domain.plan import ActionState, ZrmDomain
from bot.domain.roles import Role, Theme
from bot.services.audit import CLI
from bot.services.members import Memberships
from bot.storage.models import (
    Action,
    ActionEvent,
    Case,
    CaseAssignment,
    Person,
    ZrmMeasurement,
    ZrmScore,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_numbers = itertools.count(1)


def local(day: date, at: time = time(9, 0)) -> datetime:
    return datetime.combine(day, at, tzinfo=AMSTERDAM)


def member(
    memberships: Memberships,
    session: Session,
    *,
    telegram_id: int,
    org: str,
    roles: list[Role],
    name: str | None = None,
) -> int:
    added = memberships.add_member(
        session,
        telegram_id=telegram_id,
        name=name or f"Medewerker {telegram_id}",
        organisation_code=org,
        roles=roles,
        actor=CLI,
    )
    assert added.id is not None
    return added.id


def case(
    session: Session,
    *,
    opened: date,
    casemanager: int | None = None,
    assigned_by: int | None = None,
    theme: Theme = Theme.MULTIPROBLEMATIEK,
    procesregie: bool = True,
    decided: date | None = None,
    accepted: bool = True,
) -> Case:
    """An open case (in procesregie unless told), with its casemanager's assignment."""
    number = next(_numbers)
    pseudonym = "P-" + "".join(secrets.choice(_CROCKFORD) for _ in range(8))
    opened_at = local(opened)
    person = Person(
        identity_key=secrets.token_hex(32),
        pseudonym=pseudonym,
        created_at=opened_at,
        identity_stored_at=opened_at,
    )
    session.add(person)
    session.flush()
    assert person.id is not None
    row = Case(
        reference=f"VH-{opened.year}-{number:04d}",
        year=opened.year,
        number=number,
        theme=theme.value,
        person_id=person.id,
        municipality="Weert",
        opened_at=opened_at,
        procesregie=procesregie,
        decision=Decision.PROCESREGIE.value if procesregie else None,
        decided_at=local(decided or opened) if procesregie else None,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    if casemanager is not None:
        session.add(
            CaseAssignment(
                case_id=row.id,
                member_id=casemanager,
                state=(AssignmentState.ACCEPTED if accepted else AssignmentState.OFFERED).value,
                current=True,
                assigned_by=assigned_by or casemanager,
                offered_at=opened_at,
                answered_at=opened_at if accepted else None,
            )
        )
        session.flush()
    return row


def action(
    session: Session,
    *,
    case: Case,
    deadline: date,
    created_by: int,
    owner: int | None = None,
    organisation: int | None = None,
    domain: ZrmDomain = ZrmDomain.HUISVESTING,
    code: str | None = "huis_woning",
    title_ct: str | None = None,
    state: ActionState = ActionState.OPEN,
    created_at: datetime | None = None,
) -> Action:
    """An action of `case` (its next number), and its `created` event."""
    assert case.id is not None
    number = (
        session.exec(select(func.max(Action.number)).where(Action.case_id == case.id)).one() or 0
    ) + 1
    moment = created_at or case.opened_at
    row = Action(
        case_id=case.id,
        number=number,
        domain=domain.value,
        catalogue_code=code,
        title_ct=title_ct,
        owner_member_id=owner,
        owner_organisation_id=organisation,
        deadline=deadline,
        state=state.value,
        created_at=moment,
        created_by=created_by,
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    event(session, row, kind="created", at=moment)
    return row


def event(session: Session, action: Action, *, kind: str, at: datetime) -> None:
    assert action.id is not None
    session.add(ActionEvent(action_id=action.id, case_id=action.case_id, kind=kind, at=at))
    session.flush()


def measurement(session: Session, *, case: Case, on: date, by: int) -> None:
    assert case.id is not None
    row = ZrmMeasurement(case_id=case.id, measured_at=local(on), member_id=by)
    session.add(row)
    session.flush()
    assert row.id is not None
    for domain in ZrmDomain:
        session.add(ZrmScore(measurement_id=row.id, domain=domain.value, score=3))
    session.flush()


def days_before(day: date, count: int) -> date:
    return day - timedelta(days=count)
