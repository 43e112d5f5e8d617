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
from bot.storage.models import AgendaItem, AuditEntry, Case, RevealLink
from bot.telegram_app import tally_editor
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


async def shown_now(running: RunningBot, message: SentMessage) -> str:
    """The text `message` shows once the tally editor has caught up (as the running bot
    does now and again), e.g. after its item rolled over to the next meeting."""
    assert running.application is not None
    await tally_editor(running.application).catch_up(running.application.bot)
    await running.settled()
    return str(running.telegram.message(message.chat_id, message.message_id)["text"])


def item_ids(running: RunningBot) -> dict[str, int]:
    """Each case's reference and the id of its latest agenda item (what its buttons carry)."""
    with running.core.db.session() as session:
        rows = session.exec(
            select(Case.reference, AgendaItem.id)
            .join(AgendaItem, col(AgendaItem.case_id) == col(Case.id))
            .order_by(col(AgendaItem.id))
        ).all()
    return {reference: item_id for reference, item_id in rows if item_id is not None}


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
    # The triage item rolls over without being asked about again.
    clock.set(at(2026, 11, 30, 14))
    assert await agenda_run(running) == 1
    [private] = items_in(running, radical.id, restricted)
    assert "woensdag 2 december 14:00" in private.text
    assert items_in(running, group, restricted) == []
    for user in (world.partner, world.coordinator, world.casemanager):
        assert items_in(running, user.id, restricted) == []
    [announced] = items_in(running, group, triage)
    rolled = await shown_now(running, announced)
    assert "dinsdag 1 december 10:00" in rolled
    assert "Doorgeschoven van een eerder overleg." in rolled
    assert "Bekend: Politie Limburg" in rolled
    answer = await press(running, radical, private, private.button_data("Niet bekend"))
    assert answer == "Genoteerd voor Expertisecentrum Radicalisering: niet bekend."


async def test_agenda_pages_rolled_over_items_and_an_outdated_page(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    core = running.core
    references = [add_case(core, n, Theme.JEUGD) for n in range(1, 21)]
    await agenda_run(running)
    clock.set(at(2026, 11, 25, 9))  # the day of Tuesday's meeting is over: all roll over
    first = await running.say(world.coordinator, "/agenda", contains="Agenda")
    assert first.text.startswith("Agenda (pagina 1 van 3)")
    assert "Triageoverleg: dinsdag 1 december 10:00" in first.text
    assert f"• {references[0]} · P-00000001 · Jeugd · Weert" in first.text
    assert "Doorgeschoven van een eerder overleg." in first.text
    # Announced before the first meeting: the rolled-over items keep that announcement.
    assert "Geantwoord 0 van 2 · bekend: 0" in first.text
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

    ids = item_ids(running)
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
    shown = await running.say(world.coordinator, "/agenda", contains="Agenda")
    item_id = item_ids(running)[reference]
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
        f"agd:{item_id}:x",
        f"agd:{item_id}:p:{typed}",
        f"agd:{item_id}:a:{typed}",
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
    answer = await press(running, world.partner, anchor, f"agd:{item_id}:p", forged=True)
    assert "Met jouw rol" in answer
    # doorgeleid to an organisation that does not exist.
    await press_then(running, world.coordinator, shown, f"agd:{item_id}:d:NOPE", "geen organisatie")
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
    # (first Wednesday of December) waits for its lead time. (The running bot's own
    # duty may announce before this call does: what reached the chats is what counts.)
    await agenda_run(running)
    assert len(items_in(running, group, cases["top_x"])) == 1
    assert items_in(running, radical.id, cases["radicalisering"]) == []
    clock.set(at(2026, 11, 30, 14))
    await agenda_run(running)
    assert len(items_in(running, radical.id, cases["radicalisering"])) == 1
    assert items_in(running, group, cases["radicalisering"]) == []
    for user in (world.partner, world.coordinator, world.casemanager):
        assert items_in(running, user.id, cases["radicalisering"]) == []


async def test_a_rolled_over_item_keeps_its_answers_and_is_chased_once_more(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    """An undecided item rolls over: the partners are not asked again from zero; those
    still missing are chased the working day before the new meeting, one digest each."""
    telegram, core, group = running.telegram, running.core, running.group.id
    first, second = add_case(core, 1, Theme.TOP_X), add_case(core, 2, Theme.JEUGD)
    assert await agenda_run(running) == 2
    messages = [items_in(running, group, reference)[0] for reference in (first, second)]
    for message in messages:
        answer = await press(running, world.partner, message, message.button_data("Bekend"))
        assert answer == "Genoteerd voor Politie Limburg: bekend."
    clock.set(at(2026, 11, 23, 10))
    assert await core.db.run(chase_overdue_answers, core) == 2
    await running.outbox_drained()

    clock.set(at(2026, 11, 25, 9))  # the meeting's day passed undecided
    assert await agenda_run(running) == 0
    for reference, message in zip((first, second), messages, strict=True):
        assert items_in(running, group, reference) == [message]  # no second announcement
        text = await shown_now(running, message)
        assert "Agendapunt voor het overleg van dinsdag 1 december 10:00" in text
        assert "Doorgeschoven van een eerder overleg." in text
        assert "Bekend: Politie Limburg" in text
    shown = await running.say(world.coordinator, "/agenda", contains="Agenda")
    for reference in (first, second):
        block = shown.text.split(f"• {reference}")[1].split("•")[0]
        assert "Geantwoord 1 van 2 · bekend: 1" in block
        assert "Ontbreekt: Reclassering Nederland" in block
        assert "Doorgeschoven van een eerder overleg." in block

    # Chased again the working day before the new meeting, once, one digest per person.
    def reminders(user: FakeUser) -> list[SentMessage]:
        return [m for m in telegram.messages_to(user.id) if "Herinnering" in m.text]

    before = len(reminders(world.coordinator))
    clock.set(at(2026, 11, 30, 9, 59))
    assert await core.db.run(chase_overdue_answers, core) == 0
    clock.set(at(2026, 11, 30, 10))
    assert await core.db.run(chase_overdue_answers, core) == 2
    assert await core.db.run(chase_overdue_answers, core) == 0
    await running.outbox_drained()
    [digest] = reminders(world.coordinator)[before:]
    assert f"• {first}" in digest.text and f"• {second}" in digest.text
    assert reminders(world.partner) == []
    # The old buttons answer for the same announcement: the missing organisation answers.
    answer = await press(
        running, world.coordinator, messages[0], messages[0].button_data("Niet bekend")
    )
    assert answer == "Genoteerd voor Reclassering Nederland: niet bekend."
    again = await running.say(world.coordinator, "/agenda", contains="Agenda")
    assert "Geantwoord 2 van 2 · bekend: 1" in again.text.split(f"• {first}")[1].split("•")[0]


def decision_audits(running: RunningBot) -> int:
    with running.core.db.session() as session:
        return len(
            session.exec(select(AuditEntry).where(AuditEntry.action == "case.decision")).all()
        )


async def test_buttons_of_an_outdated_agenda_change_nothing(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    """Decision buttons of an item decided, corrected, closed or rolled over since the
    page was shown answer that the agenda is outdated; forged data answers clearly."""
    core, coordinator = running.core, world.coordinator
    decided, closed, rolled = (add_case(core, n, Theme.JEUGD) for n in (1, 2, 3))
    shown = await running.say(coordinator, "/agenda", contains="Agenda")
    ids = item_ids(running)
    assert shown.button_data(f"{decided}: procesregie") == f"agd:{ids[decided]}:p"
    ask = await press_then(running, coordinator, shown, f"agd:{ids[rolled]}:d", "welke organisatie")
    await running.say(coordinator, f"/besluit {decided} procesregie", contains="vastgelegd")
    await running.say(coordinator, f"/besluit {decided} doorgeleid rn", contains="gecorrigeerd")
    await running.say(coordinator, f"/besluit {decided} procesregie", contains="gecorrigeerd")
    await running.say(coordinator, f"/besluit {closed} afgesloten dubbel", contains="vastgelegd")
    before, audited = decisions(running), decision_audits(running)
    gone = "Deze zaak staat niet meer op de agenda. Vraag /agenda opnieuw."
    for data, answer in (
        (shown.button_data(f"{decided}: procesregie"), gone),
        (f"agd:{ids[decided]}:d:RN", gone),
        (f"agd:{ids[closed]}:a", gone),
        (f"agd:{ids[closed]}:a:dubbel", gone),
    ):
        assert await press(running, coordinator, shown, data, forged=True) == answer, data

    # Tuesday's meeting and its day pass: the undecided item rolls over to the next one.
    # The old page's buttons (and the organisation asked for) no longer speak of it.
    clock.set(at(2026, 11, 25, 9))
    outdated = "Deze agenda is verouderd. Vraag /agenda opnieuw."
    answer = await press(running, coordinator, shown, shown.button_data(f"{rolled}: procesregie"))
    assert answer == outdated
    answer = await press(running, coordinator, ask, ask.button_data("Reclassering Nederland"))
    assert answer == outdated
    await agenda_run(running)  # the duty plans: the case has an item of the new meeting
    assert await press(running, coordinator, shown, f"agd:{ids[rolled]}:p", forged=True) == (
        outdated
    )
    assert decisions(running) == before
    assert decision_audits(running) == audited
    # The new agenda's button is the new item's and works.
    fresh = await running.say(coordinator, "/agenda jeugd", contains="Agenda")
    new_id = item_ids(running)[rolled]
    assert new_id != ids[rolled]
    assert fresh.button_data(f"{rolled}: procesregie") == f"agd:{new_id}:p"
    done = await press_then(running, coordinator, fresh, f"agd:{new_id}:p", "vastgelegd")
    assert rolled in done.text


async def test_forged_agenda_buttons_answer_clearly_and_change_nothing(
    running: RunningBot, world: World
) -> None:
    """Non-numeric or unknown ids, and a page button of another coordinator's agenda (in
    another language: another version) change nothing."""
    core, coordinator = running.core, world.coordinator
    for number in range(1, 13):
        add_case(core, number, Theme.JEUGD)
    english = running.telegram.add_user("Eve", language_code="en", started=True)
    with core.db.session() as session:
        core.memberships.add_member(
            session, telegram_id=english.id, name="Eve Coordinator", organisation_code="RN",
            roles=[Role.COORDINATOR], actor=CLI,
        )  # fmt: skip
    theirs = await running.say(english, "/agenda", contains="Agenda")
    assert theirs.text.startswith("Agenda (page 1 of 2)")
    mine = await running.say(coordinator, "/agenda", contains="Agenda")
    their_next = theirs.button_data("Next »")
    assert their_next != mine.button_data("Volgende »")
    before, audited, sent = (
        decisions(running),
        decision_audits(running),
        len(running.telegram.calls("editMessageText")),
    )
    unknown = "Dit verzoek is gesloten of onbekend."
    for data, answer in (
        (their_next, "Deze agenda is verouderd. Vraag /agenda opnieuw."),
        ("agp:2:abc:a", unknown),
        ("agp:x:1:a", unknown),
        ("agd:abc:p", unknown),
        ("agd:999999:p", unknown),
        ("agd:999999:d:RN", unknown),
        ("agd:-1:p", unknown),
        ("agd:1:p:", unknown),
    ):
        assert await press(running, coordinator, mine, data, forged=True) == answer, data
    await running.settled()
    assert decisions(running) == before
    assert decision_audits(running) == audited
    assert len(running.telegram.calls("editMessageText")) == sent


async def test_long_agendas_page_within_telegrams_limit_with_headings_kept(
    running: RunningBot, world: World
) -> None:
    """Thirty organisations with 200-character names, none answered: every page fits a
    Telegram message, and a page going on with the triage repeats its heading."""
    core = running.core
    with core.db.session() as session:
        for number in range(30):
            code = f"O{number:02d}"
            name = f"Organisatie {number:02d} " + "lang " * 37
            core.memberships.add_organisation(
                session, name=name.strip()[:200], code=code, themes=[Theme.JEUGD], actor=CLI
            )
            core.memberships.add_member(
                session, telegram_id=900_000 + number, name=f"Lid {number}",
                organisation_code=code, roles=[Role.PARTNER], actor=CLI,
            )  # fmt: skip
    references = [add_case(core, n, Theme.JEUGD) for n in range(1, 13)]
    page = await running.say(world.coordinator, "/agenda", contains="Agenda")
    texts = [page.text]
    while "Volgende »" in [b["text"] for b in page.buttons()]:
        since = len(running.telegram.sent)
        assert await press(running, world.coordinator, page, page.button_data("Volgende »")) == ""
        page = await running.telegram.wait_for_message(
            world.coordinator.id, contains="Agenda (pagina", since=since
        )
        texts.append(page.text)
    assert len(texts) > 2
    for number, text in enumerate(texts, start=1):
        assert len(text) <= 4096
        assert text.startswith(f"Agenda (pagina {number} van {len(texts)})")
        heading = text.split("\n")[2]
        assert heading.startswith("Triageoverleg: dinsdag 24 november 10:00")
        assert heading.endswith("(vervolg)") == (number > 1)
        assert "en nog " in text  # the names of the missing organisations are cut short
    assert all(any(f"• {r} ·" in text for text in texts) for r in references)


async def test_a_restricted_case_stays_inside_its_circle_for_coordinators_too(
    running: RunningBot, world: World, radical: FakeUser
) -> None:
    """The coordinator's organisation (RN) works on every theme but radicalisering: a
    radicalisation case is not shown to them, and they cannot decide, assign or refer it;
    a case is referred only to organisations that work on its theme."""
    core = running.core
    restricted, other = add_case(core, 1, Theme.RADICALISERING), add_case(core, 2, Theme.JEUGD)
    shown = await running.say(world.coordinator, "/agenda", contains="Agenda")
    assert other in shown.text and restricted not in shown.text
    assert "Radicalisering" not in shown.text
    reply = await running.say(world.coordinator, "/agenda radicalisering", contains="")
    assert "Jouw organisatie werkt niet aan dat thema" in reply.text
    ids, before = item_ids(running), decisions(running)
    unknown = "Dit verzoek is gesloten of onbekend."
    for data in (f"agd:{ids[restricted]}:p", f"agd:{ids[restricted]}:d:RAD"):
        assert await press(running, world.coordinator, shown, data, forged=True) == unknown
    for command in (f"/besluit {restricted} procesregie", f"/toewijzen {restricted}"):
        reply = await running.say(world.coordinator, command, contains="")
        assert reply.text == "Er is geen zaak met die referentie.", command
    # Referring the other case: only organisations that work on jeugd are offered, and a
    # forged press for the radicalisation centre is refused.
    ask = await press_then(
        running, world.coordinator, shown, f"agd:{ids[other]}:d", "Naar welke organisatie"
    )
    offered = [b["text"] for row in ask.reply_markup["inline_keyboard"] for b in row]
    assert "Expertisecentrum Radicalisering" not in offered
    assert "Reclassering Nederland" in offered
    refused = await press_then(
        running, world.coordinator, shown, f"agd:{ids[other]}:d:RAD", "werkt niet aan het thema"
    )
    assert "Expertisecentrum" not in refused.text
    assert decisions(running) == before


async def test_during_the_meeting_its_agenda_and_buttons_still_work(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    """Decisions are taken in the meeting: until its day is over, /agenda shows it and its
    buttons decide; the day after, what was left undecided has rolled over."""
    reference, later = (
        add_case(running.core, 1, Theme.JEUGD),
        add_case(running.core, 2, Theme.JEUGD),
    )
    clock.set(at(2026, 11, 24, 9, 55))
    before = await running.say(world.coordinator, "/agenda", contains="Agenda")
    clock.set(at(2026, 11, 24, 10, 15))  # the triage meeting is on
    during = await running.say(world.coordinator, "/agenda", contains="Agenda")
    assert "Triageoverleg: dinsdag 24 november 10:00" in during.text
    assert "Doorgeschoven" not in during.text
    done = await press_then(
        running, world.coordinator, before, before.button_data(f"{reference}: procesregie"),
        "vastgelegd",
    )  # fmt: skip
    assert reference in done.text
    clock.set(at(2026, 11, 25, 8))
    after = await running.say(world.coordinator, "/agenda", contains="Agenda")
    assert "Triageoverleg: dinsdag 1 december 10:00" in after.text
    assert later in after.text and "Doorgeschoven van een eerder overleg." in after.text
    assert reference not in after.text


async def test_a_case_is_referred_to_an_organisation_whose_code_has_a_hyphen(
    running: RunningBot, world: World
) -> None:
    core = running.core
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="GGZ Noord-Midden", code="GGZ-NML", themes=None, actor=CLI
        )
    reference = add_case(core, 1, Theme.JEUGD)
    shown = await running.say(world.coordinator, "/agenda", contains="Agenda")
    ask = await press_then(
        running, world.coordinator, shown, shown.button_data("doorgeleid"),
        "Naar welke organisatie",
    )  # fmt: skip
    done = await press_then(
        running, world.coordinator, ask, ask.button_data("GGZ Noord-Midden"), "vastgelegd"
    )
    assert "doorgeleid naar GGZ Noord-Midden" in done.text
    assert decisions(running) == [(reference, "doorgeleid")]
