"""The running bot over HTTP against the fake Bot API server."""

from __future__ import annotations

import json

import pytest

from bot.domain.roles import Role
from bot.i18n import translator
from bot.safe import Code, MemberName, Pseudonym, SafeText
from bot.services.audit import CLI
from bot.services.guard import PiiRefused
from bot.telegram_app import build_application
from tests.app.conftest import RunningBot
from tests.conftest import People


def _register(running: RunningBot, telegram_id: int, roles: list[Role]) -> None:
    core = running.core
    with core.db.session() as session:
        if not core.memberships.organisations(session):
            core.memberships.add_organisation(
                session, name="Reclassering Nederland", code="RN", themes=None, actor=CLI
            )
        core.memberships.add_member(
            session,
            telegram_id=telegram_id,
            name="Sanne de Boer",
            organisation_code="RN",
            roles=roles,
            actor=CLI,
        )


async def test_start_answers_in_dutch_and_in_english(running: RunningBot) -> None:
    telegram = running.telegram
    anna = telegram.add_user("Anna", language_code="nl")
    john = telegram.add_user("John", language_code="en")
    telegram.send_text(anna, "/start")
    telegram.send_text(john, "/start")
    dutch = await telegram.wait_for_message(anna.id, contains="Welkom")
    english = await telegram.wait_for_message(john.id, contains="Welcome")
    assert "nog niet aangemeld" in dutch.text
    assert "/start CODE" in dutch.text
    assert "not registered yet" in english.text


async def test_start_tells_a_member_their_organisation_and_roles(running: RunningBot) -> None:
    telegram = running.telegram
    coordinator = telegram.add_user("Fenna", language_code="nl-NL")
    _register(running, coordinator.id, [Role.COORDINATOR, Role.CASEMANAGER])
    telegram.send_text(coordinator, "/start")
    reply = await telegram.wait_for_message(coordinator.id, contains="Reclassering Nederland")
    assert "casemanager, coördinator" in reply.text


async def test_help_lists_the_commands_of_the_callers_role(running: RunningBot) -> None:
    telegram = running.telegram
    stranger = telegram.add_user("Kees", language_code="en")
    telegram.send_text(stranger, "/help")
    reply = await telegram.wait_for_message(stranger.id, contains="Your commands")
    assert "/start" in reply.text and "/help" in reply.text


async def test_commands_are_published_per_language(running: RunningBot) -> None:
    calls = [
        c for c in running.telegram.calls("setMyCommands")
        if c.params.get("scope", {}).get("type") == "all_private_chats"
    ]  # fmt: skip
    by_language = {call.params.get("language_code"): call.params for call in calls}
    assert set(by_language) == {None, "nl", "en"}
    dutch = json.dumps(by_language["nl"]["commands"], ensure_ascii=False)
    english = json.dumps(by_language["en"]["commands"], ensure_ascii=False)
    assert "uitnodigingscode" in dutch and "invite code" in english


async def test_other_chats_are_ignored(running: RunningBot) -> None:
    telegram = running.telegram
    someone = telegram.add_user("Piet")
    other_group = telegram.add_group("Een andere groep")
    telegram.send_text(someone, "/help", chat=other_group)
    telegram.send_text(someone, "/start")  # processed after the group message
    await telegram.wait_for_message(someone.id, contains="Welkom")
    assert telegram.messages_to(other_group.id) == []


async def test_commands_in_the_partner_group_point_to_a_private_chat(running: RunningBot) -> None:
    telegram = running.telegram
    member = telegram.add_user("Lotte")
    _register(running, member.id, [Role.PARTNER])
    telegram.send_text(member, "/help", chat=running.group)
    reply = await telegram.wait_for_message(running.group.id, contains="privégesprek")
    assert "/start" not in reply.text


async def test_outgoing_guard_refuses_personal_data(running: RunningBot, people: People) -> None:
    core = running.core
    identity = people.identity()
    with core.db.session() as session:
        registered = core.vault.register(session, identity, actor=CLI)
    application = build_application(core)
    user = running.telegram.add_user("Bram", started=True)
    _ = translator("nl")
    full_name = f"{identity.given_names.split()[0]} {identity.surname}"
    async with application:
        # Text not built from safe values never leaves, whatever it holds.
        with pytest.raises(PiiRefused, match="unchecked"):
            await application.bot.send_message(user.id, f"Nieuwe melding {registered.pseudonym}")
        # A safe kind that nevertheless carries a held identity: the last check.
        with pytest.raises(PiiRefused, match="personal_data"):
            await application.bot.send_message(
                user.id, SafeText.layout("{}", MemberName(full_name))
            )
        with pytest.raises(PiiRefused, match="personal_data"):
            await application.bot.send_message(
                user.id, SafeText.layout("{}", Code(f"{identity.birth_date:%d-%m-%Y}"))
            )
        sent = await application.bot.send_message(
            user.id, SafeText.layout("{}", Pseudonym(registered.pseudonym))
        )
    assert registered.pseudonym in sent.text
    assert [m.text for m in running.telegram.messages_to(user.id)] == [sent.text]


async def test_members_get_the_menu_of_their_roles_at_start_up(
    bot_settings: object, telegram: object
) -> None:
    from telegram import Bot

    from bot.app import open_core
    from bot.clock import SystemClock
    from bot.config import Settings
    from bot.handlers.start import publish_command_lists
    from bot.sandbox.fake_telegram import FakeTelegram

    assert isinstance(bot_settings, Settings)
    assert isinstance(telegram, FakeTelegram)
    core = open_core(bot_settings, clock=SystemClock())
    coordinator = telegram.add_user("Fenna", language_code="en", started=True)
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Reclassering", code="RN", themes=None, actor=CLI
        )
        member = core.memberships.add_member(
            session, telegram_id=coordinator.id, name="Fenna Testlid", organisation_code="RN",
            roles=[Role.COORDINATOR], actor=CLI,
        )  # fmt: skip
        assert member.id is not None
        core.memberships.touch(session, member.id, "en")
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        await publish_command_lists(bot, core)
    core.db.dispose()
    [menu] = [
        c.params for c in telegram.calls("setMyCommands")
        if c.params.get("scope", {}).get("chat_id") == coordinator.id
    ]  # fmt: skip
    names = [command["command"] for command in menu["commands"]]
    assert names == [
        "start", "help", "wie", "leden", "uitnodigen", "verwijder",
        "besluit", "agenda", "stand", "toewijzen", "zaak", "actie", "plan", "zrm", "annuleer",
        "melding", "pincode",
        "ontgrendel", "intrekken",
    ]  # fmt: skip
    assert menu["commands"][3]["description"].startswith("Members per organisation")


@pytest.mark.parametrize("registered", [True, False])
async def test_anything_else_in_a_private_chat_points_to_help(
    running: RunningBot, people: People, registered: bool
) -> None:
    """An unknown command or free text gets a short answer, never silence, and never an
    echo of what was typed (here: a person's name, which must not come back)."""
    telegram = running.telegram
    user = telegram.add_user("Lotte", language_code="en")
    if registered:
        _register(running, user.id, [Role.PARTNER])
    typed_name = people.identity().surname
    unknown = await running.say(user, f"/zoek {typed_name}", contains="command")
    assert unknown.text == (
        "I do not know that command. Send /help to see the commands you can use."
    )
    talk = await running.say(user, f"Kent iemand {typed_name}?", contains="commands")
    assert talk.text.startswith("I only understand commands. Send /help")
    assert all(typed_name not in m.text for m in telegram.messages_to(user.id))
    # In the partner group, talk between people is not the bot's business.
    before = len(telegram.messages_to(running.group.id))
    telegram.send_text(user, "/zoek", chat=running.group)
    await running.say(user, "/help", contains="/start")
    assert len(telegram.messages_to(running.group.id)) == before
