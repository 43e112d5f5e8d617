"""Reveal links: the one place a person's identity is shown, on a web page behind a link.

Telegram carries only a one-time link (`VHBOT_PUBLIC_URL/r/<token>`): a random
128-bit token, valid 10 minutes, usable once, bound to one member and one
announcement or case. The page asks for a second factor that does not depend on
Telegram: the first time a set-up code a coordinator handed over (then a PIN of
the member's choosing), later that PIN. Five wrong ones in a row lock all the
member's links until a coordinator unlocks them.

The same link, PIN and audit open a second kind of page: the form for a new
melding (`/melding`, kind `melding_form`, for a coordinator). Its link is used up
when the PIN is entered (counted like a reveal); the form it opens is then taken
for MELDING_FORM_VALIDITY, checked as the import checks a row, until its melding
is stored: once, by a conditional update in the storing transaction.

Refusals are returned (`Refused`), not raised, so that their audit entry and a
wrong PIN's count commit with the caller's transaction. Every issue, view,
refusal, PIN failure, lock, unlock, set-up code and revocation is audited.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from bot.clock import Clock
from bot.config import Settings
from bot.domain.announcements import AnnouncementKind
from bot.domain.decisions import CloseReason, Decision
from bot.domain.dpan import Problem, RowError
from bot.domain.identity import Identity
from bot.domain.invites import ALPHABET, CODE_LENGTH, format_code, normalise_code
from bot.domain.meldingen import check_form
from bot.domain.reveal import (
    DAILY_REVEALS,
    LINK_VALIDITY,
    MELDING_FORM_VALIDITY,
    PIN_ATTEMPTS,
    SETUP_CODE_VALIDITY,
    LinkKind,
    LinkState,
    form_state,
    link_state,
    local_day,
    pin_problem,
    token_shape_ok,
)
from bot.domain.roles import Role, Theme, parse_roles, parse_themes
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.privacy.secret_hash import hash_secret, verify_secret
from bot.safe import SafeText
from bot.services import outbox
from bot.services.audit import AuditLog, Detail, member_actor
from bot.services.decisions import CasemanagerShown, Decisions
from bot.services.detention import INSTITUTION_CONTEXT, REMARK_CONTEXT
from bot.services.meldingen import MeldingenService, new_bron_id
from bot.services.members import MEMBER_NAME_CONTEXT, Memberships
from bot.services.persons import IdentityErased, PersonVault
from bot.services.plan import PagePlan, PlanOfApproach
from bot.storage.engine import savepoint
from bot.storage.models import (
    Announcement,
    Answer,
    Case,
    Invite,
    Melding,
    Member,
    Organisation,
    Person,
    RevealLink,
    SetupCode,
    WebAccess,
)
from bot.storage.repositories import RevealLinkRepository
from bot.views.decisions import DecisionShown
from bot.views.reveal import daily_limit_notice, lock_notice, melding_stored_text

WEB = "web"  # the actor of a request whose token names no link
# Ended links and set-up codes are deleted this long after they ended.
PURGE_AFTER = timedelta(days=30)


class Refusal(StrEnum):
    """Why a step was refused; the first eight are the link states of the same name."""

    UNKNOWN = LinkState.UNKNOWN.value
    EXPIRED = LinkState.EXPIRED.value
    USED = LinkState.USED.value
    REVOKED = LinkState.REVOKED.value
    MEMBER_INACTIVE = LinkState.MEMBER_INACTIVE.value
    LOCKED = LinkState.LOCKED.value
    NOT_ALLOWED = LinkState.NOT_ALLOWED.value
    NO_TARGET = "no_target"  # issuing: no such announcement or case
    NO_PIN = "no_pin"  # a PIN was given but none is set: a set-up code first
    WRONG_PIN = "wrong_pin"
    PIN_MALFORMED = "pin_malformed"
    PIN_TRIVIAL = "pin_trivial"
    SETUP_CODE_WRONG = "setup_code_wrong"
    SETUP_CODE_EXPIRED = "setup_code_expired"
    SETUP_CODE_USED = "setup_code_used"
    DAILY_LIMIT = "daily_limit"
    # A form posted without, or with a stale or forged, form token.
    FORM_TOKEN = "form_token"  # noqa: S105 - a reason, not a secret
    PINS_DIFFER = "pins_differ"  # the new PIN and its repetition differ: nothing was done


class CommandRefusal(StrEnum):
    """Why a coordinator's command about a member's links or second factor changed nothing."""

    NO_MEMBER = "no_member"  # no (active) member with that number
    SELF = "self"  # one's own set-up code or unlock: a second person must do it
    OWN_INVITEE = "own_invitee"  # a set-up code for a member one invited oneself


class RevealError(ValueError):
    """A coordinator's command that cannot be done; `reason` says why (safe to show)."""

    def __init__(self, reason: CommandRefusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Refused:
    reason: Refusal
    # After a wrong PIN or set-up code: how many tries are left before the lock.
    attempts_left: int | None = None


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime
    link_id: int
    # What the page is about, as Telegram may name it: a case reference or a pseudonym.
    subject: str
    # The member has no PIN yet: the page will ask for a set-up code first.
    needs_setup: bool


@dataclass(frozen=True)
class SetupCodeIssued:
    """A set-up code for the coordinator to hand over; the code is never stored in clear."""

    code: str
    expires_at: datetime
    member_id: int
    member_name: str = field(repr=False)
    organisation: str


@dataclass(frozen=True)
class LinkCheck:
    """What the page needs before it asks for anything."""

    state: LinkState
    # No PIN yet: the page asks for a set-up code and a new PIN first.
    needs_setup: bool = False
    kind: LinkKind | None = None
    expires_at: datetime | None = None
    # The member's chosen language (None: the page follows the browser).
    language: str | None = None

    @property
    def ok(self) -> bool:
        return self.state is LinkState.OK


@dataclass(frozen=True)
class PinAccepted:
    member_id: int


@dataclass(frozen=True)
class PinSet:
    member_id: int


@dataclass(frozen=True)
class AnswerShown:
    organisation: str
    known: bool
    answered_at: datetime


@dataclass(frozen=True)
class MeldingShown:
    """One notification as the page shows it; remark and uncatalogued institution
    are None once retention erased them (`erased`)."""

    soort: str
    event_date: date
    received_at: datetime
    municipality: str
    # Free text from a file: kept out of any repr (and so out of logs and tracebacks).
    institution: str | None = field(repr=False)
    remark: str | None = field(repr=False)
    erased: bool
    answers: tuple[AnswerShown, ...]


@dataclass(frozen=True)
class RevealedPerson:
    """An announcement's page: who the person is, the notification, the answers."""

    announcement_id: int
    case_reference: str | None
    pseudonym: str
    theme: Theme
    identity: Identity | None  # None: erased by retention
    melding: MeldingShown

    @property
    def erased(self) -> bool:
        return self.identity is None


@dataclass(frozen=True)
class RevealedCase:
    """A case's page: identity, the meldingen in date order, each with its answers."""

    case_id: int
    reference: str
    pseudonym: str
    theme: Theme
    municipality: str
    opened_at: datetime
    closed_at: datetime | None
    identity: Identity | None  # None: erased by retention
    meldingen: tuple[MeldingShown, ...]
    # The current triage decision (None: still in triage) and when it was taken.
    decision: DecisionShown | None = None
    decided_at: datetime | None = None
    casemanager: CasemanagerShown | None = None
    # The plan of approach with its history (own titles decrypted) and the ZRM scores.
    plan: PagePlan | None = None

    @property
    def erased(self) -> bool:
        return self.identity is None


@dataclass(frozen=True)
class MeldingForm:
    """The form for a new melding, opened with the PIN: its choices and its end."""

    link_id: int
    # The themes the member's organisation takes part in (a restricted one only when granted).
    themes: tuple[Theme, ...]
    municipalities: tuple[str, ...]
    open_until: datetime


@dataclass(frozen=True)
class MeldingFormProblems:
    """The form as sent did not pass: a problem per field (never a value), to show again."""

    form: MeldingForm
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class MeldingStored:
    """The form's melding is stored: the case it opened or joined."""

    reference: str
    new_case: bool


@dataclass
class _Opened:
    """A stored link with its member, as one request sees them."""

    link: RevealLink
    member: Member
    access: WebAccess | None
    state: LinkState


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


class Reveals:
    def __init__(
        self,
        *,
        settings: Settings,
        cipher: FieldCipher,
        vault: PersonVault,
        audit: AuditLog,
        clock: Clock,
        memberships: Memberships,
        decisions: Decisions,
        plan: PlanOfApproach | None = None,
        meldingen: MeldingenService,
        links: RevealLinkRepository | None = None,
    ) -> None:
        self._settings = settings
        self._cipher = cipher
        self._vault = vault
        self._audit = audit
        self._clock = clock
        self._memberships = memberships
        self._decisions = decisions
        self._plan = plan
        self._meldingen = meldingen
        self._links = links or RevealLinkRepository()

    # -- links -------------------------------------------------------------------

    def issue_link(
        self, session: Session, member_id: int, kind: LinkKind, target_id: int
    ) -> IssuedLink | Refused:
        """A one-time link for `member_id` to the page of one announcement or case,
        or to the form for a new melding.

        Refused for a member who is unknown, inactive or locked, a target that does
        not exist, or one the member may not see: an announcement of a theme their
        organisation is not granted; a case unless they are a coordinator whose
        organisation is granted its theme, or its casemanager; a melding form
        unless they are a coordinator.

        Args:
            session: the open unit of work; the link and its audit entry commit with it.
            member_id: who asks (the link is bound to them).
            kind: announcement, case or melding form.
            target_id: the announcement's or case's id; for a melding form, `member_id`.

        Returns:
            The link's URL and when it expires; or why not.
        """
        member = session.get(Member, member_id)
        details: dict[str, Detail] = {"step": "issue", "kind": kind.value, "target": target_id}
        if member is None or not member.active:
            return self._refuse(session, member_id, "", Refusal.MEMBER_INACTIVE, details)
        access = session.get(WebAccess, member_id)
        if access is not None and access.locked_at is not None:
            return self._refuse(session, member_id, "", Refusal.LOCKED, details)
        refusal = self._target_refusal(session, member, kind, target_id)
        if refusal is not None:
            return self._refuse(session, member_id, "", refusal, details)
        if access is None:
            self._add_access(session, member_id)
        needs_setup = access is None or access.pin_hash is None
        token = secrets.token_urlsafe(16)
        now = self._clock.now()
        link = RevealLink(
            token_hash=token_hash(token),
            member_id=member_id,
            kind=kind.value,
            target_id=target_id,
            created_at=now,
            expires_at=now + LINK_VALIDITY,
        )
        session.add(link)
        session.flush()
        assert link.id is not None  # noqa: S101 - flushed
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="reveal.issue",
            subject=f"reveal_link:{link.id}",
            kind=kind.value,
            target=target_id,
        )
        return IssuedLink(
            url=f"{self._settings.public_url}/r/{token}",
            expires_at=link.expires_at,
            link_id=link.id,
            subject=self._subject(session, kind, target_id),
            needs_setup=needs_setup,
        )

    def issue_case_link(
        self, session: Session, member_id: int, reference: str
    ) -> IssuedLink | Refused:
        """/zaak REF: `issue_link` for the case with this reference (NO_TARGET if none)."""
        case = session.exec(select(Case).where(Case.reference == reference)).first()
        if case is None or case.id is None:
            details: dict[str, Detail] = {"step": "issue", "kind": LinkKind.CASE.value}
            return self._refuse(session, member_id, "", Refusal.NO_TARGET, details)
        return self.issue_link(session, member_id, LinkKind.CASE, case.id)

    def issue_melding_form_link(self, session: Session, member_id: int) -> IssuedLink | Refused:
        """/melding: `issue_link` for the form for a new melding (coordinators only)."""
        return self.issue_link(session, member_id, LinkKind.MELDING_FORM, member_id)

    def withdraw_link(self, session: Session, link_id: int, reason: str) -> None:
        """Revoke one link that could not be delivered (the member never saw it)."""
        link = session.get(RevealLink, link_id)
        if link is None or link.revoked_at is not None:
            return
        link.revoked_at = self._clock.now()
        session.add(link)
        self._audit.record(
            session,
            actor="system",
            action="reveal.withdraw",
            subject=f"reveal_link:{link_id}",
            reason=reason,
        )

    def open_link(self, session: Session, token: str, *, now: datetime) -> LinkCheck:
        """The link's state without using it up, and what the page must ask for.

        A link that cannot be used is audited as refused (the page shows a refusal).
        """
        opened = self._open(session, token, now)
        if opened is None:
            self._refuse(session, None, "", Refusal.UNKNOWN, {"step": "open"})
            return LinkCheck(LinkState.UNKNOWN)
        link = opened.link
        if opened.state is not LinkState.OK:
            self._refuse_link(session, opened, "open")
        return LinkCheck(
            state=opened.state,
            needs_setup=opened.access is None or opened.access.pin_hash is None,
            kind=LinkKind(link.kind),
            expires_at=link.expires_at,
            language=opened.member.language,
        )

    def submit(
        self,
        session: Session,
        token: str,
        *,
        pin: str,
        setup_code: str | None,
        pin_again: str | None,
        now: datetime,
    ) -> tuple[str | None, RevealedPerson | RevealedCase | MeldingForm | Refused]:
        """The page's form: with a set-up code, first set the new PIN (typed twice
        alike), then reveal with it; without, reveal with the PIN.

        Returns the member's chosen language (None: none, or no such link) and what
        to show.
        """
        check = self.open_link(session, token, now=now)
        if not check.ok:
            return check.language, Refused(Refusal(check.state.value))
        if setup_code is not None:
            if pin != pin_again:
                return check.language, Refused(Refusal.PINS_DIFFER)
            pin_set = self.set_pin(session, token, setup_code, pin, now=now)
            if not isinstance(pin_set, PinSet):
                return check.language, pin_set
        return check.language, self.reveal(session, token, pin, now=now)

    def refuse_form(self, session: Session, token: str) -> None:
        """Audit a form posted without a valid form token (nothing else is done with it)."""
        opened = self._open(session, token, self._clock.now())
        if opened is None:
            self._refuse(session, None, "", Refusal.FORM_TOKEN, {"step": "form"})
        else:
            self._refuse_link(session, opened, "form", Refusal.FORM_TOKEN)

    def revoke_links(self, session: Session, member_id: int, actor: str) -> int:
        """/intrekken: revoke every open link of the member; how many there were.

        Raises:
            RevealError: no member has this number.
        """
        member = session.get(Member, member_id)
        if member is None:
            raise RevealError(CommandRefusal.NO_MEMBER)
        revoked = self._links.revoke_open(member_id, self._clock.now(), session=session)
        self._audit.record(
            session,
            actor=actor,
            action="reveal.revoke",
            subject=f"member:{member_id}",
            links=revoked,
        )
        return revoked

    # -- the second factor -------------------------------------------------------

    def create_setup_code(self, session: Session, member_id: int, actor: str) -> SetupCodeIssued:
        """/pincode: a one-time code (valid 72 hours) with which the member sets a PIN.

        Read out by phone: 10 characters without I, L, O, U, shown as `XXXXX-XXXXX`.
        Only a slow salted hash is kept; a newer code replaces any unused older one.
        The member's PIN (if any) keeps working until they set a new one.

        Two people, so that one stolen Telegram account is never enough: nobody
        makes their own code, nor one for a member they invited themselves (else a
        stolen coordinator account could invite a stand-in and give it a PIN).

        Raises:
            RevealError: no active member has this number; or it is the requester,
                or a member the requester invited.
        """
        member = session.get(Member, member_id)
        if member is None or not member.active:
            raise RevealError(CommandRefusal.NO_MEMBER)
        if actor == member_actor(member_id):
            raise RevealError(CommandRefusal.SELF)
        invited_by = session.exec(
            select(Invite.created_by).where(Invite.used_by_member_id == member_id)
        ).all()
        if actor in invited_by:
            raise RevealError(CommandRefusal.OWN_INVITEE)
        now = self._clock.now()
        older = session.exec(
            select(SetupCode).where(
                SetupCode.member_id == member_id,
                col(SetupCode.used_at).is_(None),
                col(SetupCode.revoked_at).is_(None),
            )
        ).all()
        for code in older:
            code.revoked_at = now
            session.add(code)
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        row = SetupCode(
            member_id=member_id,
            code_hash=hash_secret(raw),
            created_by=actor,
            created_at=now,
            expires_at=now + SETUP_CODE_VALIDITY,
        )
        session.add(row)
        session.flush()
        self._audit.record(
            session,
            actor=actor,
            action="reveal.setup_code",
            subject=f"member:{member_id}",
            code=row.id,
            replaced=len(older),
        )
        organisation = session.get(Organisation, member.organisation_id)
        return SetupCodeIssued(
            code=format_code(raw),
            expires_at=row.expires_at,
            member_id=member_id,
            member_name=self._cipher.decrypt(member.name_ct, context=MEMBER_NAME_CONTEXT),
            organisation=organisation.name if organisation is not None else "?",
        )

    def set_pin(
        self, session: Session, token: str, setup_code: str, pin: str, *, now: datetime
    ) -> PinSet | Refused:
        """Set (or replace) the link's member's PIN with a set-up code from a coordinator.

        The PIN must be 6 digits and not trivially guessable; the set-up code the
        member's newest, unused and not expired. A wrong set-up code counts like a
        wrong PIN. The link itself stays unused.
        """
        opened = self._open(session, token, now, lock=True)
        if opened is None:
            return self._refuse(session, None, "", Refusal.UNKNOWN, {"step": "setup"})
        if opened.state is not LinkState.OK:
            return self._refuse_link(session, opened, "setup")
        problem = pin_problem(pin)
        if problem is not None:
            return self._refuse_link(session, opened, "setup", Refusal(problem.value))
        member_id = opened.link.member_id
        code = session.exec(
            select(SetupCode)
            .where(SetupCode.member_id == member_id, col(SetupCode.revoked_at).is_(None))
            .order_by(col(SetupCode.id).desc())
            .limit(1)
        ).first()
        typed = normalise_code(setup_code)
        if code is None or typed is None or not verify_secret(typed, code.code_hash):
            return self._second_factor_failed(session, opened, "setup_code", now)
        if code.used_at is not None:
            return self._refuse_link(session, opened, "setup", Refusal.SETUP_CODE_USED)
        if now >= code.expires_at:
            return self._refuse_link(session, opened, "setup", Refusal.SETUP_CODE_EXPIRED)
        access = opened.access or WebAccess(member_id=member_id)
        access.pin_hash = hash_secret(pin)
        access.pin_set_at = now
        access.failed_pins = 0
        code.used_at = now
        session.add(access)
        session.add(code)
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="reveal.pin_set",
            subject=f"member:{member_id}",
            code=code.id,
            link=opened.link.id,
        )
        return PinSet(member_id)

    def check_pin(
        self, session: Session, token: str, pin: str, *, now: datetime
    ) -> PinAccepted | Refused:
        """Whether `pin` is the PIN of the link's member (the link stays unused).

        A wrong PIN counts; the fifth in a row locks all the member's links until a
        coordinator unlocks them. A right PIN resets the count.
        """
        opened = self._open(session, token, now, lock=True)
        if opened is None:
            return self._refuse(session, None, "", Refusal.UNKNOWN, {"step": "pin"})
        return self._check_pin(session, opened, pin, now, step="pin")

    def unlock(self, session: Session, member_id: int, actor: str) -> bool:
        """/ontgrendel: lift a member's lock and clear their wrong-PIN count.

        Returns whether they were locked.

        Raises:
            RevealError: no member has this number, or it is the requester.
        """
        if session.get(Member, member_id) is None:
            raise RevealError(CommandRefusal.NO_MEMBER)
        if actor == member_actor(member_id):
            # A stolen account that locked itself guessing must not unlock itself.
            raise RevealError(CommandRefusal.SELF)
        access = session.get(WebAccess, member_id, with_for_update=True)
        was_locked = access is not None and access.locked_at is not None
        if access is not None:
            access.locked_at = None
            access.failed_pins = 0
            session.add(access)
        self._audit.record(
            session,
            actor=actor,
            action="reveal.unlock",
            subject=f"member:{member_id}",
            was_locked=was_locked,
        )
        return was_locked

    # -- the reveal ----------------------------------------------------------------

    def reveal(
        self, session: Session, token: str, pin: str, *, now: datetime
    ) -> RevealedPerson | RevealedCase | MeldingForm | Refused:
        """Check the PIN, use the link up and return what the page shows: a person, a
        case, or (a melding form's link) the form for a new melding.

        Single use even under concurrent requests: the link is marked used by a
        conditional update, so of two requests only one gets the data. The person's
        identity is read through the vault (audited); an identity erased by
        retention gives a result with `erased` set, not an error. A member's 31st
        reveal of a (local) day is refused and the coordinators are told, once a day.
        """
        opened = self._open(session, token, now, lock=True)
        if opened is None:
            return self._refuse(session, None, "", Refusal.UNKNOWN, {"step": "reveal"})
        checked = self._check_pin(session, opened, pin, now, step="reveal")
        if isinstance(checked, Refused):
            return checked
        link, member = opened.link, opened.member
        assert link.id is not None  # noqa: S101 - stored rows have ids
        assert member.id is not None  # noqa: S101 - stored rows have ids
        day, start, end = local_day(now, self._settings.tz)
        if self._links.used_between(member.id, start, end, session=session) >= DAILY_REVEALS:
            self._tell_limit(session, member, day)
            return self._refuse_link(session, opened, "reveal", Refusal.DAILY_LIMIT)
        if not self._links.consume(link.id, now, session=session):
            return self._refuse_link(session, opened, "reveal", Refusal.USED)
        if link.kind == LinkKind.MELDING_FORM:
            self._audit.record(
                session,
                actor=member_actor(member.id),
                action="reveal.form_opened",
                subject=f"reveal_link:{link.id}",
                kind=link.kind,
            )
            return self._melding_form(session, member, link.id, used_at=now)
        shown: RevealedPerson | RevealedCase
        if link.kind == LinkKind.ANNOUNCEMENT:
            shown = self._announcement_page(session, link, member.id)
        else:
            shown = self._case_page(session, link, member.id)
        self._audit.record(
            session,
            actor=member_actor(member.id),
            action="reveal.view",
            subject=f"reveal_link:{link.id}",
            kind=link.kind,
            target=link.target_id,
            erased=shown.erased,
        )
        return shown

    # -- the melding form ------------------------------------------------------------

    def submit_melding(
        self, session: Session, token: str, values: Mapping[str, str], *, now: datetime
    ) -> tuple[str | None, MeldingStored | MeldingFormProblems | Refused]:
        """The melding form sent: check it as the import checks a row, then store it.

        Stored once: the link is marked done by a conditional update in this
        transaction, so of two requests sending the same form (a double click) one
        stores and the other is refused as USED. A form with problems changes
        nothing but its audit entry (which names the fields, never their values).
        The melding is audited as `melding.add` with the member as actor, and the
        member gets its case reference in Telegram too.

        Returns the member's language (None: no such link) and the outcome.
        """
        opened = self._open_form(session, token, now, lock=True)
        if opened is None:
            return None, self._refuse(session, None, "", Refusal.UNKNOWN, {"step": "melding"})
        member, link = opened.member, opened.link
        language = member.language
        if opened.state is not LinkState.OK:
            return language, self._refuse_link(session, opened, "melding")
        assert member.id is not None  # noqa: S101 - stored rows have ids
        assert link.id is not None  # noqa: S101 - stored rows have ids
        assert link.used_at is not None  # noqa: S101 - form_state OK: the PIN was entered
        form = self._melding_form(session, member, link.id, used_at=link.used_at)
        checked = check_form(
            {**values, "bron_id": new_bron_id()},
            municipalities=form.municipalities,
            today=local_day(now, self._settings.tz)[0],
            themes=form.themes,
        )
        if isinstance(checked, RowError):
            self._audit.record(
                session,
                actor=member_actor(member.id),
                action="melding_form.problems",
                subject=f"reveal_link:{form.link_id}",
                fields=",".join(sorted({p.field for p in checked.problems})),
            )
            return language, MeldingFormProblems(form, checked.problems)
        if not self._links.finish(form.link_id, now, session=session):
            return language, self._refuse_link(session, opened, "melding", Refusal.USED)
        added = self._meldingen.add_in(
            session, checked, actor=member_actor(member.id), link=form.link_id
        )
        reference = added.reference
        outbox.enqueue(
            session,
            key=f"melding-form:{form.link_id}",
            chat_id=member.telegram_id,
            text=melding_stored_text(
                translator(member.language or self._settings.locale),
                reference=reference,
                new_case=added.new_case,
            ),
            now=now,
            new_key=True,
        )
        return language, MeldingStored(reference, added.new_case)

    def _melding_form(
        self, session: Session, member: Member, link_id: int, *, used_at: datetime
    ) -> MeldingForm:
        organisation = session.get(Organisation, member.organisation_id)
        granted = parse_themes(organisation.themes) if organisation is not None else frozenset()
        return MeldingForm(
            link_id=link_id,
            themes=tuple(t for t in Theme if t in granted),
            municipalities=tuple(self._settings.municipalities),
            open_until=used_at + MELDING_FORM_VALIDITY,
        )

    def _open_form(
        self, session: Session, token: str, now: datetime, *, lock: bool = False
    ) -> _Opened | None:
        """`_open` for the form a melding form's link opened at its PIN (see `form_state`)."""
        opened = self._open(session, token, now, lock=lock)
        if opened is None:
            return None
        link = opened.link
        if link.kind != LinkKind.MELDING_FORM:
            opened.state = LinkState.NOT_ALLOWED
            return opened
        access = opened.access
        opened.state = form_state(
            now=now,
            used_at=link.used_at,
            done_at=link.done_at,
            revoked_at=link.revoked_at,
            member_active=opened.member.active,
            locked=access is not None and access.locked_at is not None,
        )
        if opened.state is LinkState.OK and self._target_refusal(
            session, opened.member, LinkKind.MELDING_FORM, link.target_id
        ):
            opened.state = LinkState.NOT_ALLOWED
        return opened

    # -- inside --------------------------------------------------------------------

    def _open(
        self, session: Session, token: str, now: datetime, *, lock: bool = False
    ) -> _Opened | None:
        """The link named by `token` and its state; None when no link has this token.

        `lock`: take the member's second-factor row for update, so that PIN checks
        and reveals of one member are serialised (counts are not lost, the daily
        limit holds).
        """
        if not token_shape_ok(token):
            return None
        link = self._links.by_token_hash(token_hash(token), session=session)
        if link is None:
            return None
        member = session.get(Member, link.member_id)
        assert member is not None  # noqa: S101 - foreign key
        access = session.get(WebAccess, link.member_id, with_for_update=lock)
        state = link_state(
            now=now,
            expires_at=link.expires_at,
            used_at=link.used_at,
            revoked_at=link.revoked_at,
            member_active=member.active,
            locked=access is not None and access.locked_at is not None,
        )
        if state is LinkState.OK:
            # Checked again at every step: the member's roles or organisation may
            # have changed since the link was issued.
            refusal = self._target_refusal(session, member, LinkKind(link.kind), link.target_id)
            if refusal is not None:
                state = LinkState.NOT_ALLOWED
        return _Opened(link, member, access, state)

    def _add_access(self, session: Session, member_id: int) -> None:
        """The member's second-factor row, made with their first link so that PIN
        checks always have a row to lock (a request made at the same moment may
        have made it first)."""
        try:
            with savepoint(session):
                session.add(WebAccess(member_id=member_id))
                session.flush()
        except IntegrityError:
            pass

    def _target_refusal(
        self, session: Session, member: Member, kind: LinkKind, target_id: int
    ) -> Refusal | None:
        """Why `member` may not see this target, or None when they may."""
        organisation = session.get(Organisation, member.organisation_id)
        granted = parse_themes(organisation.themes) if organisation is not None else frozenset()
        if kind is LinkKind.MELDING_FORM:
            # Bound to the member; for coordinators (who may enter the themes granted).
            if target_id != member.id or Role.COORDINATOR not in parse_roles(member.roles):
                return Refusal.NOT_ALLOWED
            return None
        if kind is LinkKind.ANNOUNCEMENT:
            announcement = session.get(Announcement, target_id)
            # The page shows a detention notification's melding; other kinds have none.
            if announcement is None or announcement.kind != AnnouncementKind.DETENTION:
                return Refusal.NO_TARGET
            theme = announcement.theme
        else:
            case = session.get(Case, target_id)
            if case is None:
                return Refusal.NO_TARGET
            # A coordinator, or the casemanager who accepted this case (and still has it).
            coordinator = Role.COORDINATOR in parse_roles(member.roles)
            if not coordinator and not self._decisions.is_casemanager_of(
                session, member_id=member.id or 0, case_id=target_id
            ):
                return Refusal.NOT_ALLOWED
            theme = case.theme
        return None if Theme(theme) in granted else Refusal.NOT_ALLOWED

    def _check_pin(
        self, session: Session, opened: _Opened, pin: str, now: datetime, *, step: str
    ) -> PinAccepted | Refused:
        if opened.state is not LinkState.OK:
            return self._refuse_link(session, opened, step)
        access = opened.access
        if access is None or access.pin_hash is None:
            return self._refuse_link(session, opened, step, Refusal.NO_PIN)
        if not verify_secret(pin, access.pin_hash):
            return self._second_factor_failed(session, opened, "pin", now)
        if access.failed_pins:
            access.failed_pins = 0
            session.add(access)
        return PinAccepted(opened.link.member_id)

    def _second_factor_failed(
        self, session: Session, opened: _Opened, factor: str, now: datetime
    ) -> Refused:
        """Count a wrong PIN or set-up code; the PIN_ATTEMPTS-th in a row locks."""
        member_id = opened.link.member_id
        access = opened.access or WebAccess(member_id=member_id)
        access.failed_pins += 1
        locked = access.failed_pins >= PIN_ATTEMPTS
        if locked:
            access.locked_at = now
        session.add(access)
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action="reveal.pin_failed",
            subject=f"member:{member_id}",
            factor=factor,
            failures=access.failed_pins,
            link=opened.link.id,
        )
        if locked:
            self._audit.record(
                session,
                actor=member_actor(member_id),
                action="reveal.lock",
                subject=f"member:{member_id}",
                failures=access.failed_pins,
            )
            self._tell_lock(session, opened.member, now)
            return Refused(Refusal.LOCKED, attempts_left=0)
        wrong = Refusal.WRONG_PIN if factor == "pin" else Refusal.SETUP_CODE_WRONG
        return Refused(wrong, attempts_left=PIN_ATTEMPTS - access.failed_pins)

    def _refuse_link(
        self, session: Session, opened: _Opened, step: str, reason: Refusal | None = None
    ) -> Refused:
        link = opened.link
        return self._refuse(
            session,
            link.member_id,
            f"reveal_link:{link.id}",
            reason or Refusal(opened.state.value),
            {"step": step, "kind": link.kind, "target": link.target_id},
        )

    def _refuse(
        self,
        session: Session,
        member_id: int | None,
        subject: str,
        reason: Refusal,
        details: dict[str, Detail],
    ) -> Refused:
        self._audit.record(
            session,
            actor=WEB if member_id is None else member_actor(member_id),
            action="reveal.refused",
            subject=subject,
            reason=reason.value,
            **details,
        )
        return Refused(reason)

    def _tell_limit(self, session: Session, member: Member, day: date) -> None:
        assert member.id is not None  # noqa: S101 - stored rows have ids
        number, name, organisation = self._member_names(session, member)

        def render(_: Translator) -> SafeText:
            return daily_limit_notice(
                _, number=number, name=name, organisation=organisation, limit=DAILY_REVEALS
            )

        self._memberships.tell_coordinators(
            session, key=f"reveal-limit:{number}:{day.isoformat()}", render=render
        )

    def _tell_lock(self, session: Session, member: Member, now: datetime) -> None:
        """The coordinators hear of a lock at once: it may be someone else guessing."""
        number, name, organisation = self._member_names(session, member)

        def render(_: Translator) -> SafeText:
            return lock_notice(_, number=number, name=name, organisation=organisation)

        self._memberships.tell_coordinators(
            session, key=f"reveal-lock:{number}:{now.isoformat()}", render=render
        )

    def _member_names(self, session: Session, member: Member) -> tuple[int, str, str]:
        assert member.id is not None  # noqa: S101 - stored rows have ids
        organisation = session.get(Organisation, member.organisation_id)
        name = self._cipher.decrypt(member.name_ct, context=MEMBER_NAME_CONTEXT)
        return member.id, name, organisation.name if organisation is not None else "?"

    def _subject(self, session: Session, kind: LinkKind, target_id: int) -> str:
        """The case reference, or for an announcement without a case the pseudonym; for
        a melding form nothing (there is no subject yet)."""
        if kind is LinkKind.MELDING_FORM:
            return ""
        if kind is LinkKind.CASE:
            case = session.get(Case, target_id)
            assert case is not None  # noqa: S101 - checked before
            return case.reference
        announcement = session.get(Announcement, target_id)
        assert announcement is not None  # noqa: S101 - checked before
        if announcement.case_id is not None:
            case = session.get(Case, announcement.case_id)
            if case is not None:
                return case.reference
        melding = session.get(Melding, announcement.subject_id)
        person = session.get(Person, melding.person_id) if melding is not None else None
        return person.pseudonym if person is not None else "?"

    # -- housekeeping ----------------------------------------------------------------

    def purge(self, session: Session, now: datetime) -> int:
        """Delete links and set-up codes that ended more than PURGE_AFTER ago.

        They hold only hashes, but nothing needs them any more: the audit log
        keeps what happened. Returns how many rows went.
        """
        cutoff = now - PURGE_AFTER
        links = session.exec(delete(RevealLink).where(col(RevealLink.expires_at) < cutoff)).rowcount
        codes = session.exec(delete(SetupCode).where(col(SetupCode.expires_at) < cutoff)).rowcount
        if links or codes:
            self._audit.record(
                session,
                actor="system",
                action="reveal.purge",
                subject="reveal",
                links=links,
                setup_codes=codes,
            )
        return int(links or 0) + int(codes or 0)

    # -- what the page shows -----------------------------------------------------------

    def _identity(self, session: Session, person_id: int, member_id: int) -> Identity | None:
        try:
            return self._vault.reveal(
                session, person_id, actor=member_actor(member_id), purpose="reveal link"
            )
        except IdentityErased:
            return None

    def _melding(self, session: Session, melding: Melding) -> MeldingShown:
        announcement = session.exec(
            select(Announcement).where(
                Announcement.kind == AnnouncementKind.DETENTION,
                Announcement.subject_id == melding.id,
            )
        ).first()
        answers: tuple[AnswerShown, ...] = ()
        if announcement is not None:
            rows = session.exec(
                select(Answer, Organisation)
                .join(Organisation, col(Organisation.id) == col(Answer.organisation_id))
                .where(Answer.announcement_id == announcement.id)
                .order_by(col(Organisation.name))
            ).all()
            answers = tuple(AnswerShown(o.name, a.known, a.answered_at) for a, o in rows)
        institution = melding.institution
        if institution is None and melding.institution_ct is not None:
            institution = self._cipher.decrypt(melding.institution_ct, context=INSTITUTION_CONTEXT)
        remark = (
            self._cipher.decrypt(melding.remark_ct, context=REMARK_CONTEXT)
            if melding.remark_ct is not None
            else None
        )
        return MeldingShown(
            soort=melding.soort,
            event_date=melding.event_date,
            received_at=melding.received_at,
            municipality=melding.municipality,
            institution=institution,
            remark=remark,
            erased=melding.erased_at is not None,
            answers=answers,
        )

    def _announcement_page(
        self, session: Session, link: RevealLink, member_id: int
    ) -> RevealedPerson:
        announcement = session.get(Announcement, link.target_id)
        assert announcement is not None  # noqa: S101 - checked in this transaction
        melding = session.get(Melding, announcement.subject_id)
        assert melding is not None  # noqa: S101 - a detention announcement's subject
        person = session.get(Person, melding.person_id)
        assert person is not None  # noqa: S101 - foreign key
        case = session.get(Case, announcement.case_id) if announcement.case_id else None
        return RevealedPerson(
            announcement_id=link.target_id,
            case_reference=case.reference if case is not None else None,
            pseudonym=person.pseudonym,
            theme=Theme(announcement.theme),
            identity=self._identity(session, melding.person_id, member_id),
            melding=self._melding(session, melding),
        )

    def _case_page(self, session: Session, link: RevealLink, member_id: int) -> RevealedCase:
        case = session.get(Case, link.target_id)
        assert case is not None  # noqa: S101 - checked in this transaction
        assert case.id is not None  # noqa: S101 - stored rows have ids
        person = session.get(Person, case.person_id)
        assert person is not None  # noqa: S101 - foreign key
        meldingen = session.exec(
            select(Melding)
            .where(Melding.case_id == case.id)
            .order_by(col(Melding.event_date), col(Melding.id))
        ).all()
        return RevealedCase(
            case_id=case.id,
            reference=case.reference,
            pseudonym=person.pseudonym,
            theme=Theme(case.theme),
            municipality=case.municipality,
            opened_at=case.opened_at,
            closed_at=case.closed_at,
            identity=self._identity(session, case.person_id, member_id),
            meldingen=tuple(self._melding(session, m) for m in meldingen),
            decision=self._decision(session, case),
            decided_at=case.decided_at,
            casemanager=self._decisions.casemanager_of(session, case.id),
            plan=self._plan.page_plan(session, case_id=case.id, member_id=member_id)
            if self._plan is not None
            else None,
        )

    def _decision(self, session: Session, case: Case) -> DecisionShown | None:
        if case.decision is None:
            return None
        organisation = (
            session.get(Organisation, case.decision_organisation_id)
            if case.decision_organisation_id is not None
            else None
        )
        return DecisionShown(
            Decision(case.decision),
            organisation.name if organisation is not None else None,
            CloseReason(case.decision_reason) if case.decision_reason else None,
        )
