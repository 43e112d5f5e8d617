"""Hostile review of issue 8: a stop while the database does not answer at all (a
network partition)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeTelegram
from tests.app.test_db_outage import TcpProxy


class BlackHoleProxy(TcpProxy):
    """Like TcpProxy, but when cut, new connections are accepted and never answered
    (packets dropped by a firewall, a host gone from the network)."""

    def __init__(self, host: str, port: int) -> None:
        self.swallowed: list[socket.socket] = []
        super().__init__(host, port)

    def _turn_away(self, client: socket.socket) -> None:
        self.swallowed.append(client)  # held open, silent


@pytest.fixture
def proxy(settings: Settings) -> Iterator[BlackHoleProxy]:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        pytest.skip("a network partition needs PostgreSQL")
    made = BlackHoleProxy(url.host or "", url.port or 5432)
    yield made
    made.close()
    for sock in made.swallowed:
        sock.close()


async def test_stop_within_10_s_while_the_database_does_not_answer(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, proxy: BlackHoleProxy
) -> None:
    """Issue 8.7 with the database partitioned away: PostgreSQL connections have no
    connect_timeout (bot/storage/engine.py), so a connect waits for ever in a worker
    thread; the outbox loop is cut after 8 s, but Application.stop() waits for the running
    duty jobs, stuck in the same way. systemd kills the process at 30 s."""
    url = make_url(bot_settings.database_url).set(host="127.0.0.1", port=proxy.port)
    settings = bot_settings.model_copy(
        update={"database_url": url.render_as_string(hide_password=False)}
    )
    core = open_core(settings, clock=clock)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        proxy.cut()  # connections break; new ones hang
        await asyncio.sleep(1.0)  # the outbox loop and duties reconnect, and hang
        started = time.monotonic()
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=20)
        took = time.monotonic() - started
    finally:
        stop.set()
        proxy.restore()
        for sock in proxy.swallowed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, timeout=10)
        core.db.dispose()
    assert took < 10, f"stopping took {took:.1f} s"
