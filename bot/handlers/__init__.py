"""Telegram handlers: parse the update, ask the permission table, call a service, reply.

Registered in one place, in this order:
  group -1  the gate: drops updates from chats that are not ours (and leaves them), and
            in the partner group removes anyone an update shows who is not an active
            member (bot.handlers.group), stopping that update;
  group 0   commands and buttons; last, in a private chat, a short answer to anything
            no other handler took (bot.handlers.fallback).

Every handler is then wrapped to wait for the database when it is away (bot.handlers.wait).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import Application

from bot.handlers import (
    agenda,
    announcements,
    decisions,
    fallback,
    gate,
    members,
    plan,
    reveal,
    stand,
    start,
)
from bot.handlers.wait import DatabaseWait

if TYPE_CHECKING:
    from bot.core import Core
    from bot.scheduling.tally_editor import TallyEditor


def register_all(
    application: Application[Any, Any, Any, Any, Any, Any], core: Core, editor: TallyEditor
) -> None:
    gate.register(application, core)
    start.register(application, core)
    members.register(application, core)
    announcements.register(application, core, editor)
    reveal.register(application, core)
    decisions.register(application, core)
    agenda.register(application, core)
    stand.register(application, core)
    plan.register(application, core)  # before the fallback: it takes typed answers
    fallback.register(application, core)  # last in group 0: what nothing else took
    DatabaseWait(core).wrap(application)  # last: it wraps what is registered
