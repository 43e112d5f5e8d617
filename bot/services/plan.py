"""The plan of approach and the ZRM: /actie, /plan, /zrm, and the owner's buttons.

/actie REF and /zrm REF are short conversations kept in the `conversation` table
(encrypted: a typed own title may be in it), so one half-way survives a restart
of the bot. Each step bumps the conversation's version; buttons carry the
version they were made for, so a button of an earlier step answers "outdated"
and changes nothing. A member has one conversation at a time: a new command
replaces it, /annuleer leaves it. Postponing an action ([Uitstellen]) is a
conversation of the same kind, and so is changing one ([Wijzig] under /plan:
another owner, or cancel it).

Only the case's casemanager (the current, accepted one) or a coordinator steers
a case's plan. An action's owner is a member, or an organisation whose active
members share it; the owner completes or postpones it with the buttons under
the message about it (bot.domain.plan.action_button_data); the casemanager hears
when it is done. The casemanager or a coordinator may give an open action to
another owner or cancel it: both bump the action's version, so the earlier
owner's buttons are refused, saying what happened. An own title is typed text:
it is checked against the case's person (PII guard), stored encrypted and shown
on the case page only, never in Telegram.

Every change commits with its audit entry, its `action_event` and the messages
it causes (outbox). Refusals change nothing but are audited (`plan.refused`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from bot.clock import Clock
from bot.config import Settings
from bot.domain.identity import Identity
from bot.domain.plan import (
    ACTION_CATALOGUE,
    MAX_TITLE_CHARS,
    ActionState,
    DeadlineProblem,
    PostponeReason,
    QuickDeadline,
    ZrmDomain,
    check_deadline,
    parse_deadline,
    quick_deadline,
    valid_zrm_score,
)
from bot.domain.roles import Role, Theme, parse_roles, parse_themes
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.privacy.pii_guard import PiiGuard
from bot.services import outbox
from bot.services.audit import AuditLog, Detail, member_actor
from bot.services.decisions import accepted_casemanager
from bot.services.members import MAX_MEMBER_NUMBER, MEMBER_NAME_CONTEXT
from bot.services.persons import IdentityErased, PersonVault
from bot.storage.models import (
    Action,
    ActionEvent,
    Case,
    CaseAssignment,
    Conversation,
    Member,
    Organisation,
    ZrmMeasurement,
    ZrmScore,
)
from bot.views.plan import (
    ActionNamed,
    action_keyboard,
    cancelled_notice,
    done_notice,
    new_action_notice,
    postponed_notice,
    reassigned_notice,
)

ACTION_TITLE_CONTEXT = "action.title"
CONVERSATION_CONTEXT = "conversation.state"

DOMAINS: tuple[ZrmDomain, ...] = tuple(ZrmDomain)
# The owner choices are shown this many to a page (with « / » to turn it): a list
# that fits a phone's screen, however many members take part in a theme.
OWNER_PAGE_SIZE = 8


def owner_pages(choices: int) -> int:
    """How many pages `choices` owner choices take (at least one)."""
    return max(1, -(-choices // OWNER_PAGE_SIZE))


class Kind(StrEnum):
    """What a member's conversation is about."""

    IDLE = "idle"  # none: finished, left, or emptied by retention
    ACTIE = "actie"
    ZRM = "zrm"
    POSTPONE = "postpone"
    CHANGE = "change"  # another owner for an action, or cancel it


class Step(StrEnum):
    DOMAIN = "domain"
    ACTION = "action"
    TITLE = "title"  # typed: an own title
    OWNER = "owner"
    DEADLINE = "deadline"  # typed or buttons
    SCORE = "score"  # /zrm: one domain after the other
    NEW_DATE = "new_date"  # postponing: typed or buttons
    REASON = "reason"  # postponing
    CHANGE = "change"  # changing an action: another owner, or cancel it?
    CONFIRM = "confirm"  # changing an action: cancel it, sure?


# The steps that take typed text.
TYPED_STEPS = frozenset({Step.TITLE, Step.DEADLINE, Step.NEW_DATE})


class Problem(StrEnum):
    """Why a command, press or typed answer changed nothing."""

    NO_CASE = "no_case"
    CLOSED = "closed"
    NOT_CASEMANAGER = "not_casemanager"
    OUTDATED = "outdated"  # a button of an earlier step or conversation
    USE_BUTTONS = "use_buttons"  # text typed where a button is asked
    FORGED = "forged"  # a choice that was never offered
    TITLE_EMPTY = "title_empty"
    TITLE_TOO_LONG = "title_too_long"
    TITLE_PERSONAL = "title_personal"  # holds the person's name or birth date
    OWNER_INACTIVE = "owner_inactive"
    DATE_UNREADABLE = "date_unreadable"
    DATE_PAST = "date_past"
    DATE_TOO_FAR = "date_too_far"
    DATE_NOT_LATER = "date_not_later"  # postponing to the deadline it has, or before it
    SCORE_INVALID = "score_invalid"
    SAME_OWNER = "same_owner"  # reassigned to whom owns it already
    ACTION_DONE = "action_done"  # changing an action done meanwhile
    ACTION_CANCELLED = "action_cancelled"  # changing (cancelling) a cancelled action
    ACTION_CHANGED = "action_changed"  # changing an action changed meanwhile
    REASSIGNED = "reassigned"  # postponing an action given to another owner meanwhile


class Change(StrEnum):
    """What changing an action did (the menu's choices are `o` and `x`)."""

    REASSIGNED = "o"
    CANCELLED = "x"


_DEADLINE_PROBLEMS = {
    DeadlineProblem.UNREADABLE: Problem.DATE_UNREADABLE,
    DeadlineProblem.PAST: Problem.DATE_PAST,
    DeadlineProblem.TOO_FAR: Problem.DATE_TOO_FAR,
}


@dataclass(frozen=True)
class OwnerChoice:
    """A possible owner of an action: a member (`m`) or an organisation (`o`)."""

    kind: str  # "m" or "o"
    id: int
    name: str
    organisation: str | None = None  # a member's organisation

    @property
    def code(self) -> str:
        return f"{self.kind}{self.id}"


@dataclass(frozen=True)
class Turn:
    """Where a conversation stands after a command, a press or a typed answer.

    `step` is what to ask next (None: the conversation ended); `problem` why the
    last input changed nothing; `stored` the action stored or postponed.
    """

    kind: Kind
    step: Step | None = None
    version: int = 0
    reference: str | None = None
    problem: Problem | None = None
    domain: ZrmDomain | None = None
    owners: tuple[OwnerChoice, ...] = ()
    stored: ActionNamed | None = None
    deadline: date | None = None
    owner: OwnerChoice | None = None
    zrm_index: int = 0  # SCORE: the domain asked (0..10)
    zrm_scores: tuple[int, ...] = ()  # the ZRM stored at the end
    reason: PostponeReason | None = None
    page: int = 0  # OWNER: the page of `owners` shown (from 0)
    changed: Change | None = None  # a change of an action, done


class ActionOutcome(StrEnum):
    DONE = "done"
    ALREADY_DONE = "already_done"
    OUTDATED = "outdated"  # changed since the message (postponed, reassigned, ...)
    CANCELLED = "cancelled"  # cancelled by the casemanager or a coordinator
    REASSIGNED = "reassigned"  # given to another owner: no longer the presser's
    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    CLOSED = "closed"


# Why a postponement under way ended: the action changed meanwhile (see `_pressed`).
_POSTPONE_ENDED = {
    ActionOutcome.ALREADY_DONE: Problem.ACTION_DONE,
    ActionOutcome.CANCELLED: Problem.ACTION_CANCELLED,
    ActionOutcome.REASSIGNED: Problem.REASSIGNED,
    ActionOutcome.CLOSED: Problem.CLOSED,
    ActionOutcome.OUTDATED: Problem.ACTION_CHANGED,
}


@dataclass(frozen=True)
class ActionAnswered:
    outcome: ActionOutcome
    reference: str | None = None
    action: ActionNamed | None = None


@dataclass(frozen=True)
class PlanAction:
    """One action as /plan shows it (no own title: that is for the case page)."""

    named: ActionNamed
    owner_member: str | None
    owner_organisation: str | None
    deadline: date
    state: ActionState


@dataclass(frozen=True)
class ZrmSummary:
    measurements: int
    last_at: datetime | None = None
    last: dict[ZrmDomain, int] = field(default_factory=dict)
    # The change of each domain since the first measurement (with two or more).
    change: dict[ZrmDomain, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanShown:
    problem: Problem | None
    reference: str | None = None
    actions: tuple[PlanAction, ...] = ()
    zrm: ZrmSummary = field(default_factory=lambda: ZrmSummary(0))
    closed: bool = False  # a closed case's plan is shown, but no longer changed


@dataclass(frozen=True)
class ActionEventShown:
    kind: str
    at: datetime
    old_deadline: date | None
    new_deadline: date | None
    reason: PostponeReason | None
    # The owner before (a reassignment) and after (created, reassigned): a member's or
    # an organisation's name, for the case page.
    old_owner: str | None = None
    new_owner: str | None = None


@dataclass(frozen=True)
class PageAction:
    """An action on the case page: its own title decrypted (None: catalogue or erased)."""

    plan: PlanAction
    title: str | None = field(repr=False)
    events: tuple[ActionEventShown, ...]


@dataclass(frozen=True)
class ZrmShown:
    measured_at: datetime
    scores: dict[ZrmDomain, int]


@dataclass(frozen=True)
class PagePlan:
    actions: tuple[PageAction, ...] = ()
    measurements: tuple[ZrmShown, ...] = ()


class PlanOfApproach:
    def __init__(
        self,
        *,
        settings: Settings,
        cipher: FieldCipher,
        audit: AuditLog,
        clock: Clock,
        vault: PersonVault,
    ) -> None:
        self._settings = settings
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self._vault = vault

    # -- starting ------------------------------------------------------------------------

    def start_action(self, session: Session, *, member_id: int, reference: str) -> Turn:
        """/actie REF: start (or restart) a new action's conversation: the domain first."""
        case, problem = self._steerable(session, member_id, reference, "actie")
        if case is None or case.id is None:
            return Turn(Kind.ACTIE, problem=problem)
        conversation = self._save(
            session, member_id, Kind.ACTIE, Step.DOMAIN, {"case": case.id}, case.id
        )
        return Turn(Kind.ACTIE, Step.DOMAIN, conversation.version, case.reference)

    def start_zrm(self, session: Session, *, member_id: int, reference: str) -> Turn:
        """/zrm REF: start a ZRM measurement: a score per domain, one after the other."""
        case, problem = self._steerable(session, member_id, reference, "zrm")
        if case is None or case.id is None:
            return Turn(Kind.ZRM, problem=problem)
        conversation = self._save(
            session, member_id, Kind.ZRM, Step.SCORE, {"case": case.id, "scores": []}, case.id
        )
        return Turn(Kind.ZRM, Step.SCORE, conversation.version, case.reference, zrm_index=0)

    def cancel(self, session: Session, *, member_id: int) -> bool:
        """/annuleer: leave the conversation; False when there was none."""
        conversation = self._conversation(session, member_id)
        if conversation is None:
            return False
        self._end(session, conversation)
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="plan.conversation_left",
            subject=f"member:{member_id}",
            kind=conversation.kind,
        )
        return True

    # -- answers: buttons and typed text ---------------------------------------------------

    def press(
        self, session: Session, *, member_id: int, kind: Kind, version: int, code: str, value: str
    ) -> Turn:
        """A button of a conversation: `<prefix>:<version>:<code>:<value>`.

        A button of an earlier step, of another kind of conversation or of one that
        ended answers OUTDATED; a choice that was never offered answers FORGED.
        """
        conversation = self._conversation(session, member_id)
        if conversation is None or conversation.kind != kind or conversation.version != version:
            return self._refuse(session, member_id, kind, Problem.OUTDATED)
        return self._answer(session, member_id, conversation, code=code, value=value, text=None)

    def typed(self, session: Session, *, member_id: int, text: str) -> Turn | None:
        """Text typed in a private chat: the answer to a typed step; None without a
        conversation (the text is not for us)."""
        conversation = self._conversation(session, member_id)
        if conversation is None:
            return None
        return self._answer(session, member_id, conversation, code=None, value=None, text=text)

    def _answer(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        *,
        code: str | None,
        value: str | None,
        text: str | None,
    ) -> Turn:
        kind, step = Kind(conversation.kind), Step(conversation.step)
        state = self._state(conversation)
        if text is not None and step not in TYPED_STEPS:
            return self._again(conversation, state, Problem.USE_BUTTONS)
        if kind is Kind.POSTPONE:
            return self._postpone_step(session, member_id, conversation, state, code, value, text)
        case = session.get(Case, state["case"], with_for_update=True)
        assert case is not None  # noqa: S101 - foreign key
        problem = self._steer_problem(session, member_id, case)
        if problem is not None:
            self._end(session, conversation)
            return self._refuse(session, member_id, kind, problem)
        if kind is Kind.ZRM:
            return self._zrm_step(session, member_id, conversation, state, case, code, value)
        if kind is Kind.CHANGE:
            return self._change_step(session, member_id, conversation, state, case, code, value)
        return self._action_step(session, member_id, conversation, state, case, code, value, text)

    # -- /actie --------------------------------------------------------------------------

    def _action_step(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        case: Case,
        code: str | None,
        value: str | None,
        text: str | None,
    ) -> Turn:
        step = Step(conversation.step)
        today = self._today()
        if step is Step.DOMAIN:
            domain = _domain_at(value) if code == "d" else None
            if domain is None:
                return self._forged(session, member_id, conversation, state)
            state["domain"] = domain.value
            return self._next(session, conversation, state, Step.ACTION)
        if step is Step.ACTION:
            domain = ZrmDomain(state["domain"])
            codes = {entry.code for entry in ACTION_CATALOGUE[domain]}
            if code != "a" or (value != "own" and value not in codes):
                return self._forged(session, member_id, conversation, state)
            if value == "own":
                return self._next(session, conversation, state, Step.TITLE)
            state["code"] = value
            return self._next(session, conversation, state, Step.OWNER, case=case)
        if step is Step.TITLE:
            if text is None:  # a button forged onto the typed step
                return self._forged(session, member_id, conversation, state)
            title = " ".join(text.split())
            problem = self._title_problem(session, member_id, case, title)
            if problem is not None:
                return self._refused_turn(session, member_id, conversation, state, problem)
            state["title"] = title
            return self._next(session, conversation, state, Step.OWNER, case=case)
        if step is Step.OWNER:
            if code == "g":
                return self._owner_page(session, member_id, conversation, state, case, value)
            chosen, problem = (
                self._owner(session, case, value[:1], value[1:])
                if code == "o" and value
                else (None, Problem.FORGED)
            )
            if chosen is None:
                if problem is Problem.OWNER_INACTIVE:
                    return self._refused_turn(
                        session, member_id, conversation, state, problem, case=case
                    )
                return self._forged(session, member_id, conversation, state, case=case)
            state["owner"] = chosen.code
            return self._next(session, conversation, state, Step.DEADLINE)
        # Step.DEADLINE
        deadline = self._date_answer(code, value, text, today)
        if isinstance(deadline, Problem):
            if deadline is Problem.FORGED:
                return self._forged(session, member_id, conversation, state)
            return self._refused_turn(session, member_id, conversation, state, deadline)
        owner, problem = self._owner(session, case, state["owner"][0], state["owner"][1:])
        if owner is None:  # deactivated since it was chosen: choose again
            state.pop("owner", None)
            turn = self._next(session, conversation, state, Step.OWNER, case=case)
            return _with_problem(turn, problem or Problem.OWNER_INACTIVE)
        return self._store_action(session, member_id, conversation, state, case, owner, deadline)

    def _store_action(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        case: Case,
        owner: OwnerChoice,
        deadline: date,
    ) -> Turn:
        assert case.id is not None  # noqa: S101 - stored rows have ids
        now = self._clock.now()
        highest = session.exec(select(func.max(Action.number)).where(Action.case_id == case.id))
        number = (highest.one() or 0) + 1
        title = state.get("title")
        action = Action(
            case_id=case.id,
            number=number,
            domain=state["domain"],
            catalogue_code=state.get("code"),
            title_ct=self._cipher.encrypt(title, context=ACTION_TITLE_CONTEXT) if title else None,
            owner_member_id=owner.id if owner.kind == "m" else None,
            owner_organisation_id=owner.id if owner.kind == "o" else None,
            deadline=deadline,
            state=ActionState.OPEN.value,
            version=1,
            created_at=now,
            created_by=member_id,
        )
        session.add(action)
        session.flush()
        assert action.id is not None  # noqa: S101 - flushed
        session.add(
            ActionEvent(
                action_id=action.id,
                case_id=case.id,
                kind="created",
                at=now,
                member_id=member_id,
                new_deadline=deadline,
                new_owner_member_id=action.owner_member_id,
                new_owner_organisation_id=action.owner_organisation_id,
            )
        )
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="action.create",
            subject=f"action:{action.id}",
            case=case.id,
            domain=action.domain,
            catalogue=action.catalogue_code,
            own_title=title is not None,
            owner_member=action.owner_member_id,
            owner_organisation=action.owner_organisation_id,
            deadline=deadline.isoformat(),
        )
        named = _named(action, case)
        self._tell_new_owners(session, action, named, f"action-new:{action.id}")
        self._end(session, conversation)
        return Turn(
            Kind.ACTIE,
            None,
            conversation.version,
            case.reference,
            stored=named,
            deadline=deadline,
            owner=owner,
        )

    def _title_problem(
        self, session: Session, member_id: int, case: Case, title: str
    ) -> Problem | None:
        if not title:
            return Problem.TITLE_EMPTY
        if len(title) > MAX_TITLE_CHARS:
            return Problem.TITLE_TOO_LONG
        try:
            identity: Identity | None = self._vault.reveal(
                session,
                case.person_id,
                actor=member_actor(member_id),
                purpose="own action title check",
            )
        except IdentityErased:
            identity = None
        if identity is not None:
            guard = PiiGuard([identity], allowed_words=self._settings.municipalities)
            if guard.scan(title):
                return Problem.TITLE_PERSONAL
        return None

    def owner_choices(
        self, session: Session, case: Case, *, leave_out: str | None = None
    ) -> tuple[OwnerChoice, ...]:
        """Who may own an action of the case: its casemanager, the active members of the
        organisations taking part in its theme, and those organisations; all of them
        (the buttons show them a page at a time), but `leave_out` (an owner's code)."""
        assert case.id is not None  # noqa: S101 - stored rows have ids
        members: list[OwnerChoice] = []
        casemanager = self._casemanager(session, case.id)
        seen: set[int] = set()
        if casemanager is not None and casemanager.active:
            members.append(self._member_choice(session, casemanager))
            seen.add(casemanager.id or 0)
        organisations = [
            o
            for o in session.exec(select(Organisation).order_by(col(Organisation.id))).all()
            if _entitled(o, case.theme)
        ]
        entitled = {o.id for o in organisations}
        rows = session.exec(
            select(Member)
            .where(col(Member.active).is_(True), col(Member.organisation_id).in_(entitled))
            .order_by(col(Member.id))
        ).all()
        names = {o.id: o.name for o in organisations}
        for member in rows:
            if member.id not in seen:
                members.append(
                    OwnerChoice(
                        "m", member.id or 0, self._name(member), names[member.organisation_id]
                    )
                )
        choices = (*members, *(OwnerChoice("o", o.id or 0, o.name) for o in organisations))
        return tuple(choice for choice in choices if choice.code != leave_out)

    def _owner_page(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        case: Case,
        value: str | None,
    ) -> Turn:
        """« / » under the owner choices: another page of them (the step stays, and so
        does its version: every page's buttons count)."""
        turn = self._turn(session, conversation, state, case=case)
        page = int(value) if value and value.isdigit() and len(value) < 4 else -1
        if not 0 <= page < owner_pages(len(turn.owners)):
            return self._forged(session, member_id, conversation, state, case=case)
        return Turn(**{**turn.__dict__, "page": page})

    def _owner(
        self, session: Session, case: Case, kind: str | None, value: str | None
    ) -> tuple[OwnerChoice | None, Problem | None]:
        """The owner a button names, when it may own an action of the case."""
        if kind not in ("m", "o") or value is None or not value.isdigit() or len(value) > 9:
            return None, Problem.FORGED
        ident = int(value)
        if kind == "o":
            organisation = session.get(Organisation, ident)
            if organisation is None or not _entitled(organisation, case.theme):
                return None, Problem.FORGED
            return OwnerChoice("o", ident, organisation.name), None
        member = session.get(Member, ident) if 0 < ident <= MAX_MEMBER_NUMBER else None
        if member is None or member.id is None:
            return None, Problem.FORGED
        organisation = session.get(Organisation, member.organisation_id)
        casemanager = self._casemanager(session, case.id or 0)
        may = (organisation is not None and _entitled(organisation, case.theme)) or (
            casemanager is not None and casemanager.id == member.id
        )
        if not may:
            return None, Problem.FORGED
        if not member.active:
            return None, Problem.OWNER_INACTIVE
        return self._member_choice(session, member), None

    def _member_choice(self, session: Session, member: Member) -> OwnerChoice:
        organisation = session.get(Organisation, member.organisation_id)
        return OwnerChoice(
            "m", member.id or 0, self._name(member), organisation.name if organisation else "?"
        )

    def _tell_new_owners(
        self, session: Session, action: Action, named: ActionNamed, key: str
    ) -> set[int]:
        """The new-action notice, with [Afgerond] [Uitstellen] of the action's version, to
        its owner (every active member of an owning organisation). Returns whom it told."""
        assert action.id is not None  # noqa: S101 - stored rows have ids
        now, told = self._clock.now(), set()
        for recipient in self._owners_to_tell(session, action):
            assert recipient.id is not None  # noqa: S101 - stored rows have ids
            _ = self._translator(recipient)
            outbox.enqueue(
                session,
                key=f"{key}:{recipient.id}",
                chat_id=recipient.telegram_id,
                text=new_action_notice(_, named, action.deadline),
                reply_markup=action_keyboard(_, action.id, action.version),
                now=now,
                new_key=True,
            )
            told.add(recipient.id)
        return told

    def _owners_to_tell(self, session: Session, action: Action) -> list[Member]:
        if action.owner_member_id is not None:
            member = session.get(Member, action.owner_member_id)
            return [member] if member is not None and member.active else []
        return list(
            session.exec(
                select(Member)
                .where(
                    Member.organisation_id == action.owner_organisation_id,
                    col(Member.active).is_(True),
                )
                .order_by(col(Member.id))
            ).all()
        )

    # -- /zrm ------------------------------------------------------------------------------

    def _zrm_step(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        case: Case,
        code: str | None,
        value: str | None,
    ) -> Turn:
        score = int(value) if code == "s" and value and value.isdigit() and len(value) < 3 else 0
        if not valid_zrm_score(score):
            self._refused(session, member_id, "zrm", Problem.SCORE_INVALID)
            return self._again(conversation, state, Problem.SCORE_INVALID)
        scores: list[int] = [*state["scores"], score]
        state["scores"] = scores
        if len(scores) < len(DOMAINS):
            return self._next(session, conversation, state, Step.SCORE)
        assert case.id is not None  # noqa: S101 - stored rows have ids
        now = self._clock.now()
        measurement = ZrmMeasurement(case_id=case.id, measured_at=now, member_id=member_id)
        session.add(measurement)
        session.flush()
        assert measurement.id is not None  # noqa: S101 - flushed
        for domain, given in zip(DOMAINS, scores, strict=True):
            session.add(ZrmScore(measurement_id=measurement.id, domain=domain.value, score=given))
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="zrm.record",
            subject=f"zrm:{measurement.id}",
            case=case.id,
        )
        self._end(session, conversation)
        return Turn(Kind.ZRM, None, conversation.version, case.reference, zrm_scores=tuple(scores))

    # -- the owner's buttons ----------------------------------------------------------------

    def _record_change(
        self,
        session: Session,
        action: Action,
        member_id: int,
        kind: str,
        audited_as: str,
        now: datetime,
        *,
        event: dict[str, Any] | None = None,
        **audited: Detail,
    ) -> ActionEvent:
        """One change of a stored action, in the caller's transaction: a new version (the
        buttons of earlier messages are outdated), its history event, its audit entry."""
        assert action.id is not None  # noqa: S101 - stored rows have ids
        action.version += 1
        session.add(action)
        recorded = ActionEvent(
            action_id=action.id,
            case_id=action.case_id,
            kind=kind,
            at=now,
            member_id=member_id,
            **(event or {}),
        )
        session.add(recorded)
        session.flush()
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action=audited_as,
            subject=f"action:{action.id}",
            case=action.case_id,
            **audited,
        )
        return recorded

    def complete(
        self, session: Session, *, member_id: int, action_id: int, version: int
    ) -> ActionAnswered:
        """[Afgerond]: mark the action done; the case's casemanager is told (unless they
        pressed it). A second press answers ALREADY_DONE."""
        action, case, refused = self._pressed(session, member_id, action_id, version)
        if refused is not None or action is None or case is None:
            return refused or ActionAnswered(ActionOutcome.UNKNOWN)
        assert action.id is not None  # noqa: S101 - stored rows have ids
        now = self._clock.now()
        action.state = ActionState.DONE.value
        action.done_at, action.done_by = now, member_id
        self._record_change(session, action, member_id, "done", "action.done", now)
        named = _named(action, case)
        casemanager = self._casemanager(session, action.case_id)
        if casemanager is not None and casemanager.active and casemanager.id != member_id:
            _ = self._translator(casemanager)
            outbox.enqueue(
                session,
                key=f"action-done:{action.id}",  # done once: the action is never reopened
                chat_id=casemanager.telegram_id,
                text=done_notice(_, named, by=member_id),
                now=now,
                new_key=True,
            )
        return ActionAnswered(ActionOutcome.DONE, case.reference, named)

    def start_postpone(
        self, session: Session, *, member_id: int, action_id: int, version: int
    ) -> Turn | ActionAnswered:
        """[Uitstellen]: ask the new date (then the reason); a refusal as for [Afgerond]."""
        action, case, refused = self._pressed(session, member_id, action_id, version)
        if refused is not None or action is None or case is None:
            return refused or ActionAnswered(ActionOutcome.UNKNOWN)
        conversation = self._save(
            session,
            member_id,
            Kind.POSTPONE,
            Step.NEW_DATE,
            {"action": action.id, "version": action.version},
            case.id,
        )
        return Turn(
            Kind.POSTPONE,
            Step.NEW_DATE,
            conversation.version,
            case.reference,
            stored=_named(action, case),
            deadline=action.deadline,
        )

    def _postpone_step(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        code: str | None,
        value: str | None,
        text: str | None,
    ) -> Turn:
        action, case, refused = self._pressed(session, member_id, state["action"], state["version"])
        if refused is not None or action is None or case is None:
            # The action changed while this was asked: say what happened to it.
            self._end(session, conversation)
            outcome = refused.outcome if refused is not None else ActionOutcome.UNKNOWN
            return Turn(Kind.POSTPONE, problem=_POSTPONE_ENDED.get(outcome, Problem.OUTDATED))
        named = _named(action, case)
        if Step(conversation.step) is Step.NEW_DATE:
            # The buttons (+1 week, ...) count from the deadline it has (today when past).
            today = self._today()
            new_date = self._date_answer(code, value, text, today, base=max(today, action.deadline))
            if isinstance(new_date, date) and new_date <= action.deadline:
                new_date = Problem.DATE_NOT_LATER
            if isinstance(new_date, Problem):
                if new_date is Problem.FORGED:
                    return self._forged(session, member_id, conversation, state)
                return self._refused_turn(session, member_id, conversation, state, new_date)
            state["date"] = new_date.isoformat()
            turn = self._next(session, conversation, state, Step.REASON)
            return _with_named(turn, named, new_date)
        try:
            reason = PostponeReason(value or "") if code == "r" else None
        except ValueError:
            reason = None
        if reason is None:
            return self._forged(session, member_id, conversation, state)
        assert action.id is not None  # noqa: S101 - stored rows have ids
        now = self._clock.now()
        old, new = action.deadline, date.fromisoformat(state["date"])
        action.deadline = new
        event = self._record_change(
            session, action, member_id, "postponed", "action.postpone", now,
            event={"old_deadline": old, "new_deadline": new, "reason": reason.value},
            old=old.isoformat(), new=new.isoformat(), reason=reason.value,
        )  # fmt: skip
        casemanager = self._casemanager(session, action.case_id)
        if casemanager is not None and casemanager.active and casemanager.id != member_id:
            _ = self._translator(casemanager)
            outbox.enqueue(
                session,
                key=f"action-postponed:{event.id}",
                chat_id=casemanager.telegram_id,
                text=postponed_notice(_, named, old=old, new=new, reason=reason, by=member_id),
                now=now,
                new_key=True,
            )
        self._end(session, conversation)
        return Turn(
            Kind.POSTPONE,
            None,
            action.version,
            case.reference,
            stored=named,
            deadline=new,
            reason=reason,
        )

    # -- changing an action: another owner, or cancel it ------------------------------------

    def start_change(
        self, session: Session, *, member_id: int, action_id: int, version: int
    ) -> Turn:
        """[Wijzig] under /plan: ask what changes (another owner, or cancel it).

        The case's casemanager or a coordinator, of an open action of an open case, as
        /plan showed it (`version`); anything else is refused with its problem.
        """
        action = (
            session.get(Action, action_id, with_for_update=True)
            if 0 < action_id <= MAX_MEMBER_NUMBER
            else None
        )
        if action is None:
            return self._refuse(session, member_id, Kind.CHANGE, Problem.FORGED)
        case = session.get(Case, action.case_id)
        assert case is not None  # noqa: S101 - foreign key
        problem = self._steer_problem(session, member_id, case) or _change_problem(action, version)
        if problem is not None:
            return self._refuse(session, member_id, Kind.CHANGE, problem)
        conversation = self._save(
            session,
            member_id,
            Kind.CHANGE,
            Step.CHANGE,
            {"case": case.id, "action": action.id, "version": action.version},
            case.id,
        )
        return self._turn(session, conversation, self._state(conversation), case=case)

    def _change_step(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        case: Case,
        code: str | None,
        value: str | None,
    ) -> Turn:
        """A step of changing an action; the action is checked again at every step (done,
        cancelled or changed meanwhile: the conversation ends, saying so)."""
        action = session.get(Action, state["action"], with_for_update=True)
        assert action is not None  # noqa: S101 - foreign key
        problem = _change_problem(action, state["version"])
        if problem is not None:
            self._end(session, conversation)
            return self._refuse(session, member_id, Kind.CHANGE, problem)
        step = Step(conversation.step)
        if step is Step.CHANGE:
            if code == "c" and value == Change.REASSIGNED.value:
                return self._next(session, conversation, state, Step.OWNER, case=case)
            if code == "c" and value == Change.CANCELLED.value:
                return self._next(session, conversation, state, Step.CONFIRM, case=case)
            return self._forged(session, member_id, conversation, state, case=case)
        if step is Step.CONFIRM:
            if code == "x" and value == "y":
                return self._cancel_action(session, member_id, conversation, case, action)
            if code == "x" and value == "n":
                self._end(session, conversation)
                return Turn(Kind.CHANGE, None, conversation.version, case.reference)
            return self._forged(session, member_id, conversation, state, case=case)
        # Step.OWNER
        if code == "g":
            return self._owner_page(session, member_id, conversation, state, case, value)
        chosen, problem = (
            self._owner(session, case, value[:1], value[1:])
            if code == "o" and value
            else (None, Problem.FORGED)
        )
        if chosen is not None and chosen.code == _owner_code(action):
            chosen, problem = None, Problem.SAME_OWNER
        if chosen is None:
            if problem in (Problem.OWNER_INACTIVE, Problem.SAME_OWNER):
                assert problem is not None  # noqa: S101 - just tested
                return self._refused_turn(
                    session, member_id, conversation, state, problem, case=case
                )
            return self._forged(session, member_id, conversation, state, case=case)
        return self._reassign(session, member_id, conversation, case, action, chosen)

    def _reassign(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        case: Case,
        action: Action,
        owner: OwnerChoice,
    ) -> Turn:
        """Give the action to `owner`: the new owner gets the new-action notice (buttons of
        the new version), the earlier owner a short word that it is no longer theirs."""
        assert action.id is not None  # noqa: S101 - stored rows have ids
        now = self._clock.now()
        earlier = self._owners_to_tell(session, action)
        old_member, old_organisation = action.owner_member_id, action.owner_organisation_id
        action.owner_member_id = owner.id if owner.kind == "m" else None
        action.owner_organisation_id = owner.id if owner.kind == "o" else None
        event = self._record_change(
            session, action, member_id, "reassigned", "action.reassign", now,
            event={
                "old_owner_member_id": old_member,
                "old_owner_organisation_id": old_organisation,
                "new_owner_member_id": action.owner_member_id,
                "new_owner_organisation_id": action.owner_organisation_id,
            },
            old_owner_member=old_member, old_owner_organisation=old_organisation,
            owner_member=action.owner_member_id, owner_organisation=action.owner_organisation_id,
        )  # fmt: skip
        named = _named(action, case)
        told = self._tell_new_owners(session, action, named, f"action-owner:{event.id}")
        # Whoever made the change, or owns it still (an organisation's member who now
        # owns it in person), needs no word that it is no longer theirs.
        for recipient in earlier:
            if recipient.id in told or recipient.id == member_id:
                continue
            _ = self._translator(recipient)
            outbox.enqueue(
                session,
                key=f"action-moved:{event.id}:{recipient.id}",
                chat_id=recipient.telegram_id,
                text=reassigned_notice(_, named),
                now=now,
                new_key=True,
            )
        self._end(session, conversation)
        return Turn(
            Kind.CHANGE,
            None,
            conversation.version,
            case.reference,
            stored=named,
            deadline=action.deadline,
            owner=owner,
            changed=Change.REASSIGNED,
        )

    def _cancel_action(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        case: Case,
        action: Action,
    ) -> Turn:
        """Cancel the action: out of /plan's open actions, the reminders and escalation;
        its owner is told (their buttons answer that it was cancelled)."""
        assert action.id is not None  # noqa: S101 - stored rows have ids
        now = self._clock.now()
        action.state = ActionState.CANCELLED.value
        event = self._record_change(session, action, member_id, "cancelled", "action.cancel", now)
        named = _named(action, case)
        for recipient in self._owners_to_tell(session, action):
            if recipient.id == member_id:
                continue
            _ = self._translator(recipient)
            outbox.enqueue(
                session,
                key=f"action-cancelled:{event.id}:{recipient.id}",
                chat_id=recipient.telegram_id,
                text=cancelled_notice(_, named),
                now=now,
                new_key=True,
            )
        self._end(session, conversation)
        return Turn(
            Kind.CHANGE,
            None,
            conversation.version,
            case.reference,
            stored=named,
            deadline=action.deadline,
            changed=Change.CANCELLED,
        )

    def _current_owner(self, session: Session, action: Action) -> OwnerChoice | None:
        if action.owner_member_id is not None:
            member = session.get(Member, action.owner_member_id)
            return self._member_choice(session, member) if member is not None else None
        if action.owner_organisation_id is not None:
            organisation = session.get(Organisation, action.owner_organisation_id)
            if organisation is not None:
                return OwnerChoice("o", organisation.id or 0, organisation.name)
        return None

    def _pressed(
        self, session: Session, member_id: int, action_id: int, version: int
    ) -> tuple[Action | None, Case | None, ActionAnswered | None]:
        """The action a button names when it may still be answered, or the refusal."""
        action = (
            session.get(Action, action_id, with_for_update=True)
            if 0 < action_id <= MAX_MEMBER_NUMBER
            else None
        )
        if action is None:
            self._refused(session, member_id, "action", Problem.FORGED)
            return None, None, ActionAnswered(ActionOutcome.UNKNOWN)
        case = session.get(Case, action.case_id)
        assert case is not None  # noqa: S101 - foreign key
        named = _named(action, case)
        outcome: ActionOutcome | None = None
        if not self._may_answer(session, member_id, action, case):
            outcome = (
                ActionOutcome.REASSIGNED
                if self._owned_before(session, member_id, action)
                else ActionOutcome.NOT_YOURS
            )
        elif case.closed_at is not None:
            outcome = ActionOutcome.CLOSED
        elif action.state == ActionState.DONE.value:
            outcome = ActionOutcome.ALREADY_DONE
        elif action.state == ActionState.CANCELLED.value:
            outcome = ActionOutcome.CANCELLED
        elif action.state != ActionState.OPEN.value or action.version != version:
            outcome = ActionOutcome.OUTDATED
        if outcome is not None:
            self._audit.record(
                session,
                actor=member_actor(member_id),
                action="plan.refused",
                subject=f"action:{action.id}",
                what="action",
                reason=outcome.value,
            )
            return action, case, ActionAnswered(outcome, case.reference, named)
        return action, case, None

    def _owned_before(self, session: Session, member_id: int, action: Action) -> bool:
        """Whether the action was the member's (or their organisation's) before it was
        given to another owner: their buttons then say so, rather than "not yours"."""
        member = session.get(Member, member_id)
        if member is None:
            return False
        return (
            session.exec(
                select(ActionEvent.id).where(
                    ActionEvent.action_id == action.id,
                    ActionEvent.kind == "reassigned",
                    or_(
                        col(ActionEvent.old_owner_member_id) == member_id,
                        col(ActionEvent.old_owner_organisation_id) == member.organisation_id,
                    ),
                )
            ).first()
            is not None
        )

    def _may_answer(self, session: Session, member_id: int, action: Action, case: Case) -> bool:
        member = session.get(Member, member_id)
        if member is None or not member.active:
            return False
        if action.owner_member_id == member_id:
            return True
        if action.owner_organisation_id == member.organisation_id:
            return True
        if Role.COORDINATOR in parse_roles(member.roles):
            return True
        return self._is_casemanager(session, member_id, case.id or 0)

    # -- /plan and the case page ------------------------------------------------------------

    def plan_of(self, session: Session, *, member_id: int, reference: str) -> PlanShown:
        """/plan REF: the actions per domain with owner, deadline and state; the ZRM."""
        case, problem = self._steerable(session, member_id, reference, "plan", open_only=False)
        if case is None or case.id is None:
            return PlanShown(problem)
        actions = tuple(self._plan_action(session, a, case) for a in self._actions(session, case))
        return PlanShown(
            None,
            case.reference,
            actions,
            self._zrm_summary(session, case.id),
            closed=case.closed_at is not None,
        )

    def page_plan(self, session: Session, *, case_id: int, member_id: int) -> PagePlan:
        """The case page's plan: own titles decrypted (an audited read), history, ZRM."""
        case = session.get(Case, case_id)
        assert case is not None  # noqa: S101 - the page checked it
        actions = self._actions(session, case)
        shown: list[PageAction] = []
        titles = 0
        owners = _OwnerNames(session, self._name)
        for action in actions:
            title = None
            if action.title_ct is not None:
                title = self._cipher.decrypt(action.title_ct, context=ACTION_TITLE_CONTEXT)
                titles += 1
            events = session.exec(
                select(ActionEvent)
                .where(ActionEvent.action_id == action.id)
                .order_by(col(ActionEvent.at), col(ActionEvent.id))
            ).all()
            shown.append(
                PageAction(
                    self._plan_action(session, action, case),
                    title,
                    tuple(
                        ActionEventShown(
                            e.kind,
                            e.at,
                            e.old_deadline,
                            e.new_deadline,
                            PostponeReason(e.reason) if e.reason else None,
                            old_owner=owners.name(
                                e.old_owner_member_id, e.old_owner_organisation_id
                            ),
                            new_owner=owners.name(
                                e.new_owner_member_id, e.new_owner_organisation_id
                            ),
                        )
                        for e in events
                    ),
                )
            )
        if titles:
            self._audit.record(
                session,
                actor=member_actor(member_id),
                action="action.titles_read",
                subject=f"case:{case_id}",
                count=titles,
            )
        return PagePlan(tuple(shown), tuple(self._measurements(session, case_id)))

    def _actions(self, session: Session, case: Case) -> list[Action]:
        rows = session.exec(
            select(Action).where(Action.case_id == case.id).order_by(col(Action.number))
        ).all()
        order = {domain.value: index for index, domain in enumerate(DOMAINS)}
        return sorted(rows, key=lambda a: (order.get(a.domain, 99), a.number))

    def _plan_action(self, session: Session, action: Action, case: Case) -> PlanAction:
        member_name = organisation_name = None
        if action.owner_member_id is not None:
            member = session.get(Member, action.owner_member_id)
            member_name = self._name(member) if member is not None else "?"
        if action.owner_organisation_id is not None:
            organisation = session.get(Organisation, action.owner_organisation_id)
            organisation_name = organisation.name if organisation is not None else "?"
        return PlanAction(
            _named(action, case),
            member_name,
            organisation_name,
            action.deadline,
            ActionState(action.state),
        )

    def _measurements(self, session: Session, case_id: int) -> list[ZrmShown]:
        measurements = session.exec(
            select(ZrmMeasurement)
            .where(ZrmMeasurement.case_id == case_id)
            .order_by(col(ZrmMeasurement.measured_at), col(ZrmMeasurement.id))
        ).all()
        shown = []
        for measurement in measurements:
            scores = session.exec(
                select(ZrmScore).where(ZrmScore.measurement_id == measurement.id)
            ).all()
            shown.append(
                ZrmShown(measurement.measured_at, {ZrmDomain(s.domain): s.score for s in scores})
            )
        return shown

    def _zrm_summary(self, session: Session, case_id: int) -> ZrmSummary:
        measurements = self._measurements(session, case_id)
        if not measurements:
            return ZrmSummary(0)
        first, last = measurements[0], measurements[-1]
        change = (
            {d: last.scores[d] - first.scores[d] for d in last.scores if d in first.scores}
            if len(measurements) > 1
            else {}
        )
        return ZrmSummary(len(measurements), last.measured_at, last.scores, change)

    # -- conversations ------------------------------------------------------------------------

    def _conversation(self, session: Session, member_id: int) -> Conversation | None:
        """The member's conversation under way (locked), or None."""
        row = session.get(Conversation, member_id, with_for_update=True)
        if row is None or row.kind == Kind.IDLE.value:
            return None
        return row

    def _state(self, conversation: Conversation) -> dict[str, Any]:
        return self._cipher.decrypt_json(conversation.state_ct, context=CONVERSATION_CONTEXT)

    def _save(
        self,
        session: Session,
        member_id: int,
        kind: Kind,
        step: Step,
        state: dict[str, Any],
        case_id: int | None,
    ) -> Conversation:
        """Start a conversation, replacing any other; its version goes on from the last,
        so no button of an earlier conversation matches it."""
        now = self._clock.now()
        row = session.get(Conversation, member_id, with_for_update=True)
        if row is None:
            row = Conversation(
                member_id=member_id,
                kind=kind.value,
                step=step.value,
                case_id=case_id,
                state_ct=self._encrypt(state),
                version=1,
                updated_at=now,
            )
        else:
            row.kind, row.step, row.case_id = kind.value, step.value, case_id
            row.state_ct = self._encrypt(state)
            row.version += 1
            row.updated_at = now
        session.add(row)
        session.flush()
        return row

    def _next(
        self,
        session: Session,
        conversation: Conversation,
        state: dict[str, Any],
        step: Step,
        *,
        case: Case | None = None,
    ) -> Turn:
        conversation.step = step.value
        conversation.state_ct = self._encrypt(state)
        conversation.version += 1
        conversation.updated_at = self._clock.now()
        session.add(conversation)
        return self._turn(session, conversation, state, case=case)

    def _turn(
        self,
        session: Session,
        conversation: Conversation,
        state: dict[str, Any],
        *,
        problem: Problem | None = None,
        case: Case | None = None,
    ) -> Turn:
        kind, step = Kind(conversation.kind), Step(conversation.step)
        if kind is Kind.POSTPONE:
            action = session.get(Action, state["action"])
            assert action is not None  # noqa: S101 - foreign key
            action_case = session.get(Case, action.case_id)
            assert action_case is not None  # noqa: S101 - foreign key
            new = date.fromisoformat(state["date"]) if "date" in state else action.deadline
            return Turn(
                kind,
                step,
                conversation.version,
                action_case.reference,
                problem,
                stored=_named(action, action_case),
                deadline=new,
            )
        case = case or session.get(Case, state["case"])
        assert case is not None  # noqa: S101 - foreign key
        if kind is Kind.CHANGE:
            action = session.get(Action, state["action"])
            assert action is not None  # noqa: S101 - foreign key
            return Turn(
                kind,
                step,
                conversation.version,
                case.reference,
                problem,
                owners=(
                    self.owner_choices(session, case, leave_out=_owner_code(action))
                    if step is Step.OWNER
                    else ()
                ),
                stored=_named(action, case),
                deadline=action.deadline,
                owner=self._current_owner(session, action),
            )
        domain = ZrmDomain(state["domain"]) if "domain" in state else None
        owners = self.owner_choices(session, case) if step is Step.OWNER else ()
        return Turn(
            kind,
            step,
            conversation.version,
            case.reference,
            problem,
            domain,
            owners,
            zrm_index=len(state.get("scores", [])),
        )

    def _again(self, conversation: Conversation, state: dict[str, Any], problem: Problem) -> Turn:
        """The same step asked again (no change, the same version): what was wrong."""
        return Turn(
            Kind(conversation.kind),
            Step(conversation.step),
            conversation.version,
            problem=problem,
        )

    def _refused_turn(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        problem: Problem,
        *,
        case: Case | None = None,
    ) -> Turn:
        self._refused(session, member_id, conversation.kind, problem)
        return self._turn(session, conversation, state, problem=problem, case=case)

    def _forged(
        self,
        session: Session,
        member_id: int,
        conversation: Conversation,
        state: dict[str, Any],
        *,
        case: Case | None = None,
    ) -> Turn:
        return self._refused_turn(
            session, member_id, conversation, state, Problem.FORGED, case=case
        )

    def _end(self, session: Session, conversation: Conversation) -> None:
        conversation.kind, conversation.step, conversation.case_id = Kind.IDLE.value, "", None
        conversation.state_ct = self._encrypt({})
        conversation.version += 1
        conversation.updated_at = self._clock.now()
        session.add(conversation)

    def _encrypt(self, state: dict[str, Any]) -> str:
        return self._cipher.encrypt_json(state, context=CONVERSATION_CONTEXT)

    def _date_answer(
        self,
        code: str | None,
        value: str | None,
        text: str | None,
        today: date,
        *,
        base: date | None = None,
    ) -> date | Problem:
        """A typed date or a button's (`base` + the button: today unless told)."""
        if text is not None:
            parsed = parse_deadline(text, today)
        elif code == "w":
            try:
                chosen = quick_deadline(QuickDeadline(value or ""), base or today)
                parsed = check_deadline(chosen, today)
            except ValueError:
                return Problem.FORGED
        else:
            return Problem.FORGED
        if isinstance(parsed, DeadlineProblem):
            return _DEADLINE_PROBLEMS[parsed]
        return parsed

    # -- who may ------------------------------------------------------------------------------

    def _steerable(
        self, session: Session, member_id: int, reference: str, what: str, *, open_only: bool = True
    ) -> tuple[Case | None, Problem | None]:
        case = session.exec(select(Case).where(Case.reference == reference)).first()
        problem: Problem | None = None
        if case is None:
            problem = Problem.NO_CASE
        elif open_only and case.closed_at is not None:
            problem = Problem.CLOSED
        else:
            problem = self._steer_problem(session, member_id, case, open_only=open_only)
        if problem is not None:
            self._refused(session, member_id, what, problem)
            return None, problem
        return case, None

    def _steer_problem(
        self, session: Session, member_id: int, case: Case, *, open_only: bool = True
    ) -> Problem | None:
        if open_only and case.closed_at is not None:
            return Problem.CLOSED
        member = session.get(Member, member_id)
        if member is None or not member.active:
            return Problem.NOT_CASEMANAGER
        if Role.COORDINATOR in parse_roles(member.roles):
            return None
        if self._is_casemanager(session, member_id, case.id or 0):
            return None
        return Problem.NOT_CASEMANAGER

    def _is_casemanager(self, session: Session, member_id: int, case_id: int) -> bool:
        casemanager = self._casemanager(session, case_id)
        return casemanager is not None and casemanager.id == member_id

    def _casemanager(self, session: Session, case_id: int) -> Member | None:
        """The case's current, accepted casemanager."""
        member_id = session.exec(
            select(CaseAssignment.member_id).where(
                CaseAssignment.case_id == case_id, accepted_casemanager()
            )
        ).first()
        return session.get(Member, member_id) if member_id is not None else None

    # -- inside -------------------------------------------------------------------------------

    def _refuse(self, session: Session, member_id: int, kind: Kind, problem: Problem) -> Turn:
        self._refused(session, member_id, kind.value, problem)
        return Turn(kind, problem=problem)

    def _refused(self, session: Session, member_id: int, what: str, problem: Problem) -> None:
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="plan.refused",
            subject=f"member:{member_id}",
            what=what,
            reason=problem.value,
        )

    def _today(self) -> date:
        return self._clock.now().astimezone(self._settings.tz).date()

    def _name(self, member: Member) -> str:
        return self._cipher.decrypt(member.name_ct, context=MEMBER_NAME_CONTEXT)

    def _translator(self, member: Member) -> Translator:
        return translator(member.language or self._settings.locale)


class _OwnerNames:
    """Owners' names for the case page's history, each read once."""

    def __init__(self, session: Session, decrypt: Callable[[Member], str]) -> None:
        self._session = session
        self._decrypt = decrypt
        self._found: dict[tuple[str, int], str] = {}

    def name(self, member_id: int | None, organisation_id: int | None) -> str | None:
        if member_id is not None:
            key = ("m", member_id)
            if key not in self._found:
                member = self._session.get(Member, member_id)
                self._found[key] = self._decrypt(member) if member is not None else "?"
            return self._found[key]
        if organisation_id is not None:
            key = ("o", organisation_id)
            if key not in self._found:
                organisation = self._session.get(Organisation, organisation_id)
                self._found[key] = organisation.name if organisation is not None else "?"
            return self._found[key]
        return None


def erase_plan_texts(session: Session, case_ids: set[int]) -> int:
    """Retention: the own titles of the cases' actions, and conversations about them.

    Returns how many titles and conversations were emptied.
    """
    if not case_ids:
        return 0
    erased = 0
    for action in session.exec(
        select(Action).where(col(Action.case_id).in_(case_ids), col(Action.title_ct).is_not(None))
    ).all():
        action.title_ct = None
        session.add(action)
        erased += 1
    for conversation in session.exec(
        select(Conversation).where(col(Conversation.case_id).in_(case_ids))
    ).all():
        session.delete(conversation)
        erased += 1
    return erased


def _named(action: Action, case: Case) -> ActionNamed:
    return ActionNamed(
        reference=case.reference,
        domain=ZrmDomain(action.domain),
        catalogue_code=action.catalogue_code,
        number=action.number,
        action_id=action.id or 0,
        version=action.version,
    )


def _owner_code(action: Action) -> str:
    """The action's owner as an owner choice's code (`m12`, `o3`)."""
    if action.owner_member_id is not None:
        return f"m{action.owner_member_id}"
    return f"o{action.owner_organisation_id}"


def _change_problem(action: Action, version: int) -> Problem | None:
    """Why an action can no longer be changed as shown (`version`), or None."""
    if action.state == ActionState.DONE.value:
        return Problem.ACTION_DONE
    if action.state == ActionState.CANCELLED.value:
        return Problem.ACTION_CANCELLED
    if action.state != ActionState.OPEN.value or action.version != version:
        return Problem.ACTION_CHANGED
    return None


def _with_problem(turn: Turn, problem: Problem) -> Turn:
    return Turn(**{**turn.__dict__, "problem": problem})


def _with_named(turn: Turn, named: ActionNamed, new_date: date) -> Turn:
    return Turn(**{**turn.__dict__, "stored": named, "deadline": new_date})


def _domain_at(value: str | None) -> ZrmDomain | None:
    if value is None or not value.isdigit() or len(value) > 2:
        return None
    index = int(value)
    return DOMAINS[index] if index < len(DOMAINS) else None


def _entitled(organisation: Organisation, theme: str) -> bool:
    return Theme(theme) in parse_themes(organisation.themes)
