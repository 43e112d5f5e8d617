"""Triage decisions and casemanager assignments.

/besluit records a case's decision on the case row (procesregie sets
`procesregie`; doorgeleid and afgesloten close the case, see
bot.domain.decisions.closes_case); a second /besluit corrects it, and the audit
log keeps every one. /toewijzen offers a case to a casemanager, who accepts or
declines it with buttons; the coordinator who assigned is told either way, and
a reassignment tells the casemanager who had it. A daily duty reports the cases
that still wait for an accepted casemanager.

Every change commits with its audit entry and the messages it causes (outbox).
Refusals change nothing but are audited (`case.refused`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, ScalarSelect, UnaryExpression, case
from sqlalchemy import select as columns
from sqlalchemy.orm import aliased
from sqlalchemy.orm.util import AliasedClass
from sqlmodel import Session, and_, col, func, or_, select

from bot.clock import Clock
from bot.config import Settings
from bot.domain.decisions import (
    AssignmentState,
    CloseReason,
    Decision,
    DeclineReason,
    casemanager_wait_start,
    closes_case,
    last_overdue_wait_day,
    report_day,
)
from bot.domain.roles import Role, Theme, parse_roles, parse_themes
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.safe import SafeText
from bot.services import outbox
from bot.services.audit import AuditLog, member_actor
from bot.services.members import MAX_MEMBER_NUMBER, MEMBER_NAME_CONTEXT, Memberships
from bot.storage.models import Case, CaseAssignment, Melding, Member, Organisation, Person
from bot.storage.repositories import MemberRepository
from bot.views.decisions import (
    WaitingCase,
    accepted_notice,
    declined_notice,
    offer_keyboard,
    offer_text,
    offer_withdrawn_text,
    unassigned_report,
)

# -- outcomes ----------------------------------------------------------------------------


def accepted_casemanager() -> ColumnElement[bool]:
    """An assignment that makes its member the case's casemanager: the case's current
    one, and accepted (one rule for the digests, /stand, the plan and the decisions)."""
    return and_(
        col(CaseAssignment.current).is_(True),
        col(CaseAssignment.state) == AssignmentState.ACCEPTED.value,
    )


def _current_then_newest(
    assignment: type[CaseAssignment] | AliasedClass[CaseAssignment],
) -> tuple[UnaryExpression[Any], UnaryExpression[Any]]:
    """ORDER BY a case's current assignment first, then the newest. Not `current DESC`:
    PostgreSQL sorts the NULL of a past assignment first in descending order, SQLite
    last."""
    return (
        case((col(assignment.current).is_(True), 1), else_=0).desc(),
        col(assignment.id).desc(),
    )


class DecisionOutcome(StrEnum):
    RECORDED = "recorded"
    CORRECTED = "corrected"  # replaced the case's earlier decision
    UNCHANGED = "unchanged"  # the same decision was recorded already
    NO_CASE = "no_case"
    CLOSED = "closed"  # closed without a decision to correct
    NO_ORGANISATION = "no_organisation"
    # Reopening would give the person a second open case of the theme (`other_case`).
    OTHER_CASE_OPEN = "other_case_open"
    # doorgeleid to an organisation that does not work on the case's theme.
    ORGANISATION_NOT_ENTITLED = "organisation_not_entitled"


@dataclass(frozen=True)
class Decided:
    outcome: DecisionOutcome
    reference: str | None = None
    decision: Decision | None = None
    organisation: str | None = None  # doorgeleid: the organisation's name
    reason: CloseReason | None = None
    previous: Decision | None = None
    previous_organisation: str | None = None
    previous_reason: CloseReason | None = None
    other_case: str | None = None  # OTHER_CASE_OPEN: the reference of the open case


class AssignOutcome(StrEnum):
    OFFERED = "offered"
    REASSIGNED = "reassigned"  # offered to this member; the earlier one withdrawn
    ALREADY = "already"  # this member is the case's current casemanager already
    NO_CASE = "no_case"
    CLOSED = "closed"
    NO_MEMBER = "no_member"
    INACTIVE = "inactive"
    NOT_CASEMANAGER = "not_casemanager"
    NOT_ENTITLED = "not_entitled"  # their organisation does not take part in the theme


@dataclass(frozen=True)
class Assigned:
    outcome: AssignOutcome
    reference: str | None = None
    member_number: int | None = None
    member_name: str | None = None
    organisation: str | None = None
    previous_number: int | None = None


@dataclass(frozen=True)
class Candidate:
    member_id: int
    name: str
    organisation: str
    open_cases: int


@dataclass(frozen=True)
class Choices:
    """/toewijzen REF without a number: the casemanagers to pick from."""

    outcome: AssignOutcome  # OFFERED: the case can be assigned; else why not
    reference: str | None = None
    case_id: int | None = None
    candidates: tuple[Candidate, ...] = ()


class OfferOutcome(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    ASK_REASON = "ask_reason"  # Decline pressed: the reasons are shown, nothing changed
    ALREADY_ACCEPTED = "already_accepted"
    ALREADY_DECLINED = "already_declined"
    NOT_OPEN = "not_open"  # withdrawn (reassigned), the case closed, or not theirs
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OfferAnswered:
    outcome: OfferOutcome
    reference: str | None = None
    assignment_id: int | None = None
    reason: DeclineReason | None = None


@dataclass(frozen=True)
class MyCase:
    reference: str
    theme: Theme
    decision: Decision | None
    decided_at: datetime | None
    opened_at: datetime


@dataclass(frozen=True)
class CasemanagerShown:
    """A case's current (or last) casemanager, as the case page shows them."""

    name: str
    organisation: str
    state: AssignmentState
    since: datetime


class Decisions:
    def __init__(
        self,
        *,
        settings: Settings,
        cipher: FieldCipher,
        audit: AuditLog,
        clock: Clock,
        memberships: Memberships,
    ) -> None:
        self._settings = settings
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self._memberships = memberships

    # -- decisions ---------------------------------------------------------------------

    def decide(
        self,
        session: Session,
        *,
        reference: str,
        decision: Decision,
        member_id: int,
        organisation_code: str | None = None,
        reason: CloseReason | None = None,
    ) -> Decided:
        """/besluit: record the case's triage decision, or correct the earlier one.

        Procesregie keeps the case open with `procesregie` set; doorgeleid and
        afgesloten close it. A correction replaces the decision on the case row
        (and reopens a case closed by the decision it replaces); the audit entry
        names the decision it replaced. A case closed without a decision is refused.

        Args:
            session: the open unit of work; the decision and its audit entry commit with it.
            reference: the case reference, e.g. VH-2026-0042.
            decision: what was decided.
            member_id: the deciding coordinator.
            organisation_code: doorgeleid: the receiving organisation's short code.
            reason: afgesloten: the reason.
        """
        actor = member_actor(member_id)
        case = self._case(session, reference, lock=True)
        if case is None or case.id is None:
            return self._refused_decision(session, actor, "", DecisionOutcome.NO_CASE)
        subject = f"case:{case.id}"
        if not self.member_entitled(session, member_id, case.theme):
            # A restricted theme's case, outside the coordinator's circle: as if unknown.
            self._refused(session, actor, subject, "besluit", "not_entitled")
            return Decided(DecisionOutcome.NO_CASE)
        previous = Decision(case.decision) if case.decision else None
        if previous is None and case.closed_at is not None:
            return self._refused_decision(session, actor, subject, DecisionOutcome.CLOSED)
        if case.closed_at is not None and not closes_case(decision) and _erased(session, case):
            # Reopening a case whose personal data retention erased: nothing to work with.
            return self._refused_decision(session, actor, subject, DecisionOutcome.CLOSED)
        if case.closed_at is not None and not closes_case(decision):
            other = session.exec(
                select(Case.reference).where(
                    Case.person_id == case.person_id,
                    Case.theme == case.theme,
                    col(Case.closed_at).is_(None),
                )
            ).first()
            if other is not None:
                # A melding after the closing opened a new case; that one is worked on now.
                self._refused(session, actor, subject, "besluit", "other_case_open")
                return Decided(DecisionOutcome.OTHER_CASE_OPEN, other_case=other)
        organisation: Organisation | None = None
        if decision is Decision.DOORGELEID:
            code = (organisation_code or "").strip().upper()
            organisation = session.exec(
                select(Organisation).where(Organisation.code == code)
            ).first()
            if organisation is None or organisation.id is None:
                return self._refused_decision(
                    session, actor, subject, DecisionOutcome.NO_ORGANISATION
                )
            if not _entitled(organisation, case.theme):
                return self._refused_decision(
                    session, actor, subject, DecisionOutcome.ORGANISATION_NOT_ENTITLED
                )
        new_reason = reason.value if decision is Decision.AFGESLOTEN and reason else None
        new_organisation = organisation.id if organisation is not None else None
        previous_organisation = (
            session.get(Organisation, case.decision_organisation_id)
            if case.decision_organisation_id is not None
            else None
        )
        previous_reason = CloseReason(case.decision_reason) if case.decision_reason else None
        if (
            previous is decision
            and case.decision_organisation_id == new_organisation
            and case.decision_reason == new_reason
        ):
            return Decided(
                DecisionOutcome.UNCHANGED,
                case.reference,
                decision,
                organisation.name if organisation else None,
                reason,
            )
        now = self._clock.now()
        case.decision = decision.value
        case.decision_organisation_id = new_organisation
        case.decision_reason = new_reason
        case.decided_at, case.decided_by = now, member_id
        # Once in procesregie, a case keeps counting as one: closing it when its goal is
        # reached must not make retention treat it as a case that never had procesregie.
        # Unless it was a mistake: replaced before any casemanager took the case on, and
        # not because its goal was reached. Then the data goes as for any other case.
        # The reports count the case in procesregie from its first procesregie decision
        # (`procesregie_at`) until it closed; a mistake never counted.
        if decision is Decision.PROCESREGIE:
            case.procesregie = True
            case.procesregie_at = case.procesregie_at or now
        elif (
            previous is Decision.PROCESREGIE
            and reason is not CloseReason.DOEL_BEREIKT
            and not self._ever_accepted(session, case.id)
        ):
            case.procesregie = False
            case.procesregie_at = None
        if closes_case(decision):
            if case.closed_at is None:
                case.closed_at = now
                self._end_assignment(session, case.id, now, actor)
        else:
            case.closed_at = None  # a correction of doorgeleid or afgesloten reopens it
        session.add(case)
        self._audit.record(
            session,
            actor=actor,
            action="case.decision",
            subject=subject,
            reference=case.reference,
            decision=decision.value,
            organisation=organisation.code if organisation else None,
            reason=new_reason,
            replaced=previous.value if previous else None,
        )
        return Decided(
            DecisionOutcome.CORRECTED if previous else DecisionOutcome.RECORDED,
            case.reference,
            decision,
            organisation.name if organisation else None,
            reason if decision is Decision.AFGESLOTEN else None,
            previous,
            previous_organisation.name if previous_organisation else None,
            previous_reason,
        )

    def _end_assignment(self, session: Session, case_id: int, now: datetime, actor: str) -> None:
        """A case that closes ends its current assignment: an open offer is withdrawn (its
        buttons no longer work, even if a correction reopens the case), an accepted one
        stays accepted but is no longer current (the casemanager's access ends)."""
        current = session.exec(
            select(CaseAssignment).where(
                CaseAssignment.case_id == case_id, col(CaseAssignment.current).is_(True)
            )
        ).first()
        if current is None:
            return
        if current.state == AssignmentState.OFFERED.value:
            current.state = AssignmentState.WITHDRAWN.value
            current.withdrawn_at = now
        current.current = None
        session.add(current)
        self._audit.record(
            session,
            actor=actor,
            action="case.assignment_ended",
            subject=f"case:{case_id}",
            assignment=current.id,
            state=current.state,
        )

    def _refused_decision(
        self, session: Session, actor: str, subject: str, outcome: DecisionOutcome
    ) -> Decided:
        self._refused(session, actor, subject, "besluit", outcome.value)
        return Decided(outcome)

    # -- assignment --------------------------------------------------------------------

    def choices(self, session: Session, *, reference: str, member_id: int) -> Choices:
        """/toewijzen REF: the active casemanagers entitled to the case's theme, with
        their number of open cases, or why the case cannot be assigned."""
        case = self._case(session, reference)
        refusal = self._case_refusal(session, case, member_id)
        if refusal is not None or case is None or case.id is None:
            return Choices(refusal or AssignOutcome.NO_CASE)
        candidates = []
        for member in self._active_casemanagers(session):
            assert member.id is not None  # noqa: S101 - stored rows have ids
            organisation = session.get(Organisation, member.organisation_id)
            if organisation is None or not _entitled(organisation, case.theme):
                continue
            candidates.append(
                Candidate(
                    member_id=member.id,
                    name=self._name(member),
                    organisation=organisation.name,
                    open_cases=self._open_cases(session, member.id),
                )
            )
        return Choices(AssignOutcome.OFFERED, case.reference, case.id, tuple(candidates))

    def assign(
        self,
        session: Session,
        *,
        member_number: int,
        by: int,
        reference: str | None = None,
        case_id: int | None = None,
    ) -> Assigned:
        """Offer a case to casemanager `member_number` (/toewijzen REF N, or its button).

        The member must be active, hold the casemanager role and belong to an
        organisation that takes part in the case's theme; the case must be open.
        An earlier current assignment to someone else is withdrawn, and they are
        told. The casemanager gets a private message with [Accept] [Decline].

        Args:
            session: the open unit of work.
            member_number: the casemanager's member number (as /leden shows it).
            by: the assigning coordinator's member number.
            reference: the case's reference (the command), or
            case_id: the case's id (the button).
        """
        if reference is not None:
            case = self._case(session, reference, lock=True)
        elif case_id is not None and 0 < case_id <= MAX_MEMBER_NUMBER:
            case = session.get(Case, case_id, with_for_update=True)
        else:
            case = None
        refusal = self._case_refusal(session, case, by)
        if refusal is not None or case is None or case.id is None:
            return Assigned(refusal or AssignOutcome.NO_CASE)
        subject = f"case:{case.id}"
        member = (
            session.get(Member, member_number) if 0 < member_number <= MAX_MEMBER_NUMBER else None
        )
        if member is None or member.id is None:
            return self._refused_assign(session, by, subject, AssignOutcome.NO_MEMBER)
        organisation = session.get(Organisation, member.organisation_id)
        assert organisation is not None  # noqa: S101 - foreign key
        shown = Assigned(
            AssignOutcome.OFFERED,
            case.reference,
            member.id,
            self._name(member),
            organisation.name,
        )
        if not member.active:
            return self._refused_assign(session, by, subject, AssignOutcome.INACTIVE, shown)
        if Role.CASEMANAGER not in parse_roles(member.roles):
            return self._refused_assign(session, by, subject, AssignOutcome.NOT_CASEMANAGER, shown)
        if not _entitled(organisation, case.theme):
            return self._refused_assign(session, by, subject, AssignOutcome.NOT_ENTITLED, shown)
        current = self._current(session, case.id)
        if current is not None and current.member_id == member.id:
            return Assigned(
                AssignOutcome.ALREADY, case.reference, member.id, shown.member_name,
                organisation.name,
            )  # fmt: skip
        now = self._clock.now()
        previous_number: int | None = None
        if current is not None:
            previous_number = current.member_id
            current.state = AssignmentState.WITHDRAWN.value
            current.current = None
            current.withdrawn_at = now
            session.add(current)
            session.flush()  # before the new current row: (case, current) is unique
            self._audit.record(
                session,
                actor=member_actor(by),
                action="case.assignment_withdrawn",
                subject=f"assignment:{current.id}",
                case=case.id,
                member=current.member_id,
            )
            previous = session.get(Member, current.member_id)
            if previous is not None and previous.active:
                _ = self._translator(previous)
                outbox.enqueue(
                    session,
                    key=f"assignment-withdrawn:{current.id}",
                    chat_id=previous.telegram_id,
                    text=offer_withdrawn_text(_, reference=case.reference),
                    now=now,
                )
        assignment = CaseAssignment(
            case_id=case.id,
            member_id=member.id,
            state=AssignmentState.OFFERED.value,
            current=True,
            assigned_by=by,
            offered_at=now,
        )
        session.add(assignment)
        session.flush()
        assert assignment.id is not None  # noqa: S101 - flushed
        self._audit.record(
            session,
            actor=member_actor(by),
            action="case.assign",
            subject=f"assignment:{assignment.id}",
            case=case.id,
            member=member.id,
            replaced=previous_number,
        )
        _ = self._translator(member)
        outbox.enqueue(
            session,
            key=f"assignment-offer:{assignment.id}",
            chat_id=member.telegram_id,
            text=offer_text(_, reference=case.reference, theme=Theme(case.theme)),
            reply_markup=offer_keyboard(assignment.id, _),
            now=now,
            new_key=True,
        )
        return Assigned(
            AssignOutcome.REASSIGNED if previous_number is not None else AssignOutcome.OFFERED,
            case.reference,
            member.id,
            shown.member_name,
            organisation.name,
            previous_number,
        )

    def _refused_assign(
        self,
        session: Session,
        by: int,
        subject: str,
        outcome: AssignOutcome,
        shown: Assigned | None = None,
    ) -> Assigned:
        self._refused(session, member_actor(by), subject, "toewijzen", outcome.value)
        if shown is None:
            return Assigned(outcome)
        return Assigned(
            outcome, shown.reference, shown.member_number, shown.member_name, shown.organisation
        )

    def _case_refusal(self, session: Session, case: Case | None, by: int) -> AssignOutcome | None:
        """Why a case cannot be assigned (audited), or None."""
        if case is None or case.id is None:
            self._refused(session, member_actor(by), "", "toewijzen", AssignOutcome.NO_CASE.value)
            return AssignOutcome.NO_CASE
        if not self.member_entitled(session, by, case.theme):
            # A restricted theme's case, outside the coordinator's circle: as if unknown.
            self._refused(session, member_actor(by), f"case:{case.id}", "toewijzen", "not_entitled")
            return AssignOutcome.NO_CASE
        if case.closed_at is not None:
            self._refused(session, member_actor(by), f"case:{case.id}", "toewijzen", "closed")
            return AssignOutcome.CLOSED
        return None

    # -- the casemanager's answer ------------------------------------------------------

    def answer_offer(
        self,
        session: Session,
        *,
        assignment_id: int,
        member_id: int,
        accept: bool,
        reason: DeclineReason | None = None,
    ) -> OfferAnswered:
        """The casemanager's [Accept], [Decline] and decline reason.

        Only the member the case was offered to answers, once, while the offer is
        the case's current one and the case is open. Decline without a reason
        changes nothing (the reasons are asked). The coordinator who assigned (or,
        when they are no longer active, every coordinator) is told either way.
        """
        assignment = (
            session.get(CaseAssignment, assignment_id, with_for_update=True)
            if 0 < assignment_id <= MAX_MEMBER_NUMBER
            else None
        )
        if assignment is None or assignment.member_id != member_id:
            self._refused(session, member_actor(member_id), "", "offer", "unknown")
            return OfferAnswered(OfferOutcome.UNKNOWN)
        case = session.get(Case, assignment.case_id)
        assert case is not None  # noqa: S101 - foreign key
        state = AssignmentState(assignment.state)
        subject = f"assignment:{assignment_id}"
        refused: OfferOutcome | None = None
        if state is AssignmentState.ACCEPTED:
            refused = OfferOutcome.ALREADY_ACCEPTED
        elif state is AssignmentState.DECLINED:
            refused = OfferOutcome.ALREADY_DECLINED
        elif state is AssignmentState.WITHDRAWN or case.closed_at is not None:
            refused = OfferOutcome.NOT_OPEN
        if refused is not None:
            self._refused(session, member_actor(member_id), subject, "offer", refused.value)
            return OfferAnswered(refused, case.reference, assignment_id)
        if not accept and reason is None:
            return OfferAnswered(OfferOutcome.ASK_REASON, case.reference, assignment_id)
        now = self._clock.now()
        assignment.answered_at = now
        if accept:
            assignment.state = AssignmentState.ACCEPTED.value
        else:
            assignment.state = AssignmentState.DECLINED.value
            assignment.decline_reason = reason.value if reason else None
            assignment.current = None
        session.add(assignment)
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="case.assignment_accepted" if accept else "case.assignment_declined",
            subject=subject,
            case=case.id,
            reason=assignment.decline_reason,
        )
        member = session.get(Member, member_id)
        assert member is not None  # noqa: S101 - foreign key
        organisation = session.get(Organisation, member.organisation_id)
        name, org_name = self._name(member), organisation.name if organisation else "?"

        def render(_: Translator) -> SafeText:
            if accept:
                return accepted_notice(
                    _, number=member_id, name=name, organisation=org_name,
                    reference=case.reference,
                )  # fmt: skip
            assert reason is not None  # noqa: S101 - checked above
            return declined_notice(
                _, number=member_id, name=name, organisation=org_name,
                reference=case.reference, reason=reason,
            )  # fmt: skip

        self._tell_assigner(session, assignment, render, now)
        return OfferAnswered(
            OfferOutcome.ACCEPTED if accept else OfferOutcome.DECLINED,
            case.reference,
            assignment_id,
            reason,
        )

    def _tell_assigner(
        self,
        session: Session,
        assignment: CaseAssignment,
        render: Callable[[Translator], SafeText],
        now: datetime,
    ) -> None:
        key = f"assignment-answer:{assignment.id}"
        assigner = session.get(Member, assignment.assigned_by)
        if (
            assigner is not None
            and assigner.active
            and Role.COORDINATOR in parse_roles(assigner.roles)
        ):
            outbox.enqueue(
                session,
                key=key,
                chat_id=assigner.telegram_id,
                text=render(self._translator(assigner)),
                now=now,
            )
            return
        self._memberships.tell_coordinators(session, key=key, render=render)

    # -- reading -------------------------------------------------------------------------

    def my_cases(self, session: Session, member_id: int) -> list[MyCase]:
        """/mijnzaken: the open cases this member accepted, oldest first."""
        rows = session.exec(
            select(Case)
            .join(CaseAssignment, col(CaseAssignment.case_id) == col(Case.id))
            .where(
                CaseAssignment.member_id == member_id,
                accepted_casemanager(),
                col(Case.closed_at).is_(None),
            )
            .order_by(col(Case.opened_at), col(Case.id))
        ).all()
        return [
            MyCase(
                reference=case.reference,
                theme=Theme(case.theme),
                decision=Decision(case.decision) if case.decision else None,
                decided_at=case.decided_at,
                opened_at=case.opened_at,
            )
            for case in rows
        ]

    def casemanager_of(self, session: Session, case_id: int) -> CasemanagerShown | None:
        """The case's current casemanager, else the newest one who declined; None if never."""
        assignment = session.exec(
            select(CaseAssignment)
            .where(
                CaseAssignment.case_id == case_id,
                col(CaseAssignment.state) != AssignmentState.WITHDRAWN.value,
            )
            .order_by(*_current_then_newest(CaseAssignment))
        ).first()
        if assignment is None:
            return None
        member = session.get(Member, assignment.member_id)
        assert member is not None  # noqa: S101 - foreign key
        organisation = session.get(Organisation, member.organisation_id)
        return CasemanagerShown(
            name=self._name(member),
            organisation=organisation.name if organisation else "?",
            state=AssignmentState(assignment.state),
            since=assignment.answered_at or assignment.offered_at,
        )

    def is_casemanager_of(self, session: Session, *, member_id: int, case_id: int) -> bool:
        """Whether the member accepted the case and is still its current casemanager."""
        return (
            session.exec(
                select(CaseAssignment.id).where(
                    CaseAssignment.case_id == case_id,
                    CaseAssignment.member_id == member_id,
                    accepted_casemanager(),
                )
            ).first()
            is not None
        )

    # -- the daily report ----------------------------------------------------------------

    def waiting_for_casemanager(self, session: Session, now: datetime) -> list[WaitingCase]:
        """Open cases needing a casemanager without an accepted one, 2 working days on."""
        shown = self._shown_assignment()
        rows = session.execute(
            columns(
                col(Case.reference),
                col(Case.theme),
                col(Case.opened_at),
                col(Case.decided_at),
                col(Case.procesregie),
                col(CaseAssignment.state),
                col(CaseAssignment.member_id),
            )
            .select_from(Case)
            .outerjoin(CaseAssignment, col(CaseAssignment.id) == shown)
            .where(self._waiting(now))
            .order_by(col(Case.opened_at), col(Case.id))
        ).all()
        waiting: list[WaitingCase] = []
        for reference, theme, opened_at, decided_at, procesregie, state, member_id in rows:
            since = casemanager_wait_start(
                theme=theme, opened_at=opened_at, decided_at=decided_at, procesregie=procesregie
            )
            assert since is not None  # noqa: S101 - selected by _waiting
            waiting.append(
                WaitingCase(
                    reference=reference,
                    theme=Theme(theme),
                    since=since,
                    state=AssignmentState(state) if state else None,
                    member_number=member_id,
                )
            )
        return waiting

    def waiting_for_casemanager_count(
        self, session: Session, now: datetime, themes: Collection[Theme]
    ) -> dict[Theme, int]:
        """How many cases of each of `themes` `waiting_for_casemanager` lists (one GROUP BY)."""
        rows = session.execute(
            columns(col(Case.theme), func.count(col(Case.id)))
            .where(self._waiting(now), col(Case.theme).in_(sorted(t.value for t in themes)))
            .group_by(col(Case.theme))
        ).all()
        return {Theme(theme): count for theme, count in rows}

    def _shown_assignment(self) -> ScalarSelect[int | None]:
        """The id of the assignment a waiting case's line shows (correlated with the outer
        `Case`): its current one (an open offer, or an acceptance by a member who left),
        else its newest declined one; none otherwise. An acceptance that ended when the
        case closed is not shown: a case reopened since has no casemanager."""
        assignment = aliased(CaseAssignment)
        return (
            columns(col(assignment.id))
            .where(
                col(assignment.case_id) == col(Case.id),
                or_(
                    col(assignment.current).is_(True),
                    col(assignment.state) == AssignmentState.DECLINED.value,
                ),
            )
            .order_by(*_current_then_newest(assignment))
            .limit(1)
            .correlate(Case)
            .scalar_subquery()
        )

    def _waiting(self, now: datetime) -> ColumnElement[bool]:
        """The rule of `waiting_for_casemanager`, as a condition on `Case`: open, needing a
        casemanager (bot.domain.decisions.needs_casemanager), waiting since before the
        bound of `casemanager_overdue` (from `casemanager_wait_start`), and without an
        accepted casemanager (`accepted_casemanager`, the digests' and /stand's rule) who
        is an active member.

        The current assignment decides, not the newest: a case closed and reopened by a
        correction keeps its accepted assignment, but not as current (the casemanager's
        access ended), so it waits for a new one."""
        tz = self._settings.tz
        last_day = last_overdue_wait_day(now.astimezone(tz).date())
        bound = datetime.combine(last_day + timedelta(days=1), time(0), tz)
        nazorg = col(Case.theme) == Theme.NAZORG.value
        return and_(
            col(Case.closed_at).is_(None),
            or_(
                and_(nazorg, col(Case.opened_at) < bound),
                and_(
                    ~nazorg,
                    col(Case.procesregie).is_(True),
                    col(Case.decided_at).is_not(None),
                    col(Case.decided_at) < bound,
                ),
            ),
            ~(
                columns(col(CaseAssignment.id))
                .join(Member, col(Member.id) == col(CaseAssignment.member_id))
                .where(
                    col(CaseAssignment.case_id) == col(Case.id),
                    accepted_casemanager(),
                    col(Member.active).is_(True),
                )
                .correlate(Case)
                .exists()
            ),
        )

    def report_unassigned(self, session: Session) -> int:
        """Tell the coordinators, once a (local) day from REPORT_FROM on, which cases wait
        for a casemanager; how many messages were queued (0: nothing to tell, or told)."""
        now = self._clock.now()
        day = report_day(now, self._settings.tz)
        if day is None:
            return 0
        waiting = self.waiting_for_casemanager(session, now)
        if not waiting:
            return 0
        tz = self._settings.tz
        queued = self._memberships.tell_coordinators(
            session,
            key=f"casemanager-report:{day.isoformat()}",
            render=lambda _: unassigned_report(_, waiting, tz),
        )
        if queued:
            self._audit.record(
                session,
                actor="system",
                action="case.unassigned_report",
                subject="cases",
                day=day.isoformat(),
                cases=len(waiting),
            )
        return queued

    # -- inside ------------------------------------------------------------------------

    def _case(self, session: Session, reference: str, *, lock: bool = False) -> Case | None:
        query = select(Case).where(Case.reference == reference)
        if lock:
            query = query.with_for_update()
        return session.exec(query).first()

    def member_entitled(self, session: Session, member_id: int, theme: str) -> bool:
        """Whether the member's organisation works on `theme` (restricted themes: only
        the organisations granted them)."""
        return Theme(theme) in self.member_themes(session, member_id)

    def member_themes(self, session: Session, member_id: int) -> frozenset[Theme]:
        """The themes the member's organisation works on (none for an unknown member)."""
        member = session.get(Member, member_id)
        organisation = session.get(Organisation, member.organisation_id) if member else None
        return parse_themes(organisation.themes) if organisation is not None else frozenset()

    def referral_organisations(self, session: Session, reference: str) -> list[Organisation]:
        """The organisations a case can be referred to (doorgeleid): those that work on
        its theme, by name."""
        case = self._case(session, reference)
        if case is None:
            return []
        return [
            organisation
            for organisation in self._memberships.organisations(session)
            if _entitled(organisation, case.theme)
        ]

    def _ever_accepted(self, session: Session, case_id: int) -> bool:
        """Whether a casemanager ever accepted the case (the assignment may have ended)."""
        accepted = session.exec(
            select(CaseAssignment.id).where(
                CaseAssignment.case_id == case_id,
                # A withdrawn offer that had an answer was accepted: a decline stays declined.
                or_(
                    CaseAssignment.state == AssignmentState.ACCEPTED.value,
                    and_(
                        CaseAssignment.state == AssignmentState.WITHDRAWN.value,
                        col(CaseAssignment.answered_at).is_not(None),
                    ),
                ),
            )
        ).first()
        return accepted is not None

    def _current(self, session: Session, case_id: int) -> CaseAssignment | None:
        return session.exec(
            select(CaseAssignment).where(
                CaseAssignment.case_id == case_id, col(CaseAssignment.current).is_(True)
            )
        ).first()

    def _open_cases(self, session: Session, member_id: int) -> int:
        return int(
            session.exec(
                select(func.count())
                .select_from(CaseAssignment)
                .join(Case, col(Case.id) == col(CaseAssignment.case_id))
                .where(
                    CaseAssignment.member_id == member_id,
                    col(CaseAssignment.current).is_(True),
                    col(Case.closed_at).is_(None),
                )
            ).one()
        )

    def _active_casemanagers(self, session: Session) -> list[Member]:
        return list(MemberRepository().active_with_role(Role.CASEMANAGER.value, session=session))

    def _name(self, member: Member) -> str:
        return self._cipher.decrypt(member.name_ct, context=MEMBER_NAME_CONTEXT)

    def _translator(self, member: Member) -> Translator:
        return translator(member.language or self._settings.locale)

    def _refused(
        self, session: Session, actor: str, subject: str, command: str, reason: str
    ) -> None:
        self._audit.record(
            session, actor=actor, action="case.refused", subject=subject, what=command,
            reason=reason,
        )  # fmt: skip


def _entitled(organisation: Organisation, theme: str) -> bool:
    return Theme(theme) in parse_themes(organisation.themes)


def _erased(session: Session, case: Case) -> bool:
    """Whether retention erased the case's personal data (a melding's, or the person's)."""
    person = session.get(Person, case.person_id)
    if person is not None and person.erased_at is not None:
        return True
    return (
        session.exec(
            select(Melding.id).where(
                Melding.case_id == case.id, col(Melding.erased_at).is_not(None)
            )
        ).first()
        is not None
    )
