"""A database outage loses nothing people pressed or said (issue 8, item 5).

The outage is real at the driver's edge: on PostgreSQL the bot reaches the server
through a TCP proxy that the test cuts and restores; on SQLite every statement is
refused the way SQLite refuses when it cannot open its file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import col, func, select

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.logs import JsonLineFormatter
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram, SentMessage
from bot.storage.models import Answer, AuditEntry
from tests.app.conftest import EVENT_TIMEOUT, RunningBot, World, seed_world, until
from tests.app.test_answers import announced as announced  # the fixture
from tests.app.test_detention import announcements, write_dpan
from tests.conftest import People

ONE_MOMENT = "Een moment geduld: ik handel dit af zodra ik kan."
WHOAMI = "Je bent lid"


class TcpProxy:
    """127.0.0.1:<port> to a PostgreSQL server, cut and restored at will.

    Threads, not the test's event loop: tests (and the bot's start-up) also use the
    database from the loop's own thread, which would then wait on itself.
    """

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port: int = self._listener.getsockname()[1]
        self._up = True
        self._closing = False
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def cut(self) -> None:
        """Every connection breaks; new ones are closed at once."""
        self._up = False
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def restore(self) -> None:
        self._up = True

    def close(self) -> None:
        self._closing = True
        self.cut()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._closing:
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            if not self._up:
                self._turn_away(client)
                continue
            try:
                upstream = socket.create_connection(self._target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _turn_away(self, client: socket.socket) -> None:
        """A connection while cut: closed at once (the server refuses)."""
        client.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


class Outage:
    """The database away and back, for the bot's engine only (see the module's note)."""

    def __init__(self, proxy: TcpProxy | None) -> None:
        self._proxy = proxy
        self._down = False
        self._engines: list[Engine] = []

    def url(self, url: str) -> str:
        """The URL the bot must use so that the outage reaches it."""
        if self._proxy is None:
            return url
        proxied = make_url(url).set(host="127.0.0.1", port=self._proxy.port)
        return proxied.render_as_string(hide_password=False)

    def watch(self, engine: Engine) -> None:
        """SQLite: refuse `engine`'s statements while down (PostgreSQL: the proxy does)."""
        if self._proxy is None:
            event.listen(engine, "before_cursor_execute", self._refuse)
            self._engines.append(engine)

    def cut(self) -> None:
        self._down = True
        if self._proxy is not None:
            self._proxy.cut()

    def restore(self) -> None:
        self._down = False
        if self._proxy is not None:
            self._proxy.restore()

    def close(self) -> None:
        for engine in self._engines:
            event.remove(engine, "before_cursor_execute", self._refuse)
        if self._proxy is not None:
            self._proxy.close()

    def _refuse(self, *_args: Any) -> None:
        if self._down:
            raise sqlite3.OperationalError("unable to open database file")


@pytest.fixture
def outage(settings: Settings) -> Iterator[Outage]:
    url = make_url(settings.database_url)
    proxy = (
        None if url.get_backend_name() == "sqlite" else TcpProxy(url.host or "", url.port or 5432)
    )
    made = Outage(proxy)
    yield made
    made.close()


@pytest.fixture
def bot_settings(bot_settings: Settings, outage: Outage) -> Settings:
    return bot_settings.model_copy(update={"database_url": outage.url(bot_settings.database_url)})


@pytest.fixture
def db_outage(running: RunningBot, outage: Outage) -> Outage:
    outage.watch(running.core.db.engine)
    return outage


@contextlib.asynccontextmanager
async def serving(settings: Settings, clock: FrozenClock, outage: Outage) -> AsyncIterator[Core]:
    """`vhbot run` (like the `running` fixture), stopped when the block ends."""
    core = open_core(settings, clock=clock)
    outage.watch(core.db.engine)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
    try:
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            {task, waiter}, timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()
        assert waiter in done, "the bot did not start within 10 s"
        yield core
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
        core.db.dispose()


def lines(caplog: pytest.LogCaptureFixture, event_name: str, job: str) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.getMessage() == event_name and getattr(r, "job", None) == job
    ]


def assert_log_names_the_outage(
    caplog: pytest.LogCaptureFixture, settings: Settings, job: str, *, private: list[str]
) -> None:
    """One line when `job` met the outage and one when it was over, naming the database
    (no password) and the job; nothing in the whole log quotes SQL or a person."""
    [away] = lines(caplog, "database.unavailable", job)
    [back] = lines(caplog, "database.back", job)
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    assert (away.database, back.database) == (database, database)  # type: ignore[attr-defined]
    assert away.error == "OperationalError"  # type: ignore[attr-defined]
    formatter = JsonLineFormatter()
    log = "\n".join(formatter.format(record) for record in caplog.records)
    for word in ["SELECT", "INSERT", "UPDATE ", "BEGIN", "Traceback", *private]:
        assert word not in log
    # No update failed for the database (the outbox job's failures are not ours here).
    failed = [
        r.error  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "handler.error" and r.update_id is not None  # type: ignore[attr-defined]
    ]
    assert "OperationalError" not in failed


def messages(telegram: FakeTelegram, chat_id: int, contains: str) -> list[SentMessage]:
    return [m for m in telegram.messages_to(chat_id) if contains in m.text]


def recorded_answers(core: Core) -> tuple[list[tuple[int, bool]], int]:
    """The answers stored, and how many times an answer was recorded (audit)."""
    with core.db.session() as session:
        stored = [(a.organisation_id, a.known) for a in session.exec(select(Answer))]
        audited = session.exec(
            select(func.count()).where(col(AuditEntry.action) == "answer.record")
        ).one()
    return stored, audited


async def test_a_press_in_an_outage_is_recorded_once_the_database_is_back(
    running: RunningBot,
    world: World,
    announced: SentMessage,
    db_outage: Outage,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    telegram = running.telegram
    db_outage.cut()
    running.flood_clock.advance(1.0)
    query = telegram.press_button(world.partner, announced, announced.button_data("Bekend"))
    # The gate meets the outage first (it checks who is in the group).
    await until(lambda: lines(caplog, "database.unavailable", "gate.gate"), "the outage met")
    clock.advance(timedelta(seconds=3))
    answered = await until(lambda: telegram.callback_answers.get(query), "one moment")
    assert answered["text"] == ONE_MOMENT
    db_outage.restore()

    await until(lambda: recorded_answers(running.core)[0], "the answer recorded")
    await until(lambda: not telegram.pending_updates, "the press confirmed to Telegram")
    stored, audited = recorded_answers(running.core)
    assert (stored, audited) == ([(stored[0][0], True)], 1)
    await until(lambda: lines(caplog, "database.back", "gate.gate"), "the end of the outage")
    assert_log_names_the_outage(
        caplog, running.core.settings, "gate.gate", private=["Bram", "Testlid"]
    )


async def test_a_command_in_an_outage_is_answered_once_the_database_is_back(
    running: RunningBot,
    world: World,
    db_outage: Outage,
    clock: FrozenClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    telegram, person = running.telegram, world.casemanager
    db_outage.cut()
    running.flood_clock.advance(1.0)
    telegram.send_text(person, "/wie")
    await until(lambda: lines(caplog, "database.unavailable", "members.whoami"), "the outage")
    clock.advance(timedelta(seconds=3))
    await telegram.wait_for_message(person.id, contains=ONE_MOMENT, timeout=EVENT_TIMEOUT)
    db_outage.restore()

    await telegram.wait_for_message(person.id, contains=WHOAMI, timeout=EVENT_TIMEOUT)
    await until(lambda: not telegram.pending_updates, "the command confirmed to Telegram")
    await until(lambda: lines(caplog, "database.back", "members.whoami"), "the end of the outage")
    assert len(messages(telegram, person.id, ONE_MOMENT)) == 1
    assert len(messages(telegram, person.id, WHOAMI)) == 1
    assert_log_names_the_outage(
        caplog, running.core.settings, "members.whoami", private=["Sanne", "Testlid"]
    )


async def test_a_stop_in_an_outage_leaves_the_update_for_the_next_start(
    bot_settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    partner_group: FakeChat,
    outage: Outage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with serving(bot_settings, clock, outage) as core:
        world = seed_world(core, telegram)
        outage.cut()
        telegram.send_text(world.casemanager, "/wie")
        await until(lambda: lines(caplog, "database.unavailable", "members.whoami"), "the outage")
        stopped_at = time.monotonic()
    assert time.monotonic() - stopped_at < 5
    waiting = [u["message"]["text"] for u in telegram.pending_updates if "message" in u]
    assert waiting == ["/wie"]
    assert messages(telegram, world.casemanager.id, WHOAMI) == []

    outage.restore()
    async with serving(bot_settings, clock, outage):
        await telegram.wait_for_message(
            world.casemanager.id, contains=WHOAMI, timeout=EVENT_TIMEOUT
        )
        await until(lambda: not telegram.pending_updates, "the command confirmed to Telegram")
    assert len(messages(telegram, world.casemanager.id, WHOAMI)) == 1


async def test_an_inbox_file_that_met_the_outage_is_imported_once_the_database_is_back(
    bot_settings: Settings,
    clock: FrozenClock,
    telegram: FakeTelegram,
    partner_group: FakeChat,
    outage: Outage,
    people: People,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The inbox's next turn is an hour away: only the retry after the outage imports it,
    and only if the file it had claimed is not left waiting to go stale."""
    caplog.set_level(logging.INFO)
    settings = bot_settings.model_copy(update={"inbox_interval_seconds": 3600.0})
    inbox = Path(settings.inbox_dir)
    os.makedirs(inbox, exist_ok=True)
    dpan = write_dpan(inbox / "dpan.csv", [people.identity()])
    settled = time.time() - 60
    os.utime(dpan, (settled, settled))

    cut: list[bool] = []

    def cut_when_start_up_is_done(method: str, _params: Any) -> None:
        # The last thing `vhbot run` asks before its duties run for the first time.
        if method == "getChatMember" and not cut:
            cut.append(True)
            outage.cut()

    telegram.payload_observers.append(cut_when_start_up_is_done)
    async with serving(settings, clock, outage):
        await until(lambda: lines(caplog, "database.unavailable", "import_inbox"), "the outage")
        assert os.listdir(inbox / "processing") != []  # claimed when the outage hit it
        outage.restore()
        await announcements(telegram, partner_group.id, 1)
        await until(lambda: lines(caplog, "database.back", "import_inbox"), "the end")
    assert os.listdir(inbox / "processing") == []
    assert not dpan.exists()
    identity = people.made[0]
    assert_log_names_the_outage(
        caplog, settings, "import_inbox", private=[identity.surname, identity.given_names]
    )


async def test_a_delivery_the_outage_kept_from_being_recorded_is_recorded_once(
    running: RunningBot, world: World, db_outage: Outage, people: People, tmp_path: Path
) -> None:
    """The database goes away while an announcement is on its way to Telegram: the
    delivery is recorded when it is back, and the announcement is not sent again."""
    from bot.services import outbox
    from bot.services.audit import CLI
    from tests.app.test_detention import recorded

    telegram, core = running.telegram, running.core

    def cut_while_sending(method: str, params: Any) -> None:
        if method == "sendMessage" and "detentiemelding" in str(params.get("text")):
            db_outage.cut()

    telegram.payload_observers.append(cut_while_sending)
    path = write_dpan(tmp_path / "one.csv", [people.identity()])
    assert core.detention.import_path(path, actor=CLI).new == 1
    await telegram.wait_for_call("sendMessage", predicate=lambda c: c.ok, timeout=EVENT_TIMEOUT)
    telegram.payload_observers.remove(cut_while_sending)
    await asyncio.sleep(0.5)
    db_outage.restore()
    await recorded(core, 1)
    running.core.clock.advance(outbox.LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
    await asyncio.sleep(0.5)  # a pass or two of the sender
    sends = [c for c in telegram.calls("sendMessage") if "detentiemelding" in str(c.params)]
    assert len(sends) == 1
