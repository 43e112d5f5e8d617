"""Tables. Identifying data lives only in `*_ct` columns, encrypted per field.

Timestamps are timezone-aware (stored as UTC). Every change to these tables
goes through an Alembic migration in `bot/storage/migrations/versions`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, Text
from sqlmodel import Field, SQLModel


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True, index=True)
    name: str = Field(max_length=200)
    # Comma-separated Theme values this organisation may see.
    themes: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Member(SQLModel, table=True):
    """A professional of a partner organisation, known by their Telegram account."""

    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    # The professional's display name, encrypted like any personal data.
    name_ct: str = Field(sa_column=Column(Text, nullable=False))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    roles: str = Field(default="partner", max_length=100)
    # nl/en chosen explicitly; None follows the member's Telegram language.
    language: str | None = Field(default=None, max_length=5)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_seen_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    deactivated_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    # Set once the bot has removed a deactivated member from the partner group;
    # until then the group-removal duty keeps trying (also after a restart).
    removed_from_group_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class Invite(SQLModel, table=True):
    """A one-time code for joining as a member. Only a hash of the code is kept."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True, index=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    roles: str = Field(max_length=100)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )
    used_by_member_id: int | None = Field(default=None, foreign_key="member.id")


class InviteFailure(SQLModel, table=True):
    """A wrong invite code from one Telegram account: counted to block guessing."""

    __tablename__ = "invite_failure"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    reason: str = Field(max_length=16)


class Person(SQLModel, table=True):
    """A person the Veiligheidshuis handles: only a keyed pseudonym in clear."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    # HMAC of the normalised identity: finds the same person again, reveals nothing.
    identity_key: str = Field(max_length=64, unique=True, index=True)
    pseudonym: str = Field(max_length=16, unique=True, index=True)
    # Encrypted JSON: surname, given names, birth date, BSN. None once erased.
    identity_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    erased_at: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True)
    )


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained; database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=64)
    # Canonical JSON of small non-personal facts (ids, counts, reasons).
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


__all__ = ["AuditEntry", "Invite", "InviteFailure", "Member", "Organisation", "Person", "aware"]
