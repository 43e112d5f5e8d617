"""Detention releases end to end: import, announce, answer, chase; through the fake Telegram.

Telegram allows 20 messages a minute in a group, so announcing 30 notifications
takes longer than a minute for real. These tests compress time 100-fold on both
sides: the fake server's flood clock runs 100x fast and the bot's rate limiter
allows 100x the rates, so the same limits hold in the compressed time without
a test waiting for minutes (and a 429 would still fail the test).
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.identity import Identity
from bot.domain.roles import Role
from bot.sandbox.dpan_files import HEADER
from bot.sandbox.fake_telegram import FakeTelegram, FakeUser, SentMessage
from bot.scheduling.duties import chase_overdue_answers
from bot.services.audit import CLI
from bot.storage.models import AnnouncementMessage, Answer, Melding, OutboxMessage
from tests.app.conftest import RunningBot
from tests.conftest import People

SCALE = 100.0
ORGANISATIONS = (
    ("POL", "Politie"), ("OM", "Openbaar Ministerie"), ("RN", "Reclassering"),
    ("GGZ", "GGZ"), ("VT", "Veilig Thuis"), ("WON", "Woonstichting"), ("MEE", "MEE"),
    ("JZ", "Jeugdzorg"), ("RMD", "Gemeente Roermond"), ("WRT", "Gemeente Weert"),
    ("LEU", "Gemeente Leudal"), ("MAA", "Gemeente Maasgouw"),
)  # fmt: skip
REF = re.compile(r"VH-\d{4}-\d{4}")


class CompressedClock:
    """The fake server's flood clock, running SCALE times faster than real time."""

    def __init__(self) -> None:
        self._start = time.monotonic()
        self._offset = 0.0

    def __call__(self) -> float:
        return 1000.0 + (time.monotonic() - self._start) * SCALE + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@pytest.fixture
def flood_clock() -> CompressedClock:  # type: ignore[override]
    return CompressedClock()


@dataclass
class Partners:
    users: dict[str, FakeUser]


@pytest.fixture
def partners(running: RunningBot) -> Partners:
    core, telegram = running.core, running.telegram
    users = {}
    with core.db.session() as session:
        for code, name in ORGANISATIONS:
            core.memberships.add_organisation(session, name=name, code=code, themes=None, actor=CLI)
            user = telegram.add_user(f"Lid {code}", language_code="nl", started=True)
            core.memberships.add_member(
                session, telegram_id=user.id, name=f"Lid van {name}",
                organisation_code=code, roles=[Role.PARTNER], actor=CLI,
            )  # fmt: skip
            users[code] = user
    return Partners(users)


def write_dpan(
    path: Path,
    identities: list[Identity],
    *,
    today: str = "2026-11-23",
    institutions: dict[int, str] | None = None,
) -> Path:
    """A DPAN file; `institutions` replaces the `inrichting` of rows by index (from 1)."""
    municipalities = ("Roermond", "Weert", "Leudal", "Echt-Susteren", "Maasgouw")
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(HEADER)
    for index, identity in enumerate(identities, start=1):
        release = index % 5 != 0
        writer.writerow([
            f"DJI-{index:05d}", "uitstroom" if release else "instroom", identity.surname,
            identity.given_names, identity.birth_date.strftime("%d-%m-%Y"), identity.bsn or "",
            municipalities[index % len(municipalities)],
            (institutions or {}).get(index, "PI Roermond"),
            "2026-12-01" if release else today, f"Opmerking over {identity.surname}",
        ])  # fmt: skip
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


async def announcements(
    telegram: FakeTelegram, group_id: int, count: int, core: Core | None = None
) -> list[SentMessage]:
    """The announcements once Telegram has them and, with `core`, once the bot has
    recorded their message ids too (a press before that is refused as unknown)."""
    await telegram.wait_for_call(
        "sendMessage",
        predicate=lambda c: c.ok and "detentiemelding" in str(c.params.get("text")),
        count=count,
        timeout=20,
    )
    if core is not None:
        await recorded(core, count)
    return [m for m in telegram.messages_to(group_id) if "detentiemelding" in m.text]


async def recorded(core: Core, count: int, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    """Wait for the fact that `count` announcements carry their Telegram message id."""

    def done() -> int:
        with core.db.session() as session:
            return len(
                session.exec(
                    select(AnnouncementMessage.id).where(
                        col(AnnouncementMessage.message_id).is_not(None)
                    )
                ).all()
            )

    async with asyncio.timeout(timeout):
        # The fact is in the database, which has no event to wait on: look again shortly.
        while await core.db.run(done) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_thirty_notifications_twelve_organisations(
    running: RunningBot, partners: Partners, people: People, tmp_path: Path, clock: FrozenClock
) -> None:
    core, telegram, group = running.core, running.telegram, running.group
    identities = [people.identity(with_bsn=index % 3 != 0) for index in range(30)]
    dpan = write_dpan(tmp_path / "dpan.csv", identities)

    report = core.detention.import_path(dpan, actor=CLI)
    assert (report.new, report.duplicate, report.rejected) == (30, 0, 0)
    assert len(report.cases_opened) == 24

    announced = await announcements(telegram, group.id, 30, core)
    assert len(announced) == 30
    releases = [m for m in announced if "uitstroom" in m.text]
    entries = [m for m in announced if "instroom" in m.text]
    assert (len(releases), len(entries)) == (24, 6)
    first = releases[0]
    lines = first.text.splitlines()
    assert lines[0] == "Nieuwe detentiemelding: uitstroom"
    assert REF.match(lines[1]) and " · P-" in lines[1] and lines[1].endswith(" · Nazorg")
    assert lines[2].startswith("Gemeente ") and lines[2].endswith(" · PI Roermond")
    assert lines[3] == "Verwachte uitstroom: dinsdag 1 december 2026"
    assert lines[4] == "Graag reactie vóór dinsdag 24 november 12:00"
    assert [b["text"] for b in first.buttons()] == ["Bekend", "Niet bekend", "Gegevens bekijken"]
    assert all(REF.search(m.text) is None for m in entries)

    # Twelve organisations press within one second: at most 3 edits, the right tally.
    yes = {"POL", "RN", "GGZ", "RMD", "WRT"}
    edits_before = len(telegram.calls("editMessageText"))
    pressed = time.monotonic()
    for code, user in partners.users.items():
        data = first.button_data("Bekend" if code in yes else "Niet bekend")
        telegram.press_button(user, first, data)
    await telegram.wait_for_call("answerCallbackQuery", count=12)
    answering = time.monotonic() - pressed  # real seconds the bot took to take them all
    final = await telegram.wait_for_message(group.id, contains="Nog geen reactie: 0", timeout=10)
    await running.settled()  # every edit the presses asked for has had its chance
    edits = telegram.calls("editMessageText")[edits_before:]
    # One edit per edit delay at most: presses within one delay ride along. On a busy
    # machine taking the twelve answers may last longer than a second, so the bound is
    # what the delays they spanned allow (still far below one edit per press).
    spanned = answering / core.settings.edit_delay_seconds
    assert 1 <= len(edits) <= max(3, 2 + int(spanned)), (len(edits), answering)
    assert len(edits) < 12
    assert (
        "Bekend: GGZ, Gemeente Roermond, Gemeente Weert, Politie, Reclassering · "
        "Niet bekend: Gemeente Leudal, Gemeente Maasgouw, Jeugdzorg, MEE, "
        "Openbaar Ministerie, Veilig Thuis, Woonstichting · Nog geen reactie: 0"
    ) in final.text
    assert "Graag reactie vóór dinsdag 24 november 12:00" in final.text  # same moment as sent

    # A second press of the same answer changes nothing; a changed answer replaces the first.
    telegram.press_button(partners.users["POL"], first, first.button_data("Bekend"))
    telegram.press_button(partners.users["OM"], first, first.button_data("Bekend"))
    changed = await telegram.wait_for_message(
        group.id,
        contains="Bekend: GGZ, Gemeente Roermond, Gemeente Weert, Openbaar Ministerie",
        timeout=10,
    )
    assert "Nog geen reactie: 0" in changed.text
    with core.db.session() as session:
        assert len(session.exec(select(Answer)).all()) == 12

    # The deadline passes: each organisation that did not answer the second
    # announcement is reminded once, and the group hears who is missing.
    second = releases[1]
    telegram.press_button(partners.users["POL"], second, second.button_data("Bekend"))
    await telegram.wait_for_message(group.id, contains="Nog geen reactie: 11", timeout=10)
    clock.advance(timedelta(days=1, hours=4))
    assert await core.db.run(chase_overdue_answers, core) == 30
    await running.outbox_drained()  # what the chase queued has gone out

    def sent_containing(text: str) -> int:
        return len([c for c in telegram.calls("sendMessage") if text in str(c.params["text"])])

    # One reminder per member, listing what is waiting for their organisation.
    assert sent_containing("Herinnering") == 12
    assert sent_containing("Nog niet binnen") == 2
    politie = [m for m in telegram.messages_to(partners.users["POL"].id) if "Herinnering" in m.text]
    assert len(politie) == 1
    assert politie[0].text.count("• ") == 28  # not the first two, which Politie answered
    notes = [m.text for m in telegram.messages_to(group.id) if "Nog niet binnen" in m.text]
    listed = [line for note in notes for line in note.splitlines()[1:]]
    assert len(listed) == 29  # every announcement but the one all twelve answered
    first_ref = REF.search(first.text)
    assert first_ref
    assert all(not line.startswith(first_ref.group(0)) for line in listed)
    assert all(len(note) <= 4096 for note in notes)
    assert await core.db.run(chase_overdue_answers, core) == 0
    sent = len(telegram.calls("sendMessage"))
    await running.core.db.run(chase_overdue_answers, core)
    await running.outbox_drained()
    assert len(telegram.calls("sendMessage")) == sent

    # Importing the same file again adds nothing.
    again = core.detention.import_path(dpan, actor=CLI)
    assert (again.new, again.duplicate, again.rejected) == (0, 30, 0)
    with core.db.session() as session:
        assert len(session.exec(select(Melding)).all()) == 30
        announce_rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.dedupe_key).startswith("announce:"))
        ).all()
        assert len(announce_rows) == 30

    # The database holds no identity in clear text.
    _assert_no_plaintext(core, identities)


def _assert_no_plaintext(core: object, identities: list[Identity]) -> None:
    from sqlalchemy import inspect, text

    engine = core.db.engine  # type: ignore[attr-defined]
    dump = []
    with engine.connect() as connection:
        for table in inspect(engine).get_table_names():
            for row in connection.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608
                dump.append(" ".join(str(value) for value in row))
    everything = "\n".join(dump).casefold()
    for identity in identities:
        assert identity.surname.casefold() not in everything
        assert identity.birth_date.isoformat() not in everything
        assert identity.birth_date.strftime("%d-%m-%Y") not in everything
        if identity.bsn:
            assert identity.bsn not in everything
