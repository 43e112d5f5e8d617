"""An action's owner in its history: who owned it before and after an event

action_event gets the owner before (old_owner_*) and after (new_owner_*) an
event: a member or an organisation. Set on `created` (the first owner) and
`reassigned` (the previous and the new owner), so the case page shows who
owned an action when, and a button of the previous owner is answered with
"given to another owner" rather than "not yours". Events from before are left
without an owner.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# column -> the table its foreign key points at
OWNER_COLUMNS = {
    'old_owner_member_id': 'member',
    'old_owner_organisation_id': 'organisation',
    'new_owner_member_id': 'member',
    'new_owner_organisation_id': 'organisation',
}


def upgrade() -> None:
    with op.batch_alter_table('action_event', schema=None) as batch_op:
        for column, table in OWNER_COLUMNS.items():
            batch_op.add_column(sa.Column(column, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(f'fk_action_event_{column}', table, [column], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('action_event', schema=None) as batch_op:
        for column in reversed(OWNER_COLUMNS):
            batch_op.drop_constraint(f'fk_action_event_{column}', type_='foreignkey')
            batch_op.drop_column(column)
