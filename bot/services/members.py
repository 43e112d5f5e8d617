"""Partner organisations and their members."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.roles import (
    DEFAULT_THEMES,
    Role,
    Theme,
    format_roles,
    format_themes,
    parse_roles,
    parse_themes,
)
from bot.privacy.crypto import FieldCipher
from bot.services.audit import AuditLog
from bot.storage.models import Member, Organisation
from bot.storage.repositories import MemberRepository, OrganisationRepository

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
    ) -> None:
        self._cipher = cipher
        self._audit = audit
        self._clock = clock
        self._organisations = organisations or OrganisationRepository()
        self._members = members or MemberRepository()

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
        organisation = self._organisations.by_code(organisation_code, session=session)
        if organisation is None or organisation.id is None:
            raise MembershipError(f"no organisation with code {organisation_code.upper()}")
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
                organisation_id=organisation.id,
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

    def view_for_telegram(self, session: Session, telegram_id: int) -> MemberView | None:
        """The member behind a Telegram account, or None for a stranger."""
        member = self._members.by_telegram_id(telegram_id, session=session)
        if member is None or member.id is None:
            return None
        organisation = self._organisations.get(member.organisation_id, session=session)
        if organisation is None:  # pragma: no cover - guarded by the foreign key
            return None
        return MemberView(
            member_id=member.id,
            organisation_code=organisation.code,
            organisation_name=organisation.name,
            roles=parse_roles(member.roles),
            language=member.language,
            active=member.active,
        )

    def touch(self, session: Session, member_id: int) -> None:
        """Record the member's last activity (shown to coordinators in /leden)."""
        member = session.get(Member, member_id)
        if member is not None:
            member.last_seen_at = self._clock.now()
            session.add(member)


def organisation_themes(organisation: Organisation) -> frozenset[Theme]:
    return parse_themes(organisation.themes)
