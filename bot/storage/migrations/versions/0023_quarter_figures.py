"""Past quarters' figures, kept, and forgotten by the database when their data changes;
indexes for /stand at national scale

quarter_figures: per ended quarter (local days, VHBOT_TIMEZONE) and theme, the
meldingen, cases and unique persons as the reports count them (/stand's chart of
8 quarters). At national scale counting two years again on every /stand reads
hundreds of thousands of rows; an ended quarter changes only when its data does.

Triggers delete a kept quarter the moment a change could alter it, whoever makes
the change (an import, a history import, a merge, retention):

- a melding inserted, deleted, or given another date or theme: the quarter of its
  date (old and new);
- a case inserted or deleted, or given another opening, theme or person: every
  quarter its span [opened_at, closed_at] touches (old and new);
- a case closed or reopened: only the quarters that begin after the earlier of the
  two closing moments (closing a case now changes no ended quarter).

Beware: `op.batch_alter_table` on SQLite rebuilds a table and drops its triggers;
a later migration that rebuilds melding or vh_case must create them again
(tests/services/test_quarter_figures.py fails when they are missing).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A melding's quarter, and a case span's quarters (`{row}`: OLD or NEW).
_MELDING = (
    "DELETE FROM quarter_figures WHERE first_day <= {row}.event_date AND end_day > {row}.event_date"
)
_CASE = (
    "DELETE FROM quarter_figures WHERE ends_at > {row}.opened_at"
    " AND ({row}.closed_at IS NULL OR {row}.closed_at >= starts_at)"
)

_SQLITE = [
    f"CREATE TRIGGER tr_melding_quarter_insert AFTER INSERT ON melding BEGIN {_MELDING.format(row='NEW')}; END",
    f"CREATE TRIGGER tr_melding_quarter_delete AFTER DELETE ON melding BEGIN {_MELDING.format(row='OLD')}; END",
    "CREATE TRIGGER tr_melding_quarter_update AFTER UPDATE OF event_date, theme ON melding BEGIN "
    f"{_MELDING.format(row='OLD')}; {_MELDING.format(row='NEW')}; END",
    f"CREATE TRIGGER tr_case_quarter_insert AFTER INSERT ON vh_case BEGIN {_CASE.format(row='NEW')}; END",
    f"CREATE TRIGGER tr_case_quarter_delete AFTER DELETE ON vh_case BEGIN {_CASE.format(row='OLD')}; END",
    "CREATE TRIGGER tr_case_quarter_update AFTER UPDATE OF opened_at, theme, person_id ON vh_case BEGIN "
    f"{_CASE.format(row='OLD')}; {_CASE.format(row='NEW')}; END",
    # The stored timestamps are ISO strings: an open case's end sorts after every one.
    "CREATE TRIGGER tr_case_quarter_close AFTER UPDATE OF closed_at ON vh_case"
    " WHEN OLD.closed_at IS NOT NEW.closed_at BEGIN"
    " DELETE FROM quarter_figures WHERE ends_at > NEW.opened_at AND starts_at > min("
    "coalesce(OLD.closed_at, '9999-12-31 23:59:59.999999'),"
    " coalesce(NEW.closed_at, '9999-12-31 23:59:59.999999')); END",
]
_SQLITE_NAMES = [
    'tr_melding_quarter_insert', 'tr_melding_quarter_delete', 'tr_melding_quarter_update',
    'tr_case_quarter_insert', 'tr_case_quarter_delete', 'tr_case_quarter_update',
    'tr_case_quarter_close',
]  # fmt: skip

_POSTGRESQL = [
    f"""
    CREATE FUNCTION vh_melding_quarter_figures() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN {_MELDING.format(row="OLD")}; END IF;
        IF TG_OP <> 'DELETE' THEN {_MELDING.format(row="NEW")}; END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tr_melding_quarter_figures
    AFTER INSERT OR DELETE OR UPDATE OF event_date, theme ON melding
    FOR EACH ROW EXECUTE FUNCTION vh_melding_quarter_figures()
    """,
    f"""
    CREATE FUNCTION vh_case_quarter_figures() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE'
           AND OLD.opened_at IS NOT DISTINCT FROM NEW.opened_at
           AND OLD.theme IS NOT DISTINCT FROM NEW.theme
           AND OLD.person_id IS NOT DISTINCT FROM NEW.person_id THEN
            IF OLD.closed_at IS DISTINCT FROM NEW.closed_at THEN
                DELETE FROM quarter_figures WHERE ends_at > NEW.opened_at
                   AND starts_at > LEAST(COALESCE(OLD.closed_at, 'infinity'),
                                         COALESCE(NEW.closed_at, 'infinity'));
            END IF;
            RETURN NULL;
        END IF;
        IF TG_OP <> 'INSERT' THEN {_CASE.format(row="OLD")}; END IF;
        IF TG_OP <> 'DELETE' THEN {_CASE.format(row="NEW")}; END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tr_case_quarter_figures
    AFTER INSERT OR DELETE OR UPDATE OF opened_at, closed_at, theme, person_id ON vh_case
    FOR EACH ROW EXECUTE FUNCTION vh_case_quarter_figures()
    """,
]


def upgrade() -> None:
    op.create_table(
        "quarter_figures",
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("theme", sa.String(length=32), nullable=False),
        sa.Column("end_day", sa.Date(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meldingen", sa.Integer(), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("persons", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "rules", "first_day", "theme"),
    )
    # /stand's count of the quarter so far: the open cases and those closed since the
    # quarter began, without reading the closed history.
    op.create_index("ix_vh_case_closed_at", "vh_case", ["closed_at"])
    # /stand at national scale: the overdue actions of the open cases from the index
    # alone, one probe per open case for stagnation, the answer rates' 90 days.
    op.create_index("ix_action_case_state_deadline", "action", ["case_id", "state", "deadline"])
    op.create_index("ix_action_event_case_at", "action_event", ["case_id", "at"])
    op.create_index("ix_announcement_created_at", "announcement", ["created_at"])
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER tr_case_quarter_figures ON vh_case")
        op.execute("DROP TRIGGER tr_melding_quarter_figures ON melding")
        op.execute("DROP FUNCTION vh_case_quarter_figures()")
        op.execute("DROP FUNCTION vh_melding_quarter_figures()")
    else:
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_announcement_created_at", table_name="announcement")
    op.drop_index("ix_action_event_case_at", table_name="action_event")
    op.drop_index("ix_action_case_state_deadline", table_name="action")
    op.drop_index("ix_vh_case_closed_at", table_name="vh_case")
    op.drop_table("quarter_figures")
