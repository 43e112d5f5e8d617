"""Triage decisions on cases, and casemanager assignments

The case row holds its current decision (procesregie, doorgeleid with an
organisation, afgesloten with a reason code), when and by whom; the audit log
holds every earlier one. A case has at most one current (offered or accepted)
assignment: `current` is True for it and NULL otherwise, unique per case.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('vh_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision', sa.String(16), nullable=True))
        batch_op.add_column(sa.Column('decision_organisation_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('decision_reason', sa.String(32), nullable=True))
        batch_op.add_column(sa.Column('decided_at', TS, nullable=True))
        batch_op.add_column(sa.Column('decided_by', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_vh_case_decision_organisation_id',
            'organisation',
            ['decision_organisation_id'],
            ['id'],
        )
        batch_op.create_foreign_key('fk_vh_case_decided_by', 'member', ['decided_by'], ['id'])

    op.create_table(
        'case_assignment',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('vh_case.id'), nullable=False),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id'), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('current', sa.Boolean(), nullable=True),
        sa.Column('assigned_by', sa.Integer(), sa.ForeignKey('member.id'), nullable=False),
        sa.Column('decline_reason', sa.String(16), nullable=True),
        sa.Column('offered_at', TS, nullable=False),
        sa.Column('answered_at', TS, nullable=True),
        sa.Column('withdrawn_at', TS, nullable=True),
        sa.UniqueConstraint('case_id', 'current'),
    )
    op.create_index('ix_case_assignment_case_id', 'case_assignment', ['case_id'])
    op.create_index('ix_case_assignment_member_id', 'case_assignment', ['member_id'])


def downgrade() -> None:
    op.drop_table('case_assignment')
    with op.batch_alter_table('vh_case', schema=None) as batch_op:
        batch_op.drop_constraint('fk_vh_case_decided_by', type_='foreignkey')
        batch_op.drop_constraint('fk_vh_case_decision_organisation_id', type_='foreignkey')
        batch_op.drop_column('decided_by')
        batch_op.drop_column('decided_at')
        batch_op.drop_column('decision_reason')
        batch_op.drop_column('decision_organisation_id')
        batch_op.drop_column('decision')
