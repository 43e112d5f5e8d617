"""An announcement's tally shows every recorded answer, whatever Telegram does in between."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import select
from telegram.ext import ExtBot

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.sandbox.fake_telegram import FakeTelegram, ManualMonotonic, SentMessage
from bot.scheduling.pacer import Pacer
from bot.scheduling.tally_editor import TallyEditor
from bot.services.audit import CLI
from bot.storage.models import Announcement
from bot.telegram_app import build_application, outbox_sender
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World, virtual_pacer
from tests.app.test_answers import press
from tests.app.test_detention import announcements, write_dpan
from tests.conftest import People

SHOWN = "Bekend: Politie Limburg"


@pytest.fixture
async def announced(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> SentMessage:
    dpan = write_dpan(tmp_path / "one.csv", [people.identity()])
    assert running.core.detention.import_path(dpan, actor=CLI).new == 1
    [message] = await announcements(running.telegram, running.group.id, 1, running.core)
    return message


async def all_rendered(core: Core) -> None:
    """Wait until no announcement's tally is behind its answers (the editor's last step)."""

    def behind() -> list[int]:
        with core.db.session() as session:
            return core.announcements.needing_render(session)

    async with asyncio.timeout(EVENT_TIMEOUT):
        # The fact is in the database, which has no event to wait on: look again shortly.
        while await core.db.run(behind):  # noqa: ASYNC110
            await asyncio.sleep(0.01)


def left_behind(core: Core) -> int:
    """Make the one announcement's tally behind its answers; returns its id."""
    with core.db.session() as session:
        announcement = session.exec(select(Announcement)).one()
        assert announcement.id is not None
        announcement.answers_version += 1
        session.add(announcement)
        return announcement.id


def logged(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [str(getattr(r, "error", "")) for r in caplog.records if r.getMessage() == name]


async def test_a_failed_confirmation_still_updates_the_tally(
    running: RunningBot, world: World, announced: SentMessage
) -> None:
    telegram = running.telegram
    telegram.fail_next("answerCallbackQuery")
    running.flood_clock.advance(1.0)
    telegram.press_button(world.partner, announced, announced.button_data("Bekend"))
    await telegram.wait_for_message(running.group.id, contains=SHOWN, timeout=EVENT_TIMEOUT)
    assert [call.status for call in telegram.calls("answerCallbackQuery")] == [500]


async def test_a_failed_edit_is_tried_again_until_shown(
    running: RunningBot,
    world: World,
    announced: SentMessage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram = running.telegram
    telegram.fail_next("editMessageText", count=2, status=502)
    await press(running, world.partner, announced, announced.button_data("Bekend"))
    await telegram.wait_for_message(running.group.id, contains=SHOWN, timeout=EVENT_TIMEOUT)
    assert [call.status for call in telegram.calls("editMessageText")] == [502, 502, 200]
    assert logged(caplog, "tally.edit_failed") == ["NetworkError", "NetworkError"]
    await all_rendered(running.core)


@pytest.fixture
async def sent_without_a_running_bot(
    bot_settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    pacer: Pacer,
    people: People,
    tmp_path: Path,
) -> AsyncIterator[Core]:
    """One announcement sent by a one-off drain, as `vhbot sweep` sends: no running bot
    whose own tally catch-up (at its start, and now and again) could edit it first."""
    core = open_core(bot_settings, clock=clock)
    try:
        dpan = write_dpan(tmp_path / "one.csv", [people.identity()])
        assert core.detention.import_path(dpan, actor=CLI).new == 1
        async with build_application(core, pacer=pacer) as application:
            assert await outbox_sender(application).drain(application.bot) == 1
        yield core
    finally:
        core.db.dispose()


async def test_an_edit_refused_for_good_is_given_up_until_the_next_press(
    sent_without_a_running_bot: Core,
    telegram: FakeTelegram,
    flood_clock: ManualMonotonic,
    caplog: pytest.LogCaptureFixture,
) -> None:
    core = sent_without_a_running_bot
    announcement_id = left_behind(core)  # a tally behind its answers, as after a restart
    pacer = virtual_pacer(flood_clock)
    async with ExtBot(telegram.token, base_url=telegram.base_url, rate_limiter=pacer) as bot:
        editor = TallyEditor(core, delay=0.05)
        try:
            telegram.fail_next("editMessageText", status=400)  # e.g. the message was deleted
            assert await editor.catch_up(bot) == 1
            assert logged(caplog, "tally.edit_given_up") == ["BadRequest"]
            assert logged(caplog, "tally.edit_failed") == []
            assert await editor.catch_up(bot) == 0  # no loop: left alone
            assert len(telegram.calls("editMessageText")) == 1
            # A press comes from the message, so it is there after all: tried again.
            editor.request(bot, announcement_id)
            await telegram.wait_for_call("editMessageText", count=2, timeout=EVENT_TIMEOUT)
            await all_rendered(core)
            # ... and no longer given up: the next catch-up takes it along again.
            left_behind(core)
            assert await editor.catch_up(bot) == 1
        finally:
            await editor.close()


@pytest.fixture
def quick_catch_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bot.runner.TALLY_CATCH_UP_SECONDS", 0.2)


async def test_a_tally_nobody_asked_to_edit_is_caught_up_while_running(
    quick_catch_up: None, running: RunningBot, world: World, announced: SentMessage
) -> None:
    core = running.core
    with core.db.session() as session:  # an answer whose edit request was lost
        announcement_id = session.exec(select(Announcement.id)).one()
        member = core.memberships.view(session, world.member_ids["partner"])
        assert member is not None and announcement_id is not None
        result = core.announcements.record(
            session, announcement_id=announcement_id, chat_id=running.group.id,
            message_id=announced.message_id, member=member, known=True, now=core.clock.now(),
        )  # fmt: skip
        assert result.organisation_name == "Politie Limburg"
    running.flood_clock.advance(1.0)
    await running.telegram.wait_for_message(running.group.id, contains=SHOWN, timeout=EVENT_TIMEOUT)
    await all_rendered(core)
