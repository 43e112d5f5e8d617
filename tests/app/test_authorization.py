"""The whole permission table, through the running bot.

Every command and every button type, for each role, a non-member and a
deactivated member, in the partner group and in a private chat: allowed or
refused as the table below says, and a refusal changes no data (it is only
audited). In the partner group, someone who is not an active member is removed
instead, whatever they send or press: nothing else happens, and the coordinators
are told once. The expectations are written out here on purpose, not read from
bot.domain.commands, so a change to the table must change this test too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlmodel import col, select

from bot.domain.roles import Role
from bot.sandbox.fake_telegram import FakeUser, SentMessage
from bot.services.audit import CLI
from bot.services.members import InviteAwaiting
from bot.storage.models import (
    AccessRequest,
    Announcement,
    Answer,
    AuditEntry,
    Invite,
    Member,
    Organisation,
)
from tests.app.conftest import RunningBot, World

ALLOWED, ROLE, NOT_REGISTERED, PRIVATE_ONLY = "allowed", "role", "not registered", "private"
GROUP_ONLY = "group"
# Let through, but the press did not come from the announcement's own message.
UNKNOWN = "unknown"
# Let through, but a button of a conversation that is not (or no longer) under way.
OUTDATED = "outdated"
# In the partner group, anyone who is not an active member is removed on sight: their
# update does nothing else, and the coordinators are told (once, by Telegram id).
REMOVED = "removed"
PEOPLE = ("partner", "casemanager", "coordinator", "deactivated", "stranger")
MEMBERS = {"partner", "casemanager", "coordinator"}

REFUSAL_TEXT = {
    ROLE: "Met jouw rol",
    NOT_REGISTERED: "Je bent niet (meer) aangemeld bij het Veiligheidshuis.",
    PRIVATE_ONLY: "Stuur dit commando in een privégesprek met mij.",
}
BUTTON_REFUSAL_TEXT = {
    **REFUSAL_TEXT,
    PRIVATE_ONLY: "Deze knop werkt alleen in een privégesprek",
    GROUP_ONLY: "Dit werkt alleen in de partnergroep.",
    UNKNOWN: "Dit verzoek is gesloten of onbekend.",
    OUTDATED: "Deze knop hoort bij een eerdere stap of een eerder gesprek",
}


@dataclass(frozen=True)
class Case:
    command: str  # the text sent; for a button, its callback data (`{target}` filled in)
    allowed_text: str  # what an allowed answer contains
    who: dict[str, str]  # person -> expected outcome in a private chat
    button: bool = False
    # person -> expected outcome in the partner group; default: "use a private chat".
    in_group: dict[str, str] | None = None
    # Where an allowed answer differs per person.
    allowed_text_for: dict[str, str] = field(default_factory=dict)


def _coordinator_only() -> dict[str, str]:
    return {
        "partner": ROLE,
        "casemanager": ROLE,
        "coordinator": ALLOWED,
        "deactivated": NOT_REGISTERED,
        "stranger": NOT_REGISTERED,
    }


def _in_group_private_only() -> dict[str, str]:
    return {p: PRIVATE_ONLY if p in MEMBERS else REMOVED for p in PEOPLE}


CASES = (
    # /start stays open to a deactivated member (to join again with a new invite),
    # but without a code it tells them only that they are not registered.
    Case(
        "/start",
        "Welkom",
        dict.fromkeys(PEOPLE, ALLOWED),
        in_group=_in_group_private_only(),
        allowed_text_for={"deactivated": REFUSAL_TEXT[NOT_REGISTERED]},
    ),
    Case(
        "/help",
        "Jouw commando's",
        dict.fromkeys(PEOPLE, ALLOWED),
        in_group=_in_group_private_only(),
    ),
    Case(
        "/wie",
        "Rollen",
        {p: ALLOWED if p in MEMBERS else NOT_REGISTERED for p in PEOPLE},
        in_group=_in_group_private_only(),
    ),
    Case(
        "/leden",
        "Leden per organisatie",
        _coordinator_only(),
        in_group=_in_group_private_only(),
    ),
    Case(
        "/uitnodigen POL partner",
        "Uitnodigingscode",
        _coordinator_only(),
        in_group=_in_group_private_only(),
    ),
    Case(
        "/verwijder {target}",
        "deactiveren?",
        _coordinator_only(),
        in_group=_in_group_private_only(),
    ),
    # Without arguments an allowed /besluit and /toewijzen answer with their usage.
    Case("/besluit", "Gebruik: /besluit", _coordinator_only(), in_group=_in_group_private_only()),
    Case("/stand", "Stand van zaken", _coordinator_only(), in_group=_in_group_private_only()),
    Case(
        "/toewijzen", "Gebruik: /toewijzen", _coordinator_only(), in_group=_in_group_private_only()
    ),
    Case(
        "/melding",
        "Je link naar het formulier voor een nieuwe melding",
        _coordinator_only(),
        in_group=_in_group_private_only(),
    ),
    Case(
        "/mijnzaken",
        "Je hebt geen open zaken",
        {
            "partner": ROLE,
            "casemanager": ALLOWED,
            "coordinator": ROLE,
            "deactivated": NOT_REGISTERED,
            "stranger": NOT_REGISTERED,
        },
        in_group=_in_group_private_only(),
    ),
    # The plan of approach: the casemanager (of the case: the service decides) or a
    # coordinator; without a reference an allowed command answers with its usage.
    *(
        Case(
            f"/{command}",
            f"Gebruik: /{command}",
            {
                "partner": ROLE,
                "casemanager": ALLOWED,
                "coordinator": ALLOWED,
                "deactivated": NOT_REGISTERED,
                "stranger": NOT_REGISTERED,
            },
            in_group=_in_group_private_only(),
        )
        for command in ("actie", "plan", "zrm")
    ),
    Case(
        "/annuleer",
        "Er is niets om te stoppen.",
        {p: ALLOWED if p in MEMBERS else NOT_REGISTERED for p in PEOPLE},
        in_group=_in_group_private_only(),
    ),
    # A step of /actie without a conversation: outdated, for those who may press it.
    Case(
        "pa:1:d:0",
        "eerdere stap",
        {
            "partner": ROLE,
            "casemanager": OUTDATED,
            "coordinator": OUTDATED,
            "deactivated": NOT_REGISTERED,
            "stranger": NOT_REGISTERED,
        },
        button=True,
        in_group=_in_group_private_only(),
    ),
    # A step of changing an action without a conversation: outdated, for those who may.
    Case(
        "pc:1:c:o",
        "eerdere stap",
        {
            "partner": ROLE,
            "casemanager": OUTDATED,
            "coordinator": OUTDATED,
            "deactivated": NOT_REGISTERED,
            "stranger": NOT_REGISTERED,
        },
        button=True,
        in_group=_in_group_private_only(),
    ),
    # [Afgerond] of an action that does not exist: any member may press one.
    Case(
        "act:999:1:d",
        "gesloten of onbekend",
        {p: UNKNOWN if p in MEMBERS else NOT_REGISTERED for p in PEOPLE},
        button=True,
        in_group=_in_group_private_only(),
    ),
    # The confirmation button of the caller's newest /verwijder request (made by the
    # row above), pressed by a modified client where it was never offered; "n"
    # (cancel) so that an allowed press changes nothing either.
    Case(
        "rm:{removal}:n",
        "Geannuleerd",
        _coordinator_only(),
        button=True,
        in_group=_in_group_private_only(),
    ),
    # A second coordinator's answer to another coordinator's coordinator invite;
    # "n" (refuse) so that an allowed press makes no invite.
    Case(
        "ic:{invite_request}:n",
        "Geweigerd",
        _coordinator_only(),
        button=True,
        in_group=_in_group_private_only(),
    ),
    # Bekend under an announcement: any member, in the partner group, and in a private
    # chat (where a restricted theme is announced); a press on another private message
    # than the announcement's own is closed or unknown.
    Case(
        "ans:{announcement}:y",
        "Genoteerd voor",
        {p: UNKNOWN if p in MEMBERS else NOT_REGISTERED for p in PEOPLE},
        button=True,
        in_group={p: ALLOWED if p in MEMBERS else REMOVED for p in PEOPLE},
    ),
)


def _snapshot(running: RunningBot) -> tuple[object, ...]:
    """The data a refused request must leave alone (activity bookkeeping aside)."""
    with running.core.db.session() as session:
        organisations = [o.model_dump() for o in session.exec(select(Organisation))]
        members = [
            m.model_dump(exclude={"last_seen_at", "language"})
            for m in session.exec(select(Member).order_by(col(Member.id)))
        ]
        invites = [i.model_dump() for i in session.exec(select(Invite))]
        answers = [a.model_dump() for a in session.exec(select(Answer))]
        requests = [r.model_dump() for r in session.exec(select(AccessRequest))]
    return organisations, members, invites, answers, requests


def _audited(running: RunningBot, action: str = "access.refused") -> int:
    with running.core.db.session() as session:
        return len(session.exec(select(AuditEntry).where(AuditEntry.action == action)).all())


def _newest_removal_request(running: RunningBot) -> int:
    with running.core.db.session() as session:
        newest = session.exec(
            select(AccessRequest.id)
            .where(AccessRequest.kind == "removal")
            .order_by(col(AccessRequest.id).desc())
        ).first()
    return newest or 0


def _second_coordinators_request(running: RunningBot) -> int:
    """A second coordinator, who asks for a coordinator invite: a request to answer."""
    core = running.core
    mila = running.telegram.add_user("Mila", language_code="nl", started=True)
    with core.db.session() as session:
        member = core.memberships.add_member(
            session,
            telegram_id=mila.id,
            name="Mila Testlid",
            organisation_code="RN",
            roles=[Role.COORDINATOR],
            actor=CLI,
        )
        assert member.id is not None
        waiting = core.memberships.invite_from_telegram(
            session, organisation_code="POL", roles=[Role.COORDINATOR], requester_id=member.id
        )
    assert isinstance(waiting, InviteAwaiting)
    return waiting.request_id


def _notices_about(running: RunningBot, world: World, user: FakeUser) -> int:
    return len(
        [
            m
            for m in running.telegram.messages_to(world.coordinator.id)
            if f"(Telegram-id {user.id})" in m.text
        ]
    )


@pytest.mark.parametrize("person", PEOPLE)
async def test_permission_table(running: RunningBot, world: World, person: str) -> None:
    telegram, group = running.telegram, running.group
    user = getattr(world, person)
    target = world.member_ids["partner"] if person != "partner" else world.member_ids["casemanager"]
    invite_request = _second_coordinators_request(running)
    announcement = await _announce(running)
    # A message from the bot in each chat, to press forged buttons on.
    anchor = {
        "private": await running.say(user, "/start", contains=""),
        "group": announcement.message,
    }
    failures: list[str] = []
    for case in CASES:
        for where in ("private", "group"):
            if where == "private":
                expected = case.who[person]
            else:
                expected = (case.in_group or {}).get(person, PRIVATE_ONLY)
            text = case.command.format(
                target=target,
                announcement=announcement.id,
                removal=_newest_removal_request(running),
                invite_request=invite_request,
            )
            label = f"{person} {text!r} in {where}: expected {expected}"
            if expected == REMOVED:
                failures += await _is_removed(running, world, user, case, text, label, anchor)
                continue
            before, refusals_before = _snapshot(running), _audited(running)
            chat = group if where == "group" else None
            if case.button:
                running.flood_clock.advance(1.0)
                since_calls, since_sent = len(telegram.requests), len(telegram.sent)
                telegram.press_button(user, anchor[where], text, forged=True)
                answer = await telegram.wait_for_call(
                    "answerCallbackQuery",
                    predicate=lambda c, n=since_calls: telegram.requests.index(c) >= n,
                )
                if expected == ALLOWED and where == "private":
                    edited = await telegram.wait_for_message(
                        user.id, contains=case.allowed_text, since=since_sent
                    )
                    got = edited.text
                else:
                    got = str(answer.params.get("text", ""))
            else:
                reply = await running.say(user, text, contains="", chat=chat)
                got = reply.text
            allowed_text = case.allowed_text_for.get(person, case.allowed_text)
            refusals = BUTTON_REFUSAL_TEXT if case.button else REFUSAL_TEXT
            wanted = allowed_text if expected == ALLOWED else refusals[expected]
            if wanted not in got:
                failures.append(f"{label}, got {got!r}")
            if expected != ALLOWED:
                if _snapshot(running) != before:
                    failures.append(f"{label}: data changed")
                if expected not in (UNKNOWN, OUTDATED) and _audited(running) != refusals_before + 1:
                    failures.append(f"{label}: refusal not audited once")
            if where == "group" and not case.button and got != REFUSAL_TEXT[PRIVATE_ONLY]:
                failures.append(f"{label}: the group got more than 'use a private chat'")
    assert not failures, "\n".join(failures)


async def _is_removed(
    running: RunningBot,
    world: World,
    user: FakeUser,
    case: Case,
    text: str,
    label: str,
    anchor: dict[str, SentMessage],
) -> list[str]:
    """`user`, back in the group unseen, sends `text` there: removed, and nothing else."""
    telegram, group = running.telegram, running.group
    telegram.set_member_status(group, user, "member")  # as if they joined while we were down
    before, refusals_before = _snapshot(running), _audited(running)
    removals_before = _audited(running, "group.stranger_removed")
    notices_before = _notices_about(running, world, user)
    running.flood_clock.advance(1.0)
    since_calls, since_sent = len(telegram.requests), len(telegram.sent)
    if case.button:
        query = telegram.press_button(user, anchor["group"], text, forged=True)
    else:
        telegram.send_text(user, text, chat=group)
    await telegram.wait_for_call(
        "banChatMember",
        predicate=lambda c: (
            telegram.requests.index(c) >= since_calls and c.params.get("user_id") == user.id
        ),
    )
    await telegram.wait_for_message(
        world.coordinator.id, contains=f"(Telegram-id {user.id})", since=since_sent
    )
    # Updates are handled one after another: once a later one is answered, theirs is done.
    await running.say(world.coordinator, "/wie", contains="Rollen")
    failures = []
    if telegram.member_status(group, user) != "left":
        failures.append(f"{label}: still in the group")
    said = [m for m in telegram.sent[since_sent:] if m.chat_id in (group.id, user.id)]
    if said:
        failures.append(f"{label}: the update did more: {[m.text for m in said]}")
    if case.button and query in telegram.callback_answers:
        failures.append(f"{label}: the button was answered")
    if _snapshot(running) != before:
        failures.append(f"{label}: data changed")
    if _audited(running) != refusals_before:
        failures.append(f"{label}: handled as a refusal")
    if _audited(running, "group.stranger_removed") != removals_before + 1:
        failures.append(f"{label}: removal not audited once")
    if _notices_about(running, world, user) != notices_before + 1:
        failures.append(f"{label}: coordinators not told once")
    return failures


@dataclass(frozen=True)
class Announced:
    id: int
    message: SentMessage


async def _announce(running: RunningBot) -> Announced:
    """One release announced in the group, to press its buttons."""
    from bot.sandbox.dpan_files import dpan_csv, dpan_rows, made_up_people

    core = running.core
    path = core.settings.inbox_dir.parent / "one.csv"
    people = made_up_people(1, seed=4)
    path.write_bytes(dpan_csv(dpan_rows(people, core.settings.municipalities, date(2026, 11, 23))))
    assert core.detention.import_path(path, actor="cli").new == 1
    message = await running.telegram.wait_for_message(
        running.group.id, contains="detentiemelding", timeout=10
    )
    with core.db.session() as session:
        announcement = session.exec(select(Announcement)).one()
        assert announcement.id is not None
        return Announced(announcement.id, message)
