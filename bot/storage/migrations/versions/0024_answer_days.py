"""Past days' answer figures, kept, and forgotten by the database when their data
changes; covering indexes for /stand's open cases at national scale

answer_days: per ended local day (VHBOT_TIMEZONE) and theme, the announcements made
that day (organisation_id 0) and each organisation's answers to them (/stand's
answer rates over 90 days: about 300,000 answers nationally, read on every /stand).
A day's figures change only when its announcements or their answers do; answers
arrive days later, so the days they belong to are counted again.

Triggers delete a kept day the moment a change could alter it, as in 0023:

- an announcement inserted, deleted, or given another moment or theme: its day
  (old and new);
- an answer inserted, deleted, or moved to another announcement or organisation:
  the day of its announcement (old and new).

The indexes: the open cases' columns that /stand, the agenda and the casemanager
report read (closed_at first, so the range of cases closed since a moment still
uses it), the kind of a case's recent action events (stagnation), the overdue open
actions by deadline, and a case's current assignment with its state and member (the
accepted casemanager): each read from the index alone, without a probe of the table
per row.

Beware, as in 0023: `op.batch_alter_table` on SQLite drops the triggers of the table
it rebuilds (tests/services/test_answer_days.py fails when they are missing).

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The day of an announcement, and of an answer's announcement (`{row}`: OLD or NEW).
_ANNOUNCEMENT = (
    "DELETE FROM answer_days WHERE starts_at <= {row}.created_at AND ends_at > {row}.created_at"
)
# The moment as a scalar, so that the delete reads the few days after it by the ends_at
# index (an answer belongs to a recent announcement), not every kept day.
_ANSWER = (
    "DELETE FROM answer_days WHERE ends_at > ({moment}) AND starts_at <= ({moment})"
).replace("{moment}", "SELECT created_at FROM announcement WHERE id = {row}.announcement_id")

_SQLITE = [
    "CREATE TRIGGER tr_announcement_days_insert AFTER INSERT ON announcement BEGIN "
    f"{_ANNOUNCEMENT.format(row='NEW')}; END",
    "CREATE TRIGGER tr_announcement_days_delete AFTER DELETE ON announcement BEGIN "
    f"{_ANNOUNCEMENT.format(row='OLD')}; END",
    "CREATE TRIGGER tr_announcement_days_update AFTER UPDATE OF created_at, theme ON announcement"
    f" BEGIN {_ANNOUNCEMENT.format(row='OLD')}; {_ANNOUNCEMENT.format(row='NEW')}; END",
    f"CREATE TRIGGER tr_answer_days_insert AFTER INSERT ON answer BEGIN {_ANSWER.format(row='NEW')}; END",
    f"CREATE TRIGGER tr_answer_days_delete AFTER DELETE ON answer BEGIN {_ANSWER.format(row='OLD')}; END",
    "CREATE TRIGGER tr_answer_days_update AFTER UPDATE OF announcement_id, organisation_id"
    f" ON answer BEGIN {_ANSWER.format(row='OLD')}; {_ANSWER.format(row='NEW')}; END",
]
_SQLITE_NAMES = [
    "tr_announcement_days_insert", "tr_announcement_days_delete", "tr_announcement_days_update",
    "tr_answer_days_insert", "tr_answer_days_delete", "tr_answer_days_update",
]  # fmt: skip

_POSTGRESQL = [
    f"""
    CREATE FUNCTION vh_announcement_answer_days() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN {_ANNOUNCEMENT.format(row="OLD")}; END IF;
        IF TG_OP <> 'DELETE' THEN {_ANNOUNCEMENT.format(row="NEW")}; END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tr_announcement_answer_days
    AFTER INSERT OR DELETE OR UPDATE OF created_at, theme ON announcement
    FOR EACH ROW EXECUTE FUNCTION vh_announcement_answer_days()
    """,
    f"""
    CREATE FUNCTION vh_answer_answer_days() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN {_ANSWER.format(row="OLD")}; END IF;
        IF TG_OP <> 'DELETE' THEN {_ANSWER.format(row="NEW")}; END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tr_answer_answer_days
    AFTER INSERT OR DELETE OR UPDATE OF announcement_id, organisation_id ON answer
    FOR EACH ROW EXECUTE FUNCTION vh_answer_answer_days()
    """,
]

_OPEN_CASES = ["closed_at", "theme", "decision", "procesregie", "opened_at", "decided_at"]


def upgrade() -> None:
    op.create_table(
        "answer_days",
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("theme", sa.String(length=32), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("zone", "day", "theme", "organisation_id"),
    )
    op.create_index("ix_answer_days_ends_at", "answer_days", ["ends_at"])
    op.drop_index("ix_vh_case_closed_at", table_name="vh_case")
    # The id last: PostgreSQL answers from the index alone only when every column read
    # is in it (SQLite's indexes hold the rowid anyway).
    op.create_index("ix_vh_case_closed_at", "vh_case", [*_OPEN_CASES, "person_id", "id"])
    op.drop_index("ix_action_event_case_at", table_name="action_event")
    op.create_index("ix_action_event_case_at", "action_event", ["case_id", "at", "kind"])
    op.create_index(
        "ix_action_state_deadline_case", "action", ["state", "deadline", "case_id"]
    )
    op.create_index(
        "ix_case_assignment_case_current",
        "case_assignment",
        ["case_id", "current", "state", "member_id"],
    )
    statements = _POSTGRESQL if op.get_bind().dialect.name == "postgresql" else _SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER tr_answer_answer_days ON answer")
        op.execute("DROP TRIGGER tr_announcement_answer_days ON announcement")
        op.execute("DROP FUNCTION vh_answer_answer_days()")
        op.execute("DROP FUNCTION vh_announcement_answer_days()")
    else:
        for name in _SQLITE_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_case_assignment_case_current", table_name="case_assignment")
    op.drop_index("ix_action_state_deadline_case", table_name="action")
    op.drop_index("ix_action_event_case_at", table_name="action_event")
    op.create_index("ix_action_event_case_at", "action_event", ["case_id", "at"])
    op.drop_index("ix_vh_case_closed_at", table_name="vh_case")
    op.create_index("ix_vh_case_closed_at", "vh_case", ["closed_at"])
    op.drop_index("ix_answer_days_ends_at", table_name="answer_days")
    op.drop_table("answer_days")
