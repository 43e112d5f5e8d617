from __future__ import annotations

from sqlmodel import select

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.domain.roles import Role
from bot.privacy.keys import add_data_key, load_key_file
from bot.services.audit import CLI
from bot.services.keys import reencrypt_all
from bot.storage.models import Member, Person
from tests.conftest import People


def test_rotation_reencrypts_every_field_and_resumes(
    settings: Settings, clock: FrozenClock, people: People
) -> None:
    core = open_core(settings, clock=clock)
    identities = [people.identity() for _ in range(7)]
    with core.db.session() as session:
        for identity in identities:
            core.vault.register(session, identity, actor=CLI)
        core.memberships.add_organisation(
            session, name="Politie", code="POL", themes=None, actor=CLI
        )
        core.memberships.add_member(
            session,
            telegram_id=42,
            name="Fenna Jansen",
            organisation_code="POL",
            roles=[Role.COORDINATOR],
            actor=CLI,
        )
    core.db.dispose()

    ring = add_data_key(settings.key_file)
    assert ring.primary.key_id == "k2"
    rotated = open_core(settings, clock=clock)
    # A first run that stops after one small batch, as if killed: the rest waits.
    with rotated.db.session() as session:
        person = session.exec(select(Person)).first()
        assert person is not None and person.identity_ct is not None
        person.identity_ct = rotated.cipher.rotate(person.identity_ct, context="person.identity")
        session.add(person)
    report = reencrypt_all(rotated.db, rotated.cipher, rotated.audit, actor=CLI, batch=3)
    assert (report.persons, report.members) == (6, 1)
    with rotated.db.session() as session:
        assert all(
            p.identity_ct and p.identity_ct.startswith("v1.k2.")
            for p in session.exec(select(Person))
        )
        assert all(m.name_ct.startswith("v1.k2.") for m in session.exec(select(Member)))
        for person in session.exec(select(Person)):
            assert person.id is not None
            assert rotated.vault.reveal(session, person.id, actor=CLI, purpose="test") in identities
    again = reencrypt_all(rotated.db, rotated.cipher, rotated.audit, actor=CLI)
    assert (again.persons, again.members) == (0, 0)
    assert load_key_file(settings.key_file).primary.key_id == "k2"
    rotated.db.dispose()
