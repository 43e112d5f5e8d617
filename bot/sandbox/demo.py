"""`vhbot demo`: the real bot against the bundled fake Telegram, playing a short morning.

No token, no network: a throw-away SQLite database and key file in a temporary
folder, a simulated partner group with twelve organisations, a generated DPAN
file, and the conversation printed as it happens. Everyone in it is made up.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import tempfile
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import httpx

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.domain.roles import Role
from bot.logs import configure_logging
from bot.privacy.keys import create_key_file
from bot.runner import serve
from bot.sandbox.dpan_files import dpan_csv, dpan_rows, made_up_people
from bot.sandbox.fake_telegram import FakeChat, FakeTelegram, FakeUser, SentMessage
from bot.scheduling.duties import chase_overdue_answers
from bot.services.audit import CLI
from bot.storage import migrate
from bot.storage.engine import make_engine

ORGANISATIONS = (
    ("POL", "Politie"), ("OM", "Openbaar Ministerie"), ("RN", "Reclassering"),
    ("GGZ", "Mondriaan GGZ"), ("VT", "Veilig Thuis"), ("WON", "Wonen Limburg"),
    ("MEE", "MEE"), ("JZ", "Jeugdzorg"), ("RMD", "Gemeente Roermond"),
    ("WRT", "Gemeente Weert"), ("LEU", "Gemeente Leudal"), ("MAA", "Gemeente Maasgouw"),
)  # fmt: skip
NOTIFICATIONS = 5


class Transcript:
    """Prints what people do and what the bot sends, as it happens."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._names: dict[int, str] = {}

    def name(self, chat_id: int, label: str) -> None:
        self._names[chat_id] = label

    def line(self, text: str = "") -> None:
        print(text, file=self._out, flush=True)

    def _indent(self, text: str) -> str:
        return "    " + text.replace("\n", "\n    ")

    def observe(self, method: str, params: Mapping[str, Any]) -> None:
        chat = self._names.get(int(params.get("chat_id", 0) or 0), str(params.get("chat_id")))
        text = str(params.get("text", ""))
        if method == "sendMessage":
            buttons = _buttons(params.get("reply_markup"))
            self.line(f"\nvhbot -> {chat}:\n{self._indent(text)}{buttons}")
        elif method == "editMessageText":
            self.line(f"\nvhbot edits its message in {chat}:\n{self._indent(text)}")
        elif method == "answerCallbackQuery" and text:
            self.line(f"  (pop-up: {text})")


def _buttons(markup: object) -> str:
    if not isinstance(markup, Mapping):
        return ""
    rows = markup.get("inline_keyboard") or []
    labels = [f"[{b.get('text')}]" for row in rows for b in row]
    return ("\n    " + " ".join(labels)) if labels else ""


async def _wait_quiet(telegram: FakeTelegram, seconds: float = 0.4) -> None:
    """Let the bot finish what it is doing: no new calls for `seconds`."""
    while True:
        before = len(telegram.requests)
        await asyncio.sleep(seconds)
        settled = [c for c in telegram.requests[before:] if c.method != "getUpdates"]
        if not settled:
            return


def _seed(core: Core, telegram: FakeTelegram, transcript: Transcript) -> dict[str, FakeUser]:
    users: dict[str, FakeUser] = {}
    with core.db.session() as session:
        for code, name in ORGANISATIONS:
            core.memberships.add_organisation(session, name=name, code=code, themes=None, actor=CLI)
            user = telegram.add_user(f"{code}-medewerker", language_code="nl", started=True)
            roles = [Role.PARTNER, Role.COORDINATOR] if code == "RN" else [Role.PARTNER]
            core.memberships.add_member(
                session, telegram_id=user.id, name=f"Medewerker {name}",
                organisation_code=code, roles=roles, actor=CLI,
            )  # fmt: skip
            transcript.name(user.id, f"{name} (private)")
            users[code] = user
    return users


async def _script(out: TextIO) -> int:
    transcript = Transcript(out)
    telegram = FakeTelegram()
    telegram.payload_observers.append(transcript.observe)
    await telegram.start()
    group = telegram.add_group("Partners Veiligheidshuis (demo)")
    transcript.name(group.id, "the partner group")
    web_port = _free_port()  # the demo's web pages: never a port in use on this machine
    with tempfile.TemporaryDirectory(prefix="vhbot-demo-") as folder:
        settings = Settings(
            _env_file=None,
            telegram_token=telegram.token,
            telegram_api_url=telegram.api_root,
            database_url=f"sqlite:///{Path(folder) / 'demo.sqlite3'}",
            partner_chat_id=group.id,
            key_file=Path(folder) / "demo.keys",
            inbox_dir=Path(folder) / "inbox",
            outbox_interval_seconds=0.2,
            edit_delay_seconds=0.5,
            web_port=web_port,
            public_url=f"http://127.0.0.1:{web_port}",
        )
        create_key_file(settings.key_file)
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        engine.dispose()
        morning = datetime.now(settings.tz).replace(hour=9, minute=0, second=0, microsecond=0)
        clock = FrozenClock(morning)
        core = open_core(settings, clock=clock)
        users = _seed(core, telegram, transcript)
        transcript.line(
            "vhbot demo: the real bot against a simulated Telegram. Everyone is made up.\n"
            f"Twelve partner organisations: {', '.join(name for _c, name in ORGANISATIONS)}."
        )
        stop, ready = asyncio.Event(), asyncio.Event()
        runner = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1))
        try:
            await asyncio.wait_for(ready.wait(), timeout=15)
            await _wait_quiet(telegram)
            await _morning(core, telegram, transcript, users, group, clock, Path(folder))
        finally:
            stop.set()
            await asyncio.wait_for(runner, timeout=15)
            core.db.dispose()
            await telegram.stop()
    transcript.line("\nDemo finished.")
    return 0


async def _morning(
    core: Core,
    telegram: FakeTelegram,
    transcript: Transcript,
    users: dict[str, FakeUser],
    group: FakeChat,
    clock: FrozenClock,
    folder: Path,
) -> None:
    today = clock.now().astimezone(core.settings.tz).date()
    people = made_up_people(NOTIFICATIONS, seed=today.toordinal())
    dpan = folder / f"dpan-{today:%Y%m%d}.csv"
    dpan.write_bytes(dpan_csv(dpan_rows(people, core.settings.municipalities, today)))
    transcript.line(f"\n09:00 The prison service's file arrives: vhbot import dpan {dpan.name}")
    report = await core.db.run(core.detention.import_path, dpan, actor=CLI)
    transcript.line(
        f"  {report.new} new, {report.duplicate} duplicate, {report.rejected} rejected; "
        f"cases opened: {', '.join(report.cases_opened) or 'none'}"
    )
    await telegram.wait_for_call("sendMessage", predicate=_announcement, count=NOTIFICATIONS)
    await _wait_quiet(telegram)
    announced = [m for m in telegram.messages_to(group.id) if "detentiemelding" in m.text]

    transcript.line("\n09:20 Partners answer from their phones.")
    first = announced[0]
    answers = {"POL": "Bekend", "RN": "Bekend", "GGZ": "Niet bekend", "RMD": "Bekend"}
    for code, label in answers.items():
        await _press(telegram, transcript, users[code], code, first, label)
    for code in ("OM", "VT", "WON", "MEE", "JZ", "WRT", "LEU"):
        await _press(telegram, transcript, users[code], code, first, "Niet bekend")
    await _wait_quiet(telegram, 0.7)
    for message in announced[1:]:
        for code in ("POL", "RN"):
            await _press(telegram, transcript, users[code], code, message, "Niet bekend")
    await _wait_quiet(telegram, 0.7)
    await _details(core, telegram, transcript, users, first)

    clock.set(clock.now() + timedelta(days=3))
    transcript.line(
        "\nLater: the answer time has passed. Gemeente Maasgouw never answered the first "
        "notification, and most organisations not the others; vhbot chases them, once."
    )
    await core.db.run(chase_overdue_answers, core)
    await telegram.wait_for_call(
        "sendMessage", predicate=lambda c: "Herinnering" in str(c.params.get("text"))
    )
    await _wait_quiet(telegram)
    again = await core.db.run(chase_overdue_answers, core)
    transcript.line(
        f"\nA second run of the chaser finds {again} more to chase: nothing is sent twice."
    )


async def _details(
    core: Core,
    telegram: FakeTelegram,
    transcript: Transcript,
    users: dict[str, FakeUser],
    message: SentMessage,
) -> None:
    """Politie asks for the person's details: a private link, a set-up code, the page."""
    police, coordinator = users["POL"], users["RN"]
    transcript.line("\n09:30 Politie needs the name and birth date to look the person up.")
    since = len(telegram.sent)
    await _press(telegram, transcript, police, "POL", message, "Gegevens bekijken")
    link = await telegram.wait_for_message(police.id, contains="/r/", since=since, timeout=10)
    url = _LINK.search(link.text)
    assert url is not None  # noqa: S101 - the bot's own message
    with core.db.session() as session:
        member = core.memberships.view_for_telegram(session, police.id)
    assert member is not None  # noqa: S101 - seeded above
    transcript.line(
        "\nFirst time: the coordinator (Reclassering) asks for a set-up code and reads it "
        "out to Politie by phone."
    )
    transcript.line(f"Reclassering (coordinator) -> vhbot: /pincode {member.member_id}")
    since = len(telegram.sent)
    telegram.send_text(coordinator, f"/pincode {member.member_id}")
    given = await telegram.wait_for_message(
        coordinator.id, contains="Activeringscode", since=since, timeout=10
    )
    code = _SETUP_CODE.search(given.text)
    assert code is not None  # noqa: S101 - the bot's own message
    transcript.line(f"\nPolitie opens {url.group(0)} on their phone.")
    async with httpx.AsyncClient() as http:
        form_page = await http.get(url.group(0))
        form = _FORM.search(form_page.text)
        assert form is not None  # noqa: S101 - the page's own form
        transcript.line(
            f"  The page (HTTP {form_page.status_code}) asks for the set-up code and a new "
            "PIN of 6 digits; they enter both."
        )
        fields = {"form": form.group(1), "setup_code": code.group(0)}
        shown = await http.post(
            url.group(0), data={**fields, "pin": "480159", "pin_again": "480159"}
        )
        transcript.line(
            f"  The page (HTTP {shown.status_code}) shows name, birth date, BSN, "
            "municipality, institution, dates and the answers so far. (Not printed here: "
            "personal details are only ever on that page.)"
        )
        again = await http.get(url.group(0))
        heading = _REFUSED.search(again.text)
        transcript.line(
            f"  The same link a second time (HTTP {again.status_code}): "
            f"{heading.group(1) if heading else '?'}"
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_LINK = re.compile(r"http://127\.0\.0\.1:[0-9]+/r/[A-Za-z0-9_-]{22}")
_SETUP_CODE = re.compile(r"[0-9A-Z]{5}-[0-9A-Z]{5}")
_FORM = re.compile(r'name="form" value="([^"]+)"')
_REFUSED = re.compile(r"<h1>([^<]+)</h1>")


def _announcement(call: Any) -> bool:
    return bool(call.ok) and "detentiemelding" in str(call.params.get("text"))


async def _press(
    telegram: FakeTelegram,
    transcript: Transcript,
    user: FakeUser,
    code: str,
    message: SentMessage,
    label: str,
) -> None:
    name = dict(ORGANISATIONS)[code]
    transcript.line(
        f"\n{name} presses [{label}] under {message.text.splitlines()[1].split(' · ')[0]}"
    )
    since = len(telegram.requests)
    telegram.press_button(user, message, message.button_data(label))
    await telegram.wait_for_call(
        "answerCallbackQuery", predicate=lambda c: telegram.requests.index(c) >= since
    )


def run_demo(out: TextIO | None = None) -> int:
    """Runs the scripted demo; returns the exit code."""
    configure_logging("WARNING")
    return asyncio.run(_script(out or sys.stdout))
