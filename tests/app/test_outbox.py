"""The outbox: nothing lost when Telegram is away, nothing sent twice by two processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import select
from telegram import Bot

from bot.app import Core, open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.safe import MemberName, SafeText
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram
from bot.scheduling.outbox_sender import drain_outbox
from bot.services.audit import CLI
from bot.storage.models import Announcement, OutboxMessage
from tests.app.conftest import RunningBot
from tests.app.test_detention import write_dpan
from tests.conftest import People, process_env, start_vhbot


def _queue(core: Core, people: People, tmp_path: Path, count: int) -> None:
    report = core.detention.import_path(
        write_dpan(tmp_path / "dpan.csv", [people.identity() for _ in range(count)]), actor=CLI
    )
    assert report.new == count


async def test_unreachable_telegram_then_sent_once(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, partner_group: FakeChat,
    people: People, tmp_path: Path,
) -> None:  # fmt: skip
    core = open_core(bot_settings, clock=clock)
    _queue(core, people, tmp_path, 3)
    port = int(telegram.api_root.rsplit(":", 1)[1])
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        # Telegram away (connection refused): nothing sent, all stays queued.
        await telegram.stop()
        assert await drain_outbox(bot, core) == 0
        with core.db.session() as session:
            rows = session.exec(select(OutboxMessage)).all()
            assert {r.status for r in rows} == {"pending"}
            # Each message is tried once at most; the pass gives up after a few in a row.
            from bot.scheduling.outbox_sender import MAX_FAILURES_IN_A_ROW

            tried = [r.last_error for r in rows if r.attempts]
            assert tried == ["NetworkError"] * min(3, MAX_FAILURES_IN_A_ROW)
            assert all(r.attempts <= 1 for r in rows)
        # Back: passes over the next minutes send each message (a pooled connection
        # from before the outage may fail once more; that message simply waits).
        await telegram.start(port=port)
        sent_total = 0
        for _ in range(6):
            clock.advance(timedelta(minutes=1))
            sent_total += await drain_outbox(bot, core)
        assert sent_total == 3
    sent = [m for m in telegram.messages_to(partner_group.id) if "detentiemelding" in m.text]
    assert len(sent) == 3
    assert len({m.text for m in sent}) == 3
    with core.db.session() as session:
        assert all(a.message_id for a in session.exec(select(Announcement)))
    core.db.dispose()


async def test_two_senders_never_send_the_same_message(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, partner_group: FakeChat,
    people: People, tmp_path: Path,
) -> None:  # fmt: skip
    first = open_core(bot_settings, clock=clock)
    second = open_core(bot_settings, clock=clock)  # another process: its own engine
    _queue(first, people, tmp_path, 12)
    telegram_limits = telegram  # the fake's limits stay on; the group burst allows 20
    async with (
        Bot(telegram.token, base_url=telegram.base_url) as bot_a,
        Bot(telegram.token, base_url=telegram.base_url) as bot_b,
    ):
        sent_a, sent_b = await asyncio.gather(
            drain_outbox(bot_a, first, batch=3), drain_outbox(bot_b, second, batch=3)
        )
    assert sent_a + sent_b == 12
    texts = [m.text for m in telegram_limits.messages_to(partner_group.id)]
    assert len(texts) == 12
    assert len(set(texts)) == 12
    first.db.dispose()
    second.db.dispose()


async def test_file_imported_by_another_process_is_announced_by_the_running_bot(
    running: RunningBot, people: People, tmp_path: Path, clock: FrozenClock
) -> None:
    settings = running.core.settings
    dpan = write_dpan(tmp_path / "dpan.csv", [people.identity() for _ in range(2)])
    env = process_env(settings)
    process = await start_vhbot("import", "dpan", str(dpan), env=env)
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert "2 new, 0 duplicate, 0 rejected" in stdout.decode()
    # The importer read the system clock; the running bot (a frozen test clock) catches up.
    clock.set(datetime.now(UTC) + timedelta(seconds=1))
    await running.telegram.wait_for_call(
        "sendMessage",
        predicate=lambda c: "detentiemelding" in str(c.params.get("text")),
        count=2,
        timeout=30,
    )


async def test_a_message_the_guard_refuses_is_withheld_and_coordinators_told(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, people: People
) -> None:
    from bot.app import build_application
    from bot.domain.roles import Role
    from bot.services import outbox

    core = open_core(bot_settings, clock=clock)
    leaked = people.identity()
    coordinator = telegram.add_user("Fenna", started=True)
    with core.db.session() as session:
        core.vault.register(session, leaked, actor=CLI)
        core.memberships.add_organisation(
            session, name="Reclassering", code="RN", themes=None, actor=CLI
        )
        core.memberships.add_member(
            session, telegram_id=coordinator.id, name="Fenna Testlid", organisation_code="RN",
            roles=[Role.COORDINATOR], actor=CLI,
        )  # fmt: skip
        # A bug elsewhere put a held person's name in a safe kind: the guard must stop it.
        leaked_name = f"{leaked.given_names.split()[0]} {leaked.surname}"
        outbox.enqueue(
            session, key="bad:1", chat_id=bot_settings.partner_chat_id or 0,
            text=SafeText.layout("{}", MemberName(leaked_name)), now=clock.now(),
        )  # fmt: skip
    application = build_application(core)  # the real request stack, with the guard
    async with application:
        assert await drain_outbox(application.bot, core) == 0
    with core.db.session() as session:
        row = session.exec(select(OutboxMessage).where(OutboxMessage.dedupe_key == "bad:1")).one()
        assert (row.status, row.last_error) == ("failed", "PiiRefused")
        # No clear copy stays behind: the withheld text is kept only encrypted.
        assert leaked.surname not in row.text + row.text_values
        assert row.text_ct is not None and leaked.surname not in row.text_ct
        assert core.cipher.decrypt(row.text_ct, context=outbox.WITHHELD_TEXT_CONTEXT) == leaked_name
    [notice] = telegram.messages_to(coordinator.id)
    assert "niet verstuurd" in notice.text
    assert leaked.surname not in notice.text
    assert all(leaked.surname not in str(c.params) for c in telegram.requests)
    core.db.dispose()


async def test_one_failed_send_delays_only_that_message(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, partner_group: FakeChat,
    people: People, tmp_path: Path,
) -> None:  # fmt: skip
    """Issue 8.1: a 500 on the first of five announcements; the other four go at once."""
    core = open_core(bot_settings, clock=clock)
    _queue(core, people, tmp_path, 5)
    telegram.fail_next("sendMessage", status=500)
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        assert await drain_outbox(bot, core) == 4
        with core.db.session() as session:
            [waiting] = session.exec(
                select(OutboxMessage).where(OutboxMessage.status == "pending")
            ).all()
            assert waiting.claimed_until is None and waiting.attempts == 1
            assert waiting.next_attempt_at == clock.now() + timedelta(seconds=10)
        clock.advance(timedelta(seconds=10))  # its own backoff, nothing longer
        assert await drain_outbox(bot, core) == 1
    announced = [m for m in telegram.messages_to(partner_group.id) if "detentiemelding" in m.text]
    assert len(announced) == 5
    core.db.dispose()


async def test_a_pass_that_stops_gives_the_rest_back_at_once(
    bot_settings: Settings, clock: FrozenClock, telegram: FakeTelegram, partner_group: FakeChat,
    people: People, tmp_path: Path,
) -> None:  # fmt: skip
    """Several failures in a row stop the pass; the untried rows do not wait for a lease."""
    from bot.scheduling.outbox_sender import MAX_FAILURES_IN_A_ROW

    core = open_core(bot_settings, clock=clock)
    _queue(core, people, tmp_path, 6)
    telegram.fail_next("sendMessage", count=MAX_FAILURES_IN_A_ROW, status=502)
    async with Bot(telegram.token, base_url=telegram.base_url) as bot:
        assert await drain_outbox(bot, core) == 0
        with core.db.session() as session:
            rows = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
            assert [r.attempts for r in rows] == [1] * MAX_FAILURES_IN_A_ROW + [0] * (
                6 - MAX_FAILURES_IN_A_ROW
            )
            assert all(r.claimed_until is None for r in rows)  # due again, no lease to wait for
        assert await drain_outbox(bot, core) == 6 - MAX_FAILURES_IN_A_ROW
    core.db.dispose()
