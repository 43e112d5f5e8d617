"""Messages from safe values: institution catalogue, no clear copies

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 09:00:00

- melding.institution holds a catalogued name or NULL; a value the catalogue does
  not know moves to melding.institution_ct, encrypted by the `seal_clear_values`
  duty at the next start (a migration has no key). Until then nothing shows it:
  announcements show a non-catalogued institution as "other institution".
- outbox.text_values: the safe values of each text, for the outgoing guard (NULL
  on rows queued before: the guard then checks the whole text, as it did then);
  outbox.text_ct: the encrypted text of a message the guard withheld.
- person.identity_stored_at: when the identity was last written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('melding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('institution_ct', sa.Text(), nullable=True))
        batch_op.alter_column('institution', existing_type=sa.String(200), nullable=True)
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        # NULL on the rows queued before: sent only after a check of the whole text.
        batch_op.add_column(sa.Column('text_values', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('text_ct', sa.Text(), nullable=True))
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_stored_at', TS, nullable=True))
    op.execute('UPDATE person SET identity_stored_at = created_at')
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('identity_stored_at', existing_type=TS, nullable=False)
        batch_op.create_index(
            batch_op.f('ix_person_identity_stored_at'), ['identity_stored_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_identity_stored_at'))
        batch_op.drop_column('identity_stored_at')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('text_ct')
        batch_op.drop_column('text_values')
    with op.batch_alter_table('melding', schema=None) as batch_op:
        batch_op.drop_column('institution_ct')
