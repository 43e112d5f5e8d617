"""Meetings and /agenda through the fake Telegram server: agenda items announced at the
lead time (a restricted theme only privately), answered and chased the working day
before the meeting, /agenda in pages with rolled-over items, decisions from its
buttons, a meeting moved off King's Day, and bad input.

The clock starts on Monday 2026-11-23 09:00 (Amsterdam); the triage meets on
Tuesdays 10:00, the radicalisation case meeting the first Wednesday 14:00.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.domain.roles import Role, Theme
from bot.sandbox.fake_telegram import FakeUser, SentMessage
from bot.scheduling.duties import announce_agenda_items, chase_overdue_answers
from bot.services.audit import CLI
from bot.storage.models import Case, RevealLink
from tests.app.conftest import RunningBot, World
from tests.app.test_answers import press
from tests.conftest import People
from tests.services.test_agenda import add_case
from tests.services.test_meldingen_import import melding_row, write_meldingen

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=AMSTERDAM)  # type: ignore[misc]


@pytest.fixture
def radical(running: RunningBot, world: World) -> FakeUser:
    """A member of the one organisation granted radicalisation."""
    core = running.core
    kim = running.telegram.add_user("Kim", language_code="nl", started=True)
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Expertisecentrum Radicalisering", code="RAD",
            themes=[Theme.RADICALISERING], actor=CLI,
        )  # fmt: skip
        core.memberships.add_member(
            session, telegram_id=kim.id, name="Kim Testlid", organisation_code="RAD",
            roles=[Role.PARTNER], actor=CLI,
        )  # fmt: skip
    return kim


async def agenda_run(running: RunningBot) -> int:
    announced = await running.core.db.run(announce_agenda_items, running.core)
    await running.outbox_drained()
    return announced


def items_in(running: RunningBot, chat_id: int, reference: str) -> list[SentMessage]:
    return [
        m
        for m in running.telegram.messages_to(chat_id)
        if "Agendapunt" in m.text and reference in m.text and m.method == "sendMessage"
    ]


async def press_then(
    running: RunningBot, user: FakeUser, message: SentMessage, data: str, contains: str
) -> SentMessage:
    """`user` presses `data`; the next message in their chat containing `contains`."""
    since = len(running.telegram.sent)
    await press(running, user, message, data, forged=True)
    return await running.telegram.wait_for_message(user.id, contains=contains, since=since)


def decisions(running: RunningBot) -> list[tuple[str, str | None]]:
    with running.core.db.session() as session:
        return [
            (c.reference, c.decision) for c in session.exec(select(Case).order_by(col(Case.id)))
        ]


async def test_items_are_announced_answered_chased_and_roll_over(
    running: RunningBot, world: World, radical: FakeUser, clock: FrozenClock
) -> None:
    telegram, core, group = running.telegram, running.core, running.group.id
    triage = add_case(core, 1, Theme.TOP_X)
    restricted = add_case(core, 2, Theme.RADICALISERING)
    # Tuesday's triage is less than 2 working days away: announced at once, in the group.
    assert await agenda_run(running) == 1
    [message] = items_in(running, group, triage)
    assert message.text.startswith("Agendapunt voor het overleg van dinsdag 24 november 10:00")
    assert "Graag reactie vóór dinsdag 24 november 10:00" in message.text
    assert [b["text"] for b in message.buttons()] == ["Bekend", "Niet bekend"]
    assert items_in(running, radical.id, restricted) == []
    # No Gegevens bekijken: the reveal pages show no agenda item; a forged press gets none.
    announcement_id = int(message.button_data("Bekend").split(":")[1])
    await press(running, world.partner, message, f"rv:{announcement_id}", forged=True)
    with core.db.session() as session:
        assert session.exec(select(RevealLink)).all() == []
    answer = await press(running, world.partner, message, message.button_data("Bekend"))
    assert answer == "Genoteerd voor Politie Limburg: bekend."
    await telegram.wait_for_message(group, contains="Bekend: Politie Limburg")

    # Chased the working day before the meeting (Monday, at the meeting's time), once.
    assert await core.db.run(chase_overdue_answers, core) == 0
    clock.set(at(2026, 11, 23, 10))
    assert await core.db.run(chase_overdue_answers, core) == 1
    assert await core.db.run(chase_overdue_answers, core) == 0
    await running.outbox_drained()
    [reminder] = [m for m in telegram.messages_to(world.coordinator.id) if "Herinnering" in m.text]
    assert f"• {triage}" in reminder.text and "Reclassering Nederland" in reminder.text
    assert not [m for m in telegram.messages_to(world.partner.id) if "Herinnering" in m.text]
    # The answer time has not passed: the group gets no note saying it has.
    assert not [m for m in telegram.messages_to(group) if "reactietermijn" in m.text]

    # The meeting passes undecided; the radicalisation item's time comes on the Monday
    # before the first Wednesday of December: only privately, to the entitled member.
    clock.set(at(2026, 11, 30, 14))
    assert await agenda_run(running) == 2
    [private] = items_in(running, radical.id, restricted)
    assert "woensdag 2 december 14:00" in private.text
    assert items_in(running, group, restricted) == []
    for user in (world.partner, world.coordinator, world.casemanager):
        assert items_in(running, user.id, restricted) == []
    [_first, rolled] = items_in(running, group, triage)
    assert "dinsdag 1 december 10:00" in rolled.text
    assert "Doorgeschoven van een eerder overleg." in rolled.text
    answer = await press(running, radical, private, private.button_data("Niet bekend"))
    assert answer == "Genoteerd voor Expertisecentrum Radicalisering: niet bekend."


async def test_agenda_pages_rolled_over_items_and_an_outdated_page(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    core = running.core
    references = [add_case(core, n, Theme.JEUGD) for n in range(1, 21)]
    await agenda_run(running)
    clock.set(at(2026, 11, 24, 11))  # Tuesday's meeting passed: all roll over
    first = await running.say(world.coordinator, "/agenda", contains="Agenda")
    assert first.text.startswith("Agenda (pagina 1 van 3)")
    assert "Triageoverleg: dinsdag 1 december 10:00" in first.text
    assert f"• {references[0]} · P-00000001 · Jeugd · Weert" in first.text
    assert "Doorgeschoven van een eerder overleg." in first.text
    assert "Nog niet aangekondigd · verwacht: 2" in first.text  # announced on Friday
    assert "Ontbreekt: Politie Limburg, Reclassering Nederland" in first.text
    assert len(first.text) <= 4096
    assert references[8] not in first.text
    answer = await press(running, world.coordinator, first, first.button_data("Volgende »"))
    assert answer == ""
    second = await running.telegram.wait_for_message(
        world.coordinator.id, contains="pagina 2 van 3"
    )
    assert references[8] in second.text and references[0] not in second.text
    # The agenda changes (a new case): the old page's buttons say so and change nothing.
    add_case(core, 99, Theme.JEUGD)
    before = decisions(running)
    answer = await press(running, world.coordinator, second, second.button_data("« Vorige"))
    assert answer == "Deze agenda is verouderd. Vraag /agenda opnieuw."
    assert decisions(running) == before
    narrowed = await running.say(world.coordinator, "/agenda nazorg", contains="Agenda")
    assert (
        narrowed.text == "Agenda\n\nNazorgtafel: donderdag 26 november 10:00\n  Geen agendapunten."
    )


async def test_decisions_from_the_agenda_buttons(running: RunningBot, world: World) -> None:
    core = running.core
    kept, referred, closed = (add_case(core, n, Theme.OGGZ) for n in (1, 2, 3))
    shown = await running.say(world.coordinator, "/agenda oggz", contains="Agenda")
    coordinator = world.coordinator

    data = shown.button_data(f"{kept}: procesregie")
    recorded = await press_then(running, coordinator, shown, data, kept)
    assert recorded.text.startswith(f"Besluit voor zaak {kept} vastgelegd: procesregie.")

    with core.db.session() as session:
        ids = {c.reference: c.id for c in session.exec(select(Case))}
    ask = await press_then(
        running, coordinator, shown, f"agd:{ids[referred]}:d", "welke organisatie"
    )
    data = ask.button_data("Reclassering Nederland")
    done = await press_then(running, coordinator, ask, data, "doorgeleid naar")
    assert referred in done.text

    why = await press_then(running, coordinator, shown, f"agd:{ids[closed]}:a", "afgesloten?")
    data = why.button_data("dubbel met een andere zaak")
    await press_then(running, coordinator, why, data, "afgesloten: dubbel met een andere zaak")
    assert decisions(running) == [
        (kept, "procesregie"), (referred, "doorgeleid"), (closed, "afgesloten"),
    ]  # fmt: skip
    # The decided cases left the agenda: their old buttons say so.
    answer = await press(running, coordinator, shown, shown.button_data(f"{kept}: procesregie"))
    assert answer == "Deze zaak staat niet meer op de agenda. Vraag /agenda opnieuw."
    again = await running.say(coordinator, "/agenda oggz", contains="Agenda")
    assert kept not in again.text and referred not in again.text


async def test_a_meeting_moves_off_kings_day(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    clock.set(at(2027, 4, 26, 9))  # King's Day 2027 is Tuesday 27 April
    shown = await running.say(world.coordinator, "/agenda", contains="Agenda")
    assert "Triageoverleg: woensdag 28 april 10:00" in shown.text


async def test_bad_input_gets_a_clear_answer_and_changes_nothing(
    running: RunningBot, world: World, people: object
) -> None:
    core = running.core
    reference = add_case(core, 1, Theme.JEUGD)
    typed = "Jansen"
    with core.db.session() as session:
        case_id = session.exec(select(Case.id).where(Case.reference == reference)).one()
    shown = await running.say(world.coordinator, "/agenda", contains="Agenda")
    before = decisions(running)
    for user, text, answer in (
        (world.partner, "/agenda", "Met jouw rol"),
        (world.casemanager, "/agenda jeugd", "Met jouw rol"),
        (world.stranger, "/agenda", "niet (meer) aangemeld"),
        (world.coordinator, f"/agenda {typed}", "Dat thema bestaat niet."),
        (world.coordinator, "/agenda jeugd nazorg", "Dat thema bestaat niet."),
    ):
        reply = await running.say(user, text, contains="")
        assert answer in reply.text, (text, reply.text)
        assert typed not in reply.text
    for data in (
        "agp:1:1:a",  # a version that never was
        "agp:1:x:a",
        f"agp:1:{typed}:a",
        "agp:1:1:99",
        f"agd:{case_id}:x",
        f"agd:{case_id}:p:{typed}",
        f"agd:{case_id}:a:{typed}",
        "agd:999999:p",
    ):
        answer = await press(running, world.coordinator, shown, data, forged=True)
        assert answer in (
            "Dit verzoek is gesloten of onbekend.",
            "Deze agenda is verouderd. Vraag /agenda opnieuw.",
            "Deze zaak staat niet meer op de agenda. Vraag /agenda opnieuw.",
        ), (data, answer)
        assert typed not in answer
    # A partner pressing a coordinator's button (forged): refused by role.
    anchor = await running.say(world.partner, "/start", contains="")
    answer = await press(running, world.partner, anchor, f"agd:{case_id}:p", forged=True)
    assert "Met jouw rol" in answer
    # doorgeleid to an organisation that does not exist.
    await press_then(running, world.coordinator, shown, f"agd:{case_id}:d:NOPE", "geen organisatie")
    assert decisions(running) == before


async def test_a_meldingen_file_reaches_the_agenda_per_theme(
    running: RunningBot,
    world: World,
    radical: FakeUser,
    people: People,
    tmp_path: Path,
    clock: FrozenClock,
) -> None:
    """From the file to the partners: a top_x melding becomes an item in the group, a
    radicalisering melding one only in the entitled member's private chat."""
    core, group = running.core, running.group.id
    rows = [
        melding_row(people.identity(), "POL-1", thema="top_x"),
        melding_row(people.identity(), "POL-2", thema="radicalisering"),
    ]
    report = core.meldingen.import_path(write_meldingen(tmp_path / "m.csv", rows), actor=CLI)
    assert (report.new, report.rejected) == (2, 0)
    with core.db.session() as session:
        cases = {c.theme: c.reference for c in session.exec(select(Case))}
    # Tuesday's triage is close enough to announce at once; the radicalisation meeting
    # (first Wednesday of December) waits for its lead time.
    assert await agenda_run(running) == 1
    assert len(items_in(running, group, cases["top_x"])) == 1
    clock.set(at(2026, 11, 30, 14))
    await agenda_run(running)
    assert len(items_in(running, radical.id, cases["radicalisering"])) == 1
    assert items_in(running, group, cases["radicalisering"]) == []
    for user in (world.partner, world.coordinator, world.casemanager):
        assert items_in(running, user.id, cases["radicalisering"]) == []
