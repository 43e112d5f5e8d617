"""The `vhbot run` process: start, poll, run the schedule, stop cleanly.

Also `sweep_once`: every due duty once, for `vhbot sweep`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from dataclasses import dataclass
from typing import Any

from telegram.error import InvalidToken, NetworkError
from telegram.ext import AIORateLimiter, Application, ContextTypes

from bot.app import ALLOWED_UPDATES, Core, build_application, tally_editor
from bot.config import SettingsError
from bot.handlers.group import check_group_rights
from bot.handlers.start import publish_command_lists
from bot.handlers.wait import DatabaseWait
from bot.intake import Intake
from bot.privacy.anchor_file import AnchorFileError
from bot.scheduling.duties import Duty, check_and_anchor, duties
from bot.scheduling.group_removal import remove_deactivated_members, schedule_group_removal
from bot.scheduling.outbox_sender import drain_outbox
from bot.storage.engine import unavailable

log = logging.getLogger(__name__)

# Seconds before a duty that met the database away runs again; doubled up to the most.
DUTY_RETRY_FIRST = 1.0
DUTY_RETRY_MAX = 15.0


def _schedule(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    job_queue = application.job_queue
    if job_queue is None:  # pragma: no cover - the job-queue extra is a dependency
        raise RuntimeError("python-telegram-bot was installed without its job-queue extra")

    def database_job(duty: Duty) -> Any:
        # A run that met the database away is tried again soon (backoff up to
        # DUTY_RETRY_MAX), not at the duty's next turn, which may be a day away;
        # meanwhile its regular turns leave it to the retry.
        retry_in: float | None = None

        async def job(context: ContextTypes.DEFAULT_TYPE) -> None:
            nonlocal retry_in
            is_retry = context.job is not None and context.job.name != duty.name
            if retry_in is not None and not is_retry:
                return
            try:
                done = await core.db.run(duty.run, core)
            except Exception as error:
                if not unavailable(error):
                    retry_in = None
                    raise
                core.db.outages.failed(duty.name, error)
                delay = retry_in or DUTY_RETRY_FIRST
                retry_in = min(delay * 2, DUTY_RETRY_MAX)
                job_queue.run_once(job, when=delay, name=f"{duty.name}:retry")
                return
            retry_in = None
            core.db.outages.worked(duty.name)
            if done:
                log.info("duty.done", extra={"duty": duty.name, "count": done})

        return job

    for duty in duties(core):
        job = database_job(duty)
        job_queue.run_repeating(
            job, interval=duty.every_seconds, first=duty.every_seconds, name=duty.name
        )
        if duty.at_start:
            # Each runs at start-up too, catching up whatever downtime left. Not with
            # run_repeating(first=0): APScheduler takes a start already past as
            # missed and runs it first one whole interval later (see PTB's docs).
            job_queue.run_once(job, when=0, name=duty.name)

    async def send_outbox(context: ContextTypes.DEFAULT_TYPE) -> None:
        await drain_outbox(context.bot, core)

    job_queue.run_repeating(
        send_outbox, interval=core.settings.outbox_interval_seconds, first=0, name="outbox"
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
    rate_limiter: AIORateLimiter | None = None,
) -> None:
    """Run the bot until `stop` is set. Raises SettingsError for a refused token or API URL."""
    application = build_application(core, rate_limiter=rate_limiter)
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
        intake = Intake(application, allowed_updates=ALLOWED_UPDATES, timeout=poll_timeout)
        polling = asyncio.create_task(intake.run(stop), name="intake")
        log.info("bot.started", extra={"username": application.bot.username})
        if ready is not None:
            ready.set()
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
        log.info("bot.stopping")
        stop.set()
        DatabaseWait.of(application).stop()  # an update waiting for the database is cut
        try:
            await polling
        except InvalidToken:
            raise SettingsError("VHBOT_TELEGRAM_TOKEN: Telegram refused this token") from None
        finally:
            await application.stop()
    finally:
        await tally_editor(application).close()
        await application.shutdown()
        log.info("bot.stopped")


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
            sent = await drain_outbox(application.bot, core)
            await tally_editor(application).catch_up(application.bot)
            await remove_deactivated_members(application.bot, core)
            return sent

    return SweepReport(done, asyncio.run(send()))
