"""Partners, members and the secured group, through the fake Telegram server."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.storage.models import AccessRequest, AuditEntry, Member
from tests.app.conftest import RunningBot, World

CODE = re.compile(r"\b([0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5})\b")


def actions(running: RunningBot) -> list[tuple[str, str, str]]:
    with running.core.db.session() as session:
        return [(e.action, e.actor, e.subject) for e in session.exec(select(AuditEntry))]


def removal_request_for(running: RunningBot, member_id: int) -> int:
    """The newest /verwijder request about this member (its buttons name it)."""
    with running.core.db.session() as session:
        request = session.exec(
            select(AccessRequest)
            .where(AccessRequest.member_id == member_id)
            .order_by(col(AccessRequest.id).desc())
        ).first()
        assert request is not None and request.id is not None
        return request.id


async def _invite(running: RunningBot, world: World, roles: str = "casemanager") -> str:
    reply = await running.say(
        world.coordinator, f"/uitnodigen pol {roles}", contains="Uitnodigingscode"
    )
    match = CODE.search(reply.text)
    assert match, reply.text
    assert f"?start={match.group(1)}" in reply.text
    return match.group(1)


async def test_invite_registers_once(running: RunningBot, world: World) -> None:
    telegram = running.telegram
    code = await _invite(running, world, "casemanager partner")
    newcomer = telegram.add_user("Noor", language_code="en")
    welcome = await running.say(newcomer, f"/start {code}", contains="Welcome!")
    assert "Politie Limburg" in welcome.text
    assert "partner, casemanager" in welcome.text or "casemanager, partner" in welcome.text
    who = await running.say(newcomer, "/wie", contains="Roles")
    assert "(POL)" in who.text and "English" in who.text
    # Their own menu in Telegram: the commands of their roles, in their language.
    menu = [
        c.params for c in telegram.calls("setMyCommands")
        if c.params.get("scope", {}).get("chat_id") == newcomer.id
    ]  # fmt: skip
    assert [command["command"] for command in menu[-1]["commands"]] == [
        "start", "help", "wie", "mijnzaken", "zaak", "actie", "plan", "zrm", "annuleer",
    ]  # fmt: skip
    assert "Your organisation" in menu[-1]["commands"][2]["description"]

    second = telegram.add_user("Daan", language_code="nl")
    refused = await running.say(second, f"/start {code}", contains="al gebruikt")
    assert "Vraag de coördinator" in refused.text
    again = await running.say(newcomer, f"/start {code}", contains="already registered")
    assert "not used" in again.text
    recorded = [a for a, _actor, _subject in actions(running)]
    assert "invite.create" in recorded and "member.register" in recorded
    assert recorded.count("invite.refused") == 1


async def test_expired_and_unknown_codes_are_refused(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    telegram = running.telegram
    code = await _invite(running, world)
    clock.advance(timedelta(hours=72, seconds=1))
    late = telegram.add_user("Lars")
    await running.say(late, f"/start {code}", contains="verlopen")
    await running.say(late, "/start AAAAA-BBBBB", contains="niet geldig")
    await running.say(late, "/start hallo", contains="niet geldig")
    with running.core.db.session() as session:
        assert session.exec(select(Member).where(Member.telegram_id == late.id)).first() is None


async def test_five_wrong_codes_block_for_an_hour(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    telegram = running.telegram
    code = await _invite(running, world)
    guesser = telegram.add_user("Gerrit")
    for attempt in range(4):
        reply = await running.say(guesser, f"/start ZZZZZ-ZZZZ{attempt}", contains="niet geldig")
        assert "Te veel" not in reply.text
    fifth = await running.say(guesser, "/start ZZZZZ-ZZZZ9", contains="niet geldig")
    assert "Te veel onjuiste codes" in fifth.text
    clock.advance(timedelta(minutes=59))
    await running.say(guesser, f"/start {code}", contains="Te veel onjuiste codes")
    clock.advance(timedelta(minutes=2))
    await running.say(guesser, f"/start {code}", contains="Welkom!")


async def test_stranger_joining_the_group_is_removed_and_coordinators_told(
    running: RunningBot, world: World
) -> None:
    telegram, group = running.telegram, running.group
    intruder = telegram.add_user("Indringer")
    since = len(telegram.sent)
    telegram.join_group(world.partner, group)  # a member: stays
    telegram.join_group(intruder, group)
    note = await telegram.wait_for_message(world.coordinator.id, contains="verwijderd", since=since)
    assert str(intruder.id) in note.text
    assert telegram.member_status(group, intruder) == "left"
    assert telegram.member_status(group, world.partner) == "member"
    assert [(b.chat_id, b.user_id) for b in telegram.bans] == [(group.id, intruder.id)]
    assert [(u.chat_id, u.user_id) for u in telegram.unbans] == [(group.id, intruder.id)]
    assert ("group.stranger_removed", "system", f"tg:{intruder.id}") in actions(running)


async def test_bot_added_to_another_group_says_one_line_and_leaves(
    running: RunningBot, world: World
) -> None:
    telegram = running.telegram
    other = telegram.add_group("Buurtpreventie", bot_status="left")
    telegram.add_bot_to_group(other, by=world.partner)
    await telegram.wait_for_call("leaveChat")
    said = telegram.messages_to(other.id)
    assert len(said) == 1
    assert "alleen in de partnergroep" in said[0].text
    assert telegram.bot_status(other) == "left"


async def test_deactivation_removes_from_group_and_locks_out(
    running: RunningBot, world: World
) -> None:
    telegram, group = running.telegram, running.group
    telegram.join_group(world.casemanager, group)
    target = world.member_ids["casemanager"]
    question = await running.say(world.coordinator, f"/verwijder {target}", contains="deactiveren?")
    request = removal_request_for(running, target)
    assert question.button_data("Deactiveren") == f"rm:{request}:y"
    since = len(telegram.sent)
    telegram.press_button(world.coordinator, question, f"rm:{request}:y")
    await telegram.wait_for_call("banChatMember", timeout=10)
    await telegram.wait_for_call("unbanChatMember", timeout=10)
    edited = await telegram.wait_for_message(
        world.coordinator.id, contains="gedeactiveerd", since=since
    )
    assert edited.reply_markup is None or not edited.buttons()
    assert telegram.member_status(group, world.casemanager) == "left"
    # Locked out: commands and buttons get the neutral answer, nothing about cases.
    reply = await running.say(world.casemanager, "/wie", contains="niet (meer) aangemeld")
    assert "Reclassering" not in reply.text
    # Pressing the (now gone) button again via a modified client changes nothing.
    calls = len(telegram.requests)
    telegram.press_button(world.coordinator, question, f"rm:{request}:y", forged=True)
    answer = await telegram.wait_for_call(
        "answerCallbackQuery", predicate=lambda c: telegram.requests.index(c) >= calls
    )
    assert "gesloten of onbekend" in str(answer.params.get("text"))
    recorded = actions(running)
    assert (
        recorded.count(
            ("member.deactivate", f"member:{world.member_ids['coordinator']}", f"member:{target}")
        )
        == 1
    )
    assert ("group.remove", "system", f"member:{target}") in recorded
    withdrawn = [c.params.get("scope") for c in telegram.calls("deleteMyCommands")]
    assert {"type": "chat", "chat_id": world.casemanager.id} in withdrawn


async def test_cancelled_removal_changes_nothing(running: RunningBot, world: World) -> None:
    telegram = running.telegram
    target = world.member_ids["partner"]
    question = await running.say(world.coordinator, f"/verwijder {target}", contains="deactiveren?")
    request = removal_request_for(running, target)
    assert question.button_data("Annuleren") == f"rm:{request}:n"
    since = len(telegram.sent)
    telegram.press_button(world.coordinator, question, f"rm:{request}:n")
    await telegram.wait_for_message(world.coordinator.id, contains="Geannuleerd", since=since)
    await running.say(world.partner, "/wie", contains="Rollen")


async def test_forged_removal_button_is_closed_or_unknown(
    running: RunningBot, world: World
) -> None:
    telegram = running.telegram
    reply = await running.say(world.coordinator, "/wie", contains="Rollen")
    for data in ("rm:999999:y", "rm:abc:y", f"rm:{world.member_ids['partner']}:x"):
        since = len(telegram.requests)
        telegram.press_button(world.coordinator, reply, data, forged=True)
        answered = await telegram.wait_for_call(
            "answerCallbackQuery",
            predicate=lambda c, since=since: telegram.requests.index(c) >= since,
        )
        assert "gesloten of onbekend" in str(answered.params.get("text"))
    await running.say(world.partner, "/wie", contains="Rollen")


async def test_directory_lists_members_per_organisation(running: RunningBot, world: World) -> None:
    await running.say(world.partner, "/wie", contains="Rollen")
    listing = await running.say(world.coordinator, "/leden", contains="Leden per organisatie")
    assert "POL · Politie Limburg" in listing.text
    assert "RN · Reclassering Nederland" in listing.text
    assert f"#{world.member_ids['partner']} Bram Testlid · partner · laatst actief" in listing.text
    assert (
        f"#{world.member_ids['deactivated']} Joost Testlid · coördinator · gedeactiveerd"
        in listing.text
    )
    assert "member.read_bulk" in [a for a, _actor, _subject in actions(running)]


async def test_missing_group_rights_are_reported_to_coordinators(
    running: RunningBot, world: World
) -> None:
    from bot.handlers.group import check_group_rights

    telegram = running.telegram
    weak = telegram.add_group("Partners zonder rechten", bot_status="member")
    core = running.core
    core.settings = core.settings.model_copy(update={"partner_chat_id": weak.id})
    from telegram import Bot

    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        since = len(telegram.sent)
        assert await check_group_rights(bot, core) is False
    note = await telegram.wait_for_message(world.coordinator.id, contains="beheerder", since=since)
    assert "verbannen" in note.text


async def test_member_removed_from_the_command_line_leaves_the_group(
    running: RunningBot, world: World
) -> None:
    from telegram import Bot

    from bot.scheduling.group_removal import remove_deactivated_members

    telegram, group, core = running.telegram, running.group, running.core
    telegram.join_group(world.partner, group)
    with core.db.session() as session:  # what `vhbot member remove` does
        core.memberships.deactivate(session, member_id=world.member_ids["partner"], actor="cli")
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        assert await remove_deactivated_members(bot, core) == 1
        assert await remove_deactivated_members(bot, core) == 0  # done once, not again
    assert telegram.member_status(group, world.partner) == "left"
    with core.db.session() as session:
        member = session.get(Member, world.member_ids["partner"])
        assert member is not None and member.removed_from_group_at is not None


async def test_group_removal_waits_while_telegram_refuses(
    running: RunningBot, world: World
) -> None:
    from telegram import Bot

    from bot.scheduling.group_removal import remove_deactivated_members

    telegram, core = running.telegram, running.core
    weak = telegram.add_group("Zonder rechten", bot_status="member")
    telegram.join_group(world.partner, weak)
    core.settings = core.settings.model_copy(update={"partner_chat_id": weak.id})
    with core.db.session() as session:
        core.memberships.deactivate(session, member_id=world.member_ids["partner"], actor="cli")
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        assert await remove_deactivated_members(bot, core) == 0
    with core.db.session() as session:
        assert core.memberships.awaiting_group_removal(session) == [
            (world.member_ids["partner"], world.partner.id)
        ]


async def test_deactivated_member_can_join_again_with_a_new_invite(
    running: RunningBot, world: World
) -> None:
    await running.say(world.deactivated, "/wie", contains="niet (meer) aangemeld")
    code = await _invite(running, world, "partner")
    await running.say(world.deactivated, f"/start {code}", contains="Welkom!")
    who = await running.say(world.deactivated, "/wie", contains="Rollen")
    assert "Rollen: partner" in who.text
    assert (
        "member.reactivate",
        f"tg:{world.deactivated.id}",
        f"member:{world.member_ids['deactivated']}",
    ) in actions(running)
