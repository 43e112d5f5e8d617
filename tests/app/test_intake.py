"""Hostile review of issue 8: an update the bot cannot read."""

from __future__ import annotations

import logging

import pytest

from bot.logs import JsonLineFormatter
from tests.app.conftest import RunningBot, World

SECRET = "Gerrit Zwanenburg woont aan de Maasboulevard 12 in Venlo"


def _unreadable(running: RunningBot, world: World) -> None:
    """A message update PTB cannot parse (a date it cannot read), carrying free text."""
    user = world.partner
    running.telegram._queue(
        "message",
        {
            "message_id": 9999,
            "date": "gisteren",
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {"id": user.id, "is_bot": False, "first_name": user.first_name},
            "text": SECRET,
        },
    )


async def test_one_unreadable_update_does_not_stop_all_later_ones(
    running: RunningBot, world: World
) -> None:
    """The intake asks for the same offset again after any failure of getUpdates, also
    "an answer PTB cannot read" (bot/intake.py): an update PTB cannot parse is fetched
    and refused forever, and no update after it is ever handled. It must be skipped (or
    the batch handled up to it), not retried without end."""
    _unreadable(running, world)
    await running.say(world.casemanager, "/start", contains="")


async def test_an_unreadable_update_puts_no_message_text_in_the_log(
    running: RunningBot, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """PTB logs the raw getUpdates answer at CRITICAL when it cannot parse it ("Error while
    parsing updates! Received data was ..."): the person's text and name reach the log,
    which the project's rules forbid. LibraryFloor only drops records below INFO."""
    caplog.set_level(logging.INFO)
    _unreadable(running, world)
    await running.telegram.wait_for_call("getUpdates", predicate=lambda c: c.ok, count=3)
    formatter = JsonLineFormatter()
    log = "\n".join(formatter.format(record) for record in caplog.records)
    assert SECRET not in log
