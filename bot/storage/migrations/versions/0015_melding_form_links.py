"""A one-time link can open the form for a new melding: the link records when its form was sent

The link of a melding form (kind `melding_form`) is used up when the PIN is
entered; the form it opens may be sent until its melding is stored, once:
`done_at` is set, by a conditional update, in the transaction that stores it.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('reveal_link', schema=None) as batch_op:
        batch_op.add_column(sa.Column('done_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('reveal_link', schema=None) as batch_op:
        batch_op.drop_column('done_at')
