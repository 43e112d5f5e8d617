"""One open case per person and theme, enforced; an import knows its kind of file

A melding joins the person's open case of its theme. The importers looked for
that case and opened one when there was none; two importers at once could both
open one. A partial unique index on (person_id, theme) over open cases makes
the second wait and fail, and the importer's row retry then joins the first.

import_file.kind: what the file was read as (dpan, meldingen). Imports made
before are dpan, except those that stored meldingen of a meldingen file.

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0017'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("closed_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('kind', sa.String(16), nullable=False, server_default='dpan')
        )
    op.execute(
        "UPDATE import_file SET kind = 'meldingen' WHERE id IN "
        "(SELECT import_id FROM melding WHERE soort = 'melding' AND import_id IS NOT NULL)"
    )
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(16), server_default=None)
    op.create_index(
        'uq_vh_case_open_person_theme',
        'vh_case',
        ['person_id', 'theme'],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index('uq_vh_case_open_person_theme', table_name='vh_case')
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        batch_op.drop_column('kind')
