"""A case over its life: closing after procesregie, corrections after retention, and
what closing does to its casemanager's assignment (found by a hostile review)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.decisions import CloseReason, Decision
from bot.services.decisions import DecisionOutcome
from bot.services.retention import enforce_retention
from bot.storage.models import Case, Melding
from tests.services.test_decisions import World, _case, world

__all__ = ["world"]  # the decisions tests' fixture, used here too

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _melding_of(core: Core, reference: str) -> Melding:
    with core.db.session() as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        return session.exec(select(Melding).where(Melding.case_id == case.id)).one()


def _retention(core: Core, clock: FrozenClock, moment: datetime) -> None:
    clock.set(moment)
    with core.db.session() as session:
        enforce_retention(session, settings=core.settings, audit=core.audit, now=clock.now())


def test_a_procesregie_case_closed_when_its_goal_is_reached_keeps_its_data_retention_days(
    core: Core, clock: FrozenClock, world: World
) -> None:
    # The release is 2026-12-01; the Bjsg 6 months end 2027-06-01. The case is in
    # procesregie until 2027-06-10, when the goal is reached and it is closed.
    reference = world.nazorg[0]
    clock.set(datetime(2027, 3, 1, 10, tzinfo=AMSTERDAM))
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
    clock.set(datetime(2027, 6, 10, 10, tzinfo=AMSTERDAM))
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.DOEL_BEREIKT,
        )  # fmt: skip
    # The reports count it in procesregie from the first decision until the closing.
    case = _case(core, reference)
    assert (case.decision, case.procesregie) == ("afgesloten", True)
    assert case.procesregie_at == datetime(2027, 3, 1, 10, tzinfo=AMSTERDAM)
    # README: VHBOT_RETENTION_DAYS (730) after closing for a procesregie case.
    _retention(core, clock, datetime(2027, 6, 11, 10, tzinfo=AMSTERDAM))
    assert _melding_of(core, reference).erased_at is None


def test_a_correction_cannot_reopen_a_case_whose_data_retention_erased(
    core: Core, clock: FrozenClock, world: World
) -> None:
    reference = world.nazorg[0]
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.GEEN_ZORGEN,
        )  # fmt: skip
    _retention(core, clock, datetime(2027, 6, 2, 10, tzinfo=AMSTERDAM))
    assert _melding_of(core, reference).erased_at is not None
    with core.db.session() as session:
        corrected = core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
    # An open procesregie case whose melding (and person) are erased: refused instead.
    assert corrected.outcome is not DecisionOutcome.CORRECTED
    assert _case(core, reference).closed_at is not None


def _offer(core: Core, world: World, reference: str) -> int:
    from bot.storage.models import CaseAssignment

    with core.db.session() as session:
        core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator, reference=reference
        )
        assignment = session.exec(select(CaseAssignment)).one()
        assert assignment.id is not None
        return assignment.id


def test_the_casemanager_of_a_closed_case_no_longer_gets_its_page(core: Core, world: World) -> None:
    from bot.domain.reveal import LinkKind
    from bot.services.reveal import Refused

    reference = world.triage
    case_id = _case(core, reference).id or 0
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
    assignment_id = _offer(core, world, reference)
    with core.db.session() as session:
        core.decisions.answer_offer(
            session, assignment_id=assignment_id, member_id=world.casemanager, accept=True
        )
        core.decisions.decide(
            session, reference=reference, decision=Decision.DOORGELEID,
            member_id=world.coordinator, organisation_code="POL",
        )  # fmt: skip
        mine = core.decisions.my_cases(session, world.casemanager)
        issued = core.reveals.issue_link(session, world.casemanager, LinkKind.CASE, case_id)
    assert mine == []  # /mijnzaken no longer lists it ...
    assert isinstance(issued, Refused)  # ... but its page (the person's identity) still opens


def test_an_offer_made_before_the_case_closed_does_not_come_back_when_a_correction_reopens_it(
    core: Core, world: World
) -> None:
    from bot.services.decisions import OfferOutcome

    reference = world.triage
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
    assignment_id = _offer(core, world, reference)
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.DUBBEL,
        )  # fmt: skip
        closed = core.decisions.answer_offer(
            session, assignment_id=assignment_id, member_id=world.casemanager, accept=True
        )
        core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
        later = core.decisions.answer_offer(
            session, assignment_id=assignment_id, member_id=world.casemanager, accept=True
        )
    assert closed.outcome is OfferOutcome.NOT_OPEN  # "no longer open: ... the case is closed"
    assert later.outcome is OfferOutcome.NOT_OPEN  # the same old button now accepts the case


def test_a_correction_does_not_reopen_a_case_when_a_newer_one_of_its_theme_is_open(
    core: Core, world: World
) -> None:
    """A person has one open case per theme: the newer case is worked on, the old stays closed."""
    reference = world.nazorg[0]
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.GEEN_ZORGEN,
        )  # fmt: skip
    old = _case(core, reference)
    newer = Case(
        reference="VH-2026-0077", year=2026, number=77, theme=old.theme,
        person_id=old.person_id, municipality=old.municipality, opened_at=old.opened_at,
    )  # fmt: skip
    with core.db.session() as session:
        session.add(newer)
    with core.db.session() as session:
        refused = core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
    assert (refused.outcome, refused.other_case) == (
        DecisionOutcome.OTHER_CASE_OPEN, "VH-2026-0077"
    )  # fmt: skip
    assert _case(core, reference).closed_at is not None
    assert _case(core, reference).decision == Decision.AFGESLOTEN.value
    # The database holds the rule too: a second open case of the theme is refused.
    second = Case(
        reference="VH-2026-0078", year=2026, number=78, theme=old.theme,
        person_id=old.person_id, municipality=old.municipality, opened_at=old.opened_at,
    )  # fmt: skip
    with pytest.raises(IntegrityError), core.db.session() as session:
        session.add(second)


@pytest.mark.parametrize("accepted", [False, True], ids=["mistaken", "worked-on"])
def test_a_procesregie_corrected_before_anyone_took_it_on_does_not_keep_data_longer(
    core: Core, clock: FrozenClock, world: World, accepted: bool
) -> None:
    """Procesregie replaced a minute later was a mistake: the 6-month rule applies. Once a
    casemanager accepted the case, it had procesregie: its data stays the longer time."""
    reference = world.nazorg[0]
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
    if accepted:
        assignment_id = _offer(core, world, reference)
        with core.db.session() as session:
            core.decisions.answer_offer(
                session, assignment_id=assignment_id, member_id=world.casemanager, accept=True
            )
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.LOPEND_TRAJECT,
        )  # fmt: skip
    assert _case(core, reference).procesregie is accepted
    # A mistake never counted in procesregie (the reports read procesregie_at).
    assert (_case(core, reference).procesregie_at is not None) is accepted
    _retention(core, clock, datetime(2027, 6, 2, 10, tzinfo=AMSTERDAM))
    assert (_melding_of(core, reference).erased_at is None) is accepted
