"""The plan of approach and the ZRM: actions with their history, measurements, and
conversations half-way

- action: an action of a case's plan (domain, catalogue code or encrypted own
  title, owner member or organisation, deadline, state, version).
- action_event: what happened to an action (created, done, postponed, ...).
- zrm_measurement, zrm_score: a ZRM measurement, a score per domain.
- conversation: a member's conversation half-way (/actie, /zrm, postponing),
  encrypted, so that it survives a restart.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'action',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('domain', sa.String(32), nullable=False),
        sa.Column('catalogue_code', sa.String(32), nullable=True),
        sa.Column('title_ct', sa.Text(), nullable=True),
        sa.Column('owner_member_id', sa.Integer(), nullable=True),
        sa.Column('owner_organisation_id', sa.Integer(), nullable=True),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('created_by', sa.Integer(), nullable=False),
        sa.Column('done_at', TS, nullable=True),
        sa.Column('done_by', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['vh_case.id']),
        sa.ForeignKeyConstraint(['owner_member_id'], ['member.id']),
        sa.ForeignKeyConstraint(['owner_organisation_id'], ['organisation.id']),
        sa.ForeignKeyConstraint(['created_by'], ['member.id']),
        sa.ForeignKeyConstraint(['done_by'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('case_id', 'number', name='uq_action_case_number'),
    )
    for column in ('case_id', 'owner_member_id', 'owner_organisation_id', 'deadline', 'state'):
        op.create_index(f'ix_action_{column}', 'action', [column])
    op.create_table(
        'action_event',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('action_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('at', TS, nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=True),
        sa.Column('old_deadline', sa.Date(), nullable=True),
        sa.Column('new_deadline', sa.Date(), nullable=True),
        sa.Column('reason', sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(['action_id'], ['action.id']),
        sa.ForeignKeyConstraint(['case_id'], ['vh_case.id']),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    for column in ('action_id', 'case_id', 'at'):
        op.create_index(f'ix_action_event_{column}', 'action_event', [column])
    op.create_table(
        'zrm_measurement',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('measured_at', TS, nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['vh_case.id']),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_zrm_measurement_case_id', 'zrm_measurement', ['case_id'])
    op.create_table(
        'zrm_score',
        sa.Column('measurement_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('domain', sa.String(32), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['measurement_id'], ['zrm_measurement.id']),
        sa.PrimaryKeyConstraint('measurement_id', 'domain'),
    )
    op.create_table(
        'conversation',
        sa.Column('member_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('step', sa.String(32), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('state_ct', sa.Text(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.ForeignKeyConstraint(['member_id'], ['member.id']),
        sa.ForeignKeyConstraint(['case_id'], ['vh_case.id']),
        sa.PrimaryKeyConstraint('member_id'),
    )
    op.create_index('ix_conversation_case_id', 'conversation', ['case_id'])


def downgrade() -> None:
    op.drop_index('ix_conversation_case_id', table_name='conversation')
    op.drop_table('conversation')
    op.drop_table('zrm_score')
    op.drop_index('ix_zrm_measurement_case_id', table_name='zrm_measurement')
    op.drop_table('zrm_measurement')
    for column in ('action_id', 'case_id', 'at'):
        op.drop_index(f'ix_action_event_{column}', table_name='action_event')
    op.drop_table('action_event')
    for column in ('case_id', 'owner_member_id', 'owner_organisation_id', 'deadline', 'state'):
        op.drop_index(f'ix_action_{column}', table_name='action')
    op.drop_table('action')
