"""Issue 8: delivery at Telegram's pace, and chats Telegram refuses (403) wait, not fail."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import select

from bot.i18n import translator
from bot.services import outbox
from bot.storage.models import ChatHold, OutboxMessage
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World, until
from tests.app.test_detention import announcements, write_dpan
from tests.conftest import People

GROUP_WINDOW = 60.0


def _import(
    running: RunningBot, people: People, tmp_path: Path, count: int, *, after: int = 0
) -> None:
    """`count` new releases; `after`: how many rows earlier files had (their ids come first)."""
    from bot.services.audit import CLI

    rows = [people.identity() for _ in range(after + count)]
    path = write_dpan(tmp_path / f"dpan-{after}-{count}.csv", rows)
    assert running.core.detention.import_path(path, actor=CLI).new == count


def _queue_private(running: RunningBot, chat_id: int, key: str) -> None:
    """A private message as any notice queues one (fixed wording)."""
    core = running.core
    _ = translator("nl")
    with core.db.session() as session:
        outbox.enqueue(
            session,
            key=key,
            chat_id=chat_id,
            text=_("Your role does not allow this command."),
            now=core.clock.now(),
        )


async def test_a_25_release_import_goes_out_at_the_groups_pace_without_a_429(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """Issue 8.2: the pacing matches the group's 20-per-minute window (the fake server
    enforces it and the fixture fails on any 429); a reply waits for none of it."""
    telegram, group = running.telegram, running.group
    _import(running, people, tmp_path, 25)
    await telegram.wait_for_call(
        "sendMessage",
        predicate=lambda c: "detentiemelding" in str(c.params.get("text")),
        count=25,
        timeout=EVENT_TIMEOUT,
    )
    times = [
        call.at
        for call in telegram.requests
        if call.method in ("sendMessage", "editMessageText")
        and str(call.params.get("chat_id")) == str(group.id)
    ]
    for index, start in enumerate(times):
        assert sum(1 for t in times[index:] if t < start + GROUP_WINDOW) <= 20
    # The outbox leaves part of the group's minute free: a reply there need not wait.
    assert times[-1] - times[0] >= GROUP_WINDOW


async def test_a_member_who_blocked_the_bot_is_reported_once_and_reached_when_they_write(
    running: RunningBot, world: World
) -> None:
    """Issue 8.4: private 403 -> held, coordinators told once by name and organisation."""
    telegram, core = running.telegram, running.core
    telegram.block_bot(world.partner)
    since = len(telegram.sent)
    _queue_private(running, world.partner.id, "test:1")
    notice = await telegram.wait_for_message(
        world.coordinator.id, contains="Bram Testlid", since=since, timeout=EVENT_TIMEOUT
    )
    assert "Politie Limburg" in notice.text
    _queue_private(running, world.partner.id, "test:2")
    await telegram.wait_for_call(
        "sendMessage",
        predicate=lambda c: str(c.params.get("chat_id")) == str(world.partner.id),
        count=1,
        timeout=EVENT_TIMEOUT,
    )
    with core.db.session() as session:
        rows = session.exec(
            select(OutboxMessage).where(OutboxMessage.chat_id == world.partner.id)
        ).all()
        assert {row.status for row in rows} == {"pending"}
        assert session.get(ChatHold, world.partner.id) is not None
    # The member writes again: both waiting messages reach them.
    waiting_text = str(translator("nl")("Your role does not allow this command."))
    await running.say(world.partner, "/start", contains="")
    await telegram.wait_for_call(
        "sendMessage",
        predicate=lambda c: c.params.get("text") == waiting_text and c.status == 200,
        count=2,
        timeout=EVENT_TIMEOUT,
    )

    def all_sent() -> bool:
        with core.db.session() as session:
            statuses = session.exec(
                select(OutboxMessage.status).where(OutboxMessage.chat_id == world.partner.id)
            ).all()
            return set(statuses) == {"sent"}

    await until(all_sent, "all sent")
    told = [m for m in telegram.messages_to(world.coordinator.id) if "Bram Testlid" in m.text]
    assert len(told) == 1  # once, however many messages waited


async def test_a_group_that_refuses_the_bot_keeps_announcements_until_it_works_again(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """Issue 8.4: group 403 -> pending, coordinators alerted privately, retried with backoff."""
    telegram, core, group = running.telegram, running.core, running.group
    telegram.remove_bot_from_group(group, by=world.coordinator)
    since = len(telegram.sent)
    _import(running, people, tmp_path, 2)
    await telegram.wait_for_message(
        world.coordinator.id, contains="partnergroep", since=since, timeout=EVENT_TIMEOUT
    )
    with core.db.session() as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.chat_id == group.id)).all()
        assert rows and {row.status for row in rows} == {"pending"}
    telegram.add_bot_to_group(group, by=world.coordinator, status="administrator")
    running.core.clock.advance(timedelta(seconds=11))  # type: ignore[attr-defined]
    await telegram.wait_for_call(
        "sendMessage",
        predicate=lambda c: "detentiemelding" in str(c.params.get("text")),
        count=2,
        timeout=EVENT_TIMEOUT,
    )
    await telegram.wait_for_message(
        world.coordinator.id, contains="weer berichten", since=since, timeout=EVENT_TIMEOUT
    )
    alerts = [m for m in telegram.messages_to(world.coordinator.id) if "partnergroep" in m.text]
    assert len(alerts) == 2  # refused once, back once

    def lifted() -> bool:
        with core.db.session() as session:
            return session.get(ChatHold, group.id) is None

    await until(lifted, "the hold lifted")


async def test_a_throttled_group_delays_only_itself(
    running: RunningBot, world: World, people: People, tmp_path: Path
) -> None:
    """Issue 8.2: 20 s of 429 on the group: button answers and private replies stay
    under a second (real time), private messages go out, the group's wait its turn."""
    telegram, group = running.telegram, running.group
    running.throttling_expected = True
    _import(running, people, tmp_path, 1)
    [announced] = await announcements(telegram, group.id, 1, running.core)
    telegram.throttle(20, chat_id=group.id)
    _import(running, people, tmp_path, 3, after=1)  # announcements that wait for the group
    await telegram.wait_for_call("sendMessage", predicate=lambda c: c.status == 429)
    started = time.monotonic()
    query = telegram.press_button(world.partner, announced, announced.button_data("Bekend"))
    await telegram.wait_for_call(
        "answerCallbackQuery",
        predicate=lambda c: c.params.get("callback_query_id") == query,
        timeout=EVENT_TIMEOUT,
    )
    acknowledged = time.monotonic() - started
    started = time.monotonic()
    await running.say(world.casemanager, "/start", contains="")
    replied = time.monotonic() - started
    _queue_private(running, world.coordinator.id, "test:during-429")
    await telegram.wait_for_message(world.coordinator.id, contains="rol", timeout=EVENT_TIMEOUT)
    assert acknowledged < 1.0 and replied < 1.0, (acknowledged, replied)
    # The group's messages follow once its window has passed, with no 429 after the first.
    await telegram.wait_for_call(
        "sendMessage",
        predicate=lambda c: c.ok and "detentiemelding" in str(c.params.get("text")),
        count=4,
        timeout=EVENT_TIMEOUT,
    )
    throttled = [c for c in telegram.requests if c.status == 429]
    assert len(throttled) <= 2  # one announcement, at most one tally edit
