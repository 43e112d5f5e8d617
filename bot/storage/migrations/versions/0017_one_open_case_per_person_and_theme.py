"""One open case per person and theme, enforced; an import knows its kind of file

A melding joins the person's open case of its theme. The importers looked for
that case and opened one when there was none; two importers at once could both
open one. A partial unique index on (person_id, theme) over open cases makes
the second wait and fail, and the importer's row retry then joins the first.

import_file.kind: what the file is read as (dpan, meldingen). Imports made
before are dpan, except those that stored meldingen of a meldingen file. An
import is its content read as one kind: (sha256, kind) is unique, so a wrong
attempt (the same bytes as the other kind) no longer takes over the record.

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
        batch_op.drop_index('ix_import_file_sha256')
        batch_op.create_unique_constraint('uq_import_file_sha256_kind', ['sha256', 'kind'])
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
    # Refuses (the unique index fails) while one content was imported as both kinds.
    with op.batch_alter_table('import_file', schema=None) as batch_op:
        batch_op.drop_constraint('uq_import_file_sha256_kind', type_='unique')
        batch_op.create_index('ix_import_file_sha256', ['sha256'], unique=True)
        batch_op.drop_column('kind')
