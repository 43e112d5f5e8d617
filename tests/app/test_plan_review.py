"""Hostile review of issue 11 (plan of approach): inputs a careless or hostile user gives,
and faults, each a test that failed before its fix."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlmodel import select

from bot.domain.plan import ZrmDomain
from bot.storage.models import Action, ActionEvent, Case
from tests import plan_factory as pf
from tests.app.conftest import RunningBot, World
from tests.app.test_plan_telegram import (
    _action_row,
    _case,
    _choose,
    _new_action,
    _press,
    _snapshot,
)
from tests.conftest import People


async def test_a_forged_button_at_the_title_step_is_answered(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """The own-title step takes typed text only; a button forged onto it (the step's own
    version) is refused like any forged button, not left unanswered."""
    reference = await _case(running, world, people, tmp_path)
    sanne = world.casemanager
    domains = await running.say(sanne, f"/actie {reference}", contains="leefgebied")
    actions = await _choose(running, sanne, domains, "huisvesting", "Welke actie")
    await _choose(running, sanne, actions, "Eigen titel", "Typ de titel")
    version = int(actions.button_data("Eigen titel").split(":")[1]) + 1
    before = _snapshot(running)
    for data in (f"pa:{version}:w:1w", f"pa:{version}:d:0", f"pa:{version}:o:m1"):
        answer = await _press(running, sanne, actions, data, forged=True)
        assert answer == {"text": "Dit verzoek is gesloten of onbekend.", "show_alert": True}
    assert _snapshot(running) == before
    # The step is still there: a typed title goes on.
    await running.say(sanne, "Kamer zoeken", contains="eigenaar")


async def test_postponing_to_the_same_or_an_earlier_date_is_refused(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """[Uitstellen] moves the deadline later. The same date (or an earlier one) is no
    postponement: recorded as one it tells the casemanager a false "postponed", and, as
    progress, silences the case's stagnation for four more weeks."""
    telegram = running.telegram
    reference = await _case(running, world, people, tmp_path)
    sanne, bram = world.casemanager, world.partner
    since = len(telegram.sent)
    await _new_action(running, sanne, reference, "Bram Testlid (Politie Limburg)")
    notice = await telegram.wait_for_message(bram.id, contains=reference, since=since)
    deadline = _action_row(running).deadline  # +1 week: 30 November 2026
    before = _snapshot(running)
    for typed in (f"{deadline:%d-%m-%Y}", f"{deadline - timedelta(days=1):%d-%m-%Y}"):
        await _choose(running, bram, notice, "Uitstellen", "Nieuwe deadline")
        reply = await running.say(bram, typed, contains="")
        assert "Waarom" not in reply.text, (typed, reply.text)
        await running.say(bram, "/annuleer", contains="")
    assert _snapshot(running) == before
    # The buttons count from the deadline it has: +1 week is a week after 30 November.
    ask = await _choose(running, bram, notice, "Uitstellen", "Nieuwe deadline")
    reasons = await _choose(running, bram, ask, "+1 week", "Waarom")
    assert reasons.text == "Waarom wordt het uitgesteld naar maandag 7 december 2026?"


async def test_a_plan_too_long_for_one_message_is_still_shown(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """A case with many actions (each line ~100 characters): /plan must not exceed
    Telegram's 4096 characters and be refused, leaving the casemanager without an answer."""
    reference = await _case(running, world, people, tmp_path)
    sanne = world.casemanager
    with running.core.db.session() as session:
        case = session.exec(select(Case).where(Case.reference == reference)).one()
        for _number in range(60):
            pf.action(
                session, case=case, deadline=date(2026, 12, 31), created_by=world.member_ids[
                    "casemanager"], owner=world.member_ids["casemanager"],
                domain=ZrmDomain.HUISVESTING, code="huis_huurschuld",
            )  # fmt: skip
    since = len(running.telegram.sent)
    await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    last = await running.telegram.wait_for_message(sanne.id, contains="#60 ", since=since)
    parts = [m for m in running.telegram.sent[since:] if m.chat_id == sanne.id]
    assert len(parts) == 2
    assert all(m.text.startswith(f"Plan van aanpak van zaak {reference}") for m in parts)
    assert all(len(m.text) <= 4096 for m in parts)
    shown = "\n".join(m.text for m in parts)
    assert all(f"#{number} " in shown for number in range(1, 61))
    assert "ZRM: nog geen meting." in last.text
    # The [Wijzig #N] buttons under the last part only.
    assert parts[0].buttons() == [] and len(last.buttons()) == 60


async def test_a_postponement_after_a_reassignment_says_why(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """The owner is asking the new date when the casemanager gives the action to another
    owner: the owner's typed date is refused saying the action is no longer theirs (not
    that a *button* is outdated: they typed)."""
    telegram = running.telegram
    reference = await _case(running, world, people, tmp_path)
    sanne, bram = world.casemanager, world.partner
    since = len(telegram.sent)
    await _new_action(running, sanne, reference, "Bram Testlid (Politie Limburg)")
    notice = await telegram.wait_for_message(bram.id, contains=reference, since=since)
    await _choose(running, bram, notice, "Uitstellen", "Nieuwe deadline")
    plan = await running.say(sanne, f"/plan {reference}", contains="Plan van aanpak")
    menu = await _choose(running, sanne, plan, "Wijzig #1", "Wat verandert er")
    owners = await _choose(running, sanne, menu, "Andere eigenaar", "eigenaar")
    await _choose(running, sanne, owners, "Sanne Testlid (Reclassering Nederland)", "is nu van")
    await running.outbox_drained()  # the word to Bram that it is no longer his went
    after = _snapshot(running)
    reply = await running.say(bram, "18-12-2026", contains="Er is niets aangepast")
    assert "knop" not in reply.text, reply.text
    assert "overgedragen" in reply.text, reply.text
    assert _snapshot(running) == after
    with running.core.db.session() as session:
        kinds = [e.kind for e in session.exec(select(ActionEvent))]
        action = session.exec(select(Action)).one()
    assert kinds == ["created", "reassigned"]
    assert action.owner_member_id == world.member_ids["casemanager"]
