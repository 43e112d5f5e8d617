"""The Bekend / Niet bekend buttons: who may press, and what a bad press gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.domain.roles import Role, Theme
from bot.sandbox.fake_telegram import SentMessage
from bot.services.audit import CLI
from bot.storage.models import Answer, Case
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World
from tests.app.test_detention import announcements, write_dpan
from tests.conftest import People


@pytest.fixture
async def announced(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> SentMessage:
    """One release announced in the group (world: POL and RN members)."""
    dpan = write_dpan(tmp_path / "one.csv", [people.identity()])
    report = running.core.detention.import_path(dpan, actor=CLI)
    assert report.new == 1
    [message] = await announcements(running.telegram, running.group.id, 1, running.core)
    return message


def answers(running: RunningBot) -> list[tuple[int, bool]]:
    with running.core.db.session() as session:
        return [(a.organisation_id, a.known) for a in session.exec(select(Answer))]


async def press(
    running: RunningBot, user: object, message: SentMessage, data: str, *, forged: bool = False
) -> str:
    telegram = running.telegram
    since = len(telegram.requests)
    running.flood_clock.advance(1.0)
    telegram.press_button(user, message, data, forged=forged)  # type: ignore[arg-type]
    call = await telegram.wait_for_call(
        "answerCallbackQuery",
        predicate=lambda c: telegram.requests.index(c) >= since,
        timeout=EVENT_TIMEOUT,
    )
    return str(call.params.get("text", ""))


async def test_a_member_answers_for_their_organisation(
    running: RunningBot, world: World, announced: SentMessage
) -> None:
    text = await press(running, world.partner, announced, announced.button_data("Bekend"))
    assert text == "Genoteerd voor Politie Limburg: bekend."
    await running.telegram.wait_for_message(running.group.id, contains="Bekend: Politie Limburg")
    # Another member of another organisation; then the first changes its answer.
    await press(running, world.coordinator, announced, announced.button_data("Niet bekend"))
    text = await press(running, world.partner, announced, announced.button_data("Niet bekend"))
    assert "niet bekend" in text
    final = await running.telegram.wait_for_message(
        running.group.id, contains="Niet bekend: Politie Limburg, Reclassering Nederland"
    )
    assert "Nog geen reactie: 0" in final.text
    assert sorted(known for _org, known in answers(running)) == [False, False]


@pytest.mark.parametrize(
    "data",
    ["ans:999999:y", "ans:abc:y", "ans:1:maybe", "ans:", "ans:1:y:extra"],
)
async def test_forged_or_unknown_buttons_change_nothing(
    running: RunningBot, world: World, announced: SentMessage, data: str
) -> None:
    text = await press(running, world.partner, announced, data, forged=True)
    assert text == "Dit verzoek is gesloten of onbekend."
    assert answers(running) == []


async def test_a_real_button_on_another_message_is_refused(
    running: RunningBot, world: World, announced: SentMessage
) -> None:
    other = await running.say(world.partner, "/help", contains="", chat=running.group)
    text = await press(running, world.partner, other, announced.button_data("Bekend"), forged=True)
    assert text == "Dit verzoek is gesloten of onbekend."
    assert answers(running) == []


async def test_closed_case_refuses_answers(
    running: RunningBot, world: World, announced: SentMessage
) -> None:
    with running.core.db.session() as session:
        case = session.exec(select(Case)).one()
        case.closed_at = datetime(2026, 11, 23, 10, tzinfo=UTC)
        session.add(case)
    text = await press(running, world.partner, announced, announced.button_data("Bekend"))
    assert text == "Dit verzoek is gesloten of onbekend."
    assert answers(running) == []


async def test_organisation_without_the_theme_cannot_answer(
    running: RunningBot, world: World, announced: SentMessage
) -> None:
    core = running.core
    outsider = running.telegram.add_user("Kim", started=True)
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Expertisecentrum Radicalisering", code="RAD",
            themes=[Theme.RADICALISERING], actor=CLI,
        )  # fmt: skip
        core.memberships.add_member(
            session, telegram_id=outsider.id, name="Kim Testlid", organisation_code="RAD",
            roles=[Role.PARTNER], actor=CLI,
        )  # fmt: skip
    text = await press(running, outsider, announced, announced.button_data("Bekend"))
    assert "neemt niet deel aan dit thema" in text
    assert answers(running) == []


async def test_deactivated_and_strangers_get_the_neutral_answer(
    running: RunningBot, world: World, announced: SentMessage
) -> None:
    for user in (world.deactivated, world.stranger):
        text = await press(running, user, announced, announced.button_data("Bekend"))
        assert text == "Je bent niet (meer) aangemeld bij het Veiligheidshuis."
    assert answers(running) == []


async def test_pressing_twice_is_the_same_as_once(
    running: RunningBot, world: World, announced: SentMessage
) -> None:
    telegram = running.telegram
    await press(running, world.partner, announced, announced.button_data("Bekend"))
    await telegram.wait_for_message(running.group.id, contains="Bekend: Politie Limburg")
    await running.settled()
    edits = len(telegram.calls("editMessageText"))
    text = await press(running, world.partner, announced, announced.button_data("Bekend"))
    assert text == "Genoteerd voor Politie Limburg: bekend."
    assert len(answers(running)) == 1
    await running.settled()  # an edit it asked for would have happened by now
    assert len(telegram.calls("editMessageText")) == edits
