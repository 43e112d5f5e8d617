"""The plan of approach through the fake Telegram server: /actie step by step (catalogue
and own title), the owner's [Afgerond] [Uitstellen] (the casemanager hears of a done
one), /plan with [Wijzig #N] (another owner, or cancel the action), owner choices in
pages, /zrm, /annuleer, every bad input of the issue, and a conversation half-way
surviving a restart of the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.domain.roles import Role
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram, FakeUser, ManualMonotonic, SentMessage
from bot.scheduling.pacer import Pacer
from bot.services.audit import CLI
from bot.storage.models import (
    Action,
    ActionEvent,
    AuditEntry,
    Case,
    Conversation,
    OutboxMessage,
    ZrmMeasurement,
    ZrmScore,
)
from tests.app.conftest import RunningBot, World, seed_world, until
from tests.app.test_decisions_telegram import _cases
from tests.conftest import People

TODAY = date(2026, 11, 23)  # the clock fixture's Monday


def _accept(running: RunningBot, world: World, reference: str) -> None:
    """Sanne (casemanager) accepts the case."""
    core = running.core
    with core.db.session() as session:
        assigned = core.decisions.assign(
            session,
            member_number=world.member_ids["casemanager"],
            by=world.member_ids["coordinator"],
            reference=reference,
        )
        assert assigned.member_number is not None
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        assert case.id is not None
        from bot.storage.models import CaseAssignment

        assignment = session.exec(
            select(CaseAssignment).where(CaseAssignment.case_id == case.id)
        ).one()
        assert assignment.id is not None
        core.decisions.answer_offer(
            session,
            assignment_id=assignment.id,
            member_id=world.member_ids["casemanager"],
            accept=True,
        )


async def _case(running: RunningBot, world: World, people: People, tmp_path: Path) -> str:
    [reference] = await _cases(running, people, tmp_path, 1)
    _accept(running, world, reference)
    await running.outbox_drained()
    return reference


async def _press(
    running: RunningBot, user: FakeUser, message: SentMessage, data: str, *, forged: bool = False
) -> dict[str, object]:
    telegram = running.telegram
    running.flood_clock.advance(1.0)
    query = telegram.press_button(user, message, data, forged=forged)
    await until(lambda: query in telegram.callback_answers, "the press answered")
    return telegram.callback_answers[query]


async def _choose(
    running: RunningBot, user: FakeUser, message: SentMessage, label: str, contains: str
) -> SentMessage:
    """Press the button labelled `label` and wait for the next question."""
    since = len(running.telegram.sent)
    answer = await _press(running, user, message, message.button_data(label))
    assert answer == {}, answer
    return await running.telegram.wait_for_message(user.id, contains=contains, since=since)


def _snapshot(running: RunningBot) -> tuple[object, ...]:
    with running.core.db.session() as session:
        return (
            [a.model_dump() for a in session.exec(select(Action).order_by(col(Action.id)))],
            [e.model_dump() for e in session.exec(select(ActionEvent))],
            len(session.exec(select(ZrmMeasurement)).all()),
        )


def _sent_texts(telegram: FakeTelegram) -> str:
    return "\n".join(str(message.text) + str(message.reply_markup) for message in telegram.sent)


async def test_an_action_from_the_catalogue_then_done_twice(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram = running.telegram
    reference = await _case(running, world, people, tmp_path)
    sanne, bram = world.casemanager, world.partner

    domains = await running.say(sanne, f"/actie {reference.lower()}", contains="leefgebied")
    assert domains.text == f"Nieuwe actie voor zaak {reference}. Welk leefgebied?"
    assert len(domains.buttons()) == 11
    actions = await _choose(running, sanne, domains, "huisvesting", "Welke actie")
    assert [b["text"] for b in actions.buttons()] == [
        "woonruimte zoeken", "opvang regelen", "huurachterstand regelen met de verhuurder",
        "Eigen titel",
    ]  # fmt: skip
    owners = await _choose(running, sanne, actions, "woonruimte zoeken", "eigenaar")
    labels = [b["text"] for b in owners.buttons()]
    assert labels[0] == "Sanne Testlid (Reclassering Nederland)"  # the casemanager first
    assert "Bram Testlid (Politie Limburg)" in labels
    assert "Politie Limburg (alle leden)" in labels
    assert "Joost Testlid (Politie Limburg)" not in labels  # deactivated
    deadline = await _choose(running, sanne, owners, "Bram Testlid (Politie Limburg)", "deadline")
    assert [b["text"] for b in deadline.buttons()] == ["+1 week", "+2 weken", "+1 maand"]
    since = len(telegram.sent)
    stored = await _choose(running, sanne, deadline, "+2 weken", "vastgelegd")
    assert stored.text == (
        f"Actie vastgelegd voor zaak {reference}: huisvesting: woonruimte zoeken. Eigenaar: "
        "Bram Testlid (Politie Limburg). Deadline: maandag 7 december 2026. De eigenaar is "
        "op de hoogte gebracht."
    )
    notice = await telegram.wait_for_message(bram.id, contains=reference, since=since)
    assert notice.text == (
        f"Een nieuwe actie van zaak {reference} is voor jou: huisvesting: woonruimte zoeken. "
        "Deadline: maandag 7 december 2026. Druk op Afgerond als ze klaar is, of op "
        "Uitstellen voor een nieuwe datum."
    )
    with running.core.db.session() as session:
        action = session.exec(select(Action)).one()
    assert [b["callback_data"] for b in notice.buttons()] == [
        f"act:{action.id}:1:d", f"act:{action.id}:1:p",
    ]  # fmt: skip
    assert (action.number, action.domain, action.catalogue_code, action.deadline) == (
        1, "huisvesting", "huis_woning", date(2026, 12, 7),
    )  # fmt: skip
    assert (action.owner_member_id, action.title_ct) == (world.member_ids["partner"], None)

    since = len(telegram.sent)
    assert await _press(running, bram, notice, notice.button_data("Afgerond")) == {}
    closed = await telegram.wait_for_message(bram.id, contains="Afgerond:", since=since)
    assert closed.text == f"Afgerond: huisvesting: woonruimte zoeken van zaak {reference}."
    # The casemanager hears of it: the reference and the catalogue action.
    told = await telegram.wait_for_message(sanne.id, contains="afgerond", since=since)
    assert told.text == (
        f"Lid {world.member_ids['partner']} heeft een actie van zaak {reference} afgerond: "
        "huisvesting: woonruimte zoeken."
    )
    again = await _press(running, bram, notice, notice.button_data("Afgerond"))
    assert again == {"text": "Deze actie is al afgerond.", "show_alert": True}
    with running.core.db.session() as session:
        events = [e.kind for e in session.exec(select(ActionEvent).order_by(col(ActionEvent.id)))]
        done = session.exec(select(Action)).one()
    assert events == ["created", "done"]
    assert (done.state, done.version, done.done_by) == ("done", 2, world.member_ids["partner"])

    plan = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    assert plan.text.splitlines() == [
        f"Plan van aanpak van zaak {reference}",
        "",
        "huisvesting:",
        "• #1 huisvesting: woonruimte zoeken · Bram Testlid · maandag 7 december 2026 · afgerond",
        "",
        "ZRM: nog geen meting.",
    ]
    assert plan.buttons() == []  # nothing open to change


async def test_own_title_checked_never_shown_and_every_bad_input(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram, core = running.telegram, running.core
    reference = await _case(running, world, people, tmp_path)
    person = people.made[0]
    sanne = world.casemanager
    before = _snapshot(running)

    domains = await running.say(sanne, f"/actie {reference}", contains="leefgebied")
    # Text where a button is asked.
    wrong = await running.say(sanne, "iets", contains="knoppen")
    assert wrong.text == "Kies met de knoppen hierboven, of stop met /annuleer."
    actions = await _choose(running, sanne, domains, "financiën", "Welke actie")
    # A button of the earlier step: outdated, nothing changes.
    old = await _press(running, sanne, domains, domains.button_data("justitie"))
    assert old == {
        "text": "Deze knop hoort bij een eerdere stap of een eerder gesprek; er is niets "
        "veranderd.",
        "show_alert": True,
    }
    # A forged catalogue code of another domain.
    version = actions.button_data("Eigen titel").split(":")[1]
    forged = await _press(running, sanne, actions, f"pa:{version}:a:huis_woning", forged=True)
    assert forged == {"text": "Dit verzoek is gesloten of onbekend.", "show_alert": True}
    ask = await _choose(running, sanne, actions, "Eigen titel", "Typ de titel")
    assert "hoogstens 80 tekens" in ask.text

    with_name = f"Gesprek met {person.surname} over schulden"
    with_birth = f"Afspraak {person.birth_date:%d-%m-%Y} bij de bank"
    for typed, answer in (
        (with_name, "De titel bevat de naam of geboortedatum van de persoon."),
        (with_birth, "De titel bevat de naam of geboortedatum van de persoon."),
        ("x" * 81, "De titel is langer dan 80 tekens. Typ een kortere."),
    ):
        reply = await running.say(sanne, typed, contains="titel")
        assert reply.text.startswith(answer), reply.text
    owners = await running.say(
        sanne, "Budgetplan opstellen met de bewindvoerder", contains="eigenaar"
    )
    deadline = await _choose(running, sanne, owners, "Politie Limburg (alle leden)", "deadline")
    for typed, answer in (
        ("morgen", "Typ de deadline als dd-mm-jjjj"),
        ("31-02-2027", "Typ de deadline als dd-mm-jjjj"),
        ("20-11-2026", "Die datum is al voorbij."),
        ("24-11-2027", "Een deadline ligt hooguit een jaar vooruit."),
    ):
        reply = await running.say(sanne, typed, contains="")
        assert reply.text.startswith(answer), (typed, reply.text)
    assert _snapshot(running) == before
    since = len(telegram.sent)
    stored = await running.say(sanne, "15-01-2027", contains="vastgelegd")
    assert stored.text == (
        f"Actie vastgelegd voor zaak {reference}: financiën: eigen actie #1. Eigenaar: "
        "Politie Limburg (alle leden). Deadline: vrijdag 15 januari 2027. De eigenaar is op "
        "de hoogte gebracht."
    )
    # Every active member of the organisation hears of it; the deactivated one does not.
    notice = await telegram.wait_for_message(world.partner.id, contains=reference, since=since)
    assert "financiën: eigen actie #1" in notice.text
    await running.outbox_drained()
    assert not [m for m in telegram.sent[since:] if m.chat_id == world.deactivated.id]
    # The title was never sent, nor anything typed.
    sent = _sent_texts(telegram)
    for secret in ("Budgetplan", "bewindvoerder", person.surname, "morgen", "xxxxx"):
        assert secret not in sent
    with core.db.session() as session:
        action = session.exec(select(Action)).one()
        conversation = session.get(Conversation, world.member_ids["casemanager"])
    assert action.title_ct is not None and "Budgetplan" not in action.title_ct
    assert action.owner_organisation_id is not None and action.owner_member_id is None
    assert conversation is not None and conversation.kind == "idle"
    # The owner's organisation may close it; the old conversation's buttons are outdated.
    late = await _press(running, sanne, deadline, deadline.button_data("+1 week"))
    assert "eerdere stap" in str(late["text"])
    since = len(telegram.sent)
    done = await _press(running, world.partner, notice, notice.button_data("Afgerond"))
    assert done == {}
    # The casemanager hears of it by domain and number: an own title is never sent.
    told = await telegram.wait_for_message(sanne.id, contains="afgerond", since=since)
    assert told.text == (
        f"Lid {world.member_ids['partner']} heeft een actie van zaak {reference} afgerond: "
        "financiën: eigen actie #1."
    )
    await running.outbox_drained()
    assert "Budgetplan" not in _sent_texts(telegram)


async def test_postpone_tells_the_casemanager_and_outdates_the_old_buttons(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram = running.telegram
    reference = await _case(running, world, people, tmp_path)
    sanne, bram = world.casemanager, world.partner
    domains = await running.say(sanne, f"/actie {reference}", contains="leefgebied")
    actions = await _choose(running, sanne, domains, "justitie", "Welke actie")
    owners = await _choose(running, sanne, actions, "melden bij de reclassering", "eigenaar")
    deadline = await _choose(running, sanne, owners, "Bram Testlid (Politie Limburg)", "deadline")
    since = len(telegram.sent)
    await _choose(running, sanne, deadline, "+1 week", "vastgelegd")
    notice = await telegram.wait_for_message(bram.id, contains=reference, since=since)

    ask = await _choose(running, bram, notice, "Uitstellen", "Nieuwe deadline")
    assert ask.text == (
        f"Nieuwe deadline voor justitie: melden bij de reclassering van zaak {reference} (nu "
        "maandag 30 november 2026)? Typ hem als dd-mm-jjjj, of kies:"
    )
    past = await running.say(bram, "01-01-2020", contains="voorbij")
    assert past.text.startswith("Die datum is al voorbij.")
    reasons = await running.say(bram, "18-12-2026", contains="Waarom")
    assert reasons.text == "Waarom wordt het uitgesteld naar vrijdag 18 december 2026?"
    forged = await _press(
        running,
        bram,
        reasons,
        reasons.button_data("wacht op een andere organisatie")[:-7] + "zzz",
        forged=True,
    )
    assert forged == {"text": "Dit verzoek is gesloten of onbekend.", "show_alert": True}
    since = len(telegram.sent)
    postponed = await _choose(
        running, bram, reasons, "wacht op een andere organisatie", "Uitgesteld"
    )
    assert postponed.text == (
        "Uitgesteld naar vrijdag 18 december 2026 (wacht op een andere organisatie): justitie: "
        f"melden bij de reclassering van zaak {reference}. De casemanager is op de hoogte "
        "gebracht."
    )
    told = await telegram.wait_for_message(sanne.id, contains="uitgesteld", since=since)
    assert told.text == (
        f"Lid {world.member_ids['partner']} heeft een actie van zaak {reference} (justitie: "
        "melden bij de reclassering) uitgesteld van maandag 30 november 2026 naar vrijdag 18 "
        "december 2026: wacht op een andere organisatie."
    )
    # The first message's buttons are of the old version.
    old = await _press(running, bram, notice, notice.button_data("Afgerond"))
    assert old == {
        "text": f"Deze actie is veranderd sinds dit bericht. Zie /plan {reference}.",
        "show_alert": True,
    }
    # The new buttons work.
    assert await _press(running, bram, postponed, postponed.button_data("Afgerond")) == {}
    # An unknown action.
    unknown = await _press(running, bram, postponed, "act:999:1:d", forged=True)
    assert unknown == {"text": "Dit verzoek is gesloten of onbekend.", "show_alert": True}
    with running.core.db.session() as session:
        action = session.exec(select(Action)).one()
        events = session.exec(select(ActionEvent).order_by(col(ActionEvent.id))).all()
    assert (action.deadline, action.state, action.version) == (date(2026, 12, 18), "done", 3)
    assert [(e.kind, e.old_deadline, e.new_deadline, e.reason) for e in events] == [
        ("created", None, date(2026, 11, 30), None),
        ("postponed", date(2026, 11, 30), date(2026, 12, 18), "partner"),
        ("done", None, None, None),
    ]


async def test_zrm_scores_then_plan_shows_the_change(
    running: RunningBot, world: World, people: People, tmp_path: Path, clock: FrozenClock
) -> None:
    reference = await _case(running, world, people, tmp_path)
    coordinator = world.coordinator

    async def measure(scores: list[int]) -> SentMessage:
        ask = await running.say(coordinator, f"/zrm {reference}", contains="ZRM van zaak")
        assert ask.text.startswith(f"ZRM van zaak {reference}, leefgebied 1 van 11: financiën.")
        for index, score in enumerate(scores):
            contains = "vastgelegd" if index == len(scores) - 1 else f"leefgebied {index + 2} "
            ask = await _choose(running, coordinator, ask, str(score), contains)
        return ask

    ask = await running.say(coordinator, f"/zrm {reference}", contains="ZRM van zaak")
    version = ask.button_data("1").split(":")[1]
    for forged in (f"zr:{version}:s:0", f"zr:{version}:s:6", f"zr:{version}:s:99"):
        answer = await _press(running, coordinator, ask, forged, forged=True)
        assert answer == {
            "text": "Een ZRM-score is 1 tot en met 5. Kies een van de knoppen.",
            "show_alert": True,
        }
    left = await running.say(coordinator, "/annuleer", contains="Gestopt")
    assert left.text == "Gestopt; er is niets vastgelegd."
    nothing = await running.say(coordinator, "/annuleer", contains="niets")
    assert nothing.text == "Er is niets om te stoppen."
    stale = await _press(running, coordinator, ask, ask.button_data("3"))
    assert "eerdere stap" in str(stale["text"])

    stored = await measure([1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 2])
    assert stored.text.splitlines()[0] == f"ZRM-meting van zaak {reference} vastgelegd:"
    assert stored.text.splitlines()[1] == "• financiën: 1"
    clock.advance(timedelta(days=179))
    await measure([3, 2, 1, 4, 5, 1, 2, 3, 4, 5, 2])
    plan = await running.say(coordinator, f"/plan {reference}", contains="ZRM")
    lines = plan.text.splitlines()
    zrm = lines[lines.index("ZRM: 2 meting(en), de laatste op vrijdag 21 mei 2027:") :]
    assert zrm[1:4] == [
        "• financiën: 3 (+2 sinds de eerste)",
        "• dagbesteding: 2 (gelijk sinds de eerste)",
        "• huisvesting: 1 (-2 sinds de eerste)",
    ]
    with running.core.db.session() as session:
        assert len(session.exec(select(ZrmMeasurement)).all()) == 2
        assert len(session.exec(select(ZrmScore)).all()) == 22


async def test_who_may_and_unknown_or_closed_cases(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core = running.core
    [reference, other, closed] = await _cases(running, people, tmp_path, 3)
    _accept(running, world, reference)
    await running.outbox_drained()
    with core.db.session() as session:
        case = session.exec(select(Case).where(Case.reference == closed)).one()
        case.closed_at = core.clock.now()
        session.add(case)
    before = _snapshot(running)
    sanne = world.casemanager
    for user, text, answer in (
        (sanne, f"/actie {other}", "Alleen de casemanager van deze zaak of een coördinator"),
        (sanne, f"/zrm {other}", "Alleen de casemanager van deze zaak of een coördinator"),
        (sanne, f"/plan {other}", "Alleen de casemanager van deze zaak of een coördinator"),
        (sanne, "/actie VH-2099-9999", "Er is geen zaak met die referentie."),
        (sanne, "/actie", "Gebruik: /actie REF"),
        (world.coordinator, f"/actie {closed}", "Deze zaak is gesloten"),
        (world.coordinator, f"/zrm {closed}", "Deze zaak is gesloten"),
        (world.partner, f"/actie {reference}", "Met jouw rol"),
        (world.partner, f"/plan {reference}", "Met jouw rol"),
        (world.stranger, f"/zrm {reference}", "Je bent niet (meer) aangemeld"),
    ):
        reply = await running.say(user, text, contains="")
        assert reply.text.startswith(answer), (text, reply.text)
    assert _snapshot(running) == before
    # The coordinator may steer any open case; a closed one's /plan still reads.
    ok = await running.say(world.coordinator, f"/actie {other}", contains="leefgebied")
    assert ok.text.startswith("Nieuwe actie voor zaak")
    plan = await running.say(world.coordinator, f"/plan {closed}", contains="Plan van aanpak")
    assert "Nog geen acties." in plan.text
    # Free text from someone without a conversation: the usual fallback.
    fallback = await running.say(world.partner, "hallo", contains="commando")
    assert fallback.text.startswith("Ik begrijp alleen commando")


async def test_a_deactivated_owner_is_refused(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core = running.core
    reference = await _case(running, world, people, tmp_path)
    sanne, bram_id = world.casemanager, world.member_ids["partner"]
    domains = await running.say(sanne, f"/actie {reference}", contains="leefgebied")
    actions = await _choose(running, sanne, domains, "verslaving", "Welke actie")
    await _choose(running, sanne, actions, "Eigen titel", "Typ de titel")
    owners = await running.say(sanne, "Intake regelen", contains="eigenaar")
    deadline = await _choose(running, sanne, owners, "Bram Testlid (Politie Limburg)", "deadline")
    # Bram is deactivated between choosing him and the deadline: asked again, nothing stored.
    with core.db.session() as session:
        core.memberships.deactivate(session, member_id=bram_id, actor=CLI)
    before = _snapshot(running)
    since = len(running.telegram.sent)
    assert await _press(running, sanne, deadline, deadline.button_data("+1 week")) == {}
    again = await running.telegram.wait_for_message(sanne.id, contains="gedeactiveerd", since=since)
    assert again.text == (
        "Dat lid is gedeactiveerd. Kies een andere eigenaar.\nWie is eigenaar van de actie?"
    )
    labels = [b["text"] for b in again.buttons()]
    assert "Bram Testlid (Politie Limburg)" not in labels
    # His button, forged onto the new question: refused the same way.
    version = again.button_data(labels[0]).split(":")[1]
    refused = await _press(running, sanne, again, f"pa:{version}:o:m{bram_id}", forged=True)
    assert refused == {
        "text": "Dat lid is gedeactiveerd. Kies een andere eigenaar.",
        "show_alert": True,
    }
    assert _snapshot(running) == before
    deadline = await _choose(
        running, sanne, again, "Sanne Testlid (Reclassering Nederland)", "deadline"
    )
    await _choose(running, sanne, deadline, "+1 week", "vastgelegd")


@contextlib.asynccontextmanager
async def _bot(
    settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    group: FakeChat,
    flood_clock: ManualMonotonic,
    pacer: Pacer,
) -> AsyncIterator[RunningBot]:
    """A bot of its own (a process): started, and stopped at the end of the block."""
    from bot.runner import serve

    core = open_core(settings, clock=clock)
    stop, ready = asyncio.Event(), asyncio.Event()
    built: list[object] = []
    task = asyncio.create_task(
        serve(core, stop=stop, ready=ready, poll_timeout=1, pacer=pacer, built=built.append)
    )
    await asyncio.wait_for(ready.wait(), timeout=10)
    try:
        yield RunningBot(core, telegram, group, flood_clock, application=built[0])  # type: ignore[arg-type]
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        core.db.dispose()


async def test_a_conversation_half_way_survives_a_restart(
    bot_settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    partner_group: FakeChat,
    flood_clock: ManualMonotonic,
    pacer: Pacer,
    people: People,
    tmp_path: Path,
) -> None:
    parts = (bot_settings, clock, telegram, partner_group, flood_clock, pacer)
    async with _bot(*parts) as first:
        world = seed_world(first.core, telegram)
        reference = await _case(first, world, people, tmp_path)
        sanne = world.casemanager
        domains = await first.say(sanne, f"/actie {reference}", contains="leefgebied")
        actions = await _choose(first, sanne, domains, "huisvesting", "Welke actie")
        title = await _choose(first, sanne, actions, "Eigen titel", "Typ de titel")
        assert title.buttons() == []
    # A new process on the same database: the conversation goes on where it was.
    async with _bot(*parts) as second:
        owners = await second.say(sanne, "Kamer zoeken via de corporatie", contains="eigenaar")
        deadline = await _choose(
            second, sanne, owners, "Sanne Testlid (Reclassering Nederland)", "deadline"
        )
        stored = await second.say(sanne, "01-02-2027", contains="vastgelegd")
        assert "huisvesting: eigen actie #1" in stored.text
        with second.core.db.session() as session:
            entries = session.exec(
                select(AuditEntry).where(col(AuditEntry.action) == "action.create")
            ).all()
            outbox = session.exec(select(OutboxMessage)).all()
        assert len(entries) == 1
        assert all("Kamer" not in row.text for row in outbox)
        assert deadline.buttons()


async def _new_action(
    running: RunningBot, user: FakeUser, reference: str, owner: str, domain: str = "huisvesting"
) -> None:
    """/actie REF: the domain's first catalogue action, `owner`, deadline +1 week."""
    domains = await running.say(user, f"/actie {reference}", contains="leefgebied")
    actions = await _choose(running, user, domains, domain, "Welke actie")
    first = str(actions.buttons()[0]["text"])
    owners = await _choose(running, user, actions, first, "eigenaar")
    deadline = await _choose(running, user, owners, owner, "deadline")
    await _choose(running, user, deadline, "+1 week", "vastgelegd")


def _action_row(running: RunningBot, number: int = 1) -> Action:
    with running.core.db.session() as session:
        return session.exec(select(Action).where(Action.number == number)).one()


async def test_another_owner_from_plan_and_the_earlier_owners_buttons(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram = running.telegram
    reference = await _case(running, world, people, tmp_path)
    sanne, bram, fenna = world.casemanager, world.partner, world.coordinator
    ids = world.member_ids
    since = len(telegram.sent)
    await _new_action(running, sanne, reference, "Bram Testlid (Politie Limburg)")
    notice = await telegram.wait_for_message(bram.id, contains=reference, since=since)
    action_id = _action_row(running).id

    plan = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    assert "• #1 huisvesting: woonruimte zoeken · Bram Testlid" in plan.text
    assert [(b["text"], b["callback_data"]) for b in plan.buttons()] == [
        ("Wijzig #1", f"act:{action_id}:1:w")
    ]
    before = _snapshot(running)
    # The owner may not change it: only the casemanager or a coordinator.
    refused = await _press(running, bram, notice, f"act:{action_id}:1:w", forged=True)
    assert refused == {
        "text": "Alleen de casemanager van deze zaak of een coördinator kan dit doen.",
        "show_alert": True,
    }
    menu = await _choose(running, sanne, plan, "Wijzig #1", "Wat verandert er")
    assert menu.text == (
        f"huisvesting: woonruimte zoeken van zaak {reference}: eigenaar Bram Testlid (Politie "
        "Limburg), deadline maandag 30 november 2026. Wat verandert er? (/annuleer: niets)"
    )
    assert [b["text"] for b in menu.buttons()] == ["Andere eigenaar", "Vervalt"]
    typed = await running.say(sanne, "Fenna", contains="knoppen")
    assert typed.text == "Kies met de knoppen hierboven, of stop met /annuleer."
    owners = await _choose(running, sanne, menu, "Andere eigenaar", "eigenaar")
    assert owners.text == (
        f"Wie wordt de eigenaar van huisvesting: woonruimte zoeken van zaak {reference}?"
    )
    labels = [b["text"] for b in owners.buttons()]
    assert labels == [
        "Sanne Testlid (Reclassering Nederland)",
        "Fenna Testlid (Reclassering Nederland)",
        "Politie Limburg (alle leden)",
        "Reclassering Nederland (alle leden)",
    ]  # the owner now is not offered, nor a deactivated member
    version = owners.button_data(labels[0]).split(":")[1]
    for data, answer in (
        (f"pc:{version}:o:m{ids['partner']}", "Dat is al de eigenaar. Kies een andere eigenaar."),
        (
            f"pc:{version}:o:m{ids['deactivated']}",
            "Dat lid is gedeactiveerd. Kies een andere eigenaar.",
        ),
        (f"pc:{version}:o:m99999", "Dit verzoek is gesloten of onbekend."),
        (f"pc:{version}:o:o99999", "Dit verzoek is gesloten of onbekend."),
    ):
        assert await _press(running, sanne, owners, data, forged=True) == {
            "text": answer,
            "show_alert": True,
        }, data
    assert _snapshot(running) == before

    since = len(telegram.sent)
    done = await _choose(
        running, sanne, owners, "Fenna Testlid (Reclassering Nederland)", "is nu van"
    )
    assert done.text == (
        f"huisvesting: woonruimte zoeken van zaak {reference} is nu van Fenna Testlid "
        "(Reclassering Nederland). De nieuwe en de vorige eigenaar zijn op de hoogte gebracht."
    )
    # The new owner gets the new-action notice, with buttons of the new version.
    new = await telegram.wait_for_message(fenna.id, contains="is voor jou", since=since)
    assert new.text.startswith(f"Een nieuwe actie van zaak {reference} is voor jou: huisvesting")
    assert [b["callback_data"] for b in new.buttons()] == [
        f"act:{action_id}:2:d", f"act:{action_id}:2:p",
    ]  # fmt: skip
    gone = await telegram.wait_for_message(bram.id, contains="overgedragen", since=since)
    assert gone.text == (
        f"Een actie van zaak {reference} (huisvesting: woonruimte zoeken) is overgedragen aan "
        "een andere eigenaar; ze is niet meer van jou, en de knoppen eronder werken niet meer."
    )
    assert gone.buttons() == []
    after = _snapshot(running)
    # The earlier owner's buttons are refused, saying why; so is /plan's old [Wijzig #1].
    for label in ("Afgerond", "Uitstellen"):
        assert await _press(running, bram, notice, notice.button_data(label)) == {
            "text": "Deze actie is overgedragen aan een andere eigenaar; ze is niet meer van "
            "jou. Er is niets aangepast.",
            "show_alert": True,
        }
    assert await _press(running, sanne, plan, plan.button_data("Wijzig #1")) == {
        "text": "Deze actie is intussen gewijzigd; er is niets aangepast. Vraag /plan opnieuw op.",
        "show_alert": True,
    }
    assert _snapshot(running) == after

    # The new owner completes it: the casemanager hears of it.
    since = len(telegram.sent)
    assert await _press(running, fenna, new, new.button_data("Afgerond")) == {}
    told = await telegram.wait_for_message(sanne.id, contains="afgerond:", since=since)
    assert told.text.startswith(f"Lid {ids['coordinator']} heeft een actie van zaak {reference}")
    with running.core.db.session() as session:
        action = session.exec(select(Action)).one()
        events = session.exec(select(ActionEvent).order_by(col(ActionEvent.id))).all()
        audited = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "action.reassign")
        ).all()
    assert (action.owner_member_id, action.state, action.version) == (
        ids["coordinator"], "done", 3,
    )  # fmt: skip
    assert [
        (e.kind, e.member_id, e.old_owner_member_id, e.new_owner_member_id) for e in events
    ] == [
        ("created", ids["casemanager"], None, ids["partner"]),
        ("reassigned", ids["casemanager"], ids["partner"], ids["coordinator"]),
        ("done", ids["coordinator"], None, None),
    ]
    assert len(audited) == 1


async def test_cancel_an_action_twice_and_on_a_closed_case(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram, core = running.telegram, running.core
    reference = await _case(running, world, people, tmp_path)
    sanne, bram, fenna = world.casemanager, world.partner, world.coordinator
    since = len(telegram.sent)
    await _new_action(running, sanne, reference, "Politie Limburg (alle leden)")
    notice = await telegram.wait_for_message(bram.id, contains=reference, since=since)
    plan = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    coordinators_plan = await running.say(fenna, f"/plan {reference}", contains="Plan van aanpak")
    before = _snapshot(running)

    # Vervalt, then No: nothing changes.
    menu = await _choose(running, sanne, plan, "Wijzig #1", "Wat verandert er")
    sure = await _choose(running, sanne, menu, "Vervalt", "laten vervallen")
    assert sure.text == (
        f"Actie huisvesting: woonruimte zoeken van zaak {reference} laten vervallen? De "
        "eigenaar krijgt bericht; dit is niet terug te draaien."
    )
    kept = await _choose(running, sanne, sure, "Nee, laten staan", "niets")
    assert kept.text == "Er is niets veranderd."
    assert _snapshot(running) == before

    # The coordinator gets as far as the question, then the casemanager cancels it.
    theirs = await _choose(running, fenna, coordinators_plan, "Wijzig #1", "Wat verandert er")
    theirs = await _choose(running, fenna, theirs, "Vervalt", "laten vervallen")
    menu = await _choose(running, sanne, plan, "Wijzig #1", "Wat verandert er")
    sure = await _choose(running, sanne, menu, "Vervalt", "laten vervallen")
    since = len(telegram.sent)
    cancelled = await _choose(running, sanne, sure, "Ja, laten vervallen", "Vervallen:")
    assert cancelled.text == (
        f"Vervallen: huisvesting: woonruimte zoeken van zaak {reference}. De eigenaar is op de "
        "hoogte gebracht."
    )
    told = await telegram.wait_for_message(bram.id, contains="vervallen", since=since)
    assert told.text == (
        f"Een actie van zaak {reference} (huisvesting: woonruimte zoeken) is vervallen; je "
        "hoeft er niets meer voor te doen."
    )
    after = _snapshot(running)
    # Cancelled twice: by the coordinator's question, the same question again, /plan's
    # button; and the owner's buttons: each a short answer, nothing changes.
    for user, message, label, answer in (
        (
            fenna,
            theirs,
            "Ja, laten vervallen",
            "Deze actie is al vervallen; er is niets aangepast.",
        ),
        (sanne, sure, "Ja, laten vervallen", "Deze knop hoort bij een eerdere stap"),
        (sanne, plan, "Wijzig #1", "Deze actie is al vervallen; er is niets aangepast."),
        (
            bram,
            notice,
            "Afgerond",
            "Deze actie is vervallen; je hoeft er niets meer voor te doen. Er is niets aangepast.",
        ),
        (
            bram,
            notice,
            "Uitstellen",
            "Deze actie is vervallen; je hoeft er niets meer voor te doen. Er is niets aangepast.",
        ),
    ):
        pressed = await _press(running, user, message, message.button_data(label))
        assert str(pressed["text"]).startswith(answer), (label, pressed)
    assert _snapshot(running) == after
    with core.db.session() as session:
        action = session.exec(select(Action)).one()
        kinds = [e.kind for e in session.exec(select(ActionEvent).order_by(col(ActionEvent.id)))]
    assert (action.state, action.version) == ("cancelled", 2)
    assert kinds == ["created", "cancelled"]
    shown = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    assert "• #1 huisvesting: woonruimte zoeken · Politie Limburg (alle leden) · " in shown.text
    assert shown.text.splitlines()[3].endswith("· vervallen")
    assert shown.buttons() == []  # a cancelled action is not changed again

    # A closed case: its plan's buttons answer so, and /plan offers none.
    await _new_action(running, sanne, reference, "Sanne Testlid (Reclassering Nederland)")
    plan = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    menu = await _choose(running, sanne, plan, "Wijzig #2", "Wat verandert er")
    with core.db.session() as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        case.closed_at = core.clock.now()
        session.add(case)
    closed = _snapshot(running)
    for message, label in ((menu, "Vervalt"), (plan, "Wijzig #2")):
        assert await _press(running, sanne, message, message.button_data(label)) == {
            "text": "Deze zaak is gesloten; het plan kan niet meer worden gewijzigd.",
            "show_alert": True,
        }
    assert _snapshot(running) == closed
    shown = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    assert "#2" in shown.text and shown.buttons() == []


async def test_owner_choices_come_in_pages(
    running: RunningBot,
    world: World,
    people: People,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = running.core
    reference = await _case(running, world, people, tmp_path)
    sanne = world.casemanager
    with core.db.session() as session:
        for number in range(1, 21):
            core.memberships.add_member(
                session, telegram_id=900_000 + number, name=f"Collega{number:02d} Testlid",
                organisation_code="POL", roles=[Role.PARTNER], actor=CLI,
            )  # fmt: skip
    # 23 active members (the casemanager first) and 2 organisations: 4 pages of 8.
    domains = await running.say(sanne, f"/actie {reference}", contains="leefgebied")
    actions = await _choose(running, sanne, domains, "huisvesting", "Welke actie")
    owners = await _choose(running, sanne, actions, "woonruimte zoeken", "eigenaar")
    assert owners.text == "Wie is eigenaar van de actie? (pagina 1 van 4)"
    labels = [b["text"] for b in owners.buttons()]
    assert labels[0] == "Sanne Testlid (Reclassering Nederland)"
    assert len(labels) == 9 and labels[-1] == "Volgende »"
    version = owners.button_data(labels[0]).split(":")[1]
    for page in ("4", "99", "x"):
        assert await _press(running, sanne, owners, f"pa:{version}:g:{page}", forged=True) == {
            "text": "Dit verzoek is gesloten of onbekend.",
            "show_alert": True,
        }
    # A second tap on the same arrow (the page shows already): acknowledged, no harm.
    second = await _choose(running, sanne, owners, "Volgende »", "pagina 2 van 4")
    since = len(running.telegram.sent)
    caplog.set_level(logging.INFO, logger="bot")
    assert await _press(running, sanne, second, f"pa:{version}:g:1", forged=True) == {}
    await running.outbox_drained()
    assert running.telegram.sent[since:] == []
    page = await _choose(running, sanne, second, "« Vorige", "pagina 1 van 4")
    # Updates are handled one at a time: the tap before this one is done with.
    assert not [r for r in caplog.records if r.getMessage() == "handler.error"]
    seen: list[str] = []
    for number in (2, 3, 4):
        seen += [str(b["text"]) for b in page.buttons() if "»" not in str(b["text"])]
        page = await _choose(running, sanne, page, "Volgende »", f"pagina {number} van 4")
        assert page.message_id == owners.message_id  # the same question, edited
        seen = [label for label in seen if "«" not in label]
    last = [str(b["text"]) for b in page.buttons()]
    assert last == ["Reclassering Nederland (alle leden)", "« Vorige"]
    every = seen + last[:-1]
    assert len(every) == len(set(every)) == 25
    assert "Collega20 Testlid (Politie Limburg)" in every
    back = await _choose(running, sanne, page, "« Vorige", "pagina 3 van 4")
    assert [str(b["text"]) for b in back.buttons()][-2:] == ["« Vorige", "Volgende »"]
    deadline = await _choose(running, sanne, back, "Politie Limburg (alle leden)", "deadline")
    await _choose(running, sanne, deadline, "+1 week", "vastgelegd")
    # Changing the owner pages the same way (the owner now left out: 24 choices, 3 pages).
    plan = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    menu = await _choose(running, sanne, plan, "Wijzig #1", "Wat verandert er")
    owners = await _choose(running, sanne, menu, "Andere eigenaar", "pagina 1 van 3")
    second = await _choose(running, sanne, owners, "Volgende »", "pagina 2 van 3")
    pick = str(second.buttons()[0]["text"])
    done = await _choose(running, sanne, second, pick, "is nu van")
    assert pick in done.text
    with core.db.session() as session:
        action = session.exec(select(Action)).one()
    assert action.owner_member_id is not None and action.version == 2
