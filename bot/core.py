"""The container of what a handler, duty, web page or CLI command needs.

Only the wiring (bot.app) fills it; the adapters (bot.handlers, bot.scheduling,
bot.web) take it from here, so none of them imports the wiring module.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.config import Settings
from bot.privacy.crypto import FieldCipher
from bot.privacy.keys import KeyRing
from bot.services.agenda import Agenda
from bot.services.announcements import Announcements
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
from bot.storage.engine import Database


@dataclass
class Core:
    """Everything a handler, duty or CLI command needs; built once per process."""

    settings: Settings
    clock: Clock
    db: Database
    keys: KeyRing
    cipher: FieldCipher
    audit: AuditLog
    vault: PersonVault
    memberships: Memberships
    detention: DetentionService
    meldingen: MeldingenService
    history: HistoryService  # `vhbot import meldingen --history`
    announcements: Announcements
    reveals: Reveals
    decisions: Decisions
    agenda: Agenda
    reminders: Reminders
    plan: PlanOfApproach
    reports: Reports
    stand: Stand
