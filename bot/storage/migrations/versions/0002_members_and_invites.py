"""Invites, wrong-code counting, removal of deactivated members from the group.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("member") as batch:
        batch.add_column(sa.Column("removed_from_group_at", TS, nullable=True))

    op.create_table(
        "invite",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column(
            "organisation_id", sa.Integer(), sa.ForeignKey("organisation.id"), nullable=False
        ),
        sa.Column("roles", sa.String(100), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("used_by_member_id", sa.Integer(), sa.ForeignKey("member.id"), nullable=True),
    )
    op.create_index("ix_invite_code_hash", "invite", ["code_hash"], unique=True)

    op.create_table(
        "invite_failure",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
    )
    op.create_index("ix_invite_failure_telegram_id", "invite_failure", ["telegram_id"])


def downgrade() -> None:
    op.drop_table("invite_failure")
    op.drop_table("invite")
    with op.batch_alter_table("member") as batch:
        batch.drop_column("removed_from_group_at")
