"""An index for the report's count of meldingen

melding (event_date, theme, municipality): `vhbot report` counts a period's
meldingen per theme and municipality; with the three in one index the count
reads the index alone, whatever the size of the history.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 10:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_melding_event_date_theme_municipality',
        'melding',
        ['event_date', 'theme', 'municipality'],
    )


def downgrade() -> None:
    op.drop_index('ix_melding_event_date_theme_municipality', table_name='melding')
