"""Reminders: each working day one digest per person of what is due, through the outbox.

From `VHBOT_REMINDER_TIME` (08:30) on a working day, every person hears in ONE
digest (split in parts only when Telegram's limits demand it):

- their open actions (their own, or their organisation's) overdue or due within
  `REMINDER_POLICY.due_within` working days, with [Done] [Postpone] buttons;
- as a case's casemanager: actions of that case overdue more than
  `casemanager_after` working days, the ZRM measurement due, and stagnation;
- as a coordinator: actions overdue more than `coordinators_after` working days,
  and every stagnating case.

Idempotent: a digest's outbox key is `digest:<member>:<day>` (more parts:
`...:<part>`), all parts queued in one transaction, so a run again after a crash
or restart, or `vhbot sweep` beside the running bot, queues nothing twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.config import Settings
from bot.domain.calendar import add_working_days, is_working_day
from bot.domain.decisions import AssignmentState
from bot.domain.plan import (
    REMINDER_POLICY,
    ActionState,
    Audience,
    ReminderPolicy,
    ZrmDomain,
    audiences,
    working_days_overdue,
    zrm_due,
)
from bot.domain.roles import Role, Theme
from bot.i18n import translator
from bot.privacy.crypto import FieldCipher
from bot.safe import MemberName, OrganisationName, printable_name
from bot.services import outbox
from bot.services.members import MEMBER_NAME_CONTEXT
from bot.storage.engine import Database
from bot.storage.models import (
    Action,
    ActionEvent,
    Case,
    CaseAssignment,
    Member,
    Organisation,
    OutboxMessage,
    Person,
    ZrmMeasurement,
    aware,
)
from bot.views.reminders import ActionDue, CaseDigest, Why, digest_parts

log = logging.getLogger(__name__)

DIGEST_KEY = "digest"
# The action events that count against stagnation (action_event.kind). Only an action
# added, completed or postponed counts as progress. Giving an action to another owner or
# cancelling it does not: neither moves the person forward, and cancelling every action
# of a stuck case would otherwise silence its stagnation for four weeks, just when the
# coordinators should look at it.
PROGRESS_EVENTS = ("created", "done", "postponed")

_Entry = Callable[[int, int], CaseDigest]


def digest_key(member_id: int, day: date, part: int = 1) -> str:
    """The outbox key of a digest part: one digest per person and day."""
    base = f"{DIGEST_KEY}:{member_id}:{day.isoformat()}"
    return base if part == 1 else f"{base}:{part}"


@dataclass(frozen=True)
class _CaseRow:
    id: int
    reference: str
    pseudonym: str
    theme: Theme
    opened: date
    procesregie: bool
    start: datetime  # opened, or decided when later (stagnation counts from it)


@dataclass(frozen=True)
class _Recipient:
    id: int
    telegram_id: int
    organisation_id: int
    language: str | None
    coordinator: bool


@dataclass(frozen=True)
class DigestRun:
    """What one run did: the day, digests queued now, and parts (messages) queued now."""

    day: date | None
    digests: int
    parts: int


class Reminders:
    def __init__(
        self,
        *,
        settings: Settings,
        clock: Clock,
        cipher: FieldCipher,
        policy: ReminderPolicy = REMINDER_POLICY,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._cipher = cipher
        self._policy = policy
        # The last day this process queued the digests of (a repeating duty then
        # stops at once); a new process looks again, and the outbox keys keep it once.
        self._done_for: date | None = None

    @property
    def policy(self) -> ReminderPolicy:
        return self._policy

    def digest_day(self, now: datetime) -> date | None:
        """The local day whose digests are due at `now`: None before the reminder time
        and on days off (weekends, public holidays)."""
        local = now.astimezone(self._settings.tz)
        if local.time() < self._settings.reminder_time or not is_working_day(local.date()):
            return None
        return local.date()

    def send_digests(self, db: Database) -> DigestRun:
        """Queue today's digests, once per person and day (see the module doc).

        Returns what was queued now: nothing before the reminder time, on a day off,
        when nothing is due, or when today's digests were queued already.
        """
        day = self.digest_day(self._clock.now())
        if day is None or day == self._done_for:
            return DigestRun(day, 0, 0)
        with db.session() as session:
            run = self.queue_digests(session, day)
        self._done_for = day
        if run.digests:
            log.info("reminders.queued", extra={"digests": run.digests, "parts": run.parts})
        return run

    def queue_digests(self, session: Session, day: date) -> DigestRun:
        """In `session`: queue the digests of `day` not queued before."""
        now = self._clock.now()
        digests = self.due(session, day)
        told = set(
            session.exec(
                select(OutboxMessage.dedupe_key).where(
                    col(OutboxMessage.dedupe_key).like(f"{DIGEST_KEY}:%:{day.isoformat()}")
                )
            ).all()
        )
        recipients = {r.id: r for r in self._recipients(session)}
        queued = parts_queued = 0
        for member_id, cases in sorted(digests.items()):
            if digest_key(member_id, day) in told:
                continue
            recipient = recipients[member_id]
            _ = translator(recipient.language or self._settings.locale)
            parts = digest_parts(_, cases, day)
            for number, part in enumerate(parts, start=1):
                outbox.enqueue(
                    session,
                    key=digest_key(member_id, day, number),
                    chat_id=recipient.telegram_id,
                    text=part.text,
                    reply_markup=part.reply_markup,
                    now=now,
                    new_key=True,  # looked up above; a racing process fails its commit
                )
            if parts:
                queued += 1
                parts_queued += len(parts)
        return DigestRun(day, queued, parts_queued)

    # -- what is due ------------------------------------------------------------------

    def due(self, session: Session, today: date) -> dict[int, list[CaseDigest]]:
        """Per member id, the cases (in reference order) with something to tell today."""
        policy = self._policy
        horizon = add_working_days(today, policy.due_within)
        recipients = self._recipients(session)
        by_org: dict[int, list[int]] = defaultdict(list)
        for recipient in recipients:
            by_org[recipient.organisation_id].append(recipient.id)
        active = {r.id for r in recipients}
        coordinators = [r.id for r in recipients if r.coordinator]

        cases: dict[int, _CaseRow] = {}
        actions = session.execute(
            columns(
                col(Action.id),
                col(Action.version),
                col(Action.number),
                col(Action.case_id),
                col(Action.domain),
                col(Action.catalogue_code),
                col(Action.owner_member_id),
                col(Action.owner_organisation_id),
                col(Action.deadline),
            )
            .join(Case, col(Case.id) == col(Action.case_id))
            .where(
                col(Action.state) == ActionState.OPEN.value,
                col(Action.deadline) <= horizon,
                col(Case.closed_at).is_(None),
            )
        ).all()
        plan_cases = self._plan_cases(session)
        cases.update(plan_cases)
        missing = {row[3] for row in actions} - cases.keys()
        if missing:
            cases.update(self._cases(session, missing))
        casemanagers = self._casemanagers(session)

        digests: dict[int, dict[int, CaseDigest]] = defaultdict(dict)

        def entry(member_id: int, case_id: int) -> CaseDigest:
            found = digests[member_id].get(case_id)
            if found is None:
                case = cases[case_id]
                found = CaseDigest(case.reference, case.pseudonym, case.theme)
                digests[member_id][case_id] = found
            return found

        names = Names(session, self._cipher)

        def add(case_id: int, member_id: int, due: ActionDue) -> None:
            found = entry(member_id, case_id)
            if all(told.action_id != due.action_id for told in found.actions):
                found.actions.append(due)  # told once: the first reason (their own) wins

        per_deadline: dict[date, tuple[set[Audience], int]] = {}
        for row in actions:
            action_id, version, number, case_id, domain, code, owner_member, owner_org, deadline = (
                row
            )
            known = per_deadline.get(deadline)
            if known is None:  # few distinct deadlines: each worked out once
                known = (audiences(deadline, today, policy), working_days_overdue(deadline, today))
                per_deadline[deadline] = known
            told, overdue = known
            if not told:
                continue
            own = ActionDue(
                action_id=action_id,
                version=version,
                number=number,
                domain=ZrmDomain(domain),
                catalogue_code=code,
                deadline=deadline,
                overdue=overdue,
                why=Why.OWNER,
            )
            if owner_member is not None and owner_member in active:
                add(case_id, owner_member, own)
            if owner_org is not None:
                for member_id in by_org.get(owner_org, ()):
                    add(case_id, member_id, own)
            if Audience.CASEMANAGER not in told and Audience.COORDINATORS not in told:
                continue
            owner = names.owner(owner_member, owner_org)
            casemanager = casemanagers.get(case_id)
            if Audience.CASEMANAGER in told and casemanager is not None and casemanager in active:
                add(case_id, casemanager, replace(own, why=Why.CASEMANAGER, owner=owner))
            if Audience.COORDINATORS in told:
                escalated = replace(own, why=Why.COORDINATOR, owner=owner)
                for member_id in coordinators:
                    add(case_id, member_id, escalated)

        self._zrm_and_stagnation(
            session, today, horizon, plan_cases, casemanagers, active, coordinators, entry
        )
        return {
            member_id: sorted(by_case.values(), key=lambda c: c.reference)
            for member_id, by_case in digests.items()
        }

    def _zrm_and_stagnation(
        self,
        session: Session,
        today: date,
        horizon: date,
        plan_cases: dict[int, _CaseRow],
        casemanagers: dict[int, int],
        active: set[int],
        coordinators: list[int],
        entry: _Entry,
    ) -> None:
        if not plan_cases:
            return
        tz = self._settings.tz
        measured = {
            case_id: (first, last)
            for case_id, first, last in session.exec(
                select(
                    ZrmMeasurement.case_id,
                    func.min(ZrmMeasurement.measured_at),
                    func.max(ZrmMeasurement.measured_at),
                ).group_by(col(ZrmMeasurement.case_id))
            ).all()
        }
        stagnating = set(session.exec(select(Case.id).where(self.stagnating(today))).all())
        last_events = (
            dict(
                session.exec(
                    select(ActionEvent.case_id, func.max(ActionEvent.at))
                    .where(
                        col(ActionEvent.case_id).in_(sorted(stagnating)),
                        col(ActionEvent.kind).in_(PROGRESS_EVENTS),
                    )
                    .group_by(col(ActionEvent.case_id))
                ).all()
            )
            if stagnating
            else {}
        )
        for case_id, case in plan_cases.items():
            casemanager = casemanagers.get(case_id)
            if casemanager in active:
                assert casemanager is not None  # noqa: S101 - in active
                first, last = measured.get(case_id, (None, None))
                first_day = None if first is None else aware(first).astimezone(tz).date()
                last_day = None if last is None else aware(last).astimezone(tz).date()
                due = zrm_due(case.opened, first_day, last_day)
                if due is not None and due <= horizon:
                    found = entry(casemanager, case_id)
                    found.zrm_due, found.zrm_first = due, first_day is None
            if case_id not in stagnating:
                continue
            last = last_events.get(case_id)
            quiet = case.start if last is None else max(case.start, aware(last))
            quiet_day = quiet.astimezone(tz).date()
            told = [*coordinators, *([casemanager] if casemanager in active else [])]
            for member_id in told:
                assert member_id is not None  # noqa: S101 - filtered above
                entry(member_id, case_id).quiet_since = quiet_day

    # -- stagnation -------------------------------------------------------------------

    def stagnation_cutoff(self, today: date) -> datetime:
        """A case quiet since before this moment stagnates on `today`.

        Quiet: no action added, completed or postponed, and neither opened nor
        decided, for `stagnant_after_days` days, counted in local days.
        """
        last_quiet_day = today - timedelta(days=self._policy.stagnant_after_days)
        return datetime.combine(last_quiet_day + timedelta(days=1), time(0), self._settings.tz)

    def stagnating(self, today: date) -> ColumnElement[bool]:
        """The stagnation rule as a condition on `Case`: open, in procesregie, and nothing
        happened to it since `stagnation_cutoff` (opened, decided, an action event).

        The one rule: the digests and /stand select with it (SQL, so /stand can count at
        national scale without reading every case).
        """
        cutoff = self.stagnation_cutoff(today)
        recent = (
            select(ActionEvent.id)
            .where(
                col(ActionEvent.case_id) == col(Case.id),
                col(ActionEvent.at) >= cutoff,
                col(ActionEvent.kind).in_(PROGRESS_EVENTS),
            )
            .exists()
        )
        return and_(
            col(Case.closed_at).is_(None),
            col(Case.procesregie).is_(True),
            col(Case.opened_at) < cutoff,
            or_(col(Case.decided_at).is_(None), col(Case.decided_at) < cutoff),
            ~recent,
        )

    # -- reading ----------------------------------------------------------------------

    def _recipients(self, session: Session) -> list[_Recipient]:
        rows = session.execute(
            columns(
                col(Member.id),
                col(Member.telegram_id),
                col(Member.organisation_id),
                col(Member.roles),
                col(Member.language),
            ).where(col(Member.active).is_(True))
        ).all()
        return [
            _Recipient(
                id=member_id,
                telegram_id=telegram_id,
                organisation_id=organisation_id,
                language=language,
                coordinator=Role.COORDINATOR.value in roles.split(","),
            )
            for member_id, telegram_id, organisation_id, roles, language in rows
            if member_id is not None
        ]

    def _case_rows(self, session: Session, *where: ColumnElement[bool]) -> dict[int, _CaseRow]:
        rows = session.execute(
            columns(
                col(Case.id),
                col(Case.reference),
                col(Person.pseudonym),
                col(Case.theme),
                col(Case.opened_at),
                col(Case.procesregie),
                col(Case.decided_at),
            )
            .join(Person, col(Person.id) == col(Case.person_id))
            .where(*where)
        ).all()
        tz = self._settings.tz
        found: dict[int, _CaseRow] = {}
        for case_id, reference, pseudonym, theme, opened_at, procesregie, decided_at in rows:
            assert case_id is not None  # noqa: S101 - a stored row
            opened = aware(opened_at)
            start = opened if decided_at is None else max(opened, aware(decided_at))
            found[case_id] = _CaseRow(
                id=case_id,
                reference=reference,
                pseudonym=pseudonym,
                theme=Theme(theme),
                opened=opened.astimezone(tz).date(),
                procesregie=procesregie,
                start=start,
            )
        return found

    def _plan_cases(self, session: Session) -> dict[int, _CaseRow]:
        """Open cases with a plan of approach: in procesregie, and every nazorg case."""
        return self._case_rows(
            session,
            col(Case.closed_at).is_(None),
            or_(col(Case.procesregie).is_(True), col(Case.theme) == Theme.NAZORG.value),
        )

    def _cases(self, session: Session, ids: set[int]) -> dict[int, _CaseRow]:
        return self._case_rows(session, col(Case.id).in_(sorted(ids)))

    def _casemanagers(self, session: Session) -> dict[int, int]:
        """Case id -> the member who accepted it (the current assignment), open cases only."""
        rows = session.exec(
            select(CaseAssignment.case_id, CaseAssignment.member_id)
            .join(Case, col(Case.id) == col(CaseAssignment.case_id))
            .where(
                col(CaseAssignment.current).is_(True),
                CaseAssignment.state == AssignmentState.ACCEPTED.value,
                col(Case.closed_at).is_(None),
            )
        ).all()
        return dict(rows)


class Names:
    """Professionals' and organisations' names (escalations, /stand): read in one query
    when first needed, each decrypted once per run."""

    def __init__(self, session: Session, cipher: FieldCipher) -> None:
        self._session = session
        self._cipher = cipher
        self._sealed: dict[int, str] | None = None
        self._members: dict[int, MemberName | None] = {}
        self._organisations: dict[int, OrganisationName | None] | None = None

    def owner(
        self, member_id: int | None, organisation_id: int | None
    ) -> MemberName | OrganisationName | None:
        if member_id is not None:
            return self.member(member_id)
        if organisation_id is not None:
            if self._organisations is None:
                self._organisations = {
                    org_id: OrganisationName.or_none(printable_name(name))
                    for org_id, name in self._session.exec(
                        select(Organisation.id, Organisation.name)
                    ).all()
                    if org_id is not None
                }
            return self._organisations.get(organisation_id)
        return None

    def member(self, member_id: int) -> MemberName | None:
        if member_id in self._members:
            return self._members[member_id]
        if self._sealed is None:
            self._sealed = {
                found: sealed
                for found, sealed in self._session.exec(select(Member.id, Member.name_ct)).all()
                if found is not None
            }
        sealed = self._sealed.get(member_id)
        name = (
            None
            if sealed is None
            else MemberName.or_none(
                printable_name(self._cipher.decrypt(sealed, context=MEMBER_NAME_CONTEXT))
            )
        )
        self._members[member_id] = name
        return name
