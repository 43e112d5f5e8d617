"""`vhbot demo`: the real bot against the bundled fake Telegram, with a short script.

No token, no network: a throw-away SQLite database and key file in a temporary
folder, a simulated partner group and people, and the conversation printed as it
happens. Everyone in it is made up.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from bot.app import open_core
from bot.config import Settings
from bot.domain.roles import Role
from bot.logs import configure_logging
from bot.privacy.keys import create_key_file
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram, FakeUser
from bot.services.audit import CLI
from bot.storage import migrate
from bot.storage.engine import make_engine

ORGANISATIONS = (
    ("POL", "Politie Limburg"),
    ("RN", "Reclassering Nederland"),
    ("GGZ", "Mondriaan GGZ"),
    ("RMD", "Gemeente Roermond"),
)


class Transcript:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._names: dict[int, str] = {}

    def name(self, chat_id: int, label: str) -> None:
        self._names[chat_id] = label

    def line(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def person(self, who: str, where: str, text: str) -> None:
        self.line(f"\n{who} -> {where}:\n    {text}")

    def observe(self, method: str, params: Mapping[str, Any]) -> None:
        if method != "sendMessage":
            return
        chat_id = int(params["chat_id"])
        where = self._names.get(chat_id, str(chat_id))
        text = str(params.get("text", "")).replace("\n", "\n    ")
        self.line(f"\nvhbot -> {where}:\n    {text}")


async def _script(out: TextIO) -> int:
    transcript = Transcript(out)
    telegram = FakeTelegram()
    telegram.payload_observers.append(transcript.observe)
    await telegram.start()
    group = telegram.add_group("Partners Veiligheidshuis (demo)")
    transcript.name(group.id, "partner group")
    with tempfile.TemporaryDirectory(prefix="vhbot-demo-") as folder:
        settings = Settings(
            _env_file=None,
            telegram_token=telegram.token,
            telegram_api_url=telegram.api_root,
            database_url=f"sqlite:///{Path(folder) / 'demo.sqlite3'}",
            partner_chat_id=group.id,
            key_file=Path(folder) / "demo.keys",
        )
        create_key_file(settings.key_file)
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        engine.dispose()
        core = open_core(settings)
        coordinator = telegram.add_user("Fenna", language_code="nl")
        with core.db.session() as session:
            for code, name in ORGANISATIONS:
                core.memberships.add_organisation(
                    session, name=name, code=code, themes=None, actor=CLI
                )
            core.memberships.add_member(
                session,
                telegram_id=coordinator.id,
                name="Fenna (demo)",
                organisation_code="RN",
                roles=[Role.COORDINATOR, Role.CASEMANAGER],
                actor=CLI,
            )
        transcript.line(
            "vhbot demo: the real bot, a simulated Telegram, made-up people.\n"
            f"Organisations: {', '.join(name for _code, name in ORGANISATIONS)}."
        )
        stop, ready = asyncio.Event(), asyncio.Event()
        runner = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
        try:
            await asyncio.wait_for(ready.wait(), timeout=15)
            await _conversation(telegram, transcript, coordinator, group)
        finally:
            stop.set()
            await asyncio.wait_for(runner, timeout=15)
            core.db.dispose()
            await telegram.stop()
    transcript.line("\nDemo finished.")
    return 0


async def _say(
    telegram: FakeTelegram,
    transcript: Transcript,
    user: FakeUser,
    who: str,
    text: str,
    *,
    expect: str,
    chat: FakeChat | None = None,
) -> None:
    transcript.person(who, "partner group" if chat else "vhbot (private)", text)
    since = len(telegram.sent)
    telegram.send_text(user, text, chat=chat)
    await telegram.wait_for_message(
        chat.id if chat else user.id, contains=expect, timeout=10, since=since
    )


async def _conversation(
    telegram: FakeTelegram, transcript: Transcript, coordinator: FakeUser, group: FakeChat
) -> None:
    newcomer = telegram.add_user("Anna", language_code="nl")
    visitor = telegram.add_user("John", language_code="en")
    transcript.name(newcomer.id, "Anna (not registered, Dutch)")
    transcript.name(visitor.id, "John (not registered, English)")
    transcript.name(coordinator.id, "Fenna (coordinator)")
    await _say(telegram, transcript, newcomer, "Anna", "/start", expect="Welkom")
    await _say(telegram, transcript, visitor, "John", "/start", expect="Welcome")
    await _say(telegram, transcript, coordinator, "Fenna", "/start", expect="Reclassering")
    await _say(telegram, transcript, coordinator, "Fenna", "/help", expect="/help")
    await _say(
        telegram, transcript, coordinator, "Fenna", "/help", expect="privégesprek", chat=group
    )


def run_demo(out: TextIO | None = None) -> int:
    """Runs the scripted demo; returns the exit code."""
    configure_logging("WARNING")
    return asyncio.run(_script(out or sys.stdout))
