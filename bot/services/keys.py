"""Key rotation: re-encrypt every field under the primary key, in resumable batches."""

from __future__ import annotations

from dataclasses import dataclass

from bot.privacy.crypto import FieldCipher
from bot.services.audit import AuditLog
from bot.services.members import MEMBER_NAME_CONTEXT
from bot.services.persons import IDENTITY_CONTEXT
from bot.storage.engine import Database
from bot.storage.repositories import MemberRepository, PersonRepository


@dataclass(frozen=True)
class RotationReport:
    primary_key_id: str
    persons: int
    members: int


def reencrypt_all(
    db: Database, cipher: FieldCipher, audit: AuditLog, *, actor: str, batch: int = 500
) -> RotationReport:
    """Re-encrypt rows not yet under the primary key; each batch commits on its own.

    Killed half-way, a second run continues where this one stopped: rows are
    selected by the key id in their ciphertext, not by a saved position.
    """
    primary = cipher.primary_key_id
    prefix = f"v1.{primary}."
    persons = PersonRepository()
    members = MemberRepository()
    counts = {"persons": 0, "members": 0}
    while True:
        with db.session() as session:
            person_rows = persons.needing_rotation(prefix, session=session, limit=batch)
            for person in person_rows:
                assert person.identity_ct is not None  # noqa: S101 - filtered in the query
                person.identity_ct = cipher.rotate(person.identity_ct, context=IDENTITY_CONTEXT)
                session.add(person)
            member_rows = members.needing_rotation(prefix, session=session, limit=batch)
            for member in member_rows:
                member.name_ct = cipher.rotate(member.name_ct, context=MEMBER_NAME_CONTEXT)
                session.add(member)
            counts["persons"] += len(person_rows)
            counts["members"] += len(member_rows)
            if not person_rows and not member_rows:
                audit.record(
                    session,
                    actor=actor,
                    action="keys.reencrypt",
                    subject=f"key:{primary}",
                    persons=counts["persons"],
                    members=counts["members"],
                )
                break
    return RotationReport(primary, counts["persons"], counts["members"])
