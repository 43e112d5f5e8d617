"""A melding is known by its sender and the sender's id, not by the id alone

Two sources may both send a melding "1001" (the police and the GGZ number their
own): with `bron_id` unique on its own, the second was taken for a duplicate and
lost. The key is now (`bron_id`, `bron`); detention notifications, whose `bron`
was empty, get the prison service's ("dji"), and `bron` is required.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("UPDATE melding SET bron = 'dji' WHERE bron IS NULL")
    with op.batch_alter_table('melding', schema=None) as batch_op:
        batch_op.alter_column('bron', existing_type=sa.String(32), nullable=False)
        batch_op.drop_index('ix_melding_bron_id')
        batch_op.create_unique_constraint('uq_melding_bron_id_bron', ['bron_id', 'bron'])


def downgrade() -> None:
    # Refuses (the unique index fails) while two sources share an id: those
    # meldingen cannot be told apart under the old key.
    with op.batch_alter_table('melding', schema=None) as batch_op:
        batch_op.drop_constraint('uq_melding_bron_id_bron', type_='unique')
        batch_op.create_index('ix_melding_bron_id', ['bron_id'], unique=True)
        batch_op.alter_column('bron', existing_type=sa.String(32), nullable=True)
    op.execute("UPDATE melding SET bron = NULL WHERE bron = 'dji'")
