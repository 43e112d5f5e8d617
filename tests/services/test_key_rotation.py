from __future__ import annotations

from pathlib import Path

from sqlmodel import SQLModel, select

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.domain.roles import Role
from bot.privacy.keys import add_data_key, load_key_file
from bot.services.audit import CLI
from bot.services.keys import ENCRYPTED_FIELDS, reencrypt_all
from bot.services.outbox import WITHHELD_TEXT_CONTEXT
from bot.services.plan import ACTION_TITLE_CONTEXT, CONVERSATION_CONTEXT
from bot.storage.models import Action, Case, Conversation, Melding, Member, OutboxMessage, Person
from tests.app.test_detention import write_dpan
from tests.conftest import People


def test_every_encrypted_column_is_rotated() -> None:
    """A `*_ct` column left out of the rotation would be unreadable after `keys retire`."""
    columns = {
        f"{table.name}.{column.name}"
        for table in SQLModel.metadata.sorted_tables
        for column in table.columns
        if column.name.endswith("_ct")
    }
    assert columns == {field.name for field in ENCRYPTED_FIELDS}


def test_rotation_reencrypts_every_field_and_resumes(
    settings: Settings, clock: FrozenClock, people: People, tmp_path: Path
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
        withheld = OutboxMessage(
            dedupe_key="withheld", chat_id=1, text="", created_at=clock.now(),
            next_attempt_at=clock.now(), status="failed",
            text_ct=core.cipher.encrypt("tekst", context=WITHHELD_TEXT_CONTEXT),
        )  # fmt: skip
        session.add(withheld)
    dpan = write_dpan(tmp_path / "dpan.csv", identities[:1], institutions={1: "Onbekend Huis"})
    assert core.detention.import_path(dpan, actor=CLI).new == 1
    with core.db.session() as session:
        case = session.exec(select(Case)).one()
        member = session.exec(select(Member)).one()
        assert case.id is not None and member.id is not None
        session.add(
            Action(
                case_id=case.id,
                number=1,
                domain="financien",
                deadline=clock.now().date(),
                title_ct=core.cipher.encrypt("Eigen titel", context=ACTION_TITLE_CONTEXT),
                state="open",
                created_at=clock.now(),
                created_by=member.id,
            )
        )
        session.add(
            Conversation(
                member_id=member.id, kind="actie", step="title", case_id=case.id,
                state_ct=core.cipher.encrypt_json({"case": case.id}, context=CONVERSATION_CONTEXT),
                updated_at=clock.now(),
            )
        )  # fmt: skip
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
    assert report.counts == {
        "person.identity_ct": 6,
        "member.name_ct": 1,
        "melding.remark_ct": 1,
        "melding.institution_ct": 1,
        "outbox.text_ct": 1,
        "action.title_ct": 1,
        "conversation.state_ct": 1,
    }
    with rotated.db.session() as session:
        assert all(
            p.identity_ct and p.identity_ct.startswith("v1.k2.")
            for p in session.exec(select(Person))
        )
        assert all(m.name_ct.startswith("v1.k2.") for m in session.exec(select(Member)))
        stored = session.exec(select(Melding)).one()
        assert stored.remark_ct and stored.institution_ct
        assert stored.remark_ct.startswith("v1.k2.") and stored.institution_ct.startswith("v1.k2.")
        assert (
            rotated.cipher.decrypt(stored.remark_ct, context="melding.remark")
            == f"Opmerking over {identities[0].surname}"
        )
        row = session.exec(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == "withheld")
        ).one()
        assert row.text_ct is not None and row.text_ct.startswith("v1.k2.")
        action = session.exec(select(Action)).one()
        assert action.title_ct is not None
        assert (
            rotated.cipher.decrypt(action.title_ct, context=ACTION_TITLE_CONTEXT) == "Eigen titel"
        )
        conversation = session.exec(select(Conversation)).one()
        assert conversation.state_ct.startswith("v1.k2.")
        for person in session.exec(select(Person)):
            assert person.id is not None
            assert rotated.vault.reveal(session, person.id, actor=CLI, purpose="test") in identities
    again = reencrypt_all(rotated.db, rotated.cipher, rotated.audit, actor=CLI)
    assert again.total == 0
    assert load_key_file(settings.key_file).primary.key_id == "k2"
    rotated.db.dispose()
