"""Partner organisations and their members."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session

from bot.clock import Clock
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
from bot.privacy.crypto import FieldCipher
from bot.services.audit import AuditLog
from bot.storage.models import Invite, InviteFailure, Member, Organisation
from bot.storage.repositories import InviteRepository, MemberRepository, OrganisationRepository

MEMBER_NAME_CONTEXT = "member.name"
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{1,15}$")


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


class RedeemOutcome(StrEnum):
    JOINED = "joined"
    REJOINED = "rejoined"
    ALREADY_MEMBER = "already_member"
    MALFORMED = "malformed"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
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
        organisations: OrganisationRepository | None = None,
        members: MemberRepository | None = None,
        invites: InviteRepository | None = None,
    ) -> None:
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self._organisations = organisations or OrganisationRepository()
        self._members = members or MemberRepository()
        self._invites = invites or InviteRepository()

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
        if not name.strip():
            raise MembershipError("the member needs a name")
        if self._members.by_telegram_id(telegram_id, session=session) is not None:
            raise MembershipError("this Telegram account is already registered")
        granted = frozenset(roles) or frozenset({Role.PARTNER})
        member = self._members.add(
            Member(
                telegram_id=telegram_id,
                name_ct=self._cipher.encrypt(name.strip(), context=MEMBER_NAME_CONTEXT),
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

    def view_for_telegram(self, session: Session, telegram_id: int) -> MemberView | None:
        """The member behind a Telegram account, or None for a stranger."""
        member = self._members.by_telegram_id(telegram_id, session=session)
        return None if member is None else self._view(session, member)

    def touch(self, session: Session, member_id: int, language: str) -> None:
        """Record the member's last activity and current Telegram language."""
        member = self._members.get(member_id, session=session)
        if member is not None:
            member.last_seen_at = self._clock.now()
            member.language = language
            session.add(member)

    # -- invites -------------------------------------------------------------

    def create_invite(
        self,
        session: Session,
        *,
        organisation_code: str,
        roles: Iterable[Role],
        actor: str,
    ) -> InviteIssued:
        """A one-time code, valid 72 hours; only its hash is stored."""
        organisation, organisation_id = self._organisation(session, organisation_code)
        granted = frozenset(roles) or frozenset({Role.PARTNER})
        raw = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        now = self._clock.now()
        invite = self._invites.add(
            Invite(
                code_hash=_code_hash(raw),
                organisation_id=organisation_id,
                roles=format_roles(granted),
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
        )
        return InviteIssued(
            code=format_code(raw),
            organisation_code=organisation.code,
            organisation_name=organisation.name,
            roles=granted,
            expires_at=invite.expires_at,
        )

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
        state = invite_state(used_at=invite.used_at, expires_at=invite.expires_at, now=now)
        if state is InviteState.USED:
            return self._failed(session, telegram_id, RedeemOutcome.USED, failures, now)
        if state is InviteState.EXPIRED:
            return self._failed(session, telegram_id, RedeemOutcome.EXPIRED, failures, now)

        name = self._cipher.encrypt(display_name.strip() or "?", context=MEMBER_NAME_CONTEXT)
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
        )
        return Redeemed(outcome, self._view(session, member))

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
        """Deactivate a member; the group-removal duty then removes them from the group."""
        member = self._members.get(member_id, session=session)
        if member is None:
            raise MembershipError(f"no member with number {member_id}")
        if not member.active:
            return self._view(session, member)
        member.active = False
        member.deactivated_at = self._clock.now()
        member.removed_from_group_at = None
        session.add(member)
        self._audit.record(
            session, actor=actor, action="member.deactivate", subject=f"member:{member_id}"
        )
        return self._view(session, member)

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

    def record_stranger_removed(self, session: Session, telegram_id: int, *, removed: bool) -> None:
        self._audit.record(
            session,
            actor="system",
            action="group.stranger_removed" if removed else "group.stranger_not_removed",
            subject=f"tg:{telegram_id}",
        )

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
