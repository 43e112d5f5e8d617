"""Partner organisations and their members."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.access import (
    REQUEST_VALIDITY,
    RemovalRefusal,
    RequestKind,
    RequestStatus,
    needs_second_coordinator,
    removal_refusal,
    request_open,
)
from bot.domain.invites import (
    ALPHABET,
    CODE_LENGTH,
    FAILURE_WINDOW,
    VALIDITY,
    InviteState,
    blocked_until,
    format_code,
    invite_state,
    normalise_code,
)
from bot.domain.roles import (
    DEFAULT_THEMES,
    Role,
    Theme,
    format_roles,
    format_themes,
    parse_roles,
)
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.safe import OrganisationName, SafeText, printable_name
from bot.services import outbox
from bot.services.audit import CLI, AuditLog, member_actor
from bot.storage.models import AccessRequest, Invite, InviteFailure, Member, Organisation
from bot.storage.repositories import (
    AccessRequestRepository,
    InviteRepository,
    MemberRepository,
    OrganisationRepository,
    RevealLinkRepository,
)
from bot.views.members import (
    invite_request_expired,
    invite_request_keyboard,
    invite_request_question,
    invite_request_refused,
    new_member_notice,
    unreachable_member_notice,
)

MEMBER_NAME_CONTEXT = "member.name"
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,15}$")
# Member numbers are database ids; anything longer is no member (and would overflow
# PostgreSQL's integer instead of simply not being found).
MAX_MEMBER_NUMBER = 2**31 - 1


class MembershipError(ValueError):
    """A refused change; the message is safe to show (no personal data)."""


@dataclass(frozen=True)
class MemberView:
    """What handlers need to know about the member behind an update."""

    member_id: int
    organisation_code: str
    organisation_name: str
    roles: frozenset[Role]
    language: str | None
    active: bool


@dataclass(frozen=True)
class InviteIssued:
    code: str
    organisation_code: str
    organisation_name: str
    roles: frozenset[Role]
    expires_at: datetime


@dataclass(frozen=True)
class InviteAwaiting:
    """A coordinator invite that waits for a second coordinator: no code yet."""

    request_id: int
    organisation_name: str
    roles: frozenset[Role]
    asked: int  # how many coordinators were asked


class RedeemOutcome(StrEnum):
    JOINED = "joined"
    REJOINED = "rejoined"
    ALREADY_MEMBER = "already_member"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    # The issuer was deactivated; the caller answers it like UNKNOWN.
    REVOKED = "revoked"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class Redeemed:
    outcome: RedeemOutcome
    member: MemberView | None
    blocked_until: datetime | None = None


@dataclass(frozen=True)
class Recipient:
    telegram_id: int
    language: str | None


@dataclass(frozen=True)
class MenuOwner:
    """An active member whose private chat shows the commands of their roles."""

    telegram_id: int
    roles: frozenset[Role]
    language: str | None


class RemovalOutcome(StrEnum):
    ASK = "ask"  # a request was made: ask its requester to confirm
    DEACTIVATED = "deactivated"
    CANCELLED = "cancelled"
    NO_MEMBER = "no_member"
    SELF = "self"
    ALREADY_INACTIVE = "already_inactive"
    LAST_COORDINATOR = "last_coordinator"
    CLOSED_OR_UNKNOWN = "closed_or_unknown"


_REFUSED_AS: dict[RemovalRefusal, RemovalOutcome] = {
    RemovalRefusal.SELF: RemovalOutcome.SELF,
    RemovalRefusal.ALREADY_INACTIVE: RemovalOutcome.ALREADY_INACTIVE,
    RemovalRefusal.LAST_COORDINATOR: RemovalOutcome.LAST_COORDINATOR,
}


@dataclass(frozen=True)
class RemovalStep:
    outcome: RemovalOutcome
    target: MemberView | None = None
    request_id: int | None = None


class InviteDecision(StrEnum):
    CONFIRMED = "confirmed"
    REFUSED = "refused"
    OWN_REQUEST = "own_request"
    CLOSED_OR_UNKNOWN = "closed_or_unknown"


@dataclass(frozen=True)
class InviteDecided:
    outcome: InviteDecision
    # On confirmation: the code, for the requester only, and where to send it.
    issued: InviteIssued | None = None
    invite_id: int | None = None
    requester: Recipient | None = None
    requester_number: int | None = None


@dataclass(frozen=True)
class DirectoryEntry:
    member_id: int
    organisation_code: str
    organisation_name: str
    name: str
    roles: frozenset[Role]
    active: bool
    last_seen_at: datetime | None


def short_code_for(name: str) -> str:
    """A code from an organisation's name: initials, or the first letters of one word."""
    words = re.findall(r"[A-Za-z0-9]+", name)
    if not words:
        raise MembershipError("the organisation name needs letters or digits")
    code = "".join(w[0] for w in words) if len(words) > 1 else words[0][:6]
    return code.upper()


class Memberships:
    def __init__(
        self,
        *,
        cipher: FieldCipher,
        audit: AuditLog,
        clock: Clock,
        locale: str = "nl",
        organisations: OrganisationRepository | None = None,
        members: MemberRepository | None = None,
        invites: InviteRepository | None = None,
        requests: AccessRequestRepository | None = None,
        links: RevealLinkRepository | None = None,
    ) -> None:
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        # The language of coordinators whose Telegram language is not known yet.
        self._locale = locale
        self._organisations = organisations or OrganisationRepository()
        self._members = members or MemberRepository()
        self._invites = invites or InviteRepository()
        self._requests = requests or AccessRequestRepository()
        self._links = links or RevealLinkRepository()

    def add_organisation(
        self,
        session: Session,
        *,
        name: str,
        code: str | None,
        themes: Iterable[Theme] | None,
        actor: str,
    ) -> Organisation:
        name = name.strip()
        if name and OrganisationName.or_none(name) is None:
            # Its name is shown in every tally: it must be one a message can carry.
            raise MembershipError(
                "the organisation name must be one line of printable text, at most 200 characters"
            )
        if not name:
            raise MembershipError("the organisation needs a name")
        code = (code or short_code_for(name)).strip().upper()
        if not _CODE.match(code):
            raise MembershipError(f"short code {code!r} must be 2-16 letters, digits, '-' or '_'")
        if self._organisations.by_code(code, session=session) is not None:
            raise MembershipError(f"an organisation with code {code} already exists")
        granted = frozenset(themes) if themes else DEFAULT_THEMES
        organisation = self._organisations.add(
            Organisation(
                code=code,
                name=name,
                themes=format_themes(granted),
                created_at=self._clock.now(),
            ),
            session=session,
        )
        self._audit.record(
            session,
            actor=actor,
            action="organisation.add",
            subject=f"organisation:{organisation.id}",
            code=code,
            themes=organisation.themes,
        )
        return organisation

    def organisations(self, session: Session) -> Sequence[Organisation]:
        return self._organisations.all(session=session)

    def add_member(
        self,
        session: Session,
        *,
        telegram_id: int,
        name: str,
        organisation_code: str,
        roles: Iterable[Role],
        actor: str,
    ) -> Member:
        organisation, organisation_id = self._organisation(session, organisation_code)
        if telegram_id <= 0:
            raise MembershipError("a Telegram user id is a positive number")
        name = printable_name(name)
        if not name:
            raise MembershipError("the member needs a name")
        if self._members.by_telegram_id(telegram_id, session=session) is not None:
            raise MembershipError("this Telegram account is already registered")
        granted = frozenset(roles) or frozenset({Role.PARTNER})
        member = self._members.add(
            Member(
                telegram_id=telegram_id,
                name_ct=self._cipher.encrypt(name, context=MEMBER_NAME_CONTEXT),
                organisation_id=organisation_id,
                roles=format_roles(granted),
                created_at=self._clock.now(),
            ),
            session=session,
        )
        self._audit.record(
            session,
            actor=actor,
            action="member.add",
            subject=f"member:{member.id}",
            organisation=organisation.code,
            roles=member.roles,
        )
        return member

    def view(self, session: Session, member_id: int) -> MemberView | None:
        member = self._members.get(member_id, session=session)
        return None if member is None else self._view(session, member)

    def outsiders(self, session: Session, telegram_ids: Iterable[int]) -> list[int]:
        """Of these Telegram accounts, the ones that are not active members, sorted."""
        return sorted(
            telegram_id
            for telegram_id in set(telegram_ids)
            if not self.is_active_member(session, telegram_id)
        )

    def seen(
        self, session: Session, telegram_id: int, language: str, *, privately: bool
    ) -> MemberView | None:
        """Who a Telegram account is; an active member's activity and language are noted."""
        view = self.view_for_telegram(session, telegram_id)
        if view is not None and view.active:
            self.touch(session, view.member_id, language, privately=privately)
        return view

    def view_for_telegram(self, session: Session, telegram_id: int) -> MemberView | None:
        """The member behind a Telegram account, or None for a stranger."""
        member = self._members.by_telegram_id(telegram_id, session=session)
        return None if member is None else self._view(session, member)

    def touch(
        self, session: Session, member_id: int, language: str, *, privately: bool = False
    ) -> None:
        """Record the member's last activity and current Telegram language.

        `privately`: they wrote in their private chat with the bot, so it can reach
        them there again: messages held for them (they had blocked it) go out.
        """
        member = self._members.get(member_id, session=session)
        if member is not None:
            member.last_seen_at = self._clock.now()
            member.language = language
            session.add(member)
            if privately:
                outbox.lift_hold(session, member.telegram_id)

    def tell_unreachable(self, session: Session, telegram_id: int, *, key: str) -> bool:
        """Telegram refuses this member's private chat: the coordinators learn who, once per `key`.

        False when no active member has this account (nobody to wait for).
        """
        member = self._members.by_telegram_id(telegram_id, session=session)
        if member is None or not member.active or member.id is None:
            return False
        view = self._view(session, member)
        name = self._cipher.decrypt(member.name_ct, context=MEMBER_NAME_CONTEXT)

        def render(_: Translator) -> SafeText:
            return unreachable_member_notice(
                _, number=view.member_id, name=name, organisation=view.organisation_name
            )

        self.tell_coordinators(session, key=key, render=render, leave_out=member.id)
        return True

    # -- invites -------------------------------------------------------------

    def create_invite(
        self,
        session: Session,
        *,
        organisation_code: str,
        roles: Iterable[Role],
        actor: str,
    ) -> InviteIssued:
        """A one-time code, valid 72 hours; only its hash is stored.

        The server's `vhbot invite` (and any invite without the coordinator role)
        comes here directly; see `invite_from_telegram` for coordinators' invites.
        """
        organisation, _organisation_id = self._organisation(session, organisation_code)
        granted = frozenset(roles) or frozenset({Role.PARTNER})
        issued, _invite = self._issue(session, organisation, granted, actor=actor)
        return issued

    def _issue(
        self,
        session: Session,
        organisation: Organisation,
        roles: frozenset[Role],
        *,
        actor: str,
        **details: int,
    ) -> tuple[InviteIssued, Invite]:
        assert organisation.id is not None  # noqa: S101 - stored rows have ids
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        now = self._clock.now()
        invite = self._invites.add(
            Invite(
                code_hash=_code_hash(raw),
                organisation_id=organisation.id,
                roles=format_roles(roles),
                created_by=actor,
                created_at=now,
                expires_at=now + VALIDITY,
            ),
            session=session,
        )
        self._audit.record(
            session,
            actor=actor,
            action="invite.create",
            subject=f"invite:{invite.id}",
            organisation=organisation.code,
            roles=invite.roles,
            **details,
        )
        issued = InviteIssued(
            code=format_code(raw),
            organisation_code=organisation.code,
            organisation_name=organisation.name,
            roles=roles,
            expires_at=invite.expires_at,
        )
        return issued, invite

    def invite_from_telegram(
        self,
        session: Session,
        *,
        organisation_code: str,
        roles: Iterable[Role],
        requester_id: int,
    ) -> InviteIssued | InviteAwaiting:
        """A coordinator's /uitnodigen: the code, or a request for a second coordinator.

        An invite with the coordinator role waits for another active coordinator to
        confirm it (each is asked privately, with buttons bound to the request);
        with nobody else to ask, or for any other roles, the code comes at once.

        Args:
            session: the open unit of work; the request and its questions commit together.
            organisation_code: the organisation's short code.
            roles: the roles the invite grants (partner when empty).
            requester_id: the asking coordinator's member number.

        Raises:
            MembershipError: no organisation has this code (its text does not repeat
                the code: it came from a chat).
        """
        organisation = self._organisations.by_code(organisation_code, session=session)
        if organisation is None or organisation.id is None:
            raise MembershipError("no organisation with that code")
        organisation_id = organisation.id
        granted = frozenset(roles) or frozenset({Role.PARTNER})
        others = [
            m
            for m in self._members.active_with_role(Role.COORDINATOR.value, session=session)
            if m.id != requester_id
        ]
        if not needs_second_coordinator(granted, other_coordinators=len(others)):
            issued, _invite = self._issue(
                session, organisation, granted, actor=member_actor(requester_id)
            )
            return issued
        requester = self._members.get(requester_id, session=session)
        assert requester is not None  # noqa: S101 - the caller is an active member
        now = self._clock.now()
        request = self._requests.add(
            AccessRequest(
                kind=RequestKind.INVITE.value,
                requested_by=requester_id,
                status=RequestStatus.PENDING.value,
                created_at=now,
                expires_at=now + REQUEST_VALIDITY,
                organisation_id=organisation_id,
                roles=format_roles(granted),
            ),
            session=session,
        )
        assert request.id is not None  # noqa: S101 - flushed
        self._audit.record(
            session,
            actor=member_actor(requester_id),
            action="invite.request",
            subject=f"request:{request.id}",
            organisation=organisation.code,
            roles=request.roles,
            asked=len(others),
        )
        name = self._cipher.decrypt(requester.name_ct, context=MEMBER_NAME_CONTEXT)
        for other in others:
            _ = translator(other.language or self._locale)
            outbox.enqueue(
                session,
                key=f"invite-request:{request.id}:{other.id}",
                chat_id=other.telegram_id,
                text=invite_request_question(
                    _,
                    number=requester_id,
                    name=name,
                    organisation=organisation.name,
                    roles=granted,
                ),
                reply_markup=invite_request_keyboard(request.id, _),
                now=now,
                new_key=True,  # the request was made in this transaction
            )
        return InviteAwaiting(request.id, organisation.name, granted, asked=len(others))

    def decide_invite_request(
        self, session: Session, *, request_id: int, member_id: int, confirm: bool
    ) -> InviteDecided:
        """A second coordinator confirms or refuses a coordinator invite.

        Only a pending, unexpired request of another, still active coordinator can
        be decided, once; the requester cannot decide their own. On confirmation the
        invite is made (the code is returned for the requester only); on refusal the
        requester is told.

        Args:
            session: the open unit of work.
            request_id: the request the button names.
            member_id: the coordinator who pressed.
            confirm: True for Confirm, False for Refuse.
        """
        now = self._clock.now()
        request = self._requests.get(request_id, session=session, for_update=True)
        if (
            request is None
            or request.kind != RequestKind.INVITE
            or not request_open(status=request.status, expires_at=request.expires_at, now=now)
            or request.organisation_id is None
        ):
            return InviteDecided(InviteDecision.CLOSED_OR_UNKNOWN)
        if request.requested_by == member_id:
            return InviteDecided(InviteDecision.OWN_REQUEST)
        requester = self._members.get(request.requested_by, session=session)
        decider = self._members.get(member_id, session=session)
        if not _active_coordinator(requester) or not _active_coordinator(decider):
            return InviteDecided(InviteDecision.CLOSED_OR_UNKNOWN)
        assert requester is not None  # noqa: S101 - checked just above
        organisation = self._organisations.get(request.organisation_id, session=session)
        assert organisation is not None  # noqa: S101 - foreign key
        if not confirm:
            self._decide(session, request, RequestStatus.REFUSED, member_id)
            _ = translator(requester.language or self._locale)
            outbox.enqueue(
                session,
                key=f"invite-request-refused:{request_id}",
                chat_id=requester.telegram_id,
                text=invite_request_refused(_, number=member_id, organisation=organisation.name),
                now=now,
            )
            return InviteDecided(InviteDecision.REFUSED)
        issued, invite = self._issue(
            session,
            organisation,
            parse_roles(request.roles),
            actor=member_actor(request.requested_by),
            request=request_id,
            confirmed_by=member_id,
        )
        request.invite_id = invite.id
        self._decide(session, request, RequestStatus.CONFIRMED, member_id)
        return InviteDecided(
            InviteDecision.CONFIRMED,
            issued=issued,
            invite_id=invite.id,
            requester=Recipient(requester.telegram_id, requester.language),
            requester_number=request.requested_by,
        )

    def revoke_invite(self, session: Session, *, invite_id: int, actor: str, reason: str) -> None:
        """Withdraw an unused invite (e.g. its code could not be delivered)."""
        invite = self._invites.get(invite_id, session=session)
        if invite is None or invite.used_at is not None or invite.revoked_at is not None:
            return
        invite.revoked_at = self._clock.now()
        session.add(invite)
        self._audit.record(
            session,
            actor=actor,
            action="invite.revoke",
            subject=f"invite:{invite_id}",
            reason=reason,
        )

    def expire_requests(self, session: Session) -> int:
        """End every request that waited 72 hours; an invite's requester is told.

        Returns how many ended. Safe to run again: an ended request is no longer pending.
        """
        now = self._clock.now()
        expired = self._requests.pending_expired(now, session=session)
        for request in expired:
            request.status = RequestStatus.EXPIRED.value
            session.add(request)
            self._audit.record(
                session,
                actor="system",
                action="request.expired",
                subject=f"request:{request.id}",
                kind=request.kind,
            )
            if request.kind != RequestKind.INVITE or request.organisation_id is None:
                continue
            requester = self._members.get(request.requested_by, session=session)
            organisation = self._organisations.get(request.organisation_id, session=session)
            if requester is None or not requester.active or organisation is None:
                continue
            _ = translator(requester.language or self._locale)
            outbox.enqueue(
                session,
                key=f"invite-request-expired:{request.id}",
                chat_id=requester.telegram_id,
                text=invite_request_expired(_, organisation=organisation.name),
                now=now,
            )
        return len(expired)

    def redeem_invite(
        self,
        session: Session,
        *,
        telegram_id: int,
        code_text: str,
        display_name: str,
        language: str,
    ) -> Redeemed:
        """Register the sender with an invite code, or say why not.

        Wrong codes (unknown, used, expired, malformed) are counted per Telegram
        account; five within an hour block the account for an hour, during
        which even a right code is refused and not consumed.
        """
        actor = f"tg:{telegram_id}"
        now = self._clock.now()
        existing = self._members.by_telegram_id(telegram_id, session=session)
        if existing is not None and existing.active:
            return Redeemed(RedeemOutcome.ALREADY_MEMBER, self._view(session, existing))
        failures = list(
            self._invites.failures_since(telegram_id, now - 2 * FAILURE_WINDOW, session=session)
        )
        until = blocked_until(failures, now)
        if until is not None:
            self._audit.record(
                session, actor=actor, action="invite.refused", subject="", reason="blocked"
            )
            return Redeemed(RedeemOutcome.BLOCKED, None, until)
        raw = normalise_code(code_text)
        invite = (
            None
            if raw is None
            else self._invites.by_code_hash(_code_hash(raw), session=session, for_update=True)
        )
        if invite is None:
            outcome = RedeemOutcome.MALFORMED if raw is None else RedeemOutcome.UNKNOWN
            return self._failed(session, telegram_id, outcome, failures, now)
        state = invite_state(
            used_at=invite.used_at,
            expires_at=invite.expires_at,
            now=now,
            revoked_at=invite.revoked_at,
        )
        if state is InviteState.REVOKED:
            return self._failed(session, telegram_id, RedeemOutcome.REVOKED, failures, now)
        if state is InviteState.USED:
            return self._failed(session, telegram_id, RedeemOutcome.USED, failures, now)
        if state is InviteState.EXPIRED:
            return self._failed(session, telegram_id, RedeemOutcome.EXPIRED, failures, now)

        # Telegram display names may hold any character: keep what a message can show.
        shown = printable_name(display_name) or "?"
        name = self._cipher.encrypt(shown, context=MEMBER_NAME_CONTEXT)
        if existing is not None:
            # A deactivated member invited again: the same account, a fresh start.
            existing.active = True
            existing.deactivated_at = None
            existing.removed_from_group_at = None
            existing.organisation_id = invite.organisation_id
            existing.roles = invite.roles
            existing.name_ct = name
            existing.language = language
            existing.last_seen_at = now
            session.add(existing)
            member, outcome, action = existing, RedeemOutcome.REJOINED, "member.reactivate"
        else:
            member = self._members.add(
                Member(
                    telegram_id=telegram_id,
                    name_ct=name,
                    organisation_id=invite.organisation_id,
                    roles=invite.roles,
                    language=language,
                    created_at=now,
                    last_seen_at=now,
                ),
                session=session,
            )
            outcome, action = RedeemOutcome.JOINED, "member.register"
        invite.used_at = now
        invite.used_by_member_id = member.id
        session.add(invite)
        self._audit.record(
            session,
            actor=actor,
            action=action,
            subject=f"member:{member.id}",
            invite=invite.id,
            roles=member.roles,
            invited_by=invite.created_by,
        )
        view = self._view(session, member)
        self._tell_of_new_member(session, view, invite, rejoined=existing is not None)
        return Redeemed(outcome, view)

    def _tell_of_new_member(
        self, session: Session, member: MemberView, invite: Invite, *, rejoined: bool
    ) -> None:
        """Every other active coordinator learns who joined, as what, invited by whom."""
        inviter: tuple[int, str] | None = None
        if invite.created_by != CLI:
            inviter_id = _member_id(invite.created_by)
            row = None if inviter_id is None else self._members.get(inviter_id, session=session)
            if row is not None and row.id is not None:
                name = self._cipher.decrypt(row.name_ct, context=MEMBER_NAME_CONTEXT)
                inviter = (row.id, name)

        def render(_: Translator) -> SafeText:
            return new_member_notice(
                _,
                number=member.member_id,
                organisation=member.organisation_name,
                roles=member.roles,
                rejoined=rejoined,
                inviter=inviter,
            )

        self.tell_coordinators(
            session, key=f"member-joined:{invite.id}", render=render, leave_out=member.member_id
        )

    def tell_coordinators(
        self,
        session: Session,
        *,
        key: str,
        render: Callable[[Translator], SafeText],
        leave_out: int | None = None,
    ) -> int:
        """Queue a private message to every active coordinator, each in their language.

        It commits with the change it reports, and goes out once per `key` and
        coordinator, however often this is called. Returns how many were queued anew.

        Args:
            session: the open unit of work.
            key: names the event; the same key twice queues nothing again.
            render: the text in a given language.
            leave_out: a member not to tell (the one the message is about).
        """
        return outbox.enqueue_to_coordinators(
            session,
            key=key,
            render=render,
            default_locale=self._locale,
            now=self._clock.now(),
            leave_out=leave_out,
        )

    def _failed(
        self,
        session: Session,
        telegram_id: int,
        outcome: RedeemOutcome,
        earlier: list[datetime],
        now: datetime,
    ) -> Redeemed:
        self._invites.add_failure(
            InviteFailure(telegram_id=telegram_id, at=now, reason=outcome.value), session=session
        )
        self._audit.record(
            session,
            actor=f"tg:{telegram_id}",
            action="invite.refused",
            subject="",
            reason=outcome.value,
        )
        return Redeemed(outcome, None, blocked_until([*earlier, now], now))

    # -- deactivation and the group --------------------------------------------

    def deactivate(self, session: Session, *, member_id: int, actor: str) -> MemberView:
        """Deactivate a member; the group-removal duty then removes them from the group.

        Their access ends with it: the invites they issued and did not see used are
        revoked, and so are their open reveal links; their pending requests (and
        removals asked about them) are closed.
        `vhbot member remove` comes here directly; Telegram goes through a removal request.
        """
        member = self._members.get(member_id, session=session)
        if member is None:
            raise MembershipError(f"no member with number {member_id}")
        if not member.active:
            return self._view(session, member)
        now = self._clock.now()
        member.active = False
        member.deactivated_at = now
        member.removed_from_group_at = None
        session.add(member)
        revoked = self._invites.unused_from(member_actor(member_id), session=session)
        for invite in revoked:
            invite.revoked_at = now
            session.add(invite)
        closed = self._requests.pending_involving(member_id, session=session)
        for request in closed:
            request.status = RequestStatus.CLOSED.value
            request.decided_at = now
            session.add(request)
        links = self._links.revoke_open(member_id, now, session=session)
        self._audit.record(
            session,
            actor=actor,
            action="member.deactivate",
            subject=f"member:{member_id}",
            revoked_invites=len(revoked),
            closed_requests=len(closed),
            revoked_links=links,
        )
        return self._view(session, member)

    def request_removal(
        self, session: Session, *, member_id: int, requester_id: int
    ) -> RemovalStep:
        """/verwijder N: a pending removal request its requester must confirm, or why not.

        Args:
            session: the open unit of work.
            member_id: the number the coordinator gave.
            requester_id: the coordinator's own member number.
        """
        target = (
            self._members.get(member_id, session=session)
            if 0 < member_id <= MAX_MEMBER_NUMBER
            else None
        )
        if target is None or target.id is None:
            return RemovalStep(RemovalOutcome.NO_MEMBER)
        view = self._view(session, target)
        refusal = self._removal_refusal(session, target, requester_id)
        if refusal is not None:
            return RemovalStep(_REFUSED_AS[refusal], view)
        now = self._clock.now()
        request = self._requests.add(
            AccessRequest(
                kind=RequestKind.REMOVAL.value,
                requested_by=requester_id,
                status=RequestStatus.PENDING.value,
                created_at=now,
                expires_at=now + REQUEST_VALIDITY,
                member_id=target.id,
            ),
            session=session,
        )
        self._audit.record(
            session,
            actor=member_actor(requester_id),
            action="member.removal_request",
            subject=f"member:{target.id}",
            request=request.id,
        )
        return RemovalStep(RemovalOutcome.ASK, view, request.id)

    def decide_removal(
        self, session: Session, *, request_id: int, member_id: int, confirm: bool
    ) -> RemovalStep:
        """The requester's answer to their own removal question.

        Only the coordinator who made the request can decide it, once, while it is
        pending; the rules are checked again at this moment (under a lock on the
        active members), so neither self-removal nor removing the last active
        coordinator gets through a button.

        Args:
            session: the open unit of work.
            request_id: the request the button names.
            member_id: the coordinator who pressed.
            confirm: True to deactivate, False to cancel.
        """
        now = self._clock.now()
        request = self._requests.get(request_id, session=session, for_update=True)
        if (
            request is None
            or request.kind != RequestKind.REMOVAL
            or request.requested_by != member_id
            or request.member_id is None
            or not request_open(status=request.status, expires_at=request.expires_at, now=now)
        ):
            return RemovalStep(RemovalOutcome.CLOSED_OR_UNKNOWN)
        target = self._members.get(request.member_id, session=session)
        assert target is not None  # noqa: S101 - foreign key
        view = self._view(session, target)
        if not confirm:
            self._decide(session, request, RequestStatus.CANCELLED, member_id)
            return RemovalStep(RemovalOutcome.CANCELLED, view, request_id)
        refusal = self._removal_refusal(session, target, member_id, lock=True)
        if refusal is not None:
            self._decide(session, request, RequestStatus.CLOSED, member_id)
            return RemovalStep(_REFUSED_AS[refusal], view, request_id)
        if not _active_coordinator(self._members.get(member_id, session=session)):
            return RemovalStep(RemovalOutcome.CLOSED_OR_UNKNOWN)
        self._decide(session, request, RequestStatus.CONFIRMED, member_id)
        return RemovalStep(
            RemovalOutcome.DEACTIVATED,
            self.deactivate(session, member_id=request.member_id, actor=member_actor(member_id)),
            request_id,
        )

    def _decide(
        self, session: Session, request: AccessRequest, status: RequestStatus, member_id: int
    ) -> None:
        request.status = status.value
        request.decided_at, request.decided_by = self._clock.now(), member_id
        session.add(request)
        session.flush()  # before deactivate() looks for what is still pending
        self._audit.record(
            session,
            actor=member_actor(member_id),
            action=f"request.{status.value}",
            subject=f"request:{request.id}",
            kind=request.kind,
            invite=request.invite_id,
        )

    def _removal_refusal(
        self, session: Session, target: Member, requester_id: int, *, lock: bool = False
    ) -> RemovalRefusal | None:
        assert target.id is not None  # noqa: S101 - stored rows have ids
        coordinators = self._members.active_with_role(
            Role.COORDINATOR.value, session=session, for_update=lock
        )
        return removal_refusal(
            requester_id=requester_id,
            target_id=target.id,
            target_active=target.active,
            target_roles=parse_roles(target.roles),
            active_coordinator_ids=[m.id for m in coordinators if m.id is not None],
        )

    def awaiting_group_removal(self, session: Session) -> list[tuple[int, int]]:
        """(member id, Telegram id) of deactivated members still to remove from the group."""
        return [
            (m.id, m.telegram_id)
            for m in self._members.awaiting_group_removal(session=session)
            if m.id is not None
        ]

    def mark_removed_from_group(
        self, session: Session, member_id: int, *, was_in_group: bool
    ) -> None:
        member = self._members.get(member_id, session=session)
        if member is None or member.active:
            return  # re-invited meanwhile: leave them be
        member.removed_from_group_at = self._clock.now()
        session.add(member)
        self._audit.record(
            session,
            actor="system",
            action="group.remove",
            subject=f"member:{member_id}",
            was_in_group=was_in_group,
        )

    def record_stranger_removed(
        self,
        session: Session,
        telegram_id: int,
        *,
        removed: bool,
        notice: Callable[[Translator], SafeText],
    ) -> None:
        """Record a stranger found in the partner group, and tell the coordinators.

        Each removal is told once; a stranger the bot could not remove is told at most
        once a day, however much they write meanwhile.
        """
        entry = self._audit.record(
            session,
            actor="system",
            action="group.stranger_removed" if removed else "group.stranger_not_removed",
            subject=f"tg:{telegram_id}",
        )
        if removed:
            key = f"stranger-removed:{telegram_id}:{entry.seq}"
        else:
            key = f"stranger-not-removed:{telegram_id}:{self._clock.now().date().isoformat()}"
        self.tell_coordinators(session, key=key, render=notice)

    def record_refusal(self, session: Session, *, actor: str, what: str, reason: str) -> None:
        self._audit.record(
            session, actor=actor, action="access.refused", subject=what, reason=reason
        )

    def is_active_member(self, session: Session, telegram_id: int) -> bool:
        member = self._members.by_telegram_id(telegram_id, session=session)
        return member is not None and member.active

    def menu_owners(self, session: Session) -> list[MenuOwner]:
        return [
            MenuOwner(m.telegram_id, parse_roles(m.roles), m.language)
            for m in self._members.active(session=session)
        ]

    def coordinators(self, session: Session) -> list[Recipient]:
        """Active coordinators, with the language to write to them in."""
        return [
            Recipient(m.telegram_id, m.language)
            for m in self._members.active_with_role(Role.COORDINATOR.value, session=session)
        ]

    def directory(self, session: Session, *, actor: str) -> list[DirectoryEntry]:
        """Every member per organisation, names decrypted (one audit entry for the read)."""
        rows = self._members.all_with_organisation(session=session)
        entries = [
            DirectoryEntry(
                member_id=member.id or 0,
                organisation_code=organisation.code,
                organisation_name=organisation.name,
                name=self._cipher.decrypt(member.name_ct, context=MEMBER_NAME_CONTEXT),
                roles=parse_roles(member.roles),
                active=member.active,
                last_seen_at=member.last_seen_at if member.last_seen_at else None,
            )
            for member, organisation in rows
        ]
        self._audit.record(
            session, actor=actor, action="member.read_bulk", subject="directory", count=len(entries)
        )
        return entries

    def _organisation(self, session: Session, code: str) -> tuple[Organisation, int]:
        """The organisation with this short code and its id, or a MembershipError."""
        organisation = self._organisations.by_code(code, session=session)
        if organisation is None or organisation.id is None:
            raise MembershipError(f"no organisation with code {code.upper()}")
        return organisation, organisation.id

    def _view(self, session: Session, member: Member) -> MemberView:
        organisation = self._organisations.get(member.organisation_id, session=session)
        assert organisation is not None  # noqa: S101 - guarded by the foreign key
        assert member.id is not None  # noqa: S101 - stored rows have ids
        return MemberView(
            member_id=member.id,
            organisation_code=organisation.code,
            organisation_name=organisation.name,
            roles=parse_roles(member.roles),
            language=member.language,
            active=member.active,
        )


def _code_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def _active_coordinator(member: Member | None) -> bool:
    return member is not None and member.active and Role.COORDINATOR in parse_roles(member.roles)


def _member_id(actor: str) -> int | None:
    """The member number in an actor such as `member:12`."""
    prefix, _, number = actor.partition(":")
    return int(number) if prefix == "member" and number.isdigit() else None
