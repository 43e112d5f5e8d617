"""A file dropped in the inbox that cannot be imported: the coordinators hear of it in
Telegram, by number, and the file is deleted once they have."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from bot.scheduling.inbox import REJECTED
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World


async def wait_until_gone(path: Path) -> None:
    """Wait for the fact (the running bot's next inbox pass), not for a fixed time."""
    deadline = time.monotonic() + EVENT_TIMEOUT
    while await asyncio.to_thread(os.path.lexists, path):
        assert time.monotonic() < deadline, f"{path.name} is still there"
        await asyncio.sleep(0.05)


async def test_an_unreadable_file_is_reported_to_the_coordinators_then_deleted(
    running: RunningBot, world: World
) -> None:
    core, telegram = running.core, running.telegram
    inbox = core.settings.inbox_dir
    inbox.mkdir(parents=True, exist_ok=True)
    dropped = inbox / "Jansen 01-02-1980.csv"  # a name can hold anything
    dropped.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    settled = time.time() - 60
    os.utime(dropped, (settled, settled))

    notice = await telegram.wait_for_message(
        world.coordinator.id, contains="is geweigerd", timeout=EVENT_TIMEOUT
    )

    assert notice.text.startswith("Import 1 is geweigerd: ")
    assert "Jansen" not in notice.text and "1980" not in notice.text
    assert not telegram.messages_to(world.partner.id)  # coordinators only
    assert not telegram.messages_to(running.group.id)
    await wait_until_gone(inbox / REJECTED / "import-1-Jansen 01-02-1980.csv")
    assert sorted(p.name for p in (inbox / REJECTED).iterdir()) == [
        "import-1-Jansen 01-02-1980.csv.errors.txt"
    ]
