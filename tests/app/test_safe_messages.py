"""Messages are built from safe values: what a file says never reaches Telegram as written,
and the bot's own words are never refused for resembling a person.

Through the fake Telegram, with the real import and the real request stack.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from sqlmodel import select

from bot.privacy.pseudonym import Identity
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
