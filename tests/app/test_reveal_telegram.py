"""The reveal links through Telegram and the running bot's own web pages: [Gegevens
bekijken] under an announcement, /zaak, and the coordinators' /pincode, /ontgrendel
and /intrekken. The pages are the ones `vhbot run` serves (serve() starts them)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from bot.app import open_core
from bot.config import Settings, WebPortUnavailable
from bot.domain.reveal import LinkKind
from bot.domain.roles import Role, Theme
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeTelegram, SentMessage
from bot.services.audit import CLI
from bot.services.reveal import IssuedLink
from bot.storage.models import AuditEntry, RevealLink
from bot.web import listen_web
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World, until
from tests.app.test_detention import announcements, write_dpan
from tests.conftest import People

LINK = re.compile(r"http://127\.0\.0\.1:[0-9]+/r/[A-Za-z0-9_-]{22}")
SETUP_CODE = re.compile(r"[0-9A-Z]{5}-[0-9A-Z]{5}")
FORM = re.compile(r'name="form" value="([^"]+)"')
PIN = "480159"


async def _announced(running: RunningBot, people: People, tmp_path: Path) -> SentMessage:
    identities = [people.identity()]
    running.core.detention.import_path(write_dpan(tmp_path / "dpan.csv", identities), actor=CLI)
    [announcement] = await announcements(running.telegram, running.group.id, 1, running.core)
    return announcement


async def _press(running: RunningBot, user_id: int, message: SentMessage) -> dict[str, object]:
    """`user_id` presses Gegevens bekijken; the answer to the press."""
    telegram = running.telegram
    running.flood_clock.advance(1.0)
    query = telegram.press_button(
        telegram.users[user_id], message, message.button_data("Gegevens bekijken")
    )
    return await until(lambda: telegram.callback_answers.get(query), "the press answered")


def _link_calls(telegram: FakeTelegram, chat_id: int) -> list[dict[str, object]]:
    return [
        c.params
        for c in telegram.calls("sendMessage")
        if c.params.get("chat_id") == chat_id and "/r/" in str(c.params.get("text"))
    ]


async def test_view_details_sends_a_private_link_that_opens_with_the_second_factor(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    telegram, group = running.telegram, running.group
    announcement = await _announced(running, people, tmp_path)
    in_group = len(telegram.messages_to(group.id))

    answer = await _press(running, world.partner.id, announcement)
    assert answer["text"] == "Ik heb je een link gestuurd in onze privéchat."
    message = await telegram.wait_for_message(
        world.partner.id, contains="/r/", timeout=EVENT_TIMEOUT
    )
    lines = message.text.splitlines()
    assert re.fullmatch(r"Je link naar de persoonsgegevens van VH-2026-[0-9]{4}:", lines[0])
    found = LINK.fullmatch(lines[1])
    assert found, lines[1]
    assert "activeringscode" in message.text  # no PIN yet: the page asks for a set-up code first
    # Never in the group; Telegram must not fetch the page for a preview.
    assert len(telegram.messages_to(group.id)) == in_group
    assert not any("/r/" in m.text for m in telegram.messages_to(group.id))
    [params] = _link_calls(telegram, world.partner.id)
    preview = params["link_preview_options"]
    assert (json.loads(preview) if isinstance(preview, str) else preview) == {"is_disabled": True}

    partner_id = world.member_ids["partner"]
    given = await running.say(
        world.coordinator, f"/pincode {partner_id}", contains="Activeringscode"
    )
    code = SETUP_CODE.search(given.text)
    assert code and f"lid {partner_id} (Bram Testlid, Politie Limburg)" in given.text

    identity = people.made[0]
    async with httpx.AsyncClient() as http:
        page = await http.get(found.group(0))
        assert page.status_code == 200 and "Activeringscode" in page.text
        assert identity.surname not in page.text
        form = FORM.search(page.text)
        assert form
        fields = {"form": form.group(1), "setup_code": code.group(0), "pin": PIN, "pin_again": PIN}
        shown = await http.post(found.group(0), data=fields)
        assert shown.status_code == 200 and identity.surname in shown.text
        again = await http.get(found.group(0))
        assert again.status_code == 403 and identity.surname not in again.text
    # (The telegram fixture fails the test if any outgoing call held a person's data.)


async def test_a_link_the_member_cannot_receive_is_withdrawn_and_they_are_told(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core, telegram = running.core, running.telegram
    quiet = telegram.add_user("Mirthe", language_code="nl")  # never wrote to the bot
    with core.db.session() as session:
        core.memberships.add_member(
            session, telegram_id=quiet.id, name="Mirthe Testlid",
            organisation_code="POL", roles=[Role.PARTNER], actor=CLI,
        )  # fmt: skip
    announcement = await _announced(running, people, tmp_path)

    answer = await _press(running, quiet.id, announcement)
    assert answer.get("show_alert") is True
    assert "Open een privéchat met mij" in str(answer["text"])
    with core.db.session() as session:
        [link] = session.exec(select(RevealLink)).all()
        assert link.revoked_at is not None and link.used_at is None
        withdrawn = session.exec(
            select(AuditEntry).where(AuditEntry.action == "reveal.withdraw")
        ).all()
    assert [json.loads(e.details) for e in withdrawn] == [{"reason": "no_private_chat"}]


async def test_view_details_refused_for_a_theme_the_organisation_does_not_see(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core, telegram = running.core, running.telegram
    outsider = telegram.add_user("Ruben", language_code="nl", started=True)
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Expertisecentrum", code="EXP", themes=[Theme.RADICALISERING], actor=CLI
        )
        core.memberships.add_member(
            session, telegram_id=outsider.id, name="Ruben Testlid",
            organisation_code="EXP", roles=[Role.PARTNER], actor=CLI,
        )  # fmt: skip
    announcement = await _announced(running, people, tmp_path)

    answer = await _press(running, outsider.id, announcement)
    assert answer == {"text": "Je organisatie doet niet mee aan dit thema.", "show_alert": True}
    assert _link_calls(telegram, outsider.id) == []
    with core.db.session() as session:
        assert session.exec(select(RevealLink)).all() == []


async def test_zaak_gives_a_coordinator_a_link_to_the_case_page(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core, telegram = running.core, running.telegram
    await _announced(running, people, tmp_path)
    with core.db.session() as session:
        [link] = session.exec(select(RevealLink)).all() or [None]
    assert link is None
    reference = re.search(r"VH-2026-[0-9]{4}", telegram.messages_to(running.group.id)[-1].text)
    assert reference

    sent = await running.say(
        world.coordinator, f"/zaak {reference.group(0).lower()}", contains="/r/"
    )
    assert sent.text.startswith(f"Je link naar de persoonsgegevens van {reference.group(0)}:")
    for typed, answer in (
        ("/zaak", "Gebruik: /zaak REF"),
        ("/zaak VH-2026-0001 extra", "Gebruik: /zaak REF"),
        ("/zaak <b>Jansen</b>", "Gebruik: /zaak REF"),
        ("/zaak VH-2099-9999", "Er is geen zaak met die referentie."),
    ):
        reply = await running.say(world.coordinator, typed, contains="")
        assert reply.text.startswith(answer), (typed, reply.text)
        assert "Jansen" not in reply.text and "9999" not in reply.text
    refused = await running.say(world.partner, f"/zaak {reference.group(0)}", contains="")
    assert "/r/" not in refused.text
    with core.db.session() as session:
        links = session.exec(select(RevealLink)).all()
    assert [(row.kind, row.member_id) for row in links] == [
        (LinkKind.CASE.value, world.member_ids["coordinator"])
    ]


async def test_coordinators_give_set_up_codes_unlock_and_revoke(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core, telegram = running.core, running.telegram
    await _announced(running, people, tmp_path)
    partner_id, own = world.member_ids["partner"], world.member_ids["coordinator"]
    coordinator = world.coordinator

    for typed, answer in (
        ("/pincode", "Gebruik: /pincode NUMMER"),
        ("/pincode twee", "Gebruik: /pincode NUMMER"),
        ("/pincode 999", "Er is geen actief lid met dat nummer."),
        (f"/pincode {world.member_ids['deactivated']}", "Er is geen actief lid met dat nummer."),
        (f"/pincode {own}", "Dit moet een andere coördinator voor je doen."),
        (f"/ontgrendel {own}", "Dit moet een andere coördinator voor je doen."),
        ("/intrekken 1 2", "Gebruik: /intrekken NUMMER"),
    ):
        reply = await running.say(coordinator, typed, contains="")
        assert reply.text == answer or reply.text.startswith(answer), (typed, reply.text)
    with core.db.session() as session:
        refused = session.exec(
            select(AuditEntry).where(col(AuditEntry.action) == "access.refused")
        ).all()
    assert len(refused) >= 4

    # Five wrong PINs lock the partner's links; the coordinators hear of it.
    with core.db.session() as session:
        code = core.reveals.create_setup_code(session, partner_id, CLI).code
        issued = core.reveals.issue_link(session, partner_id, LinkKind.ANNOUNCEMENT, 1)
    assert isinstance(issued, IssuedLink)
    token = issued.url.rsplit("/", 1)[1]
    with core.db.session() as session:
        core.reveals.set_pin(session, token, code, PIN, now=core.clock.now())
    for _ in range(5):
        with core.db.session() as session:
            core.reveals.check_pin(session, token, "111222", now=core.clock.now())
    notice = await telegram.wait_for_message(
        coordinator.id, contains="te vaak een verkeerde pincode", timeout=EVENT_TIMEOUT
    )
    assert f"/ontgrendel {partner_id}" in notice.text
    pressed = await _press(running, world.partner.id, telegram.messages_to(running.group.id)[-1])
    assert "geblokkeerd" in str(pressed["text"]) and pressed.get("show_alert") is True

    unlocked = await running.say(coordinator, f"/ontgrendel {partner_id}", contains="Lid")
    assert unlocked.text == f"Lid {partner_id} is gedeblokkeerd: de links werken weer."
    again = await running.say(coordinator, f"/ontgrendel #{partner_id}", contains="Lid")
    assert again.text == f"Lid {partner_id} was niet geblokkeerd; er is niets veranderd."

    await _press(running, world.partner.id, telegram.messages_to(running.group.id)[-1])
    await until(lambda: len(_link_calls(telegram, world.partner.id)) == 1, "the link sent")
    revoked = await running.say(coordinator, f"/intrekken {partner_id}", contains="ingetrokken")
    assert revoked.text == f"2 open links van lid {partner_id} ingetrokken."
    with core.db.session() as session:
        assert all(row.revoked_at is not None for row in session.exec(select(RevealLink)))


async def test_the_bot_does_not_start_when_its_web_address_is_taken(
    bot_settings: Settings,
) -> None:
    core = open_core(bot_settings)
    taken = listen_web(bot_settings)
    try:
        with pytest.raises(WebPortUnavailable) as refused:
            await serve(core, stop=asyncio.Event(), poll_timeout=1)
        assert str(refused.value).startswith("VHBOT_WEB_HOST/VHBOT_WEB_PORT: cannot listen on")
        assert "EADDRINUSE" in str(refused.value)
    finally:
        taken.close()
        core.db.dispose()


async def test_a_link_telegram_failed_to_send_is_withdrawn(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core, telegram = running.core, running.telegram
    announcement = await _announced(running, people, tmp_path)
    telegram.fail_next("sendMessage", status=502)

    answer = await _press(running, world.partner.id, announcement)
    assert answer == {
        "text": "Ik kon de link nu niet versturen. Probeer het opnieuw.",
        "show_alert": True,
    }
    with core.db.session() as session:
        [link] = session.exec(select(RevealLink)).all()
        assert link.revoked_at is not None
    # Asked again, it comes.
    answer = await _press(running, world.partner.id, announcement)
    assert answer["text"] == "Ik heb je een link gestuurd in onze privéchat."


async def test_zaak_tells_the_coordinator_when_the_link_could_not_be_sent(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    core, telegram = running.core, running.telegram
    await _announced(running, people, tmp_path)
    reference = re.search(r"VH-2026-[0-9]{4}", telegram.messages_to(running.group.id)[-1].text)
    assert reference
    telegram.fail_next("sendMessage", status=502)
    told = await running.say(
        world.coordinator, f"/zaak {reference.group(0)}", contains="Probeer het opnieuw"
    )
    assert "/r/" not in told.text
    with core.db.session() as session:
        [link] = session.exec(select(RevealLink)).all()
        assert link.revoked_at is not None


async def test_melding_sends_a_form_link_privately_and_the_reference_comes_back(
    running: RunningBot, world: World, people: People
) -> None:
    core, telegram = running.core, running.telegram
    group = running.group
    # A partner, and the command in the group: refused, no link made.
    await running.say(
        world.partner, "/melding", contains="Met jouw rol kun je dit commando niet gebruiken."
    )
    await running.say(
        world.coordinator, "/melding", chat=group, reply_in=group.id, contains="privégesprek"
    )
    # Typed data after the command: deleted where possible, never echoed; the link still comes.
    since = len(telegram.sent)
    warned = await running.say(
        world.coordinator, "/melding Jansen 01-02-1990", contains="Typ nooit persoonsgegevens"
    )
    assert "Jansen" not in warned.text
    message = await telegram.wait_for_message(
        world.coordinator.id, contains="/r/", since=since, timeout=EVENT_TIMEOUT
    )
    assert message.text.startswith("Je link naar het formulier voor een nieuwe melding:")
    [*_, params] = _link_calls(telegram, world.coordinator.id)
    preview = params["link_preview_options"]
    assert (json.loads(preview) if isinstance(preview, str) else preview) == {"is_disabled": True}
    found = LINK.search(message.text)
    assert found
    with core.db.session() as session:
        links = session.exec(select(RevealLink).where(RevealLink.kind == "melding_form")).all()
        assert len(links) == 1  # the partner's and the group's /melding made none
        code = core.reveals.create_setup_code(session, world.member_ids["coordinator"], CLI).code

    async with httpx.AsyncClient() as http:
        page = await http.get(found.group(0))
        form = FORM.search(page.text)
        assert form
        fields = {"form": form.group(1), "setup_code": code, "pin": PIN, "pin_again": PIN}
        shown = await http.post(found.group(0), data=fields)
        form = FORM.search(shown.text)
        assert form and 'name="achternaam"' in shown.text
        identity = people.identity()
        stored = await http.post(
            found.group(0),
            data={
                "form": form.group(1), "step": "melding", "bron": "ggz", "thema": "oggz",
                "achternaam": identity.surname, "voornamen": identity.given_names,
                "geboortedatum": identity.birth_date.isoformat(), "bsn": identity.bsn or "",
                "gemeente": "Weert", "datum": "2026-01-05", "opmerking": "",
            },
        )  # fmt: skip
        reference = re.search(r"VH-[0-9]{4}-[0-9]{4}", stored.text)
        assert stored.status_code == 200 and reference, stored.text
    told = await telegram.wait_for_message(
        world.coordinator.id, contains=reference.group(0), since=since, timeout=EVENT_TIMEOUT
    )
    assert told.text.startswith("De melding van het formulier is opgeslagen")
    # (The telegram fixture fails the test if any outgoing call held a person's data.)
