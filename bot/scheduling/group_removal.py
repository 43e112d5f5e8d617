"""Removing deactivated members from the partner group.

Deactivation is recorded in the database first (by /verwijder or
`vhbot member remove`); this duty then removes each such member from the group
and records that it did. It runs every minute and right after a /verwijder, so
a removal survives a restart or a Telegram outage: nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from telegram import Bot, BotCommandScopeChat
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, ContextTypes

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

JOB_NAME = "group_removal"
INTERVAL_SECONDS = 60
_lock = asyncio.Lock()


async def remove_from_group(bot: Bot, chat_id: int, user_id: int) -> None:
    """Ban and unban at once: out of the group, yet free to be invited properly later."""
    await bot.ban_chat_member(chat_id, user_id)
    await bot.unban_chat_member(chat_id, user_id, only_if_banned=True)


async def remove_deactivated_members(bot: Bot, core: Core) -> int:
    """One pass: remove every deactivated member still pending; returns how many were done."""
    chat_id = core.settings.partner_chat_id
    if chat_id is None:  # pragma: no cover - `vhbot run` requires it
        return 0
    async with _lock:  # the schedule and a /verwijder may start a pass at the same time

        def pending() -> list[tuple[int, int]]:
            with core.db.session() as session:
                return core.memberships.awaiting_group_removal(session)

        done = 0
        for member_id, telegram_id in await core.db.run(pending):
            try:
                status = (await bot.get_chat_member(chat_id, telegram_id)).status
                in_group = status not in ("left", "kicked")
                if in_group:
                    await remove_from_group(bot, chat_id, telegram_id)
            except BadRequest as exc:
                if "not found" not in str(exc).lower():
                    log.warning("group.remove_failed", extra={"error": type(exc).__name__})
                    continue
                in_group = False  # never was a member of the group
            except (Forbidden, TelegramError) as exc:
                # No rights, or Telegram unreachable: stays pending, next pass retries.
                log.warning("group.remove_failed", extra={"error": type(exc).__name__})
                continue

            def mark(member_id: int = member_id, in_group: bool = in_group) -> None:
                with core.db.session() as session:
                    core.memberships.mark_removed_from_group(
                        session, member_id, was_in_group=in_group
                    )

            await core.db.run(mark)
            await withdraw_member_menu(bot, telegram_id)
            done += 1
        return done


async def withdraw_member_menu(bot: Bot, telegram_id: int) -> None:
    """Back to the menu everyone sees (after a deactivation)."""
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(telegram_id))
    except TelegramError as exc:
        log.info("menu.not_withdrawn", extra={"error": type(exc).__name__})


def _removal_job(core: Core) -> Callable[[ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]:
    async def job(context: ContextTypes.DEFAULT_TYPE) -> None:
        await remove_deactivated_members(context.bot, core)

    return job


def schedule_group_removal(
    application: Application[Any, Any, Any, Any, Any, Any], core: Core
) -> None:
    assert application.job_queue is not None  # noqa: S101 - the job-queue extra is a dependency
    application.job_queue.run_repeating(
        _removal_job(core), interval=INTERVAL_SECONDS, first=1, name=JOB_NAME
    )


def request_group_removal(
    application: Application[Any, Any, Any, Any, Any, Any], core: Core
) -> None:
    """Run a pass now (after a /verwijder) instead of waiting for the schedule."""
    assert application.job_queue is not None  # noqa: S101 - the job-queue extra is a dependency
    application.job_queue.run_once(_removal_job(core), when=0, name=f"{JOB_NAME}_now")
