"""Meetings and their agenda items; a chase moment per announcement

A meeting (type, start) is made when a case first needs it. Every case in
triage is an agenda item of the next meeting of its theme's type; an item whose
meeting passed undecided is followed by one of the next meeting, marked as
rolled over from it. An announced item names its announcement. An announcement
may be chased before its deadline (`chase_from`: an agenda item is chased the
working day before its meeting, while its answers are due at the meeting).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'meeting',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('type', sa.String(16), nullable=False),
        sa.Column('starts_at', TS, nullable=False),
        sa.UniqueConstraint('type', 'starts_at', name='uq_meeting_type_start'),
    )
    op.create_table(
        'agenda_item',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('meeting_id', sa.Integer(), sa.ForeignKey('meeting.id'), nullable=False),
        sa.Column('case_id', sa.Integer(), sa.ForeignKey('vh_case.id'), nullable=False),
        sa.Column(
            'rolled_over_from', sa.Integer(), sa.ForeignKey('meeting.id'), nullable=True
        ),
        sa.Column(
            'announcement_id', sa.Integer(), sa.ForeignKey('announcement.id'), nullable=True
        ),
        sa.Column('created_at', TS, nullable=False),
        sa.UniqueConstraint('meeting_id', 'case_id', name='uq_agenda_item_meeting_case'),
    )
    op.create_index('ix_agenda_item_meeting_id', 'agenda_item', ['meeting_id'])
    op.create_index('ix_agenda_item_case_id', 'agenda_item', ['case_id'])
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chase_from', TS, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_column('chase_from')
    op.drop_table('agenda_item')
    op.drop_table('meeting')
