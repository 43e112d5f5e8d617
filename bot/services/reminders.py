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
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, func, or_
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.config import Settings
from bot.domain.calendar import add_working_days, is_working_day
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
from bot.services.decisions import accepted_casemanager
from bot.services.members import MEMBER_NAME_CONTEXT
from bot.storage.engine import Database, collector_paused
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
# Stored values to members: a dict lookup, several times cheaper than `Enum(value)` when
# the national sweep reads tens of thousands of rows.
_ZRM_DOMAINS = {domain.value: domain for domain in ZrmDomain}
_THEMES = {theme.value: theme for theme in Theme}
# The audiences an action's owner is named to.
_ESCALATED = frozenset({Audience.CASEMANAGER, Audience.COORDINATORS})


def digest_key(member_id: int, day: date, part: int = 1) -> str:
    """The outbox key of a digest part: one digest per person and day."""
    base = f"{DIGEST_KEY}:{member_id}:{day.isoformat()}"
    return base if part == 1 else f"{base}:{part}"


class _CaseRow(NamedTuple):  # a NamedTuple: tens of thousands are read per sweep
    reference: str
    pseudonym: str
    theme: Theme
    opened: date  # local day
    plan: bool  # open with a plan of approach (in procesregie, or nazorg)
    casemanager: int | None  # the member who accepted it (the current assignment)


class _DueAction(NamedTuple):
    """An open action someone is told of today, as read: who may be told (`told`), and
    what its line shows (built when a digest holds it)."""

    case_id: int
    owner_member: int | None
    owner_organisation: int | None
    told: frozenset[Audience]
    action_id: int
    version: int
    number: int
    domain: str
    catalogue_code: str | None
    deadline: date
    overdue: int


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


class DueToday(Mapping[int, list[CaseDigest]]):
    """What is due today: member id -> the cases (in reference order) with something to
    tell them, each with what to tell.

    Read once and kept compact (the due actions, the plan cases, the ZRM and
    stagnation findings, the owners' names); a member's digest is built when asked, so
    the sweep holds one digest at a time, however many people and actions a national
    database has. It needs no database: it can be read after its session ended.

    Who hears what (one line per action and person; the first reason wins: their own,
    then as casemanager, then as coordinator):

    - an action's owner (the member, or every active member of the organisation);
    - the case's accepted casemanager, of actions overdue beyond their threshold, the
      ZRM measurement due, and stagnation;
    - every coordinator, of actions overdue beyond theirs, and every stagnating case.
    """

    def __init__(
        self,
        *,
        recipients: list[_Recipient],
        cases: dict[int, _CaseRow],
        actions: list[_DueAction],
        zrm: dict[int, tuple[date, bool]],
        quiet: dict[int, date],
        owners: Mapping[tuple[int | None, int | None], MemberName | OrganisationName | None],
    ) -> None:
        self._cases = cases
        self._actions = actions
        self._zrm = zrm
        self._quiet = quiet
        self._owners = owners
        active = {r.id for r in recipients}
        self._coordinators = frozenset(r.id for r in recipients if r.coordinator)
        self._organisation_of = {r.id: r.organisation_id for r in recipients}
        # Indexes into `actions`, in their order (by action id).
        self._owned: dict[int, list[int]] = defaultdict(list)
        self._owned_by_organisation: dict[int, list[int]] = defaultdict(list)
        self._for_casemanager: dict[int, list[int]] = defaultdict(list)
        self._escalated: list[int] = []
        for index, action in enumerate(actions):
            if action.owner_member is not None and action.owner_member in active:
                self._owned[action.owner_member].append(index)
            if action.owner_organisation is not None:
                self._owned_by_organisation[action.owner_organisation].append(index)
            casemanager = cases[action.case_id].casemanager
            if Audience.CASEMANAGER in action.told and casemanager in active:
                assert casemanager is not None  # noqa: S101 - in active
                self._for_casemanager[casemanager].append(index)
            if Audience.COORDINATORS in action.told:
                self._escalated.append(index)
        self._casemanager_cases: dict[int, list[int]] = defaultdict(list)
        for case_id in {*zrm, *quiet}:
            casemanager = cases[case_id].casemanager
            if casemanager in active:
                assert casemanager is not None  # noqa: S101 - in active
                self._casemanager_cases[casemanager].append(case_id)
        organisations = {org for org, found in self._owned_by_organisation.items() if found}
        told = {*self._owned, *self._for_casemanager, *self._casemanager_cases}
        told |= {m for m in active if self._organisation_of[m] in organisations}
        if self._escalated or quiet:
            told |= self._coordinators
        self._told = sorted(told)
        self._lines: dict[tuple[int, Why], ActionDue] = {}

    def __iter__(self) -> Iterator[int]:
        return iter(self._told)

    def __len__(self) -> int:
        return len(self._told)

    def __contains__(self, member_id: object) -> bool:
        return member_id in self._told

    def __getitem__(self, member_id: int) -> list[CaseDigest]:
        if member_id not in self._told:
            raise KeyError(member_id)
        why: dict[int, Why] = {}
        organisation = self._organisation_of[member_id]
        for index in (
            *self._owned.get(member_id, ()),
            *self._owned_by_organisation.get(organisation, ()),
        ):
            why[index] = Why.OWNER
        for index in self._for_casemanager.get(member_id, ()):
            why.setdefault(index, Why.CASEMANAGER)
        coordinator = member_id in self._coordinators
        if coordinator:
            for index in self._escalated:
                why.setdefault(index, Why.COORDINATOR)
        digests: dict[int, CaseDigest] = {}

        def entry(case_id: int) -> CaseDigest:
            found = digests.get(case_id)
            if found is None:
                case = self._cases[case_id]
                found = digests[case_id] = CaseDigest(case.reference, case.pseudonym, case.theme)
            return found

        for index in sorted(why):
            action = self._actions[index]
            entry(action.case_id).actions.append(self._line(index, why[index]))
        own_cases = self._casemanager_cases.get(member_id, ())
        for case_id in own_cases:
            if case_id in self._zrm:
                found = entry(case_id)
                found.zrm_due, found.zrm_first = self._zrm[case_id]
        for case_id in self._quiet if coordinator else own_cases:
            if case_id in self._quiet:
                entry(case_id).quiet_since = self._quiet[case_id]
        return sorted(digests.values(), key=lambda c: c.reference)

    def _line(self, index: int, why: Why) -> ActionDue:
        """The action's line for `why`: the escalations name its owner; one object per
        line, shared by everyone it is told to."""
        line = self._lines.get((index, why))
        if line is None:
            action = self._actions[index]
            line = ActionDue(
                action_id=action.action_id,
                version=action.version,
                number=action.number,
                domain=_ZRM_DOMAINS[action.domain],
                catalogue_code=action.catalogue_code,
                deadline=action.deadline,
                overdue=action.overdue,
                why=why,
                owner=(
                    None
                    if why is Why.OWNER
                    else self._owners.get((action.owner_member, action.owner_organisation))
                ),
            )
            self._lines[(index, why)] = line
        return line


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
        for member_id in digests:  # in id order, each digest built in turn
            if digest_key(member_id, day) in told:
                continue
            cases = digests[member_id]
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
    # The two large reads (the due actions, the plan cases: tens of thousands of rows
    # nationally) go through the session's connection, without the ORM's per-row work.

    def due(self, session: Session, today: date) -> DueToday:
        """What is due `today`, per member id: read now, each member's digest built when
        asked (see `DueToday`)."""
        with collector_paused():
            return self._due(session, today)

    def _due(self, session: Session, today: date) -> DueToday:
        policy = self._policy
        horizon = add_working_days(today, policy.due_within)
        recipients = self._recipients(session)
        rows = (
            session.connection()
            .execute(
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
                .order_by(col(Action.id))
            )
            .all()
        )
        per_deadline: dict[date, tuple[frozenset[Audience], int]] = {}
        actions: list[_DueAction] = []
        for action_id, version, number, case_id, domain, code, member, org, deadline in rows:
            known = per_deadline.get(deadline)
            if known is None:  # few distinct deadlines: each worked out once
                known = (
                    frozenset(audiences(deadline, today, policy)),
                    working_days_overdue(deadline, today),
                )
                per_deadline[deadline] = known
            told, overdue = known
            if told:
                assert action_id is not None  # noqa: S101 - a stored row
                actions.append(
                    _DueAction(
                        case_id,
                        member,
                        org,
                        told,
                        action_id,
                        version,
                        number,
                        domain,
                        code,
                        deadline,
                        overdue,
                    )
                )
        cases = self._plan_cases(session)
        missing = {action.case_id for action in actions} - cases.keys()
        if missing:
            cases.update(self._cases(session, missing))
        zrm, quiet = self._zrm_and_stagnation(session, today, horizon, cases)
        # The escalations name the action's owner: read here, so that what is returned
        # needs the session no more.
        names = Names(session, self._cipher)
        escalated = {
            (action.owner_member, action.owner_organisation)
            for action in actions
            if not _ESCALATED.isdisjoint(action.told)
        }
        owners = {(member, org): names.owner(member, org) for member, org in escalated}
        return DueToday(
            recipients=recipients, cases=cases, actions=actions, zrm=zrm, quiet=quiet, owners=owners
        )

    def _zrm_and_stagnation(
        self, session: Session, today: date, horizon: date, cases: dict[int, _CaseRow]
    ) -> tuple[dict[int, tuple[date, bool]], dict[int, date]]:
        """Of the open plan cases (`cases` with `plan`): case id -> (the ZRM measurement's
        due date, whether it is the first) when due by `horizon` and the case has an
        accepted casemanager; case id -> the day it has been quiet since, when it stagnates."""
        zrm: dict[int, tuple[date, bool]] = {}
        quiet: dict[int, date] = {}
        if not any(case.plan for case in cases.values()):
            return zrm, quiet
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
        due_on: dict[tuple[date, date | None, date | None], date | None] = {}
        for case_id, case in cases.items():
            if not case.plan or case.casemanager is None:
                continue
            first, last = measured.get(case_id, (None, None))
            first_day = None if first is None else aware(first).astimezone(tz).date()
            last_day = None if last is None else aware(last).astimezone(tz).date()
            key = (case.opened, first_day, last_day)
            if key not in due_on:  # many cases share their days: each worked out once
                due_on[key] = zrm_due(*key)
            due = due_on[key]
            if due is not None and due <= horizon:
                zrm[case_id] = (due, first_day is None)
        stagnating = session.execute(
            columns(col(Case.id), col(Case.opened_at), col(Case.decided_at)).where(
                self.stagnating(today)
            )
        ).all()
        if not stagnating:
            return zrm, quiet
        last_events = dict(
            session.exec(
                select(ActionEvent.case_id, func.max(ActionEvent.at))
                .where(
                    col(ActionEvent.case_id).in_(sorted(row[0] for row in stagnating)),
                    col(ActionEvent.kind).in_(PROGRESS_EVENTS),
                )
                .group_by(col(ActionEvent.case_id))
            ).all()
        )
        for case_id, opened_at, decided_at in stagnating:
            if case_id not in cases:
                continue  # not a plan case (the rule asks procesregie: never so)
            start = aware(opened_at)
            if decided_at is not None:
                start = max(start, aware(decided_at))
            last = last_events.get(case_id)
            since = start if last is None else max(start, aware(last))
            quiet[case_id] = since.astimezone(tz).date()
        return zrm, quiet

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

    def _case_rows(
        self, session: Session, *where: ColumnElement[bool], plan: bool
    ) -> dict[int, _CaseRow]:
        rows = (
            session.connection()
            .execute(
                columns(
                    col(Case.id),
                    col(Case.reference),
                    col(Person.pseudonym),
                    col(Case.theme),
                    col(Case.opened_at),
                    col(CaseAssignment.member_id),
                )
                .join(Person, col(Person.id) == col(Case.person_id))
                .outerjoin(
                    CaseAssignment,
                    and_(col(CaseAssignment.case_id) == col(Case.id), accepted_casemanager()),
                )
                .where(*where)
            )
            .all()
        )
        tz = self._settings.tz
        found: dict[int, _CaseRow] = {}
        for case_id, reference, pseudonym, theme, opened_at, casemanager in rows:
            assert case_id is not None  # noqa: S101 - a stored row
            found[case_id] = _CaseRow(
                reference=reference,
                pseudonym=pseudonym,
                theme=_THEMES[theme],
                opened=aware(opened_at).astimezone(tz).date(),
                plan=plan,
                casemanager=casemanager,
            )
        return found

    def _plan_cases(self, session: Session) -> dict[int, _CaseRow]:
        """Open cases with a plan of approach: in procesregie, and every nazorg case."""
        return self._case_rows(
            session,
            col(Case.closed_at).is_(None),
            or_(col(Case.procesregie).is_(True), col(Case.theme) == Theme.NAZORG.value),
            plan=True,
        )

    def _cases(self, session: Session, ids: set[int]) -> dict[int, _CaseRow]:
        """Other open cases with an action due (their plan stays after procesregie ended)."""
        return self._case_rows(session, col(Case.id).in_(sorted(ids)), plan=False)


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
