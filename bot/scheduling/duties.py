"""Scheduled duties. Each takes the core and `now`, does its work in transactions,
and is safe to run again: a duty that ran already finds nothing left to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import Core

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DailyDuty:
    name: str
    at: time  # local time in VHBOT_TIMEZONE
    run: Callable[[Core, datetime], None]


def verify_audit_chain(core: Core, now: datetime) -> None:
    """Walks the audit chain; a break is logged as an error for the operators."""
    checked, broken = core.audit.verify(core.db)
    if broken is None:
        log.info("audit.verified", extra={"entries": checked})
    else:
        log.error("audit.broken", extra={"seq": broken.seq, "reason": broken.reason})


DAILY_DUTIES: tuple[DailyDuty, ...] = (
    DailyDuty("verify_audit_chain", time(3, 0), verify_audit_chain),
)
