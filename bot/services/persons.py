"""Persons: identity in, pseudonym out; every read of the identity is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session

from bot.clock import Clock
from bot.domain.identity import Identity
from bot.privacy.crypto import FieldCipher
from bot.privacy.pseudonym import (
    MAX_PSEUDONYM_CHARS,
    PSEUDONYM_CHARS,
    identity_key,
    pseudonym_from_identity_key,
)
from bot.services.audit import AuditLog
from bot.storage.models import Person
from bot.storage.repositories import PersonRepository

IDENTITY_CONTEXT = "person.identity"


class PersonNotFound(LookupError):
    pass


class IdentityErased(LookupError):
    pass


class PseudonymsExhausted(RuntimeError):
    """Every length of a new person's pseudonym is held by others (2**-40 per extra step)."""


@dataclass(frozen=True)
class Registered:
    person_id: int
    pseudonym: str
    created: bool


@dataclass(frozen=True)
class GuardEntry:
    person_id: int
    stored_at: datetime
    identity: Identity


class PersonVault:
    """The only code that encrypts, decrypts or pseudonymises a person's identity."""

    def __init__(
        self,
        *,
        cipher: FieldCipher,
        pseudonym_key: bytes,
        audit: AuditLog,
        clock: Clock,
        repository: PersonRepository | None = None,
    ) -> None:
        self._cipher = cipher
        self._pseudonym_key = pseudonym_key
        self._audit = audit
        self._clock = clock
        self._repository = repository or PersonRepository()

    def register(self, session: Session, identity: Identity, *, actor: str) -> Registered:
        """Find the person by keyed identity, or store them encrypted.

        The same identity always yields the same person and pseudonym. A new
        person whose pseudonym another person holds already (two keys sharing
        their first 40 bits) gets a longer one; existing pseudonyms never change.

        Args:
            session: the open unit of work.
            identity: who the person is.
            actor: who registers them (for the audit log).

        Returns:
            The person's id and pseudonym, and whether they were created now.

        Raises:
            ValueError: the identity cannot be pseudonymised (see `identity_key`).
            PseudonymsExhausted: every length of the pseudonym is taken (not in practice).
        """
        key = identity_key(identity, self._pseudonym_key)
        code = pseudonym_from_identity_key(key)
        # One query for the usual case: the person themself, and whoever holds the code.
        found = self._repository.by_identity_key_or_pseudonym(key, code, session=session)
        existing = next((p for p in found if p.identity_key == key), None)
        if existing is not None and existing.id is not None:
            if existing.identity_ct is None:
                # Erased earlier (retention) and seen again: hold the identity anew.
                existing.identity_ct = self._encrypt(identity)
                existing.identity_stored_at = self._clock.now()
                existing.erased_at = None
                session.add(existing)
                self._audit.record(
                    session, actor=actor, action="person.restore", subject=f"person:{existing.id}"
                )
            return Registered(existing.id, existing.pseudonym, created=False)
        if found:
            code = self._longer_pseudonym(session, key)
        person = self._repository.add(
            Person(
                identity_key=key,
                pseudonym=code,
                identity_ct=self._encrypt(identity),
                created_at=self._clock.now(),
                identity_stored_at=self._clock.now(),
            ),
            session=session,
        )
        assert person.id is not None  # noqa: S101 - flushed rows have ids
        self._audit.record(
            session, actor=actor, action="person.create", subject=f"person:{person.id}"
        )
        return Registered(person.id, person.pseudonym, created=True)

    def _longer_pseudonym(self, session: Session, key: str) -> str:
        """The shortest extension of the key's pseudonym that nobody holds yet."""
        for chars in range(PSEUDONYM_CHARS + 1, MAX_PSEUDONYM_CHARS + 1):
            code = pseudonym_from_identity_key(key, chars=chars)
            if not self._repository.pseudonym_taken(code, session=session):
                return code
        raise PseudonymsExhausted("every length of this pseudonym is taken")

    def reveal(self, session: Session, person_id: int, *, actor: str, purpose: str) -> Identity:
        """Decrypt one person's identity, recording who read it and why."""
        person = self._repository.get(person_id, session=session)
        if person is None:
            raise PersonNotFound(f"no person {person_id}")
        if person.identity_ct is None:
            raise IdentityErased(f"person {person_id} has been erased")
        self._audit.record(
            session,
            actor=actor,
            action="person.read",
            subject=f"person:{person_id}",
            purpose=purpose,
        )
        return self._decrypt(person.identity_ct)

    def reveal_for_guard(
        self,
        session: Session,
        *,
        stored_since: datetime | None,
        known: dict[int, datetime],
    ) -> list[GuardEntry]:
        """Identities held, for the outgoing-message PII guard (one audit entry per load).

        Args:
            session: the open unit of work.
            stored_since: only identities written at or after this moment (None: all).
            known: person id -> identity_stored_at of identities the guard holds
                already; those are not decrypted again.

        Returns:
            The identities not in `known`, with their person id and moment.
        """
        stamps = self._repository.identity_stamps(session=session, stored_since=stored_since)
        wanted = [person_id for person_id, at in stamps if known.get(person_id) != at]
        if not wanted:
            return []
        fresh = self._repository.by_ids(wanted, session=session)
        entries = [
            GuardEntry(p.id or 0, p.identity_stored_at, self._decrypt(p.identity_ct))
            for p in fresh
            if p.identity_ct is not None
        ]
        self._audit.record(
            session,
            actor="system",
            action="person.read_bulk",
            subject="pii_guard",
            purpose="outgoing message guard",
            count=len(entries),
        )
        return entries

    def _encrypt(self, identity: Identity) -> str:
        return self._cipher.encrypt_json(
            {
                "surname": identity.surname,
                "given_names": identity.given_names,
                "birth_date": identity.birth_date.isoformat(),
                "bsn": identity.bsn,
            },
            context=IDENTITY_CONTEXT,
        )

    def _decrypt(self, token: str) -> Identity:
        data = self._cipher.decrypt_json(token, context=IDENTITY_CONTEXT)
        return Identity(
            surname=data["surname"],
            given_names=data["given_names"],
            birth_date=date.fromisoformat(data["birth_date"]),
            bsn=data["bsn"],
        )
