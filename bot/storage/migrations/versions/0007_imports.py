"""Imports: bad rows rejected alone, bounded attempts, longer pseudonyms

The file name as uploaded is no longer kept (it may hold a person's name or
unprintable bytes); an import is known by its number. `attempts` counts the
starts of an import since it last finished, so the inbox can give up on a
file that never finishes. Pseudonyms extended after a collision (up to 14
characters) fit the existing `person.pseudonym` column.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        # The default fills existing rows; the model sets the value from then on.
        batch_op.add_column(
            sa.Column('attempts', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.drop_column('name')
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        batch_op.alter_column('attempts', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('name', sa.String(255), nullable=False, server_default='')
        )
        batch_op.drop_column('attempts')
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        batch_op.alter_column('name', server_default=None)
