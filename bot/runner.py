"""The `vhbot run` process: start, poll, run the schedule, stop cleanly.

Also `sweep_once`: every due duty once, for `vhbot sweep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass
from typing import Any

from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application, ContextTypes

from bot.app import ALLOWED_UPDATES, Core, build_application, outbox_sender, tally_editor
from bot.config import SettingsError
from bot.handlers.group import check_group_rights
from bot.handlers.start import publish_command_lists
from bot.privacy.anchor_file import AnchorFileError
from bot.scheduling.duties import Duty, check_and_anchor, duties
from bot.scheduling.group_removal import remove_deactivated_members, schedule_group_removal
from bot.scheduling.pacer import Pacer

log = logging.getLogger(__name__)


def _schedule(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    job_queue = application.job_queue
    if job_queue is None:  # pragma: no cover - the job-queue extra is a dependency
        raise RuntimeError("python-telegram-bot was installed without its job-queue extra")

    def database_job(duty: Duty) -> Any:
        async def job(_context: ContextTypes.DEFAULT_TYPE) -> None:
            done = await core.db.run(duty.run, core)
            if done:
                log.info("duty.done", extra={"duty": duty.name, "count": done})

        return job

    # first=0: each duty runs at start-up too, catching up whatever downtime left.
    for duty in duties(core):
        job_queue.run_repeating(
            database_job(duty),
            interval=duty.every_seconds,
            first=0 if duty.at_start else duty.every_seconds,
            name=duty.name,
        )

    async def catch_up_tallies(context: ContextTypes.DEFAULT_TYPE) -> None:
        await tally_editor(application).catch_up(context.bot)

    job_queue.run_once(catch_up_tallies, when=0, name="tally_catch_up")
    schedule_group_removal(application, core)


async def serve(
    core: Core,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    poll_timeout: int = 10,
    pacer: Pacer | None = None,
) -> None:
    """Run the bot until `stop` is set. Raises SettingsError for a refused token or API URL."""
    application = build_application(core, pacer=pacer)
    try:
        await application.initialize()  # calls getMe
    except InvalidToken:
        raise SettingsError("VHBOT_TELEGRAM_TOKEN: Telegram refused this token") from None
    except NetworkError as exc:
        raise SettingsError(
            f"VHBOT_TELEGRAM_API_URL: cannot reach {core.settings.telegram_api_url} "
            f"({type(exc).__name__})"
        ) from None
    try:
        await anchor_audit_log(core)
        await publish_command_lists(application.bot, core)
        await check_group_rights(application.bot, core)
        _schedule(application, core)
        await application.start()
        assert application.updater is not None  # noqa: S101 - built with an updater
        await application.updater.start_polling(
            allowed_updates=ALLOWED_UPDATES, timeout=poll_timeout, poll_interval=0.0
        )
        # The outbox is sent by its own loop, not a job: it finishes the send in
        # flight when asked to stop, and never sleeps through a rate limit.
        sending = asyncio.create_task(outbox_sender(application).run(application.bot, stop))
        log.info("bot.started", extra={"username": application.bot.username})
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("bot.stopping")
        await application.updater.stop()
        await _finish(sending, within=SEND_IN_FLIGHT_SECONDS)
        await application.stop()
    finally:
        await tally_editor(application).close()
        await application.shutdown()
        log.info("bot.stopped")


# How long a stop waits for the sends in flight (systemd allows 30 s in all).
SEND_IN_FLIGHT_SECONDS = 8.0


async def _finish(task: asyncio.Task[None], *, within: float) -> None:
    """Wait for `task` to end by itself; cancel it when it takes longer than `within`."""
    done, _pending = await asyncio.wait({task}, timeout=within)
    if not done:
        log.warning("bot.stop_cut_short", extra={"task": "outbox"})
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def anchor_audit_log(core: Core) -> None:
    """Check the audit log and anchor its head before serving; SettingsError if it cannot be."""
    try:
        await core.db.run(check_and_anchor, core)
    except AnchorFileError as exc:
        raise SettingsError(f"VHBOT_AUDIT_ANCHOR_FILE: {exc}") from None


def run_forever(core: Core) -> None:
    """Blocking entry for `vhbot run`: SIGTERM and SIGINT stop it cleanly."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(core, stop=stop)

    asyncio.run(main())


@dataclass(frozen=True)
class SweepReport:
    duties: dict[str, int]
    sent: int | None  # None: no Telegram configured, messages stay queued


def sweep_once(core: Core) -> SweepReport:
    """Every duty once, then send what is queued (when Telegram is configured)."""
    done = {duty.name: duty.run(core) for duty in duties(core)}
    if core.settings.telegram_token is None or core.settings.partner_chat_id is None:
        return SweepReport(done, None)

    async def send() -> int:
        application = build_application(core)
        async with application:
            sent = await outbox_sender(application).drain(application.bot)
            await tally_editor(application).catch_up(application.bot)
            await remove_deactivated_members(application.bot, core)
            return sent

    return SweepReport(done, asyncio.run(send()))
