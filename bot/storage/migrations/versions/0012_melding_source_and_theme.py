"""Meldingen from every source: where a melding came from and its theme

- melding.bron: the source of a melding imported from a meldingen file
  (politie, om, ...); NULL for detention notifications (the prison service).
- melding.theme: the melding's theme; detention notifications are nazorg, set
  here for the rows that exist.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('melding', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bron', sa.String(32), nullable=True))
        batch_op.add_column(sa.Column('theme', sa.String(32), nullable=True))
    op.execute("UPDATE melding SET theme = 'nazorg'")


def downgrade() -> None:
    with op.batch_alter_table('melding', schema=None) as batch_op:
        batch_op.drop_column('theme')
        batch_op.drop_column('bron')
