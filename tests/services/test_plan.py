"""The plan of approach service: own titles only encrypted and shown on the case page
(an audited read), the case page's history and ZRM, retention emptying own titles
and conversations with the case's personal data, and changing an action (another
owner, or cancel it) with its refusals."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.plan import ActionState, ZrmDomain, action_button_data
from bot.domain.roles import Role
from bot.services.audit import CLI
from bot.services.plan import ActionOutcome, Change, Kind, Problem, Step, Turn
from bot.storage.models import (
    Action,
    ActionEvent,
    AuditEntry,
    Case,
    Conversation,
    Organisation,
    OutboxMessage,
)
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


def _press(core: Core, member_id: int, turn: Turn, code: str, value: str) -> Turn:
    with core.db.session() as session:
        return core.plan.press(
            session, member_id=member_id, kind=turn.kind, version=turn.version, code=code,
            value=value,
        )  # fmt: skip


def _start_change(core: Core, member_id: int, action_id: int, version: int) -> Turn:
    with core.db.session() as session:
        return core.plan.start_change(
            session, member_id=member_id, action_id=action_id, version=version
        )


def _outbox(core: Core) -> dict[str, OutboxMessage]:
    with core.db.session() as session:
        rows = session.exec(select(OutboxMessage)).all()
        for row in rows:
            session.expunge(row)
    return {row.dedupe_key: row for row in rows}


def test_another_owner_and_cancelling_are_recorded_with_their_owners_and_notices(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    """Reassigning and cancelling: the events (with the owners before and after), the
    version, the notices to the new and the earlier owner, the refusals of bad input,
    the earlier owner's buttons, and the case page's history."""
    import_rows(core, tmp_path, [("PLAN-3", "uitstroom", people.identity(), "2026-12-01")])
    sanne = _casemanager(core)
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Politie", code="POL", themes=None, actor=CLI
        )
        added = [
            core.memberships.add_member(
                session,
                telegram_id=telegram_id,
                name=name,
                organisation_code=org,
                roles=[Role.PARTNER],
                actor=CLI,
            )
            for telegram_id, name, org in (
                (81, "Bram Eigenaar", "POL"),
                (82, "Joost Weg", "POL"),
                (83, "Mila Collega", "RN"),
            )
        ]
        bram, joost, mila = (member.id or 0 for member in added)
        core.memberships.deactivate(session, member_id=joost, actor=CLI)
        case = session.exec(select(Case)).one()
        reference = case.reference
        turn = core.plan.start_action(session, member_id=sanne, reference=reference)
    for code, value in (("d", "2"), ("a", "huis_woning"), ("o", f"m{bram}"), ("w", "1w")):
        turn = _press(core, sanne, turn, code, value)
    assert turn.step is None and turn.stored is not None
    action_id = turn.stored.action_id

    menu = _start_change(core, sanne, action_id, 1)
    assert (menu.kind, menu.step) == (Kind.CHANGE, Step.CHANGE)
    assert menu.owner is not None and menu.owner.code == f"m{bram}"
    owners = _press(core, sanne, menu, "c", "o")
    assert owners.step is Step.OWNER
    assert f"m{bram}" not in [o.code for o in owners.owners]  # the owner now
    assert f"m{joost}" not in [o.code for o in owners.owners]  # deactivated
    before = _outbox(core)
    for value, problem in (
        (f"m{bram}", Problem.SAME_OWNER),
        (f"m{joost}", Problem.OWNER_INACTIVE),
        ("m99999", Problem.FORGED),
        ("x1", Problem.FORGED),
    ):
        again = _press(core, sanne, owners, "o", value)
        assert (again.problem, again.step, again.version) == (problem, Step.OWNER, owners.version)
    assert _outbox(core) == before
    with core.db.session() as session:
        rn = session.exec(select(Organisation).where(Organisation.code == "RN")).one()
    done = _press(core, sanne, owners, "o", f"o{rn.id}")
    assert done.changed is Change.REASSIGNED and done.step is None

    with core.db.session() as session:
        action = session.get(Action, action_id)
        assert action is not None
        assert (action.owner_member_id, action.owner_organisation_id) == (None, rn.id)
        assert action.version == 2
        reassigned = session.exec(select(ActionEvent).where(ActionEvent.kind == "reassigned")).one()
    assert (reassigned.old_owner_member_id, reassigned.new_owner_organisation_id) == (bram, rn.id)
    sent = {key: row for key, row in _outbox(core).items() if key not in before}
    # RN's members get the new-action notice (the one who made the change too: it holds
    # the buttons); Bram a word that it is no longer his.
    assert set(sent) == {
        f"action-owner:{reassigned.id}:{sanne}",
        f"action-owner:{reassigned.id}:{mila}",
        f"action-moved:{reassigned.id}:{bram}",
    }
    assert action_button_data(action_id, 2, "d") in str(
        sent[f"action-owner:{reassigned.id}:{mila}"].reply_markup
    )
    assert sent[f"action-moved:{reassigned.id}:{bram}"].reply_markup is None
    with core.db.session() as session:
        refused = core.plan.complete(session, member_id=bram, action_id=action_id, version=1)
    assert refused.outcome is ActionOutcome.REASSIGNED
    with core.db.session() as session:  # someone who never owned it: not theirs
        other = core.plan.complete(session, member_id=joost, action_id=action_id, version=2)
    assert other.outcome is ActionOutcome.NOT_YOURS
    # /plan's button of before: the action changed since.
    assert _start_change(core, sanne, action_id, 1).problem is Problem.ACTION_CHANGED
    # From RN to its member Mila: she gets the notice and no word that it left RN; the
    # one who made the change (of RN too) gets nothing.
    before = _outbox(core)
    menu = _start_change(core, sanne, action_id, 2)
    again = _press(core, sanne, _press(core, sanne, menu, "c", "o"), "o", f"m{mila}")
    assert again.changed is Change.REASSIGNED
    with core.db.session() as session:
        second = session.exec(
            select(ActionEvent)
            .where(ActionEvent.kind == "reassigned")
            .order_by(col(ActionEvent.id).desc())
        ).first()
    assert second is not None
    assert set(_outbox(core)) - set(before) == {f"action-owner:{second.id}:{mila}"}

    menu = _start_change(core, sanne, action_id, 3)
    sure = _press(core, sanne, menu, "c", "x")
    assert sure.step is Step.CONFIRM
    assert _press(core, sanne, sure, "x", "z").problem is Problem.FORGED
    before = _outbox(core)
    cancelled = _press(core, sanne, sure, "x", "y")
    assert cancelled.changed is Change.CANCELLED
    with core.db.session() as session:
        action = session.get(Action, action_id)
        assert action is not None and (action.state, action.version) == ("cancelled", 4)
        event = session.exec(select(ActionEvent).where(ActionEvent.kind == "cancelled")).one()
        audited = [
            entry.action
            for entry in session.exec(
                select(AuditEntry).where(col(AuditEntry.action).like("action.%"))
            )
        ]
    assert audited == ["action.create", "action.reassign", "action.reassign", "action.cancel"]
    # The owner's members are told, but not whoever cancelled it.
    assert set(_outbox(core)) - set(before) == {f"action-cancelled:{event.id}:{mila}"}
    assert _start_change(core, sanne, action_id, 4).problem is Problem.ACTION_CANCELLED
    with core.db.session() as session:
        owner = core.plan.complete(session, member_id=mila, action_id=action_id, version=2)
    assert owner.outcome is ActionOutcome.CANCELLED

    with core.db.session() as session:
        page = core.plan.page_plan(session, case_id=case.id or 0, member_id=sanne)
    [shown] = page.actions
    assert shown.plan.state is ActionState.CANCELLED
    assert [(e.kind, e.old_owner, e.new_owner) for e in shown.events] == [
        ("created", None, "Bram Eigenaar"),
        ("reassigned", "Bram Eigenaar", "Reclassering"),
        ("reassigned", "Reclassering", "Mila Collega"),
        ("cancelled", None, None),
    ]


def test_a_closed_case_or_another_member_changes_nothing(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    import_rows(core, tmp_path, [("PLAN-4", "uitstroom", people.identity(), "2026-12-01")])
    sanne = _casemanager(core)
    with core.db.session() as session:
        partner = core.memberships.add_member(
            session, telegram_id=84, name="Bram Partner", organisation_code="RN",
            roles=[Role.PARTNER], actor=CLI,
        )  # fmt: skip
        case = session.exec(select(Case)).one()
        turn = core.plan.start_action(session, member_id=sanne, reference=case.reference)
    for code, value in (("d", "2"), ("a", "huis_woning"), ("o", f"m{partner.id}"), ("w", "1w")):
        turn = _press(core, sanne, turn, code, value)
    assert turn.stored is not None
    action_id = turn.stored.action_id
    # The owner is no casemanager nor coordinator; an unknown action is refused.
    assert _start_change(core, partner.id or 0, action_id, 1).problem is Problem.NOT_CASEMANAGER
    assert _start_change(core, sanne, 99999, 1).problem is Problem.FORGED
    menu = _start_change(core, sanne, action_id, 1)
    with core.db.session() as session:
        row = session.exec(select(Case)).one()
        row.closed_at = clock.now()
        session.add(row)
    assert _press(core, sanne, menu, "c", "x").problem is Problem.CLOSED
    assert _start_change(core, sanne, action_id, 1).problem is Problem.CLOSED
    with core.db.session() as session:
        action = session.get(Action, action_id)
        assert action is not None and (action.state, action.version) == ("open", 1)
        conversation = session.get(Conversation, sanne)
        assert conversation is not None and conversation.kind == "idle"
