from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.app import Core
from bot.clock import FrozenClock


def _fill(core: Core, clock: FrozenClock, count: int) -> None:
    for index in range(count):
        with core.db.session() as session:
            core.audit.record(
                session, actor="cli", action="test.event", subject=f"thing:{index}", n=index
            )
        clock.advance(timedelta(seconds=1))


def test_chain_verifies(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 5)
    assert core.audit.verify(core.db) == (5, None)


def test_database_refuses_update_and_delete(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 2)
    for statement in ("UPDATE audit_log SET actor = 'x' WHERE seq = 1", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), core.db.session() as session:
            session.execute(text(statement))


def _drop_triggers(core: Core) -> None:
    """What someone with database rights would do first to cover their tracks."""
    with core.db.session() as session:
        if core.db.dialect == "postgresql":
            session.execute(text("DROP TRIGGER audit_log_no_change ON audit_log"))
        else:
            session.execute(text("DROP TRIGGER audit_log_no_update"))
            session.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_verify_reports_the_first_edited_row(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 6)
    _drop_triggers(core)
    with core.db.session() as session:
        session.execute(
            text("UPDATE audit_log SET details = :d WHERE seq = 4"),
            {"d": json.dumps({"n": 99})},
        )
    checked, broken = core.audit.verify(core.db)
    assert broken is not None
    assert broken.seq == 4
    assert checked == 4  # stops reading at the first break


def test_verify_reports_a_removed_row(core: Core, clock: FrozenClock) -> None:
    _fill(core, clock, 6)
    _drop_triggers(core)
    with core.db.session() as session:
        session.execute(text("DELETE FROM audit_log WHERE seq = 3"))
    _checked, broken = core.audit.verify(core.db)
    assert broken is not None
    assert broken.seq in (3, 4)
