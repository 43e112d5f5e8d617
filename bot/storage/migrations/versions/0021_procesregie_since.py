"""When a case was taken into procesregie

vh_case.procesregie_at: the moment of the case's procesregie decision. The case
row keeps only its current decision, and closing a case in procesregie
(afgesloten, doel bereikt) replaces it; the reports count a case in procesregie
from this moment until it closed, so it is kept apart.

Cases already in procesregie get the moment of their first procesregie decision
from the audit log (`case.decision`), else their decision's moment.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0021'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('vh_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('procesregie_at', sa.DateTime(timezone=True), nullable=True))
    # The audit details are canonical JSON (sorted keys, no spaces): the decision key
    # reads exactly so; "replaced" names an earlier decision and is not matched.
    op.execute(
        """
        UPDATE vh_case SET procesregie_at = COALESCE(
            (SELECT MIN(audit_log.at) FROM audit_log
              WHERE audit_log.action = 'case.decision'
                AND audit_log.subject = 'case:' || vh_case.id
                AND audit_log.details LIKE '%"decision":"procesregie"%'),
            decided_at,
            opened_at)
        WHERE procesregie
        """
    )


def downgrade() -> None:
    with op.batch_alter_table('vh_case', schema=None) as batch_op:
        batch_op.drop_column('procesregie_at')
