"""Messages are built from safe values: what a file says never reaches Telegram as written,
and the bot's own words are never refused for resembling a person.

Through the fake Telegram, with the real import and the real request stack.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlmodel import select

from bot.domain.identity import Identity
from bot.services.audit import CLI
from bot.services.detention import INSTITUTION_CONTEXT
from bot.storage.models import Melding, OutboxMessage
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World
from tests.app.test_detention import write_dpan
from tests.conftest import People


def _payloads(running: RunningBot) -> str:
    return json.dumps([call.params for call in running.telegram.requests], ensure_ascii=False)


async def test_an_institution_outside_the_catalogue_is_never_posted(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core, telegram = running.core, running.telegram
    person = people.identity()
    assert person.bsn is not None
    slashed_bsn = f"{person.bsn[:3]}/{person.bsn[3:6]}/{person.bsn[6:]}"
    written = f"bij Henk Smit, Dorpsstraat 12 Weert, 06-12345678, {slashed_bsn}"
    dpan = write_dpan(tmp_path / "dpan.csv", [person], institutions={1: written})

    report = core.detention.import_path(dpan, actor=CLI)
    assert report.new == 1

    announced = await telegram.wait_for_message(
        running.group.id, contains="andere inrichting", timeout=EVENT_TIMEOUT
    )
    notice = await telegram.wait_for_message(
        world.coordinator.id, contains="regel 2", timeout=EVENT_TIMEOUT
    )
    assert "Import" in notice.text and "VHBOT_INSTITUTIONS" in notice.text
    sent = _payloads(running)
    for part in ("Henk", "Smit", "Dorpsstraat", "12345678", person.bsn, slashed_bsn):
        assert part not in sent, part
    assert "PI Roermond" not in announced.text
    with core.db.session() as session:
        melding = session.exec(select(Melding)).one()
        assert melding.institution is None
        assert melding.institution_ct is not None and "Smit" not in melding.institution_ct
        assert core.cipher.decrypt(melding.institution_ct, context=INSTITUTION_CONTEXT) == written
        stored = " ".join(row.text + row.text_values for row in session.exec(select(OutboxMessage)))
        assert "Smit" not in stored


async def test_a_catalogued_institution_is_shown_by_its_catalogue_name(
    running: RunningBot, people: People, tmp_path: Path
) -> None:
    dpan = write_dpan(tmp_path / "dpan.csv", [people.identity()], institutions={1: "p.i.  VUGHT"})
    running.core.detention.import_path(dpan, actor=CLI)
    announced = await running.telegram.wait_for_message(
        running.group.id, contains="detentiemelding", timeout=EVENT_TIMEOUT
    )
    assert "PI Vught" in announced.text


async def test_a_person_named_like_the_words_of_a_date_blocks_no_announcement(
    running: RunningBot, world: World, tmp_path: Path
) -> None:
    # Not made through `people`: the test-side payload check would flag the date words too.
    # The deadline is Tuesday 24 November, the release Tuesday 1 December.
    person = Identity(
        surname="Dinsdag", given_names="November Mei", birth_date=date(1979, 4, 1), bsn=None
    )
    dpan = write_dpan(tmp_path / "dpan.csv", [person])
    assert running.core.detention.import_path(dpan, actor=CLI).new == 1

    announced = await running.telegram.wait_for_message(
        running.group.id, contains="detentiemelding", timeout=EVENT_TIMEOUT
    )
    assert "dinsdag 24 november" in announced.text
    assert "dinsdag 1 december 2026" in announced.text
    assert "1979" not in _payloads(running)
    # Nothing withheld: the coordinators got no notice about a refused message.
    assert not running.telegram.messages_to(world.coordinator.id)


async def test_a_professional_sharing_a_surname_with_a_held_person_is_still_listed(
    running: RunningBot, world: World
) -> None:
    core = running.core
    held = Identity(surname="Testlid", given_names="Pieter", birth_date=date(1980, 5, 6))
    with core.db.session() as session:
        core.vault.register(session, held, actor=CLI)
    reply = await running.say(world.coordinator, "/leden", contains="Leden per organisatie")
    assert "Fenna Testlid" in reply.text  # the coordinator's own name, same surname


async def test_no_log_level_writes_message_text_names_or_updates(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    import io
    import logging

    from bot.logs import configure_logging

    stream = io.StringIO()
    configure_logging("DEBUG", secrets=["123456:TEST-TOKEN"], stream=stream)
    try:
        person = people.identity()
        dpan = write_dpan(tmp_path / "dpan.csv", [person])
        running.core.detention.import_path(dpan, actor=CLI)
        await running.telegram.wait_for_message(
            running.group.id, contains="detentiemelding", timeout=EVENT_TIMEOUT
        )
        # Group chatter the bot sees, with a name in it, and a private command.
        running.telegram.send_text(
            world.partner, "Kent iemand Gerrit Zwanenburg uit Weert?", chat=running.group
        )
        await running.say(world.coordinator, "/leden", contains="Leden per organisatie")
        logging.getLogger("bot.test").debug("debug.reached")  # our own debug still flows
    finally:
        configure_logging("WARNING")
    output = stream.getvalue()
    assert "debug.reached" in output
    for secret in (
        person.surname, person.given_names.split()[0], "Zwanenburg", "Gerrit", "Fenna Testlid",
        "Leden per organisatie", "detentiemelding", "TEST-TOKEN", str(world.partner.first_name),
    ):  # fmt: skip
        assert secret not in output, secret


async def test_an_outbox_row_queued_before_the_upgrade_is_checked_whole(
    running: RunningBot, world: World, people: People
) -> None:
    """Rows queued by a version without SafeText carry no values: all their words count."""
    from bot.safe import Kind, SafeText, Value

    core = running.core
    person = people.identity()
    assert person.bsn is not None
    slashed = f"{person.bsn[:3]}/{person.bsn[3:6]}/{person.bsn[6:]}"
    with core.db.session() as session:
        core.vault.register(session, person, actor=CLI)
        text = SafeText("placeholder", [Value(Kind.CODE, "x")])
        from bot.services import outbox

        outbox.enqueue(
            session, key="old:1", chat_id=running.group.id, text=text, now=core.clock.now()
        )
        row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == "old:1")).one()
        row.text = f"Nieuwe melding PI Vught, bij zus, BSN {slashed}"
        row.text_values = None  # as migration 0004 leaves the rows of before
        session.add(row)
    await running.telegram.wait_for_message(
        world.coordinator.id, contains="niet verstuurd", timeout=EVENT_TIMEOUT
    )
    assert person.bsn[:3] + "/" not in _payloads(running)
    with core.db.session() as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == "old:1")).one()
        assert (row.status, row.text) == ("failed", "")


async def test_a_withheld_reply_is_not_silent(running: RunningBot, world: World) -> None:
    """A coordinator whose full name is that of a held person: /leden is withheld, and said so."""
    core = running.core
    held = Identity(surname="Testlid", given_names="Fenna", birth_date=date(1980, 5, 6))
    with core.db.session() as session:
        core.vault.register(session, held, actor=CLI)
    reply = await running.say(world.coordinator, "/leden", contains="niet verstuurd")
    assert "Testlid" not in reply.text


def test_names_that_cannot_be_shown_are_cleaned_or_refused(running: RunningBot) -> None:
    from bot.services.members import MembershipError

    core = running.core
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Politie", code="POL", themes=None, actor=CLI
        )
        for number, bad in enumerate(("Politie\tLimburg", "Zorg\udcff", "x" * 201)):
            try:
                core.memberships.add_organisation(
                    session, name=bad, code=f"X{number}", themes=None, actor=CLI
                )
            except MembershipError:
                continue
            raise AssertionError(f"accepted {bad!r}")
        member = core.memberships.add_member(
            session, telegram_id=77, name="Jan\u0085Jansen\u2028 ", organisation_code="POL",
            roles=[], actor=CLI,
        )  # fmt: skip
        [entry] = [
            e for e in core.memberships.directory(session, actor=CLI) if e.member_id == member.id
        ]
    assert entry.name == "Jan Jansen"
