"""Waiting for Telegram: how long before trying a call again that failed for a
passing reason, and waits that end at once when the bot is asked to stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta

from telegram.error import BadRequest, NetworkError, RetryAfter


def is_passing(error: BaseException) -> bool:
    """A failure that goes away by itself: no connection, a timeout, a 5xx, flood control.

    A refused request (BadRequest, although PTB derives it from NetworkError), a
    refused token or a 403 is not: the same call gets the same answer.
    """
    if isinstance(error, RetryAfter):
        return True
    return isinstance(error, NetworkError) and not isinstance(error, BadRequest)


def retry_after_seconds(error: RetryAfter) -> float:
    wait = error.retry_after
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


@dataclass(frozen=True)
class Backoff:
    """Waits that double from `first` up to `cap` seconds; Telegram's retry_after wins."""

    first: float = 1.0
    cap: float = 30.0

    def wait(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (1, 2, 4, ... capped)."""
        doublings = min(max(failures, 1) - 1, 32)
        return float(min(self.cap, self.first * 2.0**doublings))

    def wait_after(self, error: BaseException, failures: int) -> float:
        if isinstance(error, RetryAfter):
            return max(retry_after_seconds(error), self.first)
        return self.wait(failures)


async def unless_stopped(work: Awaitable[object], stop: asyncio.Event) -> bool:
    """Await `work` unless `stop` is set first (then it is cancelled); True when it ended.

    Raises what `work` raised. Pass a Task to read its result afterwards.
    """
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if task.cancelled():
        return False
    task.result()  # raises what went wrong
    return True
