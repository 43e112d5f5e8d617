"""Chat holds: messages for a chat Telegram refuses (403) wait instead of failing

A member who blocked the bot is reached again when they next write; the partner
group is tried again with growing pauses until the bot may post there again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'chat_hold',
        sa.Column('chat_id', sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column('since', TS, nullable=False),
        sa.Column('retry_at', TS, nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('chat_hold')
