"""`vhbot run` as a real process: starts, answers, stops cleanly on SIGTERM, waits for
Telegram when it is away."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.sandbox.fake_telegram import FakeTelegram
from bot.storage import migrate
from bot.storage.engine import make_engine
from bot.storage.models import OutboxMessage
from tests.conftest import People, free_port, process_env, start_vhbot

pytestmark = pytest.mark.slow


async def test_vhbot_run_answers_and_stops_on_sigterm(
    bot_settings: Settings, telegram: FakeTelegram
) -> None:
    engine = make_engine(bot_settings.database_url)
    migrate.ensure_current(engine)
    engine.dispose()
    env = process_env(
        bot_settings, VHBOT_TELEGRAM_TOKEN=telegram.token, VHBOT_TELEGRAM_API_URL=telegram.api_root
    )
    process = await start_vhbot("run", env=env)
    try:
        await telegram.wait_until_polling(timeout=20)
        user = telegram.add_user("Eva", language_code="en")
        telegram.send_text(user, "/start")
        await telegram.wait_for_message(user.id, contains="Welcome", timeout=10)
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    log = stderr.decode()
    assert telegram.token not in log
    events = [json.loads(line)["event"] for line in log.splitlines()]
    assert "bot.started" in events and events[-1] == "bot.stopped"


async def test_refused_token_is_one_line(bot_settings: Settings, telegram: FakeTelegram) -> None:
    env = process_env(
        bot_settings, VHBOT_TELEGRAM_TOKEN="999:WRONG", VHBOT_TELEGRAM_API_URL=telegram.api_root
    )
    process = await start_vhbot("run", env=env)
    _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 2
    lines = [line for line in stderr.decode().splitlines() if not line.startswith("{")]
    assert lines == ["vhbot: VHBOT_TELEGRAM_TOKEN: Telegram refused this token"]
    assert "WRONG" not in stderr.decode()


async def test_sigterm_stops_within_10_s_with_a_long_queue(
    bot_settings: Settings, telegram: FakeTelegram, people: People, tmp_path: Path
) -> None:
    """Issue 8.7: 60 announcements queued, the group's minute used up: SIGTERM ends the
    process within 10 s; what was not sent stays queued, unclaimed, for the next start."""
    from bot.app import open_core
    from bot.services.audit import CLI
    from tests.app.test_detention import write_dpan

    core = open_core(bot_settings)
    path = write_dpan(tmp_path / "dpan.csv", [people.identity() for _ in range(60)])
    assert core.detention.import_path(path, actor=CLI).new == 60
    env = process_env(
        bot_settings, VHBOT_TELEGRAM_TOKEN=telegram.token, VHBOT_TELEGRAM_API_URL=telegram.api_root
    )
    process = await start_vhbot("run", env=env)
    try:
        await telegram.wait_for_call(
            "sendMessage",
            predicate=lambda c: "detentiemelding" in str(c.params.get("text")),
            count=10,
            timeout=30,
        )
        process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        took = time.monotonic() - started
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert took < 10, f"stopping took {took:.1f} s"
    with core.db.session() as session:
        rows = session.exec(select(OutboxMessage)).all()
        pending = [row for row in rows if row.status == "pending"]
        assert pending, "the group's limit should have kept some back"
        assert all(row.claimed_until is None for row in pending)
    core.db.dispose()


async def test_vhbot_run_waits_for_telegram_and_stops_on_sigterm(bot_settings: Settings) -> None:
    """The process: an unreachable API is no configuration error (exit 2); SIGTERM ends it."""
    engine = make_engine(bot_settings.database_url)
    migrate.ensure_current(engine)
    engine.dispose()
    env = process_env(
        bot_settings,
        VHBOT_TELEGRAM_TOKEN="123456:TEST-TOKEN",
        VHBOT_TELEGRAM_API_URL=f"http://127.0.0.1:{free_port()}",
    )
    process = await start_vhbot("run", env=env)
    try:
        assert process.stderr is not None
        async with asyncio.timeout(20):
            while True:
                line = await process.stderr.readline()
                assert line.startswith(b"{"), f"vhbot run gave up: {line!r}"
                if json.loads(line).get("event") == "telegram.unreachable":
                    break
        process.send_signal(signal.SIGTERM)
        _stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=5)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert "TEST-TOKEN" not in line.decode() + stderr.decode()
    assert [json.loads(entry)["event"] for entry in stderr.decode().splitlines()][-1] == (
        "bot.stopped"
    )
