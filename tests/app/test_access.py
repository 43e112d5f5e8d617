"""Access that ends when it should, through the fake Telegram server.

Strangers in the partner group are removed on sight; a deactivated member's
invites die with their access; coordinators hear of every newcomer; a coordinator
invite needs a second coordinator; removal buttons are bound to their request;
error replies never echo what was typed.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.domain.roles import Role
from bot.sandbox.fake_telegram import FakeUser, RecordedCall, SentMessage
from bot.scheduling.duties import expire_access_requests
from bot.services.audit import CLI
from bot.storage.models import AccessRequest, Answer, Invite, InviteFailure, Member
from tests.app.conftest import RunningBot, World
from tests.app.test_authorization import _announce
from tests.app.test_members import CODE, actions
from tests.conftest import People, process_env, start_vhbot

CLOSED = "gesloten of onbekend"


def add_coordinator(running: RunningBot, first_name: str = "Mila") -> tuple[FakeUser, int]:
    """A second active coordinator (of RN), with a private chat open to the bot."""
    user = running.telegram.add_user(first_name, language_code="nl", started=True)
    core = running.core
    with core.db.session() as session:
        member = core.memberships.add_member(
            session,
            telegram_id=user.id,
            name=f"{first_name} Testlid",
            organisation_code="RN",
            roles=[Role.COORDINATOR],
            actor=CLI,
        )
        assert member.id is not None
        return user, member.id


async def press(
    running: RunningBot, user: FakeUser, message: SentMessage, data: str, *, forged: bool = False
) -> RecordedCall:
    """`user` presses a button; returns the bot's answer to that press."""
    running.flood_clock.advance(1.0)
    query = running.telegram.press_button(user, message, data, forged=forged)
    return await running.telegram.wait_for_call(
        "answerCallbackQuery", predicate=lambda c: c.params.get("callback_query_id") == query
    )


def notices_about(running: RunningBot, chat_id: int, user: FakeUser) -> list[SentMessage]:
    return [
        m for m in running.telegram.messages_to(chat_id) if f"(Telegram-id {user.id})" in m.text
    ]


async def handled_so_far(running: RunningBot, world: World) -> None:
    """Updates are handled one after another: once a later one is answered, all before are."""
    await running.say(world.coordinator, "/wie", contains="Rollen")


# -- 1. strangers already in the group --------------------------------------------------


async def test_stranger_already_in_the_group_is_removed_when_they_write(
    running: RunningBot, world: World
) -> None:
    telegram, group = running.telegram, running.group
    # In the group all along: their join happened while the bot was down (no update).
    telegram.send_text(world.stranger, "Goedemorgen allemaal", chat=group)
    telegram.send_text(world.stranger, "Wie weet meer over de melding van gisteren?", chat=group)
    note = await telegram.wait_for_message(world.coordinator.id, contains="verwijderd")
    assert f"(Telegram-id {world.stranger.id})" in note.text
    await handled_so_far(running, world)
    assert telegram.member_status(group, world.stranger) == "left"
    assert [(b.chat_id, b.user_id) for b in telegram.bans] == [(group.id, world.stranger.id)]
    assert len(notices_about(running, world.coordinator.id, world.stranger)) == 1
    assert telegram.messages_to(group.id) == []
    assert telegram.messages_to(world.stranger.id) == []
    recorded = actions(running)
    assert recorded.count(("group.stranger_removed", "system", f"tg:{world.stranger.id}")) == 1
    assert not [a for a in recorded if a[0] == "access.refused"]


async def test_stranger_pressing_an_answer_button_is_removed_and_nothing_is_recorded(
    running: RunningBot, world: World
) -> None:
    telegram, group = running.telegram, running.group
    telegram.set_member_status(group, world.stranger, "member")  # joined while we were down
    announced = await _announce(running)
    running.flood_clock.advance(1.0)
    since = len(telegram.sent)
    query = telegram.press_button(world.stranger, announced.message, f"ans:{announced.id}:y")
    await telegram.wait_for_message(world.coordinator.id, contains="verwijderd", since=since)
    await handled_so_far(running, world)
    assert telegram.member_status(group, world.stranger) == "left"
    assert query not in telegram.callback_answers  # nothing else: not even an answer
    with running.core.db.session() as session:
        assert session.exec(select(Answer)).all() == []
    assert [m for m in telegram.sent[since:] if m.chat_id == group.id] == []
    assert len(notices_about(running, world.coordinator.id, world.stranger)) == 1


async def test_deactivated_member_still_in_the_group_is_removed_on_sight(
    running: RunningBot, world: World
) -> None:
    telegram, group = running.telegram, running.group
    # Deactivated while the bot could not remove them; they are still in the group.
    telegram.set_member_status(group, world.deactivated, "member")
    announced = await _announce(running)
    running.flood_clock.advance(1.0)
    telegram.press_button(world.deactivated, announced.message, f"ans:{announced.id}:n")
    await telegram.wait_for_message(
        world.coordinator.id, contains=f"(Telegram-id {world.deactivated.id})"
    )
    await handled_so_far(running, world)
    assert telegram.member_status(group, world.deactivated) == "left"
    with running.core.db.session() as session:
        assert session.exec(select(Answer)).all() == []


async def test_a_stranger_who_cannot_be_removed_is_reported_once_and_ignored(
    running: RunningBot, world: World
) -> None:
    telegram, group = running.telegram, running.group
    # An administrator of the group who is no member: only a person can remove them.
    telegram.set_member_status(group, world.stranger, "administrator")
    for text in ("/help", "/wie", "Hallo?"):
        running.flood_clock.advance(1.0)
        telegram.send_text(world.stranger, text, chat=group)
    note = await telegram.wait_for_message(world.coordinator.id, contains="kon het niet")
    assert f"(Telegram-id {world.stranger.id})" in note.text
    await handled_so_far(running, world)
    assert telegram.member_status(group, world.stranger) == "administrator"
    assert telegram.messages_to(group.id) == []  # their commands got no answer
    asked = [
        c for c in telegram.calls("getChatMember") if c.params.get("user_id") == world.stranger.id
    ]
    assert len(asked) == 1  # tried once, not for every message
    assert telegram.calls("banChatMember") == []
    assert len(notices_about(running, world.coordinator.id, world.stranger)) == 1


async def test_joining_the_group_while_a_member_changes_nothing(
    running: RunningBot, world: World
) -> None:
    telegram, group = running.telegram, running.group
    telegram.join_group(world.partner, group)
    telegram.send_text(world.partner, "Goedemorgen", chat=group)
    await handled_so_far(running, world)
    assert telegram.member_status(group, world.partner) == "member"
    assert telegram.bans == []


# -- 2. a deactivated member's invites die with their access ------------------------------


async def test_deactivation_from_telegram_revokes_the_invites_the_member_issued(
    running: RunningBot, world: World
) -> None:
    telegram, core = running.telegram, running.core
    mila, mila_id = add_coordinator(running)
    reply = await running.say(mila, "/uitnodigen pol partner", contains="Uitnodigingscode")
    match = CODE.search(reply.text)
    assert match
    code = match.group(1)

    question = await running.say(
        world.coordinator, f"/verwijder {mila_id}", contains="deactiveren?"
    )
    await press(running, world.coordinator, question, question.button_data("Deactiveren"))
    await telegram.wait_for_message(world.coordinator.id, contains="is gedeactiveerd")

    holder, guesser = telegram.add_user("Noor"), telegram.add_user("Gijs")
    revoked = await running.say(holder, f"/start {code}", contains="niet geldig")
    unknown = await running.say(guesser, "/start ZZZZZ-ZZZZZ", contains="niet geldig")
    assert revoked.text == unknown.text  # refused exactly like a code that never existed
    with core.db.session() as session:
        assert session.exec(select(Member).where(Member.telegram_id == holder.id)).first() is None
        failures = session.exec(
            select(InviteFailure).where(InviteFailure.telegram_id == holder.id)
        ).all()
        assert len(failures) == 1  # it counts towards the block on guessing
        invite = session.exec(select(Invite)).one()
        assert invite.revoked_at is not None and invite.used_at is None


async def test_member_remove_on_the_command_line_revokes_their_invites(
    running: RunningBot, world: World
) -> None:
    mila, mila_id = add_coordinator(running)
    reply = await running.say(mila, "/uitnodigen rn casemanager", contains="Uitnodigingscode")
    match = CODE.search(reply.text)
    assert match
    env = process_env(running.core.settings)
    process = await start_vhbot("member", "remove", "--id", str(mila_id), env=env)
    _out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    newcomer = running.telegram.add_user("Noor")
    await running.say(newcomer, f"/start {match.group(1)}", contains="niet geldig")
    recorded = actions(running)
    assert ("member.deactivate", CLI, f"member:{mila_id}") in recorded


# -- 3. coordinators hear of every new member -----------------------------------------


async def test_coordinators_are_told_of_every_member_who_joins(
    running: RunningBot, world: World
) -> None:
    telegram, core = running.telegram, running.core
    mila, _mila_id = add_coordinator(running)
    fenna = world.member_ids["coordinator"]
    reply = await running.say(world.coordinator, "/uitnodigen pol casemanager", contains="code")
    match = CODE.search(reply.text)
    assert match
    newcomer = telegram.add_user("Noor", language_code="en")
    since = len(telegram.sent)
    await running.say(newcomer, f"/start {match.group(1)}", contains="Welcome!")
    with core.db.session() as session:
        joined = session.exec(select(Member).where(Member.telegram_id == newcomer.id)).one()
    expected = (
        f"Nieuw lid {joined.id} is aangemeld voor Politie Limburg als casemanager, "
        f"uitgenodigd door lid {fenna} (Fenna Testlid)."
    )
    for coordinator in (world.coordinator, mila):
        told = await telegram.wait_for_message(coordinator.id, contains="Nieuw lid", since=since)
        assert told.text == expected
    assert [m.text for m in telegram.sent[since:] if m.chat_id == newcomer.id] == [
        m.text for m in telegram.sent[since:] if m.chat_id == newcomer.id and "Welcome" in m.text
    ]

    # Back with an invite from the server's command line (`vhbot invite`).
    with core.db.session() as session:
        issued = core.memberships.create_invite(
            session, organisation_code="RN", roles=[Role.PARTNER], actor=CLI
        )
    since = len(telegram.sent)
    await running.say(world.deactivated, f"/start {issued.code}", contains="Welkom!")
    told = await telegram.wait_for_message(world.coordinator.id, contains="opnieuw", since=since)
    assert told.text == (
        f"Lid {world.member_ids['deactivated']} is opnieuw aangemeld voor Reclassering "
        "Nederland als partner, met een uitnodiging van de opdrachtregel."
    )


# -- 4. a coordinator invite needs a second coordinator ---------------------------------


async def test_coordinator_invite_waits_for_a_second_coordinator(
    running: RunningBot, world: World
) -> None:
    telegram, core = running.telegram, running.core
    mila, mila_id = add_coordinator(running)
    fenna = world.member_ids["coordinator"]
    since = len(telegram.sent)
    waiting = await running.say(
        world.coordinator, "/uitnodigen pol coordinator", contains="tweede coördinator"
    )
    assert CODE.search(waiting.text) is None
    question = await telegram.wait_for_message(mila.id, contains="vraagt een uitnodiging")
    assert f"Lid {fenna} (Fenna Testlid)" in question.text and "Politie Limburg" in question.text
    with core.db.session() as session:
        request = session.exec(select(AccessRequest)).one()
        assert session.exec(select(Invite)).all() == []
    assert question.button_data("Bevestigen") == f"ic:{request.id}:y"
    assert question.button_data("Weigeren") == f"ic:{request.id}:n"
    # The requester is not asked, and cannot confirm their own request.
    assert [m for m in telegram.sent[since:] if m.chat_id == world.coordinator.id] == [waiting]
    own = await press(running, world.coordinator, waiting, f"ic:{request.id}:y", forged=True)
    assert "eigen verzoek" in str(own.params.get("text"))
    with core.db.session() as session:
        assert session.exec(select(Invite)).all() == []

    since = len(telegram.sent)
    await press(running, mila, question, f"ic:{request.id}:y")
    delivered = await telegram.wait_for_message(world.coordinator.id, contains="code", since=since)
    assert f"Lid {mila_id} heeft je verzoek" in delivered.text
    match = CODE.search(delivered.text)
    assert match
    edited = await telegram.wait_for_message(mila.id, contains="Bevestigd", since=since)
    assert match.group(1) not in edited.text  # only the requester sees the code
    replay = await press(running, mila, question, f"ic:{request.id}:y", forged=True)
    assert CLOSED in str(replay.params.get("text"))

    newcomer = telegram.add_user("Noor")
    welcome = await running.say(newcomer, f"/start {match.group(1)}", contains="Welkom!")
    assert "coördinator" in welcome.text
    with core.db.session() as session:
        assert len(session.exec(select(Invite)).all()) == 1
    recorded = actions(running)
    assert ("request.confirmed", f"member:{mila_id}", f"request:{request.id}") in recorded


async def test_refused_or_unanswered_coordinator_invite_ends(
    running: RunningBot, world: World, clock: FrozenClock
) -> None:
    telegram, core = running.telegram, running.core
    mila, mila_id = add_coordinator(running)
    await running.say(world.coordinator, "/uitnodigen rn coordinator", contains="tweede")
    first = await telegram.wait_for_message(mila.id, contains="vraagt een uitnodiging")
    since = len(telegram.sent)
    await press(running, mila, first, first.button_data("Weigeren"))
    told = await telegram.wait_for_message(world.coordinator.id, contains="geweigerd", since=since)
    assert f"Lid {mila_id}" in told.text and "Er is geen uitnodiging gemaakt" in told.text
    late = await press(running, mila, first, first.button_data("Bevestigen"), forged=True)
    assert CLOSED in str(late.params.get("text"))

    since = len(telegram.sent)
    await running.say(world.coordinator, "/uitnodigen rn coordinator", contains="tweede")
    second = await telegram.wait_for_message(
        mila.id, contains="vraagt een uitnodiging", since=since
    )
    clock.advance(timedelta(hours=72))
    expired = await press(running, mila, second, second.button_data("Bevestigen"))
    assert CLOSED in str(expired.params.get("text"))
    since = len(telegram.sent)
    assert await running.core.db.run(expire_access_requests, core) == 1
    assert await running.core.db.run(expire_access_requests, core) == 0
    ended = await telegram.wait_for_message(world.coordinator.id, contains="72 uur", since=since)
    assert "Reclassering Nederland" in ended.text
    with core.db.session() as session:
        assert session.exec(select(Invite)).all() == []


async def test_a_code_that_cannot_be_delivered_is_withdrawn(
    running: RunningBot, world: World
) -> None:
    telegram, core = running.telegram, running.core
    mila, _mila_id = add_coordinator(running)
    await running.say(world.coordinator, "/uitnodigen pol coordinator", contains="tweede")
    question = await telegram.wait_for_message(mila.id, contains="vraagt een uitnodiging")
    telegram.block_bot(world.coordinator)  # the requester blocked the bot meanwhile
    since = len(telegram.sent)
    await press(running, mila, question, question.button_data("Bevestigen"))
    told = await telegram.wait_for_message(mila.id, contains="ingetrokken", since=since)
    assert f"lid {world.member_ids['coordinator']}" in told.text
    assert CODE.search(told.text) is None
    with core.db.session() as session:
        invite = session.exec(select(Invite)).one()
        assert invite.revoked_at is not None  # nobody has the code: it must not stay valid


async def test_a_lone_coordinator_gets_a_coordinator_invite_at_once(
    running: RunningBot, world: World
) -> None:
    # The deactivated coordinator does not count: Fenna is the only active one.
    reply = await running.say(
        world.coordinator, "/uitnodigen pol coordinator", contains="Uitnodigingscode"
    )
    assert CODE.search(reply.text)


# -- 5. removal buttons are bound to their request -------------------------------------


async def test_removal_buttons_are_bound_to_their_request(
    running: RunningBot, world: World
) -> None:
    telegram, core = running.telegram, running.core
    mila, _mila_id = add_coordinator(running)
    partner, casemanager = world.member_ids["partner"], world.member_ids["casemanager"]
    mine = await running.say(world.coordinator, f"/verwijder {partner}", contains="deactiveren?")
    theirs = await running.say(mila, f"/verwijder {casemanager}", contains="deactiveren?")
    with core.db.session() as session:
        requests = {
            r.member_id: r.id
            for r in session.exec(select(AccessRequest).order_by(col(AccessRequest.id)))
        }
    assert mine.button_data("Deactiveren") == f"rm:{requests[partner]}:y"
    assert theirs.button_data("Deactiveren") == f"rm:{requests[casemanager]}:y"
    # Mila's request, and the old form naming a member: both are the casemanager here.
    assert requests[casemanager] == casemanager
    for data in (f"rm:{requests[casemanager]}:y", "rm:999:y", "rm:1:y:extra", "rm:-1:y"):
        answer = await press(running, world.coordinator, mine, data, forged=True)
        assert CLOSED in str(answer.params.get("text")), data
    await running.say(world.casemanager, "/wie", contains="Rollen")

    await press(running, world.coordinator, mine, mine.button_data("Deactiveren"))
    await telegram.wait_for_message(world.coordinator.id, contains="is gedeactiveerd")
    replay = await press(running, world.coordinator, mine, f"rm:{requests[partner]}:y", forged=True)
    assert CLOSED in str(replay.params.get("text"))
    deactivations = [a for a in actions(running) if a[0] == "member.deactivate"]
    assert ("member.deactivate", CLI, f"member:{world.member_ids['deactivated']}") in deactivations
    assert deactivations[1:] == [
        ("member.deactivate", f"member:{world.member_ids['coordinator']}", f"member:{partner}")
    ]
    # Mila's own button still works for her.
    await press(running, mila, theirs, theirs.button_data("Annuleren"))
    await telegram.wait_for_message(mila.id, contains="Geannuleerd")
    await running.say(world.casemanager, "/wie", contains="Rollen")


async def test_no_coordinator_removes_themselves_by_button(
    running: RunningBot, world: World
) -> None:
    fenna = world.member_ids["coordinator"]
    await running.say(world.coordinator, f"/verwijder {fenna}", contains="jezelf")
    # A modified client names Fenna herself, the last active coordinator.
    anchor = await running.say(world.coordinator, "/wie", contains="Rollen")
    for data in (f"rm:{fenna}:y", f"ic:{fenna}:y"):
        answer = await press(running, world.coordinator, anchor, data, forged=True)
        assert CLOSED in str(answer.params.get("text"))
    await running.say(world.coordinator, "/leden", contains="Leden per organisatie")
    with running.core.db.session() as session:
        member = session.get(Member, fenna)
        assert member is not None and member.active


# -- 6. error replies never echo what was typed ----------------------------------------


async def test_error_replies_never_echo_what_was_typed(
    running: RunningBot, world: World, people: People
) -> None:
    core = running.core
    held = people.identity()
    while " " in held.surname:  # one word, so that it is the organisation code typed
        held = people.identity()
    assert held.bsn is not None
    with core.db.session() as session:
        core.vault.register(session, held, actor=CLI)
    not_held = "111222333"
    answers = []
    for typed in (held.bsn, not_held, held.surname, "XYZ"):
        reply = await running.say(world.coordinator, f"/uitnodigen {typed}", contains="")
        assert typed not in reply.text and typed.upper() not in reply.text
        answers.append(reply.text)
    assert len(set(answers)) == 1, answers
    assert "Er is geen organisatie met die code" in answers[0]

    answers = []
    for typed in (held.bsn, not_held, "99999999999999999999", "0"):
        reply = await running.say(world.coordinator, f"/verwijder {typed}", contains="")
        assert typed not in reply.text
        answers.append(reply.text)
    assert answers == ["Er is geen lid met dat nummer."] * 4
    for typed in (held.surname, f"{held.birth_date:%d-%m-%Y}", "12 34"):
        reply = await running.say(world.coordinator, f"/verwijder {typed}", contains="")
        assert reply.text == "Gebruik: /verwijder NUMMER, met het nummer van het lid uit /leden."
