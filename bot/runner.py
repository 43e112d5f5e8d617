"""The `vhbot run` process: start, poll, run the schedule, stop cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application, ContextTypes

from bot.app import ALLOWED_UPDATES, Core, build_application
from bot.config import SettingsError
from bot.handlers.group import check_group_rights
from bot.handlers.start import publish_command_lists
from bot.scheduling.duties import DAILY_DUTIES, DailyDuty
from bot.scheduling.group_removal import schedule_group_removal

log = logging.getLogger(__name__)


def _schedule(application: Application[Any, Any, Any, Any, Any, Any], core: Core) -> None:
    job_queue = application.job_queue
    if job_queue is None:  # pragma: no cover - the job-queue extra is a dependency
        raise RuntimeError("python-telegram-bot was installed without its job-queue extra")

    def make_job(duty: DailyDuty) -> Any:
        async def job(_context: ContextTypes.DEFAULT_TYPE) -> None:
            await core.db.run(duty.run, core, core.clock.now())

        return job

    for duty in DAILY_DUTIES:
        job_queue.run_daily(
            make_job(duty), time=duty.at.replace(tzinfo=core.settings.tz), name=duty.name
        )


async def serve(
    core: Core,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    poll_timeout: int = 10,
) -> None:
    """Run the bot until `stop` is set. Raises SettingsError for a refused token or API URL."""
    application = build_application(core)
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
        await publish_command_lists(application.bot, core)
        await check_group_rights(application.bot, core)
        _schedule(application, core)
        schedule_group_removal(application, core)
        await application.start()
        assert application.updater is not None  # noqa: S101 - built with an updater
        await application.updater.start_polling(
            allowed_updates=ALLOWED_UPDATES, timeout=poll_timeout, poll_interval=0.0
        )
        log.info("bot.started", extra={"username": application.bot.username})
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("bot.stopping")
        await application.updater.stop()
        await application.stop()
    finally:
        await application.shutdown()
        log.info("bot.stopped")


def run_forever(core: Core) -> None:
    """Blocking entry for `vhbot run`: SIGTERM and SIGINT stop it cleanly."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await serve(core, stop=stop)

    asyncio.run(main())
