"""The whole permission table, through the running bot.

Every command and every button type, for each role, a non-member and a
deactivated member, in the partner group and in a private chat: allowed or
refused as the table below says, and a refusal changes no data (it is only
audited). The expectations are written out here on purpose, not read from
bot.domain.commands, so a change to the table must change this test too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pytest
from sqlmodel import col, select

from bot.sandbox.fake_telegram import SentMessage
from bot.storage.models import Announcement, Answer, AuditEntry, Invite, Member, Organisation
from tests.app.conftest import RunningBot, World

ALLOWED, ROLE, NOT_REGISTERED, PRIVATE_ONLY = "allowed", "role", "not registered", "private"
GROUP_ONLY = "group"
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


CASES = (
    # /start stays open to a deactivated member (to join again with a new invite),
    # but without a code it tells them only that they are not registered.
    Case(
        "/start",
        "Welkom",
        dict.fromkeys(PEOPLE, ALLOWED),
        allowed_text_for={"deactivated": REFUSAL_TEXT[NOT_REGISTERED]},
    ),
    Case("/help", "Jouw commando's", dict.fromkeys(PEOPLE, ALLOWED)),
    Case(
        "/wie",
        "Rollen",
        {p: ALLOWED if p in MEMBERS else NOT_REGISTERED for p in PEOPLE},
    ),
    Case("/leden", "Leden per organisatie", _coordinator_only()),
    Case("/uitnodigen POL partner", "Uitnodigingscode", _coordinator_only()),
    Case("/verwijder {target}", "deactiveren?", _coordinator_only()),
    # The confirmation button, pressed by a modified client where it was never offered;
    # "n" (cancel) so that an allowed press changes nothing either.
    Case("rm:{target}:n", "Geannuleerd", _coordinator_only(), button=True),
    # Bekend under an announcement: any member, only in the partner group.
    Case(
        "ans:{announcement}:y",
        "Genoteerd voor",
        dict.fromkeys(PEOPLE, GROUP_ONLY),
        button=True,
        in_group={p: ALLOWED if p in MEMBERS else NOT_REGISTERED for p in PEOPLE},
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
    return organisations, members, invites, answers


def _refusals(running: RunningBot) -> int:
    with running.core.db.session() as session:
        return len(
            session.exec(select(AuditEntry).where(AuditEntry.action == "access.refused")).all()
        )


@pytest.mark.parametrize("person", PEOPLE)
async def test_permission_table(running: RunningBot, world: World, person: str) -> None:
    telegram = running.telegram
    user = getattr(world, person)
    target = world.member_ids["partner"] if person != "partner" else world.member_ids["casemanager"]
    # A message from the bot in each chat, to press forged buttons on.
    anchor = {
        "private": await running.say(user, "/start", contains=""),
        "group": await running.say(user, "/help", contains="", chat=running.group),
    }
    announcement = await _announce(running)
    anchor["announcement"] = announcement.message
    failures: list[str] = []
    for case in CASES:
        for where in ("private", "group"):
            if where == "private":
                expected = case.who[person]
            else:
                expected = (case.in_group or {}).get(person, PRIVATE_ONLY)
            text = case.command.format(target=target, announcement=announcement.id)
            before, refusals_before = _snapshot(running), _refusals(running)
            chat = running.group if where == "group" else None
            if case.button:
                running.flood_clock.advance(1.0)
                since_calls, since_sent = len(telegram.requests), len(telegram.sent)
                on = anchor["announcement"] if where == "group" and case.in_group else anchor[where]
                telegram.press_button(user, on, text, forged=True)
                answer = await telegram.wait_for_call(
                    "answerCallbackQuery",
                    predicate=lambda c, n=since_calls: telegram.requests.index(c) >= n,
                )
                if expected == ALLOWED and case.in_group is None:
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
            label = f"{person} {text!r} in {where}: expected {expected}"
            if wanted not in got:
                failures.append(f"{label}, got {got!r}")
            if expected != ALLOWED:
                if _snapshot(running) != before:
                    failures.append(f"{label}: data changed")
                if _refusals(running) != refusals_before + 1:
                    failures.append(f"{label}: refusal not audited once")
            if where == "group" and not case.button and got != REFUSAL_TEXT[PRIVATE_ONLY]:
                failures.append(f"{label}: the group got more than 'use a private chat'")
    assert not failures, "\n".join(failures)


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
