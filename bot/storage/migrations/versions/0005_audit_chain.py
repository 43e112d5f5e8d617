"""Audit chain: keyed, replace blocked, anchored

From this revision on every audit entry is hashed with HMAC-SHA256 under the
audit key (derived from the key file). Entries already stored keep their plain
SHA-256 hash: `audit_keying` records the first seq that is keyed, in one row
the database refuses to change. The first keyed entry links to the last legacy
hash, so rewriting the legacy part breaks that link.

The append-only triggers of 0001 fire on UPDATE and DELETE; SQLite's
INSERT OR REPLACE (and REPLACE INTO) deletes the row it replaces without firing
them. An insert must now be exactly the next entry: seq one above the head and
prev_hash the head's hash. That refuses every replace, upsert and out-of-place
insert, on both databases.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 09:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
# The advisory lock appenders take (bot/storage/repositories.py, _AUDIT_LOCK_KEY):
# no entry can be added between reading the head and fixing keyed_from.
AUDIT_LOCK_KEY = 7_202_611


def upgrade() -> None:
    bind = op.get_bind()
    postgresql = bind.dialect.name == "postgresql"
    if postgresql:
        op.execute(sa.text(f"SELECT pg_advisory_xact_lock({AUDIT_LOCK_KEY})"))
    keying = op.create_table(
        "audit_keying",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("keyed_from", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name="audit_keying_one_row"),
    )
    head = bind.execute(sa.text("SELECT MAX(seq) FROM audit_log")).scalar()
    op.bulk_insert(
        keying,
        [{"id": 1, "keyed_from": (head or 0) + 1, "recorded_at": datetime.now(UTC)}],
    )
    if postgresql:
        _postgresql_triggers()
    else:
        _sqlite_triggers()


def _postgresql_triggers() -> None:
    op.execute(
        f"""
        CREATE FUNCTION audit_log_append_next() RETURNS trigger AS $$
        DECLARE
            head_seq integer;
            head_hash varchar;
        BEGIN
            SELECT seq, hash INTO head_seq, head_hash FROM audit_log ORDER BY seq DESC LIMIT 1;
            IF NEW.seq IS DISTINCT FROM COALESCE(head_seq, 0) + 1
               OR NEW.prev_hash IS DISTINCT FROM COALESCE(head_hash, '{GENESIS}') THEN
                RAISE EXCEPTION 'audit_log is append-only: a new entry must follow the head';
            END IF;
            RETURN NEW;
        END;
        $$ LANGUAGE plpgsql;
        """
    )
    # Fires before ON CONFLICT is looked at: an upsert on an existing seq is refused here.
    op.execute(
        "CREATE TRIGGER audit_log_append_next BEFORE INSERT ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_next()"
    )
    op.execute(
        """
        CREATE FUNCTION audit_keying_fixed() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'audit_keying is fixed';
        END;
        $$ LANGUAGE plpgsql;
        """
    )
    op.execute(
        "CREATE TRIGGER audit_keying_no_change BEFORE INSERT OR UPDATE OR DELETE ON audit_keying "
        "FOR EACH ROW EXECUTE FUNCTION audit_keying_fixed()"
    )
    op.execute(
        "CREATE TRIGGER audit_keying_no_truncate BEFORE TRUNCATE ON audit_keying "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_keying_fixed()"
    )


def _sqlite_triggers() -> None:
    # BEFORE INSERT fires before REPLACE deletes the row in its way, so this
    # refuses INSERT OR REPLACE / REPLACE INTO on an existing seq as well.
    op.execute(
        "CREATE TRIGGER audit_log_append_next BEFORE INSERT ON audit_log "
        "WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log) "
        "OR NEW.prev_hash IS NOT COALESCE("
        f"(SELECT hash FROM audit_log WHERE seq = NEW.seq - 1), '{GENESIS}') "
        "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: a new entry must follow the head'); "
        "END"
    )
    for verb in ("INSERT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_keying_no_{verb.lower()} BEFORE {verb} ON audit_keying "
            "BEGIN SELECT RAISE(ABORT, 'audit_keying is fixed'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_next ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_next()")
        op.execute("DROP TRIGGER audit_keying_no_truncate ON audit_keying")
        op.execute("DROP TRIGGER audit_keying_no_change ON audit_keying")
        op.execute("DROP TABLE audit_keying")
        op.execute("DROP FUNCTION audit_keying_fixed()")
        return
    op.execute("DROP TRIGGER audit_log_append_next")
    for verb in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER audit_keying_no_{verb}")
    op.drop_table("audit_keying")
