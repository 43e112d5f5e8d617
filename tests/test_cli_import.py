"""`vhbot import dpan` and `vhbot sweep` as scripts use them: real subprocesses, real databases.

The subprocess uses the real clock, so file dates are relative to today.
"""

from __future__ import annotations

import csv
import io
import os
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from bot.config import MIDDEN_LIMBURG
from bot.domain.dpan import (
    MSG_BINARY,
    MSG_BSN_ELFPROEF,
    MSG_EMPTY,
    MSG_MISSING_COLUMNS,
    MSG_MUNICIPALITY,
    MSG_NO_LETTERS,
    MSG_NOT_UTF8,
)
from bot.i18n import translator
from bot.safe import Code, Municipality, SafeText
from bot.sandbox.dpan_files import HEADER, dpan_csv, dpan_rows, made_up_people
from bot.storage.engine import make_engine
from bot.storage.models import Melding, OutboxMessage
from tests.conftest import People, operator_env
from tests.test_cli import vhbot

pytestmark = pytest.mark.slow

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_ = translator("nl")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A fresh key file and an upgraded database, as an operator sets them up."""
    return operator_env(
        tmp_path,
        database_url,
        VHBOT_LOCALE="nl",
        VHBOT_INBOX_DIR=str(tmp_path / "inbox"),
        VHBOT_PARTNER_CHAT_ID="-1001234567890",
    )


def rows_for(people: People, count: int) -> list[list[str]]:
    today = datetime.now(AMSTERDAM).date()
    rows = []
    for n in range(1, count + 1):
        identity = people.identity()
        release = n % 3 != 0
        when = today + timedelta(days=10) if release else today - timedelta(days=1)
        rows.append([
            f"CLI-{n:04d}", "uitstroom" if release else "instroom", identity.surname,
            identity.given_names, identity.birth_date.strftime("%d-%m-%Y"), identity.bsn or "",
            "Maasgouw", "PI Roermond", when.isoformat(), "Heeft een hond",
        ])  # fmt: skip
    return rows


def write(path: Path, rows: Sequence[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=",", lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def count(env: dict[str, str], table: type[Melding] | type[OutboxMessage]) -> int:
    engine = make_engine(env["VHBOT_DATABASE_URL"])
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(table)).one()
    finally:
        engine.dispose()


def test_import_then_the_same_file_again(
    env: dict[str, str], tmp_path: Path, people: People
) -> None:
    good = write(tmp_path / "good.csv", rows_for(people, 5))

    first = vhbot("import", "dpan", str(good), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "good.csv: 5 new, 0 duplicate, 0 rejected" in first.stdout

    second = vhbot("import", "dpan", str(good), env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "good.csv: 0 new, 5 duplicate, 0 rejected" in second.stdout
    assert count(env, Melding) == 5


def test_rejected_rows_go_to_stderr_by_line_without_their_data(
    env: dict[str, str], tmp_path: Path, people: People
) -> None:
    rows = rows_for(people, 4)
    rows[0][5] = rows[0][5][:8] + str((int(rows[0][5][8]) + 1) % 10)  # line 2: elfproef
    rows[2][6] = "Utrecht"  # line 4: not in the region
    mixed = write(tmp_path / "mixed.csv", rows)

    result = vhbot("import", "dpan", str(mixed), env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "mixed.csv: 2 new, 0 duplicate, 2 rejected" in result.stdout
    municipalities = SafeText.joined(
        ", ",
        [
            Municipality(name)
            for name in [
                "Echt-Susteren",
                "Leudal",
                "Maasgouw",
                "Nederweert",
                "Roerdalen",
                "Roermond",
                "Weert",
            ]
        ],
    )
    reported = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    assert reported == [
        f"line 2: {_(MSG_BSN_ELFPROEF)}",
        f"line 4: {_(MSG_MUNICIPALITY, column=Code('gemeente'), municipalities=municipalities)}",
    ]
    for bad in (rows[0], rows[2]):
        for value in bad[:6]:  # bron_id, soort, surname, given names, birth date, BSN
            if value not in ("uitstroom", "instroom"):
                assert value not in result.stderr
                assert value not in result.stdout
    assert "Utrecht" not in result.stderr
    assert count(env, Melding) == 2


@pytest.mark.parametrize(
    ("content", "message", "params"),
    [
        pytest.param(
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64), MSG_BINARY, {}, id="binary"
        ),
        pytest.param(
            "bron_id,soort,achternaam,voornamen,geboortedatum,gemeente,inrichting,datum\n"
            "CLI-0001,instroom,Gérard,Zoë,01-02-1990,Weert,PI Roermond,2026-11-20\n".encode(
                "latin-1"
            ),
            MSG_NOT_UTF8,
            {},
            id="latin-1",
        ),
        pytest.param(b"", MSG_EMPTY, {}, id="empty"),
        pytest.param(
            b"bron_id,soort,achternaam,voornamen,geboortedatum,gemeente\n"
            b"CLI-0001,instroom,Jansen,Jan,01-02-1990,Weert\n",
            MSG_MISSING_COLUMNS,
            {"columns": SafeText.joined(", ", [Code("inrichting"), Code("datum")])},
            id="missing-columns",
        ),
    ],
)
def test_unreadable_file_exits_2_with_one_line(
    env: dict[str, str], tmp_path: Path, content: bytes, message: str, params: dict[str, SafeText]
) -> None:
    path = tmp_path / "kapot.csv"
    path.write_bytes(content)

    result = vhbot("import", "dpan", str(path), env=env, cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert result.stderr == f"vhbot: kapot.csv: {_(message, **params)}\n"
    assert "Traceback" not in result.stderr
    assert count(env, Melding) == 0


def test_missing_file_exits_2_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    result = vhbot("import", "dpan", str(tmp_path / "nergens.csv"), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "nergens.csv" in result.stderr and "no such file" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr


def test_sweep_without_telegram_runs_every_duty_and_keeps_the_outbox(
    env: dict[str, str], tmp_path: Path, people: People
) -> None:
    env = {**env, "VHBOT_PARTNER_CHAT_ID": "-1001234567890"}  # announcements get queued
    rows = rows_for(people, 3)
    imported = vhbot(
        "import", "dpan", str(write(tmp_path / "a.csv", rows[:2])), env=env, cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    (tmp_path / "inbox").mkdir()
    dropped = write(tmp_path / "inbox" / "b.csv", rows[2:])
    settled = time.time() - 120  # written two minutes ago
    os.utime(dropped, (settled, settled))
    queued = count(env, OutboxMessage)
    assert queued == 2

    result = vhbot("sweep", env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    counts = dict(line.split(": ", 1) for line in lines[:-1])
    assert list(counts) == [
        "seal_clear_values",
        "import_inbox",
        "announce_agenda_items",
        "chase_overdue_answers",
        "erase_expired",
        "expire_access_requests",
        "purge_reveal_secrets",
        "report_unassigned_cases",
        "send_reminders",
        "verify_audit_chain",
    ]
    assert all(value.isdigit() for value in counts.values()), counts
    assert counts["import_inbox"] == "1"
    assert counts["erase_expired"] == "0"
    assert lines[-1].startswith("outbox: not sent")
    assert "VHBOT_TELEGRAM_TOKEN" in lines[-1]
    # Imported, then deleted: no clear copy stays in the inbox.
    assert [p for p in (tmp_path / "inbox").rglob("*") if not p.is_dir()] == []
    assert count(env, Melding) == 3
    engine = make_engine(env["VHBOT_DATABASE_URL"])
    try:
        with Session(engine) as session:
            statuses = session.exec(select(OutboxMessage.status)).all()
    finally:
        engine.dispose()
    assert sorted(statuses) == ["pending"] * 3


def test_import_without_a_partner_group_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    """Stored but never announced would be lost work: the import refuses instead."""
    good = tmp_path / "goed.csv"
    good.write_bytes(dpan_csv(dpan_rows(made_up_people(2), MIDDEN_LIMBURG, date(2026, 11, 23))))
    without = {k: v for k, v in env.items() if k != "VHBOT_PARTNER_CHAT_ID"}
    result = vhbot("import", "dpan", str(good), env=without, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "vhbot: VHBOT_PARTNER_CHAT_ID is not set: notifications cannot be announced"
    ]


def test_a_surname_without_letters_is_one_rejected_row_not_a_traceback(
    env: dict[str, str], tmp_path: Path, people: People
) -> None:
    """Was: a traceback, exit 1, and the whole batch (valid releases too) rolled back."""
    rows = rows_for(people, 5)
    rows[2][2], rows[2][5] = "123", ""  # line 4: no letters and no BSN
    rows[3][2], rows[3][5] = "\U0001f600", ""  # line 5: an emoji
    path = write(tmp_path / "letters.csv", rows)

    result = vhbot("import", "dpan", str(path), env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "letters.csv: 3 new, 0 duplicate, 2 rejected" in result.stdout
    reason = _(MSG_NO_LETTERS, column=Code("achternaam"))
    assert result.stderr.splitlines() == [f"line 4: {reason}", f"line 5: {reason}"]
    assert count(env, Melding) == 3


@pytest.mark.parametrize(
    "raw_name",
    [
        pytest.param(b"Vermeulen-\xff.csv", id="not-utf8"),
        pytest.param(b"Vermeulen\nvhbot: 0 rejected.csv", id="newline"),
        pytest.param(b"Vermeulen\x1b[2J.csv", id="escape"),
    ],
)
def test_a_file_name_that_cannot_be_shown_is_named_by_its_import_number(
    env: dict[str, str], tmp_path: Path, people: People, raw_name: bytes
) -> None:
    path = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), raw_name)))
    write(path, rows_for(people, 2))

    result = vhbot("import", "dpan", str(path), env=env, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == "import 1: 2 new, 0 duplicate, 0 rejected; 2 cases opened (import 1)\n"
    assert "Vermeulen" not in result.stderr

    unreadable = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), raw_name + b".bin")))
    unreadable.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    broken = vhbot("import", "dpan", str(unreadable), env=env, cwd=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr == f"vhbot: import 2: {_(MSG_BINARY)}\n"

    missing = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), raw_name + b".weg")))
    absent = vhbot("import", "dpan", str(missing), env=env, cwd=tmp_path)
    assert absent.returncode == 2
    assert absent.stderr == "vhbot: the file given: no such file\n"
