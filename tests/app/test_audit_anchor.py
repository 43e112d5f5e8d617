"""`vhbot run` anchors the audit log before it serves, and the coordinators get the head."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings, SettingsError
from bot.privacy.anchor_file import AnchorFile
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeTelegram
from tests.app.conftest import EVENT_TIMEOUT, seed_world


async def test_start_up_anchors_the_head_and_tells_the_coordinators(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram
) -> None:
    core = open_core(bot_settings, clock=clock)
    world = seed_world(core, telegram)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        # Written before polling began.
        anchors = AnchorFile(bot_settings.anchor_file, core.keys.audit_key).read()
        assert len(anchors.anchors) == 1
        anchor = anchors.anchors[0]
        notice = await telegram.wait_for_message(
            world.coordinator.id, contains="Auditlog", timeout=EVENT_TIMEOUT
        )
        assert str(anchor.count) in notice.text and anchor.short_hash in notice.text
        assert anchor.hash[8:] not in notice.text
        # Only active coordinators: the deactivated one and the others get nothing.
        for user in (world.partner, world.casemanager, world.deactivated):
            assert not [m for m in telegram.sent if m.chat_id == user.id]
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=10)
        core.db.dispose()


async def test_an_anchor_file_that_cannot_be_written_stops_start_up(
    bot_settings: Settings, clock: FrozenClock, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    settings = bot_settings.model_copy(update={"audit_anchor_file": blocker / "vhbot.anchors"})
    core = open_core(settings, clock=clock)
    try:
        with pytest.raises(SettingsError, match=r"^VHBOT_AUDIT_ANCHOR_FILE: anchor file .* cannot"):
            # Bounded: a bot that started anyway would serve until stopped.
            await asyncio.wait_for(serve(core, stop=asyncio.Event(), poll_timeout=1), timeout=20)
    finally:
        core.db.dispose()
