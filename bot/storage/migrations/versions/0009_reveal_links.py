"""Reveal links, PINs and set-up codes: the web page that shows a person's identity

A link's token is kept only as its SHA-256; PINs and set-up codes only as a
salted scrypt hash.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'reveal_link',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('token_hash', sa.String(64), nullable=False),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id'), nullable=False),
        sa.Column('kind', sa.String(16), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('used_at', TS, nullable=True),
        sa.Column('revoked_at', TS, nullable=True),
    )
    op.create_index('ix_reveal_link_token_hash', 'reveal_link', ['token_hash'], unique=True)
    op.create_index('ix_reveal_link_member_id', 'reveal_link', ['member_id'])
    op.create_index('ix_reveal_link_used_at', 'reveal_link', ['used_at'])

    op.create_table(
        'web_access',
        sa.Column(
            'member_id',
            sa.Integer(),
            sa.ForeignKey('member.id'),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column('pin_hash', sa.String(200), nullable=True),
        sa.Column('pin_set_at', TS, nullable=True),
        sa.Column('failed_pins', sa.Integer(), nullable=False),
        sa.Column('locked_at', TS, nullable=True),
    )

    op.create_table(
        'setup_code',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('member_id', sa.Integer(), sa.ForeignKey('member.id'), nullable=False),
        sa.Column('code_hash', sa.String(200), nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('expires_at', TS, nullable=False),
        sa.Column('used_at', TS, nullable=True),
        sa.Column('revoked_at', TS, nullable=True),
    )
    op.create_index('ix_setup_code_member_id', 'setup_code', ['member_id'])


def downgrade() -> None:
    op.drop_table('setup_code')
    op.drop_table('web_access')
    op.drop_table('reveal_link')
