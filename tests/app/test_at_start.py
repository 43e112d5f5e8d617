"""The duties' runs at start-up are never dropped as "missed": however late the job
queue gets to them (a busy machine, a slow start), they run, and catch up downtime."""

from __future__ import annotations

from bot.core import Core
from bot.runner import _schedule
from bot.scheduling.pacer import Pacer
from bot.telegram_app import build_application


async def test_every_run_at_start_up_runs_however_late(core: Core, pacer: Pacer) -> None:
    application = build_application(core, pacer=pacer)
    _schedule(application, core)
    assert application.job_queue is not None
    scheduler = application.job_queue.scheduler
    # Not started: the jobs wait with the options they were given.
    at_start = [
        job for job in scheduler.get_jobs() if job.trigger.__class__.__name__ == "DateTrigger"
    ]
    assert at_start, "no duty runs at start-up"
    # APScheduler's default grace is one second: a run later than that would be skipped.
    assert {job.misfire_grace_time for job in at_start} == {None}
