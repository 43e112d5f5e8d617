"""Triage decisions and casemanagers through the fake Telegram server: /besluit,
/toewijzen (number or buttons), the casemanager's [Accepteren] [Weigeren], /mijnzaken,
the daily report of cases without a casemanager and the case page."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.domain.roles import Role
from bot.sandbox.fake_telegram import FakeUser, SentMessage
from bot.scheduling.duties import report_unassigned_cases
from bot.services.audit import CLI
from bot.storage.models import AuditEntry, Case, CaseAssignment
from tests.app.conftest import RunningBot, World, until
from tests.app.test_detention import announcements, write_dpan
from tests.conftest import People

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
LINK = re.compile(r"http://127\.0\.0\.1:[0-9]+/r/[A-Za-z0-9_-]{22}")
FORM = re.compile(r'name="form" value="([^"]+)"')


async def _cases(running: RunningBot, people: People, tmp_path: Path, count: int) -> list[str]:
    """`count` releases imported and announced: as many nazorg cases, by reference."""
    identities = [people.identity() for _ in range(count)]
    running.core.detention.import_path(write_dpan(tmp_path / "dpan.csv", identities), actor=CLI)
    await announcements(running.telegram, running.group.id, count, running.core)
    with running.core.db.session() as session:
        return [c.reference for c in session.exec(select(Case).order_by(col(Case.id)))]


def _second_casemanager(running: RunningBot) -> tuple[FakeUser, int]:
    core = running.core
    mila = running.telegram.add_user("Mila", language_code="nl", started=True)
    with core.db.session() as session:
        member = core.memberships.add_member(
            session, telegram_id=mila.id, name="Mila Testlid", organisation_code="POL",
            roles=[Role.CASEMANAGER], actor=CLI,
        )  # fmt: skip
    assert member.id is not None
    return mila, member.id


def _snapshot(running: RunningBot) -> tuple[object, ...]:
    with running.core.db.session() as session:
        cases = [c.model_dump() for c in session.exec(select(Case).order_by(col(Case.id)))]
        assignments = [a.model_dump() for a in session.exec(select(CaseAssignment))]
    return cases, assignments


async def _press(
    running: RunningBot, user: FakeUser, message: SentMessage, data: str, *, forged: bool = False
) -> dict[str, object]:
    telegram = running.telegram
    running.flood_clock.advance(1.0)
    query = telegram.press_button(user, message, data, forged=forged)
    await until(lambda: query in telegram.callback_answers, "the press answered")
    return telegram.callback_answers[query]


async def test_each_decision_and_a_correction(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    first, second, third = await _cases(running, people, tmp_path, 3)
    say, coordinator = running.say, world.coordinator

    recorded = await say(coordinator, f"/besluit {first.lower()} procesregie", contains=first)
    assert recorded.text == (
        f"Besluit voor zaak {first} vastgelegd: procesregie. De zaak heeft een casemanager "
        f"nodig: /toewijzen {first}."
    )
    referred = await say(coordinator, f"/besluit {second} doorgeleid rn", contains=second)
    assert "doorgeleid naar Reclassering Nederland. De zaak is gesloten." in referred.text
    reasons = await say(coordinator, f"/besluit {third} afgesloten", contains="redenen")
    assert "• dubbel - dubbel met een andere zaak" in reasons.text
    closed = await say(coordinator, f"/besluit {third} AFGESLOTEN dubbel", contains=third)
    assert "vastgelegd: afgesloten: dubbel met een andere zaak. De zaak is gesloten." in closed.text
    corrected = await say(coordinator, f"/besluit {third} procesregie", contains="gecorrigeerd")
    assert corrected.text == (
        f"Besluit voor zaak {third} gecorrigeerd: procesregie. Het vervangt het eerdere "
        "besluit (afgesloten: dubbel met een andere zaak)."
    )
    same = await say(coordinator, f"/besluit {third} procesregie", contains=third)
    assert "heeft dit besluit al (procesregie); er is niets veranderd." in same.text
    with running.core.db.session() as session:
        rows = {c.reference: c for c in session.exec(select(Case))}
        history = session.exec(select(AuditEntry).where(AuditEntry.action == "case.decision")).all()
    assert (rows[first].procesregie, rows[first].closed_at) == (True, None)
    assert rows[second].decision == "doorgeleid" and rows[second].closed_at is not None
    assert (rows[third].decision, rows[third].closed_at, rows[third].procesregie) == (
        "procesregie", None, True,
    )  # fmt: skip
    assert len(history) == 4


async def test_bad_decisions_get_a_clear_answer_and_change_nothing(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    [reference, other] = await _cases(running, people, tmp_path, 2)
    with running.core.db.session() as session:
        case = session.exec(select(Case).where(Case.reference == other)).one()
        case.closed_at = running.core.clock.now()  # closed without a decision
        session.add(case)
    typed = people.identity().surname  # a person's name typed: it must not come back
    before = _snapshot(running)
    for text, answer in (
        ("/besluit", "Gebruik: /besluit REF procesregie"),
        (f"/besluit {reference}", "Gebruik: /besluit REF procesregie"),
        (f"/besluit {typed} procesregie", "Gebruik: /besluit REF procesregie"),
        (f"/besluit {reference} procesregie {typed}", "Gebruik: /besluit REF procesregie"),
        ("/besluit VH-2099-9999 procesregie", "Er is geen zaak met die referentie."),
        (f"/besluit {reference} {typed}", "Dat besluit bestaat niet."),
        (f"/besluit {reference} doorgeleid", "Doorgeleid vraagt de code"),
        (f"/besluit {reference} doorgeleid {typed}", "Er is geen organisatie met die code."),
        (f"/besluit {reference} afgesloten {typed}", "Afsluiten vraagt een van deze redenen"),
        (f"/besluit {other} procesregie", "Deze zaak is gesloten"),
    ):
        reply = await running.say(world.coordinator, text, contains="")
        assert reply.text.startswith(answer), (text, reply.text)
        assert typed not in reply.text and "9999" not in reply.text
    assert _snapshot(running) == before


async def test_role_refusals_for_besluit_toewijzen_mijnzaken_and_their_buttons(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    [reference] = await _cases(running, people, tmp_path, 1)
    before = _snapshot(running)
    for user, text, answer in (
        (world.partner, f"/besluit {reference} procesregie", "Met jouw rol"),
        (world.casemanager, f"/besluit {reference} procesregie", "Met jouw rol"),
        (world.stranger, f"/besluit {reference} procesregie", "niet (meer) aangemeld"),
        (world.partner, f"/toewijzen {reference} 1", "Met jouw rol"),
        (world.deactivated, f"/toewijzen {reference}", "niet (meer) aangemeld"),
        (world.partner, "/mijnzaken", "Met jouw rol"),
        (world.coordinator, "/mijnzaken", "Met jouw rol"),
        (world.partner, f"/zaak {reference}", "Met jouw rol"),
    ):
        reply = await running.say(user, text, contains="")
        assert answer in reply.text, (text, reply.text)
    anchor = await running.say(world.casemanager, "/start", contains="")
    pressed = await _press(
        running, world.casemanager, anchor, f"tw:1:{world.member_ids['casemanager']}", forged=True
    )
    assert pressed == {"text": "Met jouw rol kan dat niet.", "show_alert": True}
    anchor = await running.say(world.coordinator, "/start", contains="")
    pressed = await _press(running, world.coordinator, anchor, "cm:1:a", forged=True)
    assert pressed == {"text": "Met jouw rol kan dat niet.", "show_alert": True}
    assert _snapshot(running) == before
    with running.core.db.session() as session:
        refused = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "access.refused")
        ).all()
    assert len(refused) == 10


async def test_assignment_from_the_buttons_accepted_then_mijnzaken(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram, core = running.telegram, running.core
    [reference] = await _cases(running, people, tmp_path, 1)
    mila, mila_id = _second_casemanager(running)
    sanne_id = world.member_ids["casemanager"]
    await running.say(world.coordinator, f"/besluit {reference} procesregie", contains=reference)

    pick = await running.say(world.coordinator, f"/toewijzen {reference}", contains="Wie wordt")
    labels = [button["text"] for button in pick.buttons()]
    assert labels == [
        "Sanne Testlid (Reclassering Nederland) · 0",
        "Mila Testlid (Politie Limburg) · 0",
    ]
    since = len(telegram.sent)
    answer = await _press(running, world.coordinator, pick, pick.button_data(labels[0]))
    assert answer == {}
    edited = await telegram.wait_for_message(
        world.coordinator.id, contains="aangeboden", since=since
    )
    assert edited.text == (
        f"Zaak {reference} is aangeboden aan lid {sanne_id} (Sanne Testlid, Reclassering "
        "Nederland). Je hoort het zodra die accepteert of weigert."
    )
    offer = await telegram.wait_for_message(world.casemanager.id, contains=reference, since=since)
    assert offer.text == (
        f"Een coördinator vraagt je casemanager te worden van zaak {reference} (Nazorg). "
        "Neem je de zaak aan?"
    )
    assert [b["text"] for b in offer.buttons()] == ["Accepteren", "Weigeren"]

    since = len(telegram.sent)
    await _press(running, world.casemanager, offer, offer.button_data("Accepteren"))
    accepted = await telegram.wait_for_message(
        world.casemanager.id, contains="Je bent de casemanager", since=since
    )
    assert accepted.message_id == offer.message_id and accepted.buttons() == []
    told = await telegram.wait_for_message(
        world.coordinator.id, contains="geaccepteerd", since=since
    )
    assert told.text == (
        f"Lid {sanne_id} (Sanne Testlid, Reclassering Nederland) heeft zaak {reference} als "
        "casemanager geaccepteerd."
    )
    # The same button again (a second accept): nothing changes.
    again = await _press(
        running, world.casemanager, offer, offer.button_data("Accepteren"), forged=True
    )
    assert again == {"text": f"Je hebt zaak {reference} al geaccepteerd.", "show_alert": True}

    mine = await running.say(world.casemanager, "/mijnzaken", contains="open zaken")
    assert mine.text.splitlines() == [
        "Je open zaken (1):",
        "",
        f"• {reference} · Nazorg · procesregie sinds maandag 23 november 2026",
    ]
    nothing = await running.say(mila, "/mijnzaken", contains="")
    assert nothing.text == "Je hebt geen open zaken als casemanager."
    # The count of open cases on the buttons follows.
    pick = await running.say(world.coordinator, f"/toewijzen {reference}", contains="Wie wordt")
    assert next(b["text"] for b in pick.buttons()).endswith("· 1")
    with core.db.session() as session:
        [row] = session.exec(select(CaseAssignment)).all()
    assert (row.member_id, row.state, row.assigned_by) == (
        sanne_id, "accepted", world.member_ids["coordinator"],
    )  # fmt: skip
    assert mila_id != sanne_id


async def test_declined_with_a_reason_and_reassigned_both_told(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram = running.telegram
    [reference, second] = await _cases(running, people, tmp_path, 2)
    mila, mila_id = _second_casemanager(running)
    sanne_id = world.member_ids["casemanager"]

    # Declined, with a reason from the buttons.
    since = len(telegram.sent)
    await running.say(world.coordinator, f"/toewijzen {second} {sanne_id}", contains="aangeboden")
    offer = await telegram.wait_for_message(world.casemanager.id, contains=second, since=since)
    await _press(running, world.casemanager, offer, offer.button_data("Weigeren"))
    ask = await telegram.wait_for_message(
        world.casemanager.id, contains="Waarom weiger je", since=since
    )
    assert [b["text"] for b in ask.buttons()] == [
        "Geen capaciteit", "Afwezig of met verlof", "Belangenverstrengeling",
        "Buiten mijn deskundigheid",
    ]  # fmt: skip
    await _press(running, world.casemanager, ask, ask.button_data("Geen capaciteit"))
    declined = await telegram.wait_for_message(
        world.casemanager.id, contains="Je hebt zaak", since=since
    )
    assert declined.text == (
        f"Je hebt zaak {second} geweigerd (Geen capaciteit). De coördinator is ingelicht."
    )
    told = await telegram.wait_for_message(world.coordinator.id, contains="geweigerd", since=since)
    assert f"heeft zaak {second} geweigerd (Geen capaciteit)" in told.text
    # A forged reason, and a second answer, change nothing.
    forged = await _press(
        running, world.casemanager, ask, ask.button_data("Geen capaciteit") + "x", forged=True
    )
    assert forged["text"] == "Dit verzoek is gesloten of onbekend."
    late = await _press(
        running, world.casemanager, offer, offer.button_data("Accepteren"), forged=True
    )
    assert late["text"] == f"Je hebt zaak {second} al geweigerd."

    # Reassigned: the old casemanager hears it, the new one gets the offer.
    since = len(telegram.sent)
    await running.say(
        world.coordinator, f"/toewijzen {reference} {sanne_id}", contains="aangeboden"
    )
    first_offer = await telegram.wait_for_message(
        world.casemanager.id, contains=reference, since=since
    )
    moved = await running.say(
        world.coordinator, f"/toewijzen {reference} #{mila_id}", contains="in plaats van"
    )
    assert moved.text.startswith(
        f"Zaak {reference} is nu aangeboden aan lid {mila_id} (Mila Testlid, Politie Limburg) "
        f"in plaats van lid {sanne_id}. Beiden zijn ingelicht"
    )
    gone = await telegram.wait_for_message(
        world.casemanager.id, contains="andere casemanager", since=since
    )
    assert reference in gone.text
    await telegram.wait_for_message(mila.id, contains=reference, since=since)
    # The outdated offer's buttons: no decline after reassignment.
    stale = await _press(
        running, world.casemanager, first_offer, first_offer.button_data("Weigeren")
    )
    assert stale["text"] == (
        f"Dit aanbod van zaak {reference} staat niet meer open: de zaak is aan iemand anders "
        "toegewezen of gesloten."
    )
    with running.core.db.session() as session:
        rows = session.exec(select(CaseAssignment).order_by(col(CaseAssignment.id))).all()
    assert [(r.member_id, r.state) for r in rows] == [
        (sanne_id, "declined"), (sanne_id, "withdrawn"), (mila_id, "offered"),
    ]  # fmt: skip


async def test_bad_assignments_get_a_clear_answer_and_change_nothing(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    [reference, closed] = await _cases(running, people, tmp_path, 2)
    await running.say(world.coordinator, f"/besluit {closed} afgesloten dubbel", contains=closed)
    ids = world.member_ids
    before = _snapshot(running)
    for text, answer in (
        ("/toewijzen", "Gebruik: /toewijzen REF [NUMMER]"),
        (f"/toewijzen {reference} twee", "Gebruik: /toewijzen REF [NUMMER]"),
        (f"/toewijzen {reference} 1 2", "Gebruik: /toewijzen REF [NUMMER]"),
        ("/toewijzen VH-2099-9999", "Er is geen zaak met die referentie."),
        (f"/toewijzen {closed}", "Deze zaak is gesloten"),
        (f"/toewijzen {closed} {ids['casemanager']}", "Deze zaak is gesloten"),
        (
            f"/toewijzen {reference} {ids['partner']}",
            f"Lid {ids['partner']} heeft de rol casemanager niet.",
        ),
        (
            f"/toewijzen {reference} {ids['deactivated']}",
            f"Lid {ids['deactivated']} is gedeactiveerd",
        ),
        (f"/toewijzen {reference} 99999", "Er is geen lid met dat nummer."),
    ):
        reply = await running.say(world.coordinator, text, contains="")
        assert reply.text.startswith(answer), (text, reply.text)
        assert "9999" not in reply.text and "twee" not in reply.text
    anchor = await running.say(world.coordinator, "/start", contains="")
    for data in ("tw:abc", f"tw:999999:{ids['casemanager']}", f"tw:1:{ids['partner']}"):
        pressed = await _press(running, world.coordinator, anchor, data, forged=True)
        assert pressed.get("show_alert") is True, (data, pressed)
    anchor = await running.say(world.casemanager, "/start", contains="")
    for data in ("cm:1:a", "cm:1:x", "cm:1:a:cap"):
        pressed = await _press(running, world.casemanager, anchor, data, forged=True)
        assert pressed == {"text": "Dit verzoek is gesloten of onbekend.", "show_alert": True}
    assert _snapshot(running) == before


async def test_cases_without_a_casemanager_are_reported_to_the_coordinators_once_a_day(
    running: RunningBot, world: World, people: People, tmp_path: Path, clock: FrozenClock
) -> None:
    telegram, core = running.telegram, running.core
    [reference] = await _cases(running, people, tmp_path, 1)  # opened Monday 09:00
    assert report_unassigned_cases(core) == 0
    clock.set(datetime(2026, 11, 25, 9, 30, tzinfo=AMSTERDAM))  # Wednesday
    since = len(telegram.sent)
    assert report_unassigned_cases(core) == 1
    report = await telegram.wait_for_message(
        world.coordinator.id, contains="Zaken zonder geaccepteerde casemanager", since=since
    )
    assert report.text.splitlines() == [
        "Zaken zonder geaccepteerde casemanager na 2 werkdagen (1):",
        "",
        f"• {reference} · Nazorg · wacht sinds maandag 23 november 2026 · niet toegewezen",
        "",
        "Wijs er een toe met /toewijzen REF.",
    ]
    clock.advance(timedelta(hours=3))
    assert report_unassigned_cases(core) == 0  # once a day
    clock.advance(timedelta(days=1))
    assert report_unassigned_cases(core) == 1
    await telegram.wait_for_message(
        world.coordinator.id,
        contains="Zaken zonder",
        since=since + 1 + telegram.sent[since:].index(report),
    )
    reports = [m for m in telegram.messages_to(world.coordinator.id) if "Zaken zonder" in m.text]
    assert len(reports) == 2


async def test_the_case_page_shows_the_decision_and_the_casemanager(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram, core = running.telegram, running.core
    [reference] = await _cases(running, people, tmp_path, 1)
    sanne_id = world.member_ids["casemanager"]
    await running.say(world.coordinator, f"/besluit {reference} procesregie", contains=reference)
    # Offered but not accepted: no page for the casemanager yet.
    refused = await running.say(world.casemanager, f"/zaak {reference}", contains="")
    assert "/r/" not in refused.text and "casemanager van de zaak" in refused.text
    since = len(telegram.sent)
    await running.say(
        world.coordinator, f"/toewijzen {reference} {sanne_id}", contains="aangeboden"
    )
    offer = await telegram.wait_for_message(world.casemanager.id, contains=reference, since=since)
    refused = await running.say(world.casemanager, f"/zaak {reference}", contains="")
    assert "/r/" not in refused.text
    await _press(running, world.casemanager, offer, offer.button_data("Accepteren"))
    await telegram.wait_for_message(
        world.casemanager.id, contains="Je bent de casemanager", since=since
    )

    sent = await running.say(world.casemanager, f"/zaak {reference}", contains="/r/")
    link = LINK.search(sent.text)
    assert link
    with core.db.session() as session:
        code = core.reveals.create_setup_code(session, sanne_id, CLI).code
    identity = people.made[0]
    async with httpx.AsyncClient() as http:
        page = await http.get(link.group(0))
        form = FORM.search(page.text)
        assert form
        fields = {"form": form.group(1), "setup_code": code, "pin": "480159", "pin_again": "480159"}
        shown = await http.post(link.group(0), data=fields)
    assert shown.status_code == 200 and identity.surname in shown.text
    assert "<dt>Besluit</dt><dd>procesregie (maandag 23 november 2026)</dd>" in shown.text
    assert (
        "<dt>Casemanager</dt><dd>Sanne Testlid, Reclassering Nederland "
        "(geaccepteerd, maandag 23 november 2026)</dd>"
    ) in shown.text
