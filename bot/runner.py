"""The `vhbot run` process: start, poll, run the schedule, stop cleanly.

Also `sweep_once`: every due duty once, for `vhbot sweep`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, TelegramError
from telegram.ext import Application, ContextTypes

from bot.backoff import Backoff, is_passing, unless_stopped
from bot.config import SettingsError
from bot.core import Core
from bot.handlers.group import check_group_rights
from bot.handlers.start import publish_command_lists
from bot.handlers.wait import DatabaseWait
from bot.intake import Intake
from bot.privacy.anchor_file import AnchorFileError
from bot.scheduling.duties import Duty, check_and_anchor, duties
from bot.scheduling.group_removal import remove_deactivated_members, schedule_group_removal
from bot.scheduling.pacer import Pacer
from bot.storage.engine import unavailable
from bot.telegram_app import ALLOWED_UPDATES, build_application, outbox_sender, tally_editor
from bot.web import listen_web, serve_web

log = logging.getLogger(__name__)

# Telegram away at start-up: tries after 1, 2, 4, ... seconds, at most 30 apart.
START_UP_BACKOFF = Backoff(first=1.0, cap=30.0)
# How often the running bot renders tallies left behind (see TallyEditor).
TALLY_CATCH_UP_SECONDS = 45.0
# Seconds before a duty that met the database away runs again; doubled up to the most.
DUTY_RETRY_FIRST = 1.0
DUTY_RETRY_MAX = 15.0
# bot_data key of the event `caught_up` returns.
CAUGHT_UP = "vhbot.caught_up"


# An at-start run is never skipped as "missed": APScheduler drops a job that starts more
# than a second late (its misfire grace), which on a busy machine left the catch-up of
# downtime undone (and caught_up() never set).
AT_START: dict[str, object] = {"misfire_grace_time": None}


def caught_up(application: Application[Any, Any, Any, Any, Any, Any]) -> asyncio.Event:
    """Set once every duty's run at start-up has ended (done, or failed and left to its
    retry): from then on what the bot shows changes only through what happens next."""
    event = application.bot_data[CAUGHT_UP]
    assert isinstance(event, asyncio.Event)  # noqa: S101 - set by _schedule
    return event


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

    starting = {duty.name for duty in duties(core) if duty.at_start}
    done_starting = application.bot_data[CAUGHT_UP] = asyncio.Event()
    if not starting:
        done_starting.set()

    def first_run(duty: Duty, job: Any) -> Any:
        async def run(context: ContextTypes.DEFAULT_TYPE) -> None:
            try:
                await job(context)
            finally:
                starting.discard(duty.name)
                if not starting:
                    done_starting.set()

        return run

    for duty in duties(core):
        job = database_job(duty)
        job_queue.run_repeating(
            job, interval=duty.every_seconds, first=duty.every_seconds, name=duty.name
        )
        if duty.at_start:
            # Each runs at start-up too, catching up whatever downtime left. Not with
            # run_repeating(first=0): APScheduler takes a start already past as
            # missed and runs it first one whole interval later (see PTB's docs).
            job_queue.run_once(first_run(duty, job), when=0, name=duty.name, job_kwargs=AT_START)

    async def catch_up_tallies(context: ContextTypes.DEFAULT_TYPE) -> None:
        await tally_editor(application).catch_up(context.bot)

    # At start (what downtime left behind), then now and again: a tally whose
    # retries stopped (a restart, a give-up that a new answer did not lift) is shown.
    job_queue.run_repeating(
        catch_up_tallies,
        interval=TALLY_CATCH_UP_SECONDS,
        first=TALLY_CATCH_UP_SECONDS,
        name="tally_catch_up",
    )
    # See above: not first=0.
    job_queue.run_once(catch_up_tallies, when=0, name="tally_catch_up", job_kwargs=AT_START)
    schedule_group_removal(application, core)


async def serve(
    core: Core,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None = None,
    poll_timeout: int = 10,
    pacer: Pacer | None = None,
    backoff: Backoff = START_UP_BACKOFF,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    built: Callable[[Application[Any, Any, Any, Any, Any, Any]], None] | None = None,
) -> None:
    """Run the bot until `stop` is set. Raises SettingsError for a refused token.

    `built` is handed the Application once built (tests wait on its tally editor).

    Telegram out of reach at start-up (no connection, a timeout, a 5xx, flood
    control) is waited out with `backoff`, sleeping through `sleep`; `stop` ends the
    wait at once. The command menus and the check of the group rights, when they
    fail for such a reason, are tried again from the job queue while the bot serves.
    """
    # First: an address in use is told at once, not after Telegram answered.
    web_socket = listen_web(core.settings)
    try:
        await _serve(core, web_socket, stop, ready, poll_timeout, pacer, backoff, sleep, built)
    finally:
        web_socket.close()


async def _serve(
    core: Core,
    web_socket: socket.socket,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
    poll_timeout: int,
    pacer: Pacer | None,
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]],
    built: Callable[[Application[Any, Any, Any, Any, Any, Any]], None] | None = None,
) -> None:
    application = build_application(core, pacer=pacer)
    if built is not None:
        built(application)
    try:
        started = await _initialize(application, stop=stop, backoff=backoff, sleep=sleep)
    except BaseException:
        await application.bot.shutdown()  # the HTTP clients getMe opened
        raise
    if not started:
        await application.bot.shutdown()
        log.info("bot.stopped")
        return
    try:
        start_up = _database_start_up(application, core, stop, backoff, sleep)
        if not await unless_stopped(start_up, stop):
            return
        _schedule(application, core)
        await application.start()
        intake = Intake(application, allowed_updates=ALLOWED_UPDATES, timeout=poll_timeout)
        polling = asyncio.create_task(intake.run(stop), name="intake")
        # The outbox is sent by its own loop, not a job: it finishes the send in
        # flight when asked to stop, and never sleeps through a rate limit.
        sending = asyncio.create_task(
            outbox_sender(application).run(application.bot, stop), name="outbox"
        )
        # The reveal pages, in the same process: they share the database and keys.
        web = asyncio.create_task(serve_web(core, stop, sock=web_socket), name="web")
        log.info("bot.started", extra={"username": application.bot.username})
        if ready is not None:
            ready.set()
        stopped = asyncio.create_task(stop.wait())
        # The pages ending by themselves is a fault: the bot stops too (systemd restarts).
        await asyncio.wait({polling, stopped, web}, return_when=asyncio.FIRST_COMPLETED)
        log.info("bot.stopping")
        stop.set()
        DatabaseWait.of(application).stop()  # an update waiting for the database is cut
        core.db.stop_waiting()  # so is a record waiting for it
        # The calls in flight end; what they cannot finish in time is cut, and the
        # next start does it (an update not confirmed comes again, a claim runs out).
        deadline = asyncio.get_running_loop().time() + STOP_SECONDS
        try:
            await _finish(polling, by=deadline, name="intake")
        except InvalidToken:
            raise SettingsError("VHBOT_TELEGRAM_TOKEN: Telegram refused this token") from None
        finally:
            try:
                await _finish(web, by=deadline, name="web")
            finally:
                await _finish(sending, by=deadline, name="outbox")
            # Before application.stop(), which waits for running jobs: a catch-up of
            # many tallies ends after the edit in flight.
            await tally_editor(application).close()
            await application.stop()
    finally:
        await tally_editor(application).close()
        await application.shutdown()
        log.info("bot.stopped")


async def _database_start_up(
    application: Application[Any, Any, Any, Any, Any, Any],
    core: Core,
    stop: asyncio.Event,
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]],
) -> None:
    """The audit anchor and the start-up calls, waiting for the database when it is away
    (it may go between `vhbot db upgrade` and here): like Telegram, it comes back."""
    failures = 0
    while True:
        try:
            await anchor_audit_log(core)
            await _start_up_calls(application, core, backoff)
        except Exception as error:
            if not unavailable(error):
                raise
            core.db.outages.failed("start-up", error)
            failures += 1
            await sleep(backoff.wait(failures))
            continue
        core.db.outages.worked("start-up")
        return


async def _initialize(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    stop: asyncio.Event,
    backoff: Backoff,
    sleep: Callable[[float], Awaitable[None]],
) -> bool:
    """getMe until Telegram answers; False when `stop` came first.

    Only a refused token is a configuration error: anything else may pass (the
    network, Telegram itself, a proxy in between), so it is logged and tried again.
    """
    failures = 0
    while True:
        try:
            return await unless_stopped(application.initialize(), stop)
        except InvalidToken:
            raise SettingsError("VHBOT_TELEGRAM_TOKEN: Telegram refused this token") from None
        except TelegramError as exc:
            failures += 1
            wait = backoff.wait_after(exc, failures)
            # The type only: the text of a connection error can quote the URL, token included.
            log.warning(
                "telegram.unreachable",
                extra={"error": type(exc).__name__, "attempt": failures, "retry_in": wait},
            )
        if not await unless_stopped(sleep(wait), stop):
            return False


StartUpCall = Callable[[Bot, Core], Awaitable[object]]


async def _start_up_calls(
    application: Application[Any, Any, Any, Any, Any, Any], core: Core, backoff: Backoff
) -> None:
    for name, call in (("command_lists", publish_command_lists), ("group_rights", _rights)):
        await _until_done(application, core, name, call, backoff)


async def _rights(bot: Bot, core: Core) -> None:
    await check_group_rights(bot, core)


async def _until_done(
    application: Application[Any, Any, Any, Any, Any, Any],
    core: Core,
    name: str,
    call: StartUpCall,
    backoff: Backoff,
) -> None:
    """Make a start-up call now; after a passing failure, again from the job queue
    (with `backoff`) until it works. The bot serves meanwhile."""
    job_queue = application.job_queue
    assert job_queue is not None  # noqa: S101 - the job-queue extra is a dependency
    failures = 0

    async def attempt(_context: object = None) -> None:
        nonlocal failures
        try:
            await call(application.bot, core)
        except Exception as exc:
            if not isinstance(exc, TelegramError) and not unavailable(exc):
                raise
            if isinstance(exc, TelegramError) and not is_passing(exc):
                log.error("startup.call_failed", extra={"call": name, "error": type(exc).__name__})
                return
            failures += 1
            wait = backoff.wait_after(exc, failures)
            log.warning(
                "startup.call_retry",
                extra={
                    "call": name,
                    "error": type(exc).__name__,
                    "attempt": failures,
                    "retry_in": wait,
                },
            )
            job_queue.run_once(attempt, when=wait, name=f"retry_{name}")
            return
        if failures:
            log.info("startup.call_done", extra={"call": name, "attempts": failures + 1})

    await attempt()


# How long a stop waits for the update and the sends in flight, together (the
# issue asks for 10 s in all; systemd allows 30).
STOP_SECONDS = 7.0


async def _finish(task: asyncio.Task[None], *, by: float, name: str) -> None:
    """Wait for `task` to end by itself; cancel it at `by` (the loop's time). Raises
    what the task raised."""
    within = max(0.0, by - asyncio.get_running_loop().time())
    done, _pending = await asyncio.wait({task}, timeout=within)
    if not done:
        log.warning("bot.stop_cut_short", extra={"task": name})
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
            editor = tally_editor(application)
            await editor.catch_up(application.bot)
            await editor.close()  # retries belong to the running bot, not to one sweep
            await remove_deactivated_members(application.bot, core)
            return sent

    return SweepReport(done, asyncio.run(send()))
