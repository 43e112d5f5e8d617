from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from bot.core import Core
from bot.services.audit import CLI
from bot.storage.models import AuditEntry, Person
from tests.conftest import People


def test_same_identity_is_one_person_with_a_stable_pseudonym(core: Core, people: People) -> None:
    identity = people.identity()
    with core.db.session() as session:
        first = core.vault.register(session, identity, actor=CLI)
    with core.db.session() as session:
        again = core.vault.register(session, identity, actor=CLI)
    assert first.created and not again.created
    assert first.person_id == again.person_id
    assert first.pseudonym == again.pseudonym
    assert first.pseudonym.startswith("P-")


def test_reveal_round_trips_and_is_audited(core: Core, people: People) -> None:
    identity = people.identity()
    with core.db.session() as session:
        registered = core.vault.register(session, identity, actor=CLI)
    with core.db.session() as session:
        revealed = core.vault.reveal(
            session, registered.person_id, actor="member:7", purpose="casemanagement"
        )
    assert revealed == identity
    with core.db.session() as session:
        reads = session.exec(select(AuditEntry).where(AuditEntry.action == "person.read")).all()
    assert [(r.actor, r.subject) for r in reads] == [("member:7", f"person:{registered.person_id}")]
    assert identity.surname not in reads[0].details


def test_database_holds_no_plaintext_identity(core: Core, people: People) -> None:
    identities = [people.identity() for _ in range(20)]
    with core.db.session() as session:
        for identity in identities:
            core.vault.register(session, identity, actor=CLI)
    with core.db.session() as session:
        stored = session.exec(select(Person)).all()
        assert all(p.identity_ct and p.identity_ct.startswith("v1.") for p in stored)
        rows = " ".join(
            repr(tuple(row))
            for table in ("person", "audit_log")
            for row in session.exec(  # type: ignore[call-overload]
                select(Person) if table == "person" else select(AuditEntry)
            )
        )
    for identity in identities:
        assert identity.surname not in rows
        assert identity.birth_date.isoformat() not in rows
        assert identity.bsn is not None and identity.bsn not in rows


def test_sqlite_file_holds_no_plaintext_name(core: Core, people: People) -> None:
    if core.db.dialect != "sqlite":
        pytest.skip("inspects the SQLite file itself")
    identities = [people.identity() for _ in range(10)]
    with core.db.session() as session:
        for identity in identities:
            core.vault.register(session, identity, actor=CLI)
    core.db.dispose()  # checkpoint the WAL into the main file
    path = Path(core.settings.database_url.removeprefix("sqlite:///"))
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for identity in identities:
        assert identity.surname.encode() not in raw
        for given in identity.given_names.split():
            assert given.encode() not in raw
        assert identity.birth_date.isoformat().encode() not in raw
        assert identity.bsn is not None and identity.bsn.encode() not in raw
