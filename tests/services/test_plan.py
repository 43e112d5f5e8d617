"""The plan of approach service: own titles only encrypted and shown on the case page
(an audited read), the case page's history and ZRM, and retention emptying own titles
and conversations with the case's personal data."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.plan import ZrmDomain
from bot.domain.roles import Role
from bot.services.audit import CLI
from bot.services.plan import Kind, Problem, Step
from bot.storage.models import Action, AuditEntry, Case, Conversation, OutboxMessage
from tests.conftest import People
from tests.services.test_retention import close_case, import_rows, local, run


def _casemanager(core: Core) -> int:
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Reclassering", code="RN", themes=None, actor=CLI
        )
        member = core.memberships.add_member(
            session, telegram_id=77, name="Sanne Testlid", organisation_code="RN",
            roles=[Role.COORDINATOR], actor=CLI,
        )  # fmt: skip
        assert member.id is not None
        return member.id


def _own_action(core: Core, member_id: int, reference: str, title: str) -> object:
    """/actie with an own title, step by step through the service; the last turn."""
    plan = core.plan
    with core.db.session() as session:
        turn = plan.start_action(session, member_id=member_id, reference=reference)
        turn = plan.press(
            session, member_id=member_id, kind=Kind.ACTIE, version=turn.version, code="d",
            value="2",
        )  # fmt: skip
        turn = plan.press(
            session, member_id=member_id, kind=Kind.ACTIE, version=turn.version, code="a",
            value="own",
        )  # fmt: skip
        assert turn.step is Step.TITLE
        turn = plan.typed(session, member_id=member_id, text=title)  # type: ignore[assignment]
        assert turn is not None
        if turn.problem is not None:
            return turn
        turn = plan.press(
            session, member_id=member_id, kind=Kind.ACTIE, version=turn.version, code="o",
            value=f"m{member_id}",
        )  # fmt: skip
        return plan.typed(session, member_id=member_id, text="01-02-2027")


def test_an_own_title_is_kept_encrypted_and_shown_on_the_case_page_only(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    person = people.identity()
    import_rows(core, tmp_path, [("PLAN-1", "uitstroom", person, "2026-12-01")])
    member_id = _casemanager(core)
    with core.db.session() as session:
        case = session.exec(select(Case)).one()
        reference, case_id = case.reference, case.id
    assert case_id is not None

    refused = _own_action(core, member_id, reference, f"Bellen met {person.given_names}")
    assert getattr(refused, "problem", None) is Problem.TITLE_PERSONAL
    stored = _own_action(core, member_id, reference, "Huurcontract regelen met corporatie")
    assert getattr(stored, "step", "x") is None and getattr(stored, "problem", "x") is None
    with core.db.session() as session:
        action = session.exec(select(Action)).one()
        assert action.title_ct is not None and "Huurcontract" not in action.title_ct
        outbox = session.exec(select(OutboxMessage)).all()
        assert outbox and all("Huurcontract" not in row.text for row in outbox)
        page = core.plan.page_plan(session, case_id=case_id, member_id=member_id)
    [shown] = page.actions
    assert shown.title == "Huurcontract regelen met corporatie"
    assert shown.plan.named.domain is ZrmDomain.HUISVESTING and shown.plan.named.number == 1
    assert [(e.kind, e.new_deadline) for e in shown.events] == [("created", date(2027, 2, 1))]
    assert "Huurcontract" not in repr(shown)
    with core.db.session() as session:
        reads = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "action.titles_read")
        ).all()
        checks = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "person.read")
        ).all()
    assert len(reads) == 1
    assert len(checks) == 2  # each title checked against the person: an audited read


def test_retention_erases_own_titles_and_conversations_with_the_case(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    import_rows(core, tmp_path, [("PLAN-2", "uitstroom", people.identity(), "2026-12-01")])
    member_id = _casemanager(core)
    with core.db.session() as session:
        reference = session.exec(select(Case)).one().reference
    _own_action(core, member_id, reference, "Huurcontract regelen")
    # A second conversation half-way, about the same case.
    with core.db.session() as session:
        core.plan.start_zrm(session, member_id=member_id, reference=reference)
    closed = local(2027, 3, 1, 12).astimezone(UTC)
    close_case(core, "PLAN-2", closed, procesregie=True)
    keep = timedelta(days=core.settings.retention_days)

    run(core, clock, closed + keep - timedelta(minutes=1))
    with core.db.session() as session:
        assert session.exec(select(Action)).one().title_ct is not None
        assert session.exec(select(Conversation)).one().case_id is not None
    run(core, clock, closed + keep)
    with core.db.session() as session:
        action = session.exec(select(Action)).one()
        assert action.title_ct is None
        assert action.catalogue_code is None and action.number == 1  # the plan's shape stays
        assert session.exec(select(Conversation)).all() == []
        erased = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "retention.erase")
        ).one()
    assert '"plan_texts":2' in erased.details.replace(" ", "")
