"""Access: invites revoked with their issuer, coordinator invites confirmed, removal requests

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("invite") as batch:
        batch.add_column(sa.Column("revoked_at", TS, nullable=True))

    op.create_table(
        "access_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.Integer(), sa.ForeignKey("member.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.Integer(), sa.ForeignKey("member.id"), nullable=True),
        sa.Column("member_id", sa.Integer(), sa.ForeignKey("member.id"), nullable=True),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=True
        ),
        sa.Column("roles", sa.String(100), nullable=False),
        sa.Column("invite_id", sa.Integer(), sa.ForeignKey("invite.id"), nullable=True),
    )
    op.create_index("ix_access_request_requested_by", "access_request", ["requested_by"])
    op.create_index("ix_access_request_status", "access_request", ["status"])
    op.create_index("ix_access_request_member_id", "access_request", ["member_id"])


def downgrade() -> None:
    op.drop_table("access_request")
    with op.batch_alter_table("invite") as batch:
        batch.drop_column("revoked_at")
