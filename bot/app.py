"""Wiring: the only place that builds the Core and fills it.

`open_core` fills the `Core` container (bot.core) with the storage, keys and
services; CLI commands use it without loading Telegram's library (see
bot.telegram_app for the Application the running bot adds).
"""

from __future__ import annotations

import logging

import psycopg
from sqlalchemy.exc import OperationalError

from bot.clock import Clock, SystemClock
from bot.config import DatabaseUnavailable, Settings, SettingsError
from bot.core import Core
from bot.privacy.anchor_file import AnchorFile
from bot.privacy.crypto import FieldCipher
from bot.privacy.keys import load_key_file
from bot.services.agenda import Agenda
from bot.services.announcements import Announcements
from bot.services.answer_rates import AnswerRates
from bot.services.audit import AuditLog
from bot.services.decisions import Decisions
from bot.services.detention import DetentionService
from bot.services.meldingen import HistoryService, MeldingenService
from bot.services.members import Memberships
from bot.services.persons import PersonVault
from bot.services.plan import PlanOfApproach
from bot.services.reminders import Reminders
from bot.services.reports import Reports
from bot.services.reveal import Reveals
from bot.services.stand import Stand
from bot.storage import migrate
from bot.storage.engine import Database, safe_url

log = logging.getLogger(__name__)


def open_database(settings: Settings, *, require_current: bool = True) -> Database:
    """Open the database; SettingsError (one line) when it is unreachable or outdated."""
    db = Database.from_url(settings.database_url)
    try:
        if require_current:
            migrate.ensure_current(db.engine)
        else:
            with db.engine.connect():
                pass
    except migrate.SchemaOutdated as exc:
        db.dispose()
        raise SettingsError(f"VHBOT_DATABASE_URL: {exc}") from None
    except OperationalError as exc:
        db.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        message = f"VHBOT_DATABASE_URL: cannot open {safe_url(settings.database_url)}: {reason}"
        if isinstance(exc.orig, psycopg.OperationalError) and _passes(str(exc.orig)):
            raise DatabaseUnavailable(message) from None
        raise SettingsError(message) from None
    return db


# What a PostgreSQL server says when it answers but cannot take a connection now.
_SERVER_BUSY = (
    "starting up",
    "shutting down",
    "in recovery",
    "too many clients",
    "too many connections",
    "remaining connection slots",
)


def _passes(reason: str) -> bool:
    """Whether a failed connect may work later: the server did not answer (refused,
    unreachable, timed out) or is busy. A server that answered no (a wrong password,
    user or database: "FATAL: ...") needs the setting fixed."""
    reason = reason.lower()
    return "fatal:" not in reason or any(busy in reason for busy in _SERVER_BUSY)


def open_core(settings: Settings, *, clock: Clock | None = None) -> Core:
    """Keys, database and services; raises SettingsError or KeyFileError with one line."""
    clock = clock or SystemClock()
    keys = load_key_file(settings.key_file)
    db = open_database(settings)
    cipher = FieldCipher(keys)
    audit = AuditLog(
        clock, key=keys.audit_key, anchor_file=AnchorFile(settings.anchor_file, keys.audit_key)
    )
    vault = PersonVault(cipher=cipher, pseudonym_key=keys.pseudonym_key, audit=audit, clock=clock)
    memberships = Memberships(cipher=cipher, audit=audit, clock=clock, locale=settings.locale)
    decisions = Decisions(
        settings=settings, cipher=cipher, audit=audit, clock=clock, memberships=memberships
    )
    announcements = Announcements(settings=settings, audit=audit)
    plan = PlanOfApproach(settings=settings, cipher=cipher, audit=audit, clock=clock, vault=vault)
    meldingen = MeldingenService(
        settings=settings, db=db, vault=vault, cipher=cipher, audit=audit, clock=clock
    )
    agenda = Agenda(settings=settings, announcements=announcements)
    reminders = Reminders(settings=settings, clock=clock, cipher=cipher)
    reports = Reports(settings=settings, db=db, audit=audit, clock=clock)
    return Core(
        settings=settings,
        clock=clock,
        db=db,
        keys=keys,
        cipher=cipher,
        audit=audit,
        vault=vault,
        memberships=memberships,
        detention=DetentionService(
            settings=settings,
            db=db,
            vault=vault,
            cipher=cipher,
            audit=audit,
            clock=clock,
            announcements=announcements,
        ),
        meldingen=meldingen,
        history=HistoryService(
            settings=settings, db=db, vault=vault, cipher=cipher, audit=audit, clock=clock
        ),
        announcements=announcements,
        reveals=Reveals(
            settings=settings,
            cipher=cipher,
            vault=vault,
            audit=audit,
            clock=clock,
            memberships=memberships,
            decisions=decisions,
            meldingen=meldingen,
            plan=plan,
        ),
        decisions=decisions,
        agenda=agenda,
        reminders=reminders,
        plan=plan,
        reports=reports,
        stand=Stand(
            settings=settings,
            cipher=cipher,
            agenda=agenda,
            decisions=decisions,
            reminders=reminders,
            counts=reports,
            rates=AnswerRates(settings=settings, db=db),
        ),
    )
