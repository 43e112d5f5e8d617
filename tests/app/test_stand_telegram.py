"""/stand through the fake Telegram server: each part on the screen, the chart as a photo,
the small-cell rule on both, and bad input (an unknown theme, a theme outside the
circle, not a coordinator, in the group).

The clock stands on Monday 2026-11-23 09:00 (Amsterdam).
"""

from __future__ import annotations

import struct
import zlib
from datetime import date

from sqlmodel import select

from bot.domain.decisions import Decision
from bot.domain.roles import Theme
from bot.sandbox.fake_telegram import SentMessage
from bot.storage.models import AuditEntry, Melding, Member
from tests import plan_factory as pf
from tests.app.conftest import RunningBot, World

TODAY = date(2026, 11, 23)


def _seed(running: RunningBot, world: World) -> None:
    """Six Top X cases in triage, three of youth, a casemanager with overdue actions on a
    stagnating case, a nazorg case waiting for its casemanager, two releases ahead."""
    core = running.core
    with core.db.session() as session:
        sanne = session.exec(
            select(Member.id).where(Member.telegram_id == world.casemanager.id)
        ).one()
        assert sanne is not None
        for _ in range(6):
            pf.case(session, opened=date(2026, 11, 2), theme=Theme.TOP_X, procesregie=False)
        for _ in range(3):
            pf.case(session, opened=date(2026, 11, 2), theme=Theme.JEUGD, procesregie=False)
        quiet = pf.case(
            session, opened=date(2026, 10, 1), decided=date(2026, 10, 2), casemanager=sanne
        )
        for deadline in (date(2026, 10, 20), date(2026, 10, 21)):
            pf.action(
                session,
                case=quiet,
                deadline=deadline,
                created_by=sanne,
                owner=sanne,
                created_at=pf.local(date(2026, 10, 3)),
            )
        nazorg = pf.case(session, opened=date(2026, 11, 2), theme=Theme.NAZORG, procesregie=False)
        for number, on in enumerate((TODAY, date(2026, 12, 1))):
            session.add(
                Melding(
                    bron_id=f"dji-{number}",
                    soort="uitstroom",
                    bron="dji",
                    theme=Theme.NAZORG.value,
                    person_id=nazorg.person_id,
                    municipality="Weert",
                    event_date=on,
                    received_at=pf.local(TODAY),
                )
            )
        doorgeleid = pf.case(session, opened=date(2026, 11, 2), theme=Theme.OGGZ, procesregie=False)
        doorgeleid.decision, doorgeleid.decided_at = Decision.DOORGELEID.value, pf.local(TODAY)
        doorgeleid.closed_at = doorgeleid.decided_at
        session.add(doorgeleid)


def _lines(message: SentMessage) -> set[str]:
    return set(message.text.splitlines())


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    assert zlib.crc32(data[12:29]) == struct.unpack(">I", data[29:33])[0]
    return width, height


async def test_stand_shows_each_part_and_its_chart_as_a_photo(
    running: RunningBot, world: World
) -> None:
    _seed(running, world)
    telegram, fenna = running.telegram, world.coordinator
    since = len(telegram.sent)
    text = await running.say(fenna, "/stand", contains="Open zaken per thema")
    [photo] = [m for m in telegram.sent[since:] if m.method == "sendPhoto"]
    # The photo first, with a short caption; then the screen as its own message.
    assert telegram.sent.index(photo) < telegram.sent.index(text)
    assert photo.chat_id == fenna.id and photo.photo is not None
    assert photo.text.startswith("Stand van zaken, maandag 23 november 09:00: meldingen en zaken")
    assert "Gearceerde staven staan voor 1 tot 4 (<5)." in photo.text
    assert len(photo.text) <= 1024 and len(text.text) <= 4096
    width, height = _png_size(photo.photo.data)
    assert width >= 800 and height >= 500
    lines = _lines(text)
    assert text.text.startswith("Stand van zaken, maandag 23 november 09:00\n")
    # Open cases per theme: six in triage shown as 6, three as <5; doorgeleid today.
    assert "• Top X / PGA: 6 · 0 · 0" in lines
    assert "• Jeugd: <5 · 0 · 0" in lines
    assert "• OGGZ: 0 · 0 · <5" in lines
    assert "• Multiproblematiek: 0 · <5 · 0" in lines
    assert "• Radicalisering: 0 · 0 · 0" not in text.text  # not Fenna's circle
    # The agenda: Tuesday's triage has the nine items, none announced or answered yet.
    assert "• Triageoverleg, dinsdag 24 november 10:00: 9 van 9" in lines
    # Overdue actions, stagnation, the casemanager report's rule, releases.
    assert "• Sanne Testlid: <5" in lines
    stagnating = text.text.split("Stagnerende zaken")[1].split("\n\n")[0]
    assert "• Multiproblematiek: <5" in stagnating
    waiting = text.text.split("wachten op een casemanager")[1].split("\n\n")[0]
    assert "• Nazorg: <5" in waiting
    assert "Uitstroom uit detentie van vandaag tot en met zondag 6 december 2026: <5" in lines
    # This quarter so far: the seeded cases and the two release meldingen.
    quarter = text.text.split("Dit kwartaal tot nu toe (K4 2026)")[1]
    assert "• Top X / PGA: 0 · 6 · 6" in quarter
    assert "• Nazorg: <5 · <5 · <5" in quarter
    assert "• Jeugd: 0 · <5 · <5" in quarter
    # Every count of 1 to 4 is <5: no bare 1, 2, 3 or 4 after a colon or a dot.
    for line in lines:
        for figure in line.replace("·", ":").split(":")[1:]:
            assert figure.strip().split(" ")[0] not in {"1", "2", "3", "4"}, line


async def test_stand_narrowed_to_a_theme(running: RunningBot, world: World) -> None:
    _seed(running, world)
    telegram, fenna = running.telegram, world.coordinator
    since = len(telegram.sent)
    text = await running.say(fenna, "/stand jeugd", contains="Open zaken per thema")
    assert text.text.startswith("Stand van zaken, maandag 23 november 09:00: Jeugd\n")
    assert "• Jeugd: <5 · 0 · 0" in _lines(text)
    assert "Top X" not in text.text and "Nazorg" not in text.text
    assert "Uitstroom uit detentie" not in text.text  # releases are nazorg's
    [photo] = [m for m in telegram.sent[since:] if m.method == "sendPhoto"]
    assert photo.photo is not None


async def test_stand_refuses_bad_input_and_others(running: RunningBot, world: World) -> None:
    telegram, fenna = running.telegram, world.coordinator
    typed = "/stand Jansen"
    unknown = await running.say(fenna, typed, contains="thema")
    assert unknown.text.startswith("Dat thema bestaat niet. Beperk de stand tot een van deze")
    assert "• jeugd - Jeugd" in unknown.text and "Jansen" not in unknown.text
    outside = await running.say(fenna, "/stand radicalisering", contains="thema")
    assert outside.text.startswith("Jouw organisatie werkt niet aan dat thema")
    refused = await running.say(world.partner, "/stand", contains="rol")
    assert refused.text == "Met jouw rol kun je dit commando niet gebruiken."
    in_group = await running.say(
        fenna, "/stand", contains="privé", chat=running.group, reply_in=running.group.id
    )
    assert in_group.text == "Stuur dit commando in een privégesprek met mij."
    assert not telegram.calls("sendPhoto")
    with running.core.db.session() as session:
        refusals = session.exec(
            select(AuditEntry.subject).where(AuditEntry.action == "access.refused")
        ).all()
    assert refusals.count("command:stand") == 2
