"""Start-up while Telegram is away or failing: the bot waits it out and serves."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from bot.app import open_core
from bot.backoff import Backoff
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeTelegram, ManualMonotonic
from tests.app.conftest import EVENT_TIMEOUT, seed_world
from tests.conftest import free_port

# Job-queue retries (menus, group rights) wait in real time: keep them short here.
QUICK = Backoff(first=0.05, cap=0.2)


@dataclass
class Pauses:
    """Stands in for the back-off sleep: records each wait, sleeps a moment only,
    or never returns (`hold`), as Telegram would keep the bot waiting."""

    hold: bool = False
    waits: list[float] = field(default_factory=list)
    asked: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.asked.set()
        if self.hold:
            await asyncio.Event().wait()
        await asyncio.sleep(0.01)

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(EVENT_TIMEOUT):
            while len(self.waits) < count:
                self.asked.clear()
                await self.asked.wait()


@dataclass
class Serving:
    core: Core
    task: asyncio.Task[None]
    stop: asyncio.Event
    ready: asyncio.Event

    async def started(self) -> None:
        waiter = asyncio.create_task(self.ready.wait())
        done, _ = await asyncio.wait(
            {self.task, waiter}, timeout=EVENT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if self.task in done:
            self.task.result()  # raises what went wrong at start-up
        assert waiter in done, "the bot did not start"


@pytest.fixture
async def start(clock: FrozenClock) -> AsyncIterator[Callable[..., Serving]]:
    """Starts `serve` (not waiting for it to be ready); stops it after the test."""
    running: list[Serving] = []

    def begin(settings: Settings, pauses: Pauses | None = None) -> Serving:
        core = open_core(settings, clock=clock)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(
            serve(
                core, stop=stop, ready=ready, poll_timeout=1, backoff=QUICK,
                sleep=pauses or Pauses(),
            )
        )  # fmt: skip
        running.append(Serving(core, task, stop, ready))
        return running[-1]

    try:
        yield begin
    finally:
        for serving in running:
            serving.stop.set()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(serving.task, timeout=10)
            serving.core.db.dispose()


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    return [
        {key: getattr(record, key) for key in ("error", "attempt", "retry_in", "call")
         if hasattr(record, key)}
        for record in caplog.records
        if record.getMessage() == name
    ]  # fmt: skip


async def logged(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, object]]:
    """The events `name` once there is one (a log line is the only outward sign)."""
    async with asyncio.timeout(EVENT_TIMEOUT):
        # A log line has no event to wait on: look again shortly.
        while not events(caplog, name):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    return events(caplog, name)


async def test_a_5xx_on_get_me_is_waited_out(
    bot_settings: Settings,
    telegram: FakeTelegram,
    start: Callable[..., Serving],
    caplog: pytest.LogCaptureFixture,
) -> None:
    telegram.fail_next("getMe", count=2, status=500)
    telegram.fail_next("getMe", count=1, status=502)
    pauses = Pauses()
    await start(bot_settings, pauses).started()
    assert [call.status for call in telegram.calls("getMe")] == [500, 500, 502, 200]
    assert pauses.waits == [0.05, 0.1, 0.2]  # doubling from QUICK.first, capped
    assert events(caplog, "telegram.unreachable") == [
        {"error": "NetworkError", "attempt": 1, "retry_in": 0.05},
        {"error": "NetworkError", "attempt": 2, "retry_in": 0.1},
        {"error": "NetworkError", "attempt": 3, "retry_in": 0.2},
    ]
    assert telegram.token not in caplog.text


async def test_connection_refused_is_waited_out_until_telegram_is_back(
    settings: Settings,
    flood_clock: ManualMonotonic,
    start: Callable[..., Serving],
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there yet
    later = FakeTelegram(monotonic=flood_clock)
    group = later.add_group("Partners")
    pauses = Pauses()
    serving = start(
        settings.model_copy(
            update={
                "telegram_api_url": f"http://127.0.0.1:{port}",
                "partner_chat_id": group.id,
                "outbox_interval_seconds": 0.1,
            }
        ),
        pauses,
    )
    await pauses.wait_for(3)
    assert not serving.task.done()
    assert {event["error"] for event in events(caplog, "telegram.unreachable")} == {"NetworkError"}
    await later.start(port=port)
    try:
        await serving.started()
        user = later.add_user("Eva", language_code="en")
        later.send_text(user, "/start")
        await later.wait_for_message(user.id, contains="Welcome", timeout=EVENT_TIMEOUT)
    finally:
        serving.stop.set()
        await asyncio.wait_for(serving.task, timeout=10)
        await later.stop()


async def test_stop_ends_the_wait_for_telegram_at_once(
    bot_settings: Settings, telegram: FakeTelegram, start: Callable[..., Serving]
) -> None:
    telegram.fail_next("getMe", count=1)
    pauses = Pauses(hold=True)  # a wait that would never end by itself
    serving = start(bot_settings, pauses)
    await pauses.wait_for(1)
    serving.stop.set()
    await asyncio.wait_for(serving.task, timeout=2)  # returns, raises nothing
    assert not serving.ready.is_set()


async def test_a_5xx_on_the_menus_does_not_stop_the_start(
    bot_settings: Settings,
    telegram: FakeTelegram,
    start: Callable[..., Serving],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    telegram.fail_next("setMyCommands", count=2, status=500)
    serving = start(bot_settings)
    await serving.started()
    user = telegram.add_user("Eva", language_code="en")
    telegram.send_text(user, "/start")
    await telegram.wait_for_message(user.id, contains="Welcome", timeout=EVENT_TIMEOUT)
    # The open menus (default, nl, en) are set by a later try from the job queue.
    await telegram.wait_for_call(
        "setMyCommands", predicate=lambda call: call.ok, count=3, timeout=EVENT_TIMEOUT
    )
    menu = telegram.commands({"type": "all_private_chats"}, "en")
    assert [command["command"] for command in menu][:2] == ["start", "help"]
    assert [e["attempt"] for e in events(caplog, "startup.call_retry")] == [1, 2]
    assert await logged(caplog, "startup.call_done") == [{"call": "command_lists"}]


async def test_a_5xx_on_the_rights_check_is_asked_again_without_alarm(
    bot_settings: Settings, telegram: FakeTelegram, start: Callable[..., Serving]
) -> None:
    core = open_core(bot_settings)
    world = seed_world(core, telegram)
    core.db.dispose()
    telegram.fail_next("getChatMember", count=1, status=503)
    await start(bot_settings).started()
    checked = await telegram.wait_for_call(
        "getChatMember", predicate=lambda call: call.ok, timeout=EVENT_TIMEOUT
    )
    assert checked.result["status"] == "administrator"
    assert [call.status for call in telegram.calls("getChatMember")] == [503, 200]
    alarms = [m for m in telegram.messages_to(world.coordinator.id) if "beheerder" in m.text]
    assert alarms == []
