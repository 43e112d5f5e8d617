"""Triage decisions and casemanager assignments, at the service.

The clock starts on Monday 2026-11-23 09:00 (Amsterdam) and moves only when told.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.calendar import add_working_days
from bot.domain.decisions import (
    AssignmentState,
    CloseReason,
    Decision,
    DeclineReason,
    casemanager_overdue,
    casemanager_wait_start,
    closes_case,
    last_overdue_wait_day,
    needs_casemanager,
    parse_close_reason,
    parse_decision,
    report_day,
)
from bot.domain.reveal import LinkKind
from bot.domain.roles import Role, Theme
from bot.sandbox.dpan_files import HEADER
from bot.scheduling.duties import report_unassigned_cases
from bot.services.audit import CLI
from bot.services.decisions import AssignOutcome, DecisionOutcome, OfferOutcome
from bot.services.reveal import IssuedLink, Refusal, Refused, RevealedCase
from bot.storage.models import AuditEntry, Case, CaseAssignment, OutboxMessage
from tests.conftest import People

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@dataclass
class World:
    coordinator: int
    other_coordinator: int
    casemanager: int  # RN
    second_casemanager: int  # POL
    partner: int
    radical_casemanager: int  # RAD: radicalisation only
    gone: int  # a deactivated casemanager
    nazorg: list[str]  # references of two nazorg cases
    triage: str  # a case of another theme, without a decision


def _import(core: Core, tmp_path: Path, people: People, count: int) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(HEADER)
    for n in range(1, count + 1):
        identity = people.identity()
        writer.writerow([
            f"DEC-{n}", "uitstroom", identity.surname, identity.given_names,
            identity.birth_date.isoformat(), identity.bsn, "Weert", "PI Roermond",
            "2026-12-01", "",
        ])  # fmt: skip
    path = tmp_path / "dpan-decisions.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    assert core.detention.import_path(path, actor="test").new == count


@pytest.fixture
def world(core: Core, people: People, tmp_path: Path) -> World:
    ms = core.memberships
    with core.db.session() as session:
        ms.add_organisation(session, name="Politie", code="POL", themes=None, actor=CLI)
        ms.add_organisation(session, name="Reclassering", code="RN", themes=None, actor=CLI)
        ms.add_organisation(
            session, name="Radicaal", code="RAD", themes=[Theme.RADICALISERING], actor=CLI
        )

        def member(telegram_id: int, org: str, role: Role) -> int:
            added = ms.add_member(
                session, telegram_id=telegram_id, name=f"Medewerker {telegram_id}",
                organisation_code=org, roles=[role], actor=CLI,
            )  # fmt: skip
            assert added.id is not None
            return added.id

        ids = [
            member(201, "RN", Role.COORDINATOR),
            member(202, "POL", Role.COORDINATOR),
            member(203, "RN", Role.CASEMANAGER),
            member(204, "POL", Role.CASEMANAGER),
            member(205, "POL", Role.PARTNER),
            member(206, "RAD", Role.CASEMANAGER),
            member(207, "RN", Role.CASEMANAGER),
        ]
        ms.deactivate(session, member_id=ids[-1], actor=CLI)
    _import(core, tmp_path, people, 2)
    with core.db.session() as session:
        nazorg = session.exec(select(Case).order_by(col(Case.id))).all()
        triage = Case(
            reference="VH-2026-0900", year=2026, number=900, theme=Theme.TOP_X.value,
            person_id=nazorg[0].person_id, municipality="Weert", opened_at=core.clock.now(),
        )  # fmt: skip
        session.add(triage)
    return World(*ids, nazorg=[c.reference for c in nazorg], triage="VH-2026-0900")


def _case(core: Core, reference: str) -> Case:
    with core.db.session() as session:
        return session.exec(select(Case).where(Case.reference == reference)).one()


def _audit(core: Core, action: str) -> list[dict[str, object]]:
    with core.db.session() as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()
        return [json.loads(e.details) for e in entries]


def _outbox(core: Core, prefix: str) -> list[OutboxMessage]:
    with core.db.session() as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.dedupe_key).startswith(prefix))
                .order_by(col(OutboxMessage.id))
            ).all()
        )


# -- the rules ------------------------------------------------------------------------------


def test_the_words_and_what_they_mean() -> None:
    assert parse_decision(" Procesregie ") is Decision.PROCESREGIE
    assert parse_decision("sluiten") is None
    assert parse_close_reason("DUBBEL") is CloseReason.DUBBEL
    assert parse_close_reason("weg") is None
    assert [closes_case(d) for d in Decision] == [False, True, True]
    assert needs_casemanager(theme="nazorg", procesregie=False, closed=False)
    assert needs_casemanager(theme="top_x", procesregie=True, closed=False)
    assert not needs_casemanager(theme="top_x", procesregie=False, closed=False)
    assert not needs_casemanager(theme="nazorg", procesregie=True, closed=True)
    opened = datetime(2026, 11, 2, 9, tzinfo=AMSTERDAM)
    decided = datetime(2026, 11, 9, 9, tzinfo=AMSTERDAM)
    assert casemanager_wait_start(
        theme="nazorg", opened_at=opened, decided_at=decided, procesregie=True
    ) == opened  # fmt: skip
    assert casemanager_wait_start(
        theme="jeugd", opened_at=opened, decided_at=decided, procesregie=True
    ) == decided  # fmt: skip
    assert (
        casemanager_wait_start(theme="jeugd", opened_at=opened, decided_at=None, procesregie=False)
        is None
    )


def test_two_working_days_skip_weekends_and_public_holidays() -> None:
    friday = datetime(2026, 11, 27, 16, tzinfo=AMSTERDAM)
    assert not casemanager_overdue(friday, datetime(2026, 11, 30, 23, tzinfo=AMSTERDAM), AMSTERDAM)
    assert casemanager_overdue(friday, datetime(2026, 12, 1, 0, 1, tzinfo=AMSTERDAM), AMSTERDAM)
    # Christmas: Thursday 24 December, then the 25th and 26th off, then the weekend.
    eve = datetime(2026, 12, 24, 10, tzinfo=AMSTERDAM)
    assert not casemanager_overdue(eve, datetime(2026, 12, 28, 12, tzinfo=AMSTERDAM), AMSTERDAM)
    assert casemanager_overdue(eve, datetime(2026, 12, 29, 8, tzinfo=AMSTERDAM), AMSTERDAM)
    assert report_day(datetime(2026, 12, 1, 8, 59, tzinfo=AMSTERDAM), AMSTERDAM) is None
    assert report_day(datetime(2026, 12, 1, 9, 0, tzinfo=AMSTERDAM), AMSTERDAM) == date(2026, 12, 1)


# -- decisions ------------------------------------------------------------------------------


def test_each_decision_sets_the_case_the_way_retention_and_reports_read_it(
    core: Core, world: World
) -> None:
    decide = core.decisions.decide
    with core.db.session() as session:
        first = decide(
            session, reference=world.triage, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
        second = decide(
            session, reference=world.nazorg[0], decision=Decision.DOORGELEID,
            member_id=world.coordinator, organisation_code="rn",
        )  # fmt: skip
        third = decide(
            session, reference=world.nazorg[1], decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.BUITEN_REGIO,
        )  # fmt: skip
    assert [d.outcome for d in (first, second, third)] == [DecisionOutcome.RECORDED] * 3
    assert second.organisation == "Reclassering"
    procesregie, referred, closed = (_case(core, r) for r in (world.triage, *world.nazorg))
    now = core.clock.now()
    assert (procesregie.decision, procesregie.procesregie, procesregie.closed_at) == (
        "procesregie", True, None,
    )  # fmt: skip
    assert (procesregie.decided_at, procesregie.decided_by) == (now, world.coordinator)
    assert (procesregie.procesregie_at, referred.procesregie_at, closed.procesregie_at) == (
        now, None, None,
    )  # fmt: skip
    assert (referred.decision, referred.procesregie, referred.closed_at) == (
        "doorgeleid", False, now,
    )  # fmt: skip
    assert referred.decision_organisation_id is not None and referred.decision_reason is None
    assert (closed.decision, closed.decision_reason, closed.closed_at) == (
        "afgesloten", "buiten_regio", now,
    )  # fmt: skip
    assert [(e["decision"], e["replaced"]) for e in _audit(core, "case.decision")] == [
        ("procesregie", None), ("doorgeleid", None), ("afgesloten", None),
    ]  # fmt: skip


def test_a_correction_replaces_the_decision_and_the_audit_log_keeps_the_earlier_one(
    core: Core, world: World, clock: FrozenClock
) -> None:
    reference = world.nazorg[0]
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.DUBBEL,
        )  # fmt: skip
    clock.advance(timedelta(hours=2))
    with core.db.session() as session:
        corrected = core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.other_coordinator,
        )  # fmt: skip
        again = core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.other_coordinator,
        )  # fmt: skip
    assert corrected.outcome is DecisionOutcome.CORRECTED
    assert (corrected.previous, corrected.previous_reason) == (
        Decision.AFGESLOTEN, CloseReason.DUBBEL,
    )  # fmt: skip
    assert again.outcome is DecisionOutcome.UNCHANGED
    case = _case(core, reference)
    # Reopened by the correction: procesregie is an open case.
    assert (case.decision, case.procesregie, case.closed_at, case.decision_reason) == (
        "procesregie", True, None, None,
    )  # fmt: skip
    assert (case.decided_at, case.decided_by) == (clock.now(), world.other_coordinator)
    assert case.procesregie_at == clock.now()  # in procesregie from the correction on
    assert [(e["decision"], e["reason"], e["replaced"]) for e in _audit(core, "case.decision")] == [
        ("afgesloten", "dubbel", None), ("procesregie", None, "afgesloten"),
    ]  # fmt: skip


def test_refused_decisions_change_nothing_and_are_audited(core: Core, world: World) -> None:
    with core.db.session() as session:
        case = session.exec(select(Case).where(Case.reference == world.nazorg[1])).one()
        case.closed_at = core.clock.now()  # closed without a decision
        session.add(case)
    before = [_case(core, r).model_dump() for r in (world.triage, *world.nazorg)]
    with core.db.session() as session:
        unknown = core.decisions.decide(
            session, reference="VH-2099-9999", decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
        no_org = core.decisions.decide(
            session, reference=world.triage, decision=Decision.DOORGELEID,
            member_id=world.coordinator, organisation_code="XYZ",
        )  # fmt: skip
        closed = core.decisions.decide(
            session, reference=world.nazorg[1], decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
    assert [d.outcome for d in (unknown, no_org, closed)] == [
        DecisionOutcome.NO_CASE, DecisionOutcome.NO_ORGANISATION, DecisionOutcome.CLOSED,
    ]  # fmt: skip
    assert [_case(core, r).model_dump() for r in (world.triage, *world.nazorg)] == before
    assert [e["reason"] for e in _audit(core, "case.refused")] == [
        "no_case", "no_organisation", "closed",
    ]  # fmt: skip
    assert _audit(core, "case.decision") == []


# -- assignment -----------------------------------------------------------------------------


def test_offer_accept_and_a_second_accept(core: Core, world: World) -> None:
    reference = world.nazorg[0]
    with core.db.session() as session:
        offered = core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator, reference=reference
        )
    assert offered.outcome is AssignOutcome.OFFERED
    assert (offered.member_name, offered.organisation) == ("Medewerker 203", "Reclassering")
    [offer] = _outbox(core, "assignment-offer:")
    assert offer.chat_id == 203 and reference in offer.text
    assert "Medewerker" not in offer.text  # the reference and theme, nobody's name
    with core.db.session() as session:
        assignment = session.exec(select(CaseAssignment)).one()
    assert offer.reply_markup is not None
    assert f"cm:{assignment.id}:a" in offer.reply_markup
    assert f"cm:{assignment.id}:d" in offer.reply_markup
    assert (assignment.state, assignment.current, assignment.assigned_by) == (
        "offered", True, world.coordinator,
    )  # fmt: skip
    assert assignment.id is not None

    with core.db.session() as session:
        accepted = core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.casemanager, accept=True
        )
        twice = core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.casemanager, accept=True
        )
        same = core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator, reference=reference
        )
    assert accepted.outcome is OfferOutcome.ACCEPTED
    assert twice.outcome is OfferOutcome.ALREADY_ACCEPTED
    assert same.outcome is AssignOutcome.ALREADY
    [told] = _outbox(core, "assignment-answer:")
    assert told.chat_id == 201 and "accepted" not in told.text  # Dutch by default
    assert f"Lid {world.casemanager} (Medewerker 203, Reclassering) heeft zaak" in told.text
    case_id = _case(core, reference).id or 0
    with core.db.session() as session:
        mine = core.decisions.my_cases(session, world.casemanager)
        assert core.decisions.is_casemanager_of(
            session, member_id=world.casemanager, case_id=case_id
        )
    assert [(c.reference, c.theme) for c in mine] == [(reference, Theme.NAZORG)]


def test_decline_asks_a_reason_then_tells_the_coordinator(core: Core, world: World) -> None:
    with core.db.session() as session:
        core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator,
            reference=world.nazorg[0],
        )  # fmt: skip
        assignment = session.exec(select(CaseAssignment)).one()
    assert assignment.id is not None
    with core.db.session() as session:
        ask = core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.casemanager, accept=False
        )
    assert ask.outcome is OfferOutcome.ASK_REASON
    with core.db.session() as session:
        assert session.get(CaseAssignment, assignment.id).state == "offered"  # type: ignore[union-attr]
        declined = core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.casemanager, accept=False,
            reason=DeclineReason.CAPACITY,
        )  # fmt: skip
    assert declined.outcome is OfferOutcome.DECLINED
    with core.db.session() as session:
        row = session.get(CaseAssignment, assignment.id)
        assert row is not None
        assert (row.state, row.current, row.decline_reason) == ("declined", None, "cap")
        again = core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.casemanager, accept=True
        )
    assert again.outcome is OfferOutcome.ALREADY_DECLINED
    [told] = _outbox(core, "assignment-answer:")
    assert "geweigerd (Geen capaciteit)" in told.text and "/toewijzen" in told.text


def test_reassigning_tells_both_and_the_old_offer_is_closed(core: Core, world: World) -> None:
    reference = world.nazorg[0]
    with core.db.session() as session:
        core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator, reference=reference
        )
        old = session.exec(select(CaseAssignment)).one()
        moved = core.decisions.assign(
            session, member_number=world.second_casemanager, by=world.coordinator,
            reference=reference,
        )  # fmt: skip
    assert moved.outcome is AssignOutcome.REASSIGNED
    assert moved.previous_number == world.casemanager
    assert [m.chat_id for m in _outbox(core, "assignment-offer:")] == [203, 204]
    [withdrawn] = _outbox(core, "assignment-withdrawn:")
    assert withdrawn.chat_id == 203 and "andere casemanager" in withdrawn.text
    assert old.id is not None
    with core.db.session() as session:
        late = core.decisions.answer_offer(
            session, assignment_id=old.id, member_id=world.casemanager, accept=False,
            reason=DeclineReason.ABSENT,
        )  # fmt: skip
        rows = session.exec(select(CaseAssignment).order_by(col(CaseAssignment.id))).all()
    assert late.outcome is OfferOutcome.NOT_OPEN
    assert [(r.member_id, r.state, r.current) for r in rows] == [
        (world.casemanager, "withdrawn", None), (world.second_casemanager, "offered", True),
    ]  # fmt: skip


def test_refused_assignments_change_nothing(core: Core, world: World) -> None:
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=world.nazorg[1], decision=Decision.AFGESLOTEN,
            member_id=world.coordinator, reason=CloseReason.DUBBEL,
        )  # fmt: skip

    def assign(number: int, reference: str = world.nazorg[0]) -> AssignOutcome:
        with core.db.session() as session:
            return core.decisions.assign(
                session, member_number=number, by=world.coordinator, reference=reference
            ).outcome

    assert assign(world.partner) is AssignOutcome.NOT_CASEMANAGER
    assert assign(world.gone) is AssignOutcome.INACTIVE
    assert assign(999_999) is AssignOutcome.NO_MEMBER
    assert assign(2**40) is AssignOutcome.NO_MEMBER
    assert assign(world.radical_casemanager) is AssignOutcome.NOT_ENTITLED
    assert assign(world.casemanager, world.nazorg[1]) is AssignOutcome.CLOSED
    assert assign(world.casemanager, "VH-2099-9999") is AssignOutcome.NO_CASE
    with core.db.session() as session:
        forged = core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator, case_id=2**40
        )
    assert forged.outcome is AssignOutcome.NO_CASE
    with core.db.session() as session:
        assert session.exec(select(CaseAssignment)).all() == []
    assert _outbox(core, "assignment-") == []
    assert len(_audit(core, "case.refused")) == 8


def test_only_the_offered_member_answers(core: Core, world: World) -> None:
    with core.db.session() as session:
        core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator,
            reference=world.nazorg[0],
        )  # fmt: skip
        assignment = session.exec(select(CaseAssignment)).one()
        assert assignment.id is not None
        other = core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.second_casemanager, accept=True
        )
        nothing = core.decisions.answer_offer(
            session, assignment_id=2**40, member_id=world.casemanager, accept=True
        )
    assert other.outcome is nothing.outcome is OfferOutcome.UNKNOWN
    with core.db.session() as session:
        assert session.exec(select(CaseAssignment)).one().state == "offered"


def test_a_case_has_one_current_assignment_on_every_database(core: Core, world: World) -> None:
    case = _case(core, world.nazorg[0])
    assert case.id is not None
    now = core.clock.now()
    rows = [
        CaseAssignment(
            case_id=case.id, member_id=member, state="offered", current=True,
            assigned_by=world.coordinator, offered_at=now,
        )
        for member in (world.casemanager, world.second_casemanager)
    ]  # fmt: skip
    with core.db.session() as session:
        session.add(rows[0])
        session.flush()
        session.add(rows[1])
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()


def test_choices_are_the_entitled_active_casemanagers_with_their_open_cases(
    core: Core, world: World
) -> None:
    with core.db.session() as session:
        core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator,
            reference=world.nazorg[1],
        )  # fmt: skip
        choices = core.decisions.choices(
            session, reference=world.nazorg[0], member_id=world.coordinator
        )
    assert choices.outcome is AssignOutcome.OFFERED
    assert [(c.member_id, c.open_cases) for c in choices.candidates] == [
        (world.casemanager, 1), (world.second_casemanager, 0),
    ]  # fmt: skip


# -- the daily report -----------------------------------------------------------------------


def test_cases_without_a_casemanager_are_reported_once_a_day(
    core: Core, world: World, clock: FrozenClock
) -> None:
    # Monday 09:00: both nazorg cases opened now; the other case gets procesregie now.
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=world.triage, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
        core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator,
            reference=world.nazorg[0],
        )  # fmt: skip
        assignment = session.exec(select(CaseAssignment)).one()
        assert assignment.id is not None
        core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.casemanager, accept=True
        )
    assert report_unassigned_cases(core) == 0  # not two working days yet
    clock.set(datetime(2026, 11, 25, 8, 30, tzinfo=AMSTERDAM))  # Wednesday, before 09:00
    assert report_unassigned_cases(core) == 0
    clock.set(datetime(2026, 11, 25, 9, 5, tzinfo=AMSTERDAM))
    assert report_unassigned_cases(core) == 2  # both coordinators
    assert report_unassigned_cases(core) == 0  # once a day
    clock.advance(timedelta(hours=5))
    assert report_unassigned_cases(core) == 0
    reports = _outbox(core, "casemanager-report:")
    assert [m.chat_id for m in reports] == [201, 202]
    text = reports[0].text
    assert world.nazorg[1] in text and world.triage in text
    assert world.nazorg[0] not in text  # accepted
    assert "niet toegewezen" in text and "woensdag" not in text
    clock.advance(timedelta(days=1))  # Thursday
    assert report_unassigned_cases(core) == 2
    assert len(_outbox(core, "casemanager-report:")) == 4
    # Not on the weekend: Monday tells again.
    for day in (28, 29):
        clock.set(datetime(2026, 11, day, 10, tzinfo=AMSTERDAM))
        assert report_unassigned_cases(core) == 0
    clock.set(datetime(2026, 11, 30, 9, 5, tzinfo=AMSTERDAM))
    assert report_unassigned_cases(core) == 2
    assert [e["cases"] for e in _audit(core, "case.unassigned_report")] == [2, 2, 2]


# -- the case page ----------------------------------------------------------------------------


def test_the_accepted_casemanager_gets_the_case_page_with_decision_and_casemanager(
    core: Core, world: World
) -> None:
    reference = world.triage
    case_id = _case(core, reference).id or 0
    with core.db.session() as session:
        core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=world.coordinator,
        )  # fmt: skip
        core.decisions.assign(
            session, member_number=world.casemanager, by=world.coordinator, reference=reference
        )
        assignment = session.exec(select(CaseAssignment)).one()
        assert assignment.id is not None
        offered_only = core.reveals.issue_link(session, world.casemanager, LinkKind.CASE, case_id)
        other = core.reveals.issue_link(session, world.second_casemanager, LinkKind.CASE, case_id)
        core.decisions.answer_offer(
            session, assignment_id=assignment.id, member_id=world.casemanager, accept=True
        )
        issued = core.reveals.issue_link(session, world.casemanager, LinkKind.CASE, case_id)
        code = core.reveals.create_setup_code(session, world.casemanager, CLI).code
    assert isinstance(offered_only, Refused) and offered_only.reason is Refusal.NOT_ALLOWED
    assert isinstance(other, Refused) and other.reason is Refusal.NOT_ALLOWED
    assert isinstance(issued, IssuedLink)
    token = issued.url.rsplit("/", 1)[1]
    with core.db.session() as session:
        core.reveals.set_pin(session, token, code, "480159", now=core.clock.now())
        shown = core.reveals.reveal(session, token, "480159", now=core.clock.now())
    assert isinstance(shown, RevealedCase)
    assert shown.decision is not None and shown.decision.decision is Decision.PROCESREGIE
    assert shown.decided_at == core.clock.now()
    assert shown.casemanager is not None
    assert (shown.casemanager.name, shown.casemanager.organisation) == (
        "Medewerker 203", "Reclassering",
    )  # fmt: skip
    assert shown.casemanager.state is AssignmentState.ACCEPTED


def test_the_overdue_bound_is_the_rule_asked_day_by_day() -> None:
    """`last_overdue_wait_day` (the bound the database is asked with) agrees with two
    working days counted from each day, across weekends, Christmas and Easter."""
    start = date(2026, 12, 1)
    for offset in range(160):
        today = start + timedelta(days=offset)
        bound = last_overdue_wait_day(today)
        for back in range(15):
            since = today - timedelta(days=back)
            assert (since <= bound) == (today >= add_working_days(since, 2)), (today, since)
