"""Key rotation: re-encrypt every encrypted field under the primary key, in resumable batches.

`ENCRYPTED_FIELDS` names every `*_ct` column with the context it is encrypted
under; a test fails when a model gains one that is not listed, so no field is
left under a key that `vhbot keys retire` then removes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import SQLModel

from bot.privacy.crypto import FieldCipher
from bot.services.audit import AuditLog
from bot.services.detention import INSTITUTION_CONTEXT, REMARK_CONTEXT
from bot.services.members import MEMBER_NAME_CONTEXT
from bot.services.outbox import WITHHELD_TEXT_CONTEXT
from bot.services.persons import IDENTITY_CONTEXT
from bot.services.plan import ACTION_TITLE_CONTEXT, CONVERSATION_CONTEXT
from bot.storage.engine import Database
from bot.storage.models import Action, Conversation, Melding, Member, OutboxMessage, Person
from bot.storage.repositories import EncryptedFieldRepository


@dataclass(frozen=True)
class EncryptedField:
    model: type[SQLModel]
    column: str
    context: str

    @property
    def name(self) -> str:
        return f"{self.model.__tablename__}.{self.column}"


ENCRYPTED_FIELDS: tuple[EncryptedField, ...] = (
    EncryptedField(Person, "identity_ct", IDENTITY_CONTEXT),
    EncryptedField(Member, "name_ct", MEMBER_NAME_CONTEXT),
    EncryptedField(Melding, "remark_ct", REMARK_CONTEXT),
    EncryptedField(Melding, "institution_ct", INSTITUTION_CONTEXT),
    EncryptedField(OutboxMessage, "text_ct", WITHHELD_TEXT_CONTEXT),
    EncryptedField(Action, "title_ct", ACTION_TITLE_CONTEXT),
    EncryptedField(Conversation, "state_ct", CONVERSATION_CONTEXT),
)


@dataclass(frozen=True)
class RotationReport:
    primary_key_id: str
    counts: dict[str, int]  # field name -> rows re-encrypted

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def reencrypt_all(
    db: Database, cipher: FieldCipher, audit: AuditLog, *, actor: str, batch: int = 500
) -> RotationReport:
    """Re-encrypt every field not yet under the primary key; each batch commits on its own.

    Killed half-way, a second run continues where this one stopped: rows are
    selected by the key id in their ciphertext, not by a saved position.
    """
    primary = cipher.primary_key_id
    prefix = f"v1.{primary}."
    fields = EncryptedFieldRepository()
    counts = {field.name: 0 for field in ENCRYPTED_FIELDS}
    for field in ENCRYPTED_FIELDS:
        while True:
            with db.session() as session:
                rows = fields.needing_rotation(
                    field.model, field.column, prefix, session=session, limit=batch
                )
                for row in rows:
                    token = getattr(row, field.column)
                    setattr(row, field.column, cipher.rotate(token, context=field.context))
                    session.add(row)
            counts[field.name] += len(rows)
            if len(rows) < batch:
                break
    with db.session() as session:
        audit.record(
            session,
            actor=actor,
            action="keys.reencrypt",
            subject=f"key:{primary}",
            **{name.replace(".", "_"): count for name, count in counts.items()},
        )
    return RotationReport(primary, counts)
