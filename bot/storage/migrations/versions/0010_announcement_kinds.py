"""Announcements of any kind: a kind and a subject; their messages in their own table

- announcement.kind + announcement.subject_id (unique together) replace
  announcement.melding_id: a detention notification is kind `detention` with
  the melding's id as subject.
- announcement_message: one row per Telegram message showing an announcement
  (the partner group, or one private chat per member for a restricted theme),
  with its message id and the answers version it shows. Each existing
  announcement keeps its one group message, with its message id and version.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'announcement_message',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column(
            'announcement_id', sa.Integer(), sa.ForeignKey('announcement.id'), nullable=False
        ),
        sa.Column('chat_id', sa.BigInteger(), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=True),
        sa.Column('rendered_version', sa.Integer(), nullable=False),
        sa.UniqueConstraint('announcement_id', 'chat_id'),
    )
    op.create_index(
        'ix_announcement_message_announcement_id', 'announcement_message', ['announcement_id']
    )
    op.execute(
        'INSERT INTO announcement_message (announcement_id, chat_id, message_id, rendered_version) '
        'SELECT id, chat_id, message_id, rendered_version FROM announcement'
    )
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(32), nullable=True))
        batch_op.add_column(sa.Column('subject_id', sa.Integer(), nullable=True))
    op.execute("UPDATE announcement SET kind = 'detention', subject_id = melding_id")
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(32), nullable=False)
        batch_op.alter_column('subject_id', existing_type=sa.Integer(), nullable=False)
        if op.get_bind().dialect.name != 'sqlite':
            # SQLite's rebuild leaves out what names a dropped column by itself.
            batch_op.drop_constraint('announcement_melding_id_key', type_='unique')
            batch_op.drop_constraint('announcement_melding_id_fkey', type_='foreignkey')
        batch_op.drop_column('melding_id')
        batch_op.drop_column('chat_id')
        batch_op.drop_column('message_id')
        batch_op.drop_column('rendered_version')
        batch_op.create_unique_constraint(
            'uq_announcement_kind_subject', ['kind', 'subject_id']
        )


def downgrade() -> None:
    # Back to one group message per announcement: detention announcements only,
    # each with its message in the lowest chat id (the group's id is negative).
    others = op.get_bind().execute(
        sa.text("SELECT COUNT(*) FROM announcement WHERE kind != 'detention'")
    ).scalar()
    if others:
        raise RuntimeError(f'{others} announcements of other kinds than detention: no way back')
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.add_column(sa.Column('melding_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('chat_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('message_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('rendered_version', sa.Integer(), nullable=True))
    op.execute(
        'UPDATE announcement SET melding_id = subject_id, '
        'chat_id = (SELECT MIN(m.chat_id) FROM announcement_message m '
        'WHERE m.announcement_id = announcement.id)'
    )
    op.execute(
        'UPDATE announcement SET '
        'message_id = (SELECT m.message_id FROM announcement_message m '
        'WHERE m.announcement_id = announcement.id AND m.chat_id = announcement.chat_id), '
        'rendered_version = COALESCE((SELECT m.rendered_version FROM announcement_message m '
        'WHERE m.announcement_id = announcement.id AND m.chat_id = announcement.chat_id), 0)'
    )
    op.drop_table('announcement_message')
    with op.batch_alter_table('announcement', schema=None) as batch_op:
        batch_op.drop_constraint('uq_announcement_kind_subject', type_='unique')
        batch_op.drop_column('kind')
        batch_op.drop_column('subject_id')
        batch_op.alter_column('melding_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('chat_id', existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column('rendered_version', existing_type=sa.Integer(), nullable=False)
        batch_op.create_unique_constraint('announcement_melding_id_key', ['melding_id'])
        batch_op.create_foreign_key(
            'announcement_melding_id_fkey', 'melding', ['melding_id'], ['id']
        )
