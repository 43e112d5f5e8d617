"""Scheduled duties. Each reads `now` from the clock, works in transactions and is
safe to run again: a duty that ran already finds nothing left to do, so after
downtime they simply catch up, and nothing is sent twice (outbox dedupe keys,
chased_at, erased_at).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.privacy.anchor_file import AnchorFileError
from bot.scheduling.inbox import process_inbox
from bot.services.audit import AuditCheck
from bot.services.retention import enforce_retention

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Duty:
    name: str
    every_seconds: float
    run: Callable[[Core], int]
    # False: `vhbot run` does this one itself before it starts polling.
    at_start: bool = True


def import_inbox(core: Core) -> int:
    return len(process_inbox(core))


def chase_overdue_answers(core: Core) -> int:
    with core.db.session() as session:
        return core.announcements.chase_overdue(session, core.clock.now())


def announce_agenda_items(core: Core) -> int:
    """Cases in triage onto their next meeting; items whose time has come announced."""
    with core.db.session() as session:
        now = core.clock.now()
        core.agenda.plan(session, now)
        return core.agenda.announce_due(session, now)


def send_reminders(core: Core) -> int:
    """Today's digests of actions due, once per person (from VHBOT_REMINDER_TIME on)."""
    return core.reminders.send_digests(core.db).digests


def erase_expired(core: Core) -> int:
    with core.db.session() as session:
        report = enforce_retention(
            session, settings=core.settings, audit=core.audit, now=core.clock.now()
        )
    return report.meldingen + report.persons


def purge_reveal_secrets(core: Core) -> int:
    """Reveal links and set-up codes that ended a month ago are deleted."""
    with core.db.session() as session:
        return core.reveals.purge(session, core.clock.now())


def seal_clear_values(core: Core) -> int:
    """Values an older version stored in clear are encrypted (see DetentionService)."""
    with core.db.session() as session:
        return core.detention.seal_uncatalogued(session)


def expire_access_requests(core: Core) -> int:
    """Removal and coordinator-invite requests that waited 72 hours end (requesters told)."""
    with core.db.session() as session:
        return core.memberships.expire_requests(session)


def report_unassigned_cases(core: Core) -> int:
    """Cases waiting 2 working days for an accepted casemanager: told once a day."""
    with core.db.session() as session:
        return core.decisions.report_unassigned(session)


def check_and_anchor(core: Core) -> int:
    """Check the audit log against its last anchor; anchor the head if all holds.

    A break (in the chain, or against the anchor) is logged and told to the
    coordinators, and nothing is anchored: an anchor must not bless a tampered
    log. Returns how many entries were checked.

    Raises:
        AnchorFileError: the anchor file cannot be read or written.
    """
    try:
        check = core.audit.check(core.db)
    except AnchorFileError:
        # Still check the chain alone: a break must be told even then.
        _tell(core, core.audit.check(core.db, with_anchors=False))
        raise
    _tell(core, check)
    core.audit.anchor(core.db, check, tz=core.settings.tz, locale=core.settings.locale)
    return check.entries


def _tell(core: Core, check: AuditCheck) -> None:
    for broken in check.breaks:
        log.error("audit.broken", extra={"seq": broken.seq, "reason": broken.reason})
    for problem in check.line_problems:
        log.error(
            "audit.anchor_line_bad", extra={"line": problem.line, "replayed": problem.replayed}
        )
    if check.intact:
        log.info("audit.verified", extra={"entries": check.entries})
    else:
        core.audit.report(core.db, check, locale=core.settings.locale)


def verify_audit_chain(core: Core) -> int:
    """The daily check and anchor (see `check_and_anchor`); an anchor-file fault is logged."""
    try:
        return check_and_anchor(core)
    except AnchorFileError as exc:
        log.error("audit.anchor_failed", extra={"error": str(exc)})
        return 0


def duties(core: Core) -> tuple[Duty, ...]:
    """Every database duty with how often `vhbot run` does it (sweep does all once)."""
    return (
        Duty("seal_clear_values", 86400.0, seal_clear_values),
        Duty("import_inbox", core.settings.inbox_interval_seconds, import_inbox),
        Duty("announce_agenda_items", 300.0, announce_agenda_items),
        Duty("chase_overdue_answers", 60.0, chase_overdue_answers),
        Duty("erase_expired", 3600.0, erase_expired),
        Duty("expire_access_requests", 3600.0, expire_access_requests),
        Duty("purge_reveal_secrets", 3600.0, purge_reveal_secrets),
        # Hourly, told once a day (outbox dedupe key per day), from 09:00 local time.
        Duty("report_unassigned_cases", 3600.0, report_unassigned_cases),
        # Each minute; from the reminder time on a working day it queues the day's
        # digests once (outbox key per person and day), then does nothing till tomorrow.
        # At start-up too: a bot started after 08:30 sends today's at once.
        Duty("send_reminders", 60.0, send_reminders),
        # Also anchors the head; at start-up the runner does it (check_and_anchor).
        Duty("verify_audit_chain", 86400.0, verify_audit_chain, at_start=False),
    )
