"""Queries. Repositories take a session and never commit: services own the transaction."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import and_, or_, text, update
from sqlmodel import Session, SQLModel, col, func, select

from bot.domain.reveal import MELDING_FORM_VALIDITY, LinkKind
from bot.storage.models import (
    AccessRequest,
    AuditEntry,
    AuditKeying,
    Invite,
    InviteFailure,
    Member,
    Organisation,
    Person,
    RevealLink,
)

# Any fixed number: the advisory lock that serialises appends to the audit chain.
_AUDIT_LOCK_KEY = 7_202_611


class AuditRepository:
    def lock_for_append(self, *, session: Session) -> None:
        """Serialise appenders across processes (SQLite already does, via BEGIN IMMEDIATE)."""
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK_KEY})

    def last(self, *, session: Session) -> AuditEntry | None:
        return session.exec(
            select(AuditEntry).order_by(col(AuditEntry.seq).desc()).limit(1)
        ).first()

    def add(self, entry: AuditEntry, *, session: Session) -> None:
        session.add(entry)
        session.flush()

    def in_order(self, *, session: Session, batch: int = 1000) -> Iterator[AuditEntry]:
        """Every entry by sequence number, read in batches so memory stays flat."""
        after = 0
        while True:
            rows = session.exec(
                select(AuditEntry)
                .where(AuditEntry.seq > after)
                .order_by(col(AuditEntry.seq))
                .limit(batch)
            ).all()
            if not rows:
                return
            yield from rows
            after = rows[-1].seq

    def count(self, *, session: Session) -> int:
        return session.exec(select(func.count()).select_from(AuditEntry)).one()

    def keyed_from(self, *, session: Session) -> int:
        """The first seq hashed with the audit key (migration 0005 wrote it).

        A missing row counts as 1, every entry keyed: the strict reading, so
        deleting the row can only make legacy entries fail, never pass.
        """
        row = session.get(AuditKeying, 1)
        return 1 if row is None else row.keyed_from

    def actions(self, action: str, *, session: Session) -> Sequence[AuditEntry]:
        return session.exec(
            select(AuditEntry).where(AuditEntry.action == action).order_by(col(AuditEntry.seq))
        ).all()


class PersonRepository:
    def by_identity_key_or_pseudonym(
        self, identity_key: str, pseudonym: str, *, session: Session
    ) -> Sequence[Person]:
        """The person with this identity key and the one holding this pseudonym (0 to 2)."""
        return session.exec(
            select(Person).where(
                or_(col(Person.identity_key) == identity_key, col(Person.pseudonym) == pseudonym)
            )
        ).all()

    def pseudonym_taken(self, pseudonym: str, *, session: Session) -> bool:
        return (
            session.exec(select(Person.id).where(Person.pseudonym == pseudonym)).first() is not None
        )

    def get(self, person_id: int, *, session: Session) -> Person | None:
        return session.get(Person, person_id)

    def add(self, person: Person, *, session: Session) -> Person:
        session.add(person)
        session.flush()
        return person

    def identity_stamps(
        self, *, session: Session, stored_since: datetime | None = None
    ) -> Sequence[tuple[int, datetime]]:
        """(id, identity_stored_at) of persons whose identity is held, written since then.

        Only the two indexed columns: the guard asks before every message.
        """
        query = select(Person.id, Person.identity_stored_at).where(
            col(Person.identity_ct).is_not(None)
        )
        if stored_since is not None:
            query = query.where(col(Person.identity_stored_at) >= stored_since)
        return [(person_id, at) for person_id, at in session.exec(query) if person_id is not None]

    def by_ids(self, ids: Sequence[int], *, session: Session) -> Sequence[Person]:
        found: list[Person] = []
        for start in range(0, len(ids), 500):  # bounded IN lists
            chunk = ids[start : start + 500]
            found += session.exec(select(Person).where(col(Person.id).in_(chunk))).all()
        return found


class OrganisationRepository:
    def by_code(self, code: str, *, session: Session) -> Organisation | None:
        return session.exec(select(Organisation).where(Organisation.code == code.upper())).first()

    def get(self, organisation_id: int, *, session: Session) -> Organisation | None:
        return session.get(Organisation, organisation_id)

    def all(self, *, session: Session) -> Sequence[Organisation]:
        return session.exec(select(Organisation).order_by(col(Organisation.code))).all()

    def add(self, organisation: Organisation, *, session: Session) -> Organisation:
        session.add(organisation)
        session.flush()
        return organisation


class MemberRepository:
    def by_telegram_id(self, telegram_id: int, *, session: Session) -> Member | None:
        return session.exec(select(Member).where(Member.telegram_id == telegram_id)).first()

    def get(self, member_id: int, *, session: Session) -> Member | None:
        return session.get(Member, member_id)

    def all_with_organisation(self, *, session: Session) -> Sequence[tuple[Member, Organisation]]:
        rows = session.exec(
            select(Member, Organisation)
            .join(Organisation, col(Member.organisation_id) == col(Organisation.id))
            .order_by(col(Organisation.code), col(Member.id))
        ).all()
        return [(member, organisation) for member, organisation in rows]

    def active(self, *, session: Session) -> Sequence[Member]:
        return session.exec(
            select(Member).where(col(Member.active).is_(True)).order_by(col(Member.id))
        ).all()

    def active_with_role(
        self, role: str, *, session: Session, for_update: bool = False
    ) -> Sequence[Member]:
        """Active members holding `role` (roles are stored comma-separated).

        `for_update` locks every active member's row until the transaction ends, so a
        rule about who remains (the last coordinator) cannot be broken by a second
        transaction deciding at the same moment.
        """
        query = select(Member).where(col(Member.active).is_(True)).order_by(col(Member.id))
        if for_update:
            query = query.with_for_update()
        members = session.exec(query).all()
        return [m for m in members if role in m.roles.split(",")]

    def awaiting_group_removal(self, *, session: Session) -> Sequence[Member]:
        return session.exec(
            select(Member)
            .where(col(Member.active).is_(False), col(Member.removed_from_group_at).is_(None))
            .order_by(col(Member.id))
        ).all()

    def add(self, member: Member, *, session: Session) -> Member:
        session.add(member)
        session.flush()
        return member


class InviteRepository:
    def by_code_hash(
        self, code_hash: str, *, session: Session, for_update: bool = False
    ) -> Invite | None:
        query = select(Invite).where(Invite.code_hash == code_hash)
        if for_update:
            # Two people redeeming one code at once: the second waits, then sees it used.
            query = query.with_for_update()
        return session.exec(query).first()

    def add(self, invite: Invite, *, session: Session) -> Invite:
        session.add(invite)
        session.flush()
        return invite

    def get(self, invite_id: int, *, session: Session) -> Invite | None:
        return session.get(Invite, invite_id)

    def unused_from(self, created_by: str, *, session: Session) -> Sequence[Invite]:
        """Invites `created_by` issued that nobody used and nobody revoked yet."""
        return session.exec(
            select(Invite)
            .where(
                Invite.created_by == created_by,
                col(Invite.used_at).is_(None),
                col(Invite.revoked_at).is_(None),
            )
            .order_by(col(Invite.id))
        ).all()

    def add_failure(self, failure: InviteFailure, *, session: Session) -> None:
        session.add(failure)
        session.flush()

    def failures_since(
        self, telegram_id: int, since: datetime, *, session: Session
    ) -> Sequence[datetime]:
        return session.exec(
            select(InviteFailure.at).where(
                InviteFailure.telegram_id == telegram_id, col(InviteFailure.at) >= since
            )
        ).all()


class EncryptedFieldRepository:
    def needing_rotation(
        self, model: type[SQLModel], column: str, key_prefix: str, *, session: Session, limit: int
    ) -> Sequence[SQLModel]:
        """Rows whose `column` holds a ciphertext not made with the key of `key_prefix`."""
        field = col(getattr(model, column))
        return session.exec(
            select(model)
            .where(field.is_not(None), field.not_like(f"{key_prefix}%"))
            .order_by(*model.__table__.primary_key.columns)  # type: ignore[attr-defined]
            .limit(limit)
        ).all()


class AccessRequestRepository:
    def add(self, request: AccessRequest, *, session: Session) -> AccessRequest:
        session.add(request)
        session.flush()
        return request

    def get(
        self, request_id: int, *, session: Session, for_update: bool = False
    ) -> AccessRequest | None:
        # A press and its replay, or two coordinators at once: the second waits, then
        # finds the request decided.
        return session.get(AccessRequest, request_id, with_for_update=for_update)

    def pending_involving(self, member_id: int, *, session: Session) -> Sequence[AccessRequest]:
        """Pending requests made by this member or about them."""
        return session.exec(
            select(AccessRequest)
            .where(
                AccessRequest.status == "pending",
                or_(
                    col(AccessRequest.requested_by) == member_id,
                    col(AccessRequest.member_id) == member_id,
                ),
            )
            .order_by(col(AccessRequest.id))
        ).all()

    def pending_expired(self, now: datetime, *, session: Session) -> Sequence[AccessRequest]:
        return session.exec(
            select(AccessRequest)
            .where(AccessRequest.status == "pending", col(AccessRequest.expires_at) <= now)
            .order_by(col(AccessRequest.id))
            .with_for_update()
        ).all()


class RevealLinkRepository:
    def by_token_hash(self, token_hash: str, *, session: Session) -> RevealLink | None:
        return session.exec(select(RevealLink).where(RevealLink.token_hash == token_hash)).first()

    def consume(self, link_id: int, now: datetime, *, session: Session) -> bool:
        """Mark the link used, if it still can be; False when another request was first.

        Conditional, so of two requests racing for one link only one changes the row.
        """
        result = session.execute(
            update(RevealLink)
            .where(
                col(RevealLink.id) == link_id,
                col(RevealLink.used_at).is_(None),
                col(RevealLink.revoked_at).is_(None),
                col(RevealLink.expires_at) > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def finish(self, link_id: int, now: datetime, *, session: Session) -> bool:
        """Mark a melding form's link done (its melding stored); False when it was already.

        Conditional, so of two requests sending the same form only one stores.
        """
        result = session.execute(
            update(RevealLink)
            .where(
                col(RevealLink.id) == link_id,
                col(RevealLink.used_at).is_not(None),
                col(RevealLink.done_at).is_(None),
                col(RevealLink.revoked_at).is_(None),
            )
            .values(done_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def revoke_open(self, member_id: int, now: datetime, *, session: Session) -> int:
        """Revoke the member's links not used, revoked or expired yet, and the melding
        forms their links opened that are still open; how many."""
        unused = and_(col(RevealLink.used_at).is_(None), col(RevealLink.expires_at) > now)
        open_form = and_(
            col(RevealLink.kind) == LinkKind.MELDING_FORM.value,
            col(RevealLink.done_at).is_(None),
            col(RevealLink.used_at) > now - MELDING_FORM_VALIDITY,
        )
        result = session.execute(
            update(RevealLink)
            .where(
                col(RevealLink.member_id) == member_id,
                col(RevealLink.revoked_at).is_(None),
                or_(unused, open_form),
            )
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def used_between(
        self, member_id: int, start: datetime, end: datetime, *, session: Session
    ) -> int:
        """How many of the member's links were used (revealed) in [start, end)."""
        return session.exec(
            select(func.count())
            .select_from(RevealLink)
            .where(
                RevealLink.member_id == member_id,
                col(RevealLink.used_at) >= start,
                col(RevealLink.used_at) < end,
            )
        ).one()
