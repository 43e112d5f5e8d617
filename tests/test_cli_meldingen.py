"""`vhbot import meldingen` and `vhbot melding add` as operators run them: real subprocesses.

The subprocess uses the real clock, so dates are relative to today.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from bot.config import Settings
from bot.domain.meldingen import MeldingRow
from bot.storage.engine import make_engine
from bot.storage.models import Case, Melding
from tests.conftest import People, operator_env
from tests.services.test_meldingen_import import melding_row, write_meldingen
from tests.test_cli import vhbot

pytestmark = pytest.mark.slow

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A fresh key file and an upgraded database; no partner group (nothing is announced)."""
    return operator_env(
        tmp_path, database_url, VHBOT_LOCALE="nl", VHBOT_INBOX_DIR=str(tmp_path / "inbox")
    )


def figures(env: dict[str, str]) -> tuple[int, int]:
    engine = make_engine(env["VHBOT_DATABASE_URL"])
    try:
        with Session(engine) as session:
            meldingen = session.exec(select(func.count()).select_from(Melding)).one()
            cases = session.exec(select(func.count()).select_from(Case)).one()
            return meldingen, cases
    finally:
        engine.dispose()


def typed(env: dict[str, str], cwd: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    """`vhbot melding add` with `lines` typed on its standard input (then end of input)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", "melding", "add"],
        env=env,
        cwd=cwd,
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def today() -> str:
    return datetime.now(AMSTERDAM).date().isoformat()


def test_import_meldingen_then_again_and_rejected_rows(
    env: dict[str, str], tmp_path: Path, people: People
) -> None:
    a, b, c = (people.identity() for _ in range(3))
    tomorrow = (datetime.now(AMSTERDAM).date() + timedelta(days=1)).isoformat()
    path = write_meldingen(
        tmp_path / "meldingen.csv",
        [
            melding_row(a, "POL-1", datum=today()),
            melding_row(b, "POL-2", thema="jeugd", datum=today()),
            melding_row(c, "POL-3", datum=tomorrow),
        ],
    )

    first = vhbot("import", "meldingen", str(path), env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "meldingen.csv: 2 new, 0 duplicate, 1 rejected; 2 cases opened" in first.stdout
    assert first.stderr == "line 4: datum ligt in de toekomst\n"
    assert c.surname not in first.stdout + first.stderr

    again = vhbot("import", "meldingen", str(path), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "meldingen.csv: 0 new, 2 duplicate, 1 rejected; 0 cases opened" in again.stdout
    assert figures(env) == (2, 2)


def test_a_detention_file_given_as_meldingen_exits_2_with_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "dpan.csv"
    path.write_text("bron_id;soort;achternaam\nDJI-1;uitstroom;X\n", encoding="utf-8")
    result = vhbot("import", "meldingen", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("vhbot: dpan.csv: het bestand mist de kolommen")
    assert len(result.stderr.splitlines()) == 1


def test_melding_add_asks_again_next_to_the_field_then_prints_the_case(
    env: dict[str, str], tmp_path: Path, people: People
) -> None:
    person = people.identity()
    answers = [
        "politie", "verward_gedrag", person.surname, person.given_names,
        person.birth_date.isoformat(), person.bsn or "",
        "Utrecht",  # not in the region: asked again
        "roermond", today(), "",
    ]  # fmt: skip

    result = typed(env, tmp_path, answers)

    assert result.returncode == 0, result.stderr
    reference = f"VH-{today()[:4]}-0001"
    assert f"melding stored: case {reference} (opened)" in result.stdout
    assert "  gemeente: gemeente is geen gemeente van de regio" in result.stdout
    assert result.stdout.count("gemeente (") == 2  # the prompt, twice
    for value in (person.surname, person.birth_date.isoformat(), "Utrecht"):
        assert value not in result.stdout + result.stderr
    assert figures(env) == (1, 1)

    # The same person and theme again: the open case is joined.
    again = typed(env, tmp_path, answers[:6] + answers[7:])
    assert again.returncode == 0, again.stderr
    assert f"melding stored: case {reference} (joined)" in again.stdout
    assert figures(env) == (2, 1)


@pytest.mark.parametrize("stop_after", [0, 4, 8])
def test_melding_add_stops_at_the_end_of_input_or_an_empty_answer_storing_nothing(
    env: dict[str, str], tmp_path: Path, people: People, stop_after: int
) -> None:
    person = people.identity()
    answers = [
        "ggz", "oggz", person.surname, person.given_names, person.birth_date.isoformat(),
        "", "Weert", today(),
    ]  # fmt: skip
    # Ended by the end of input (Ctrl-D), or by an empty answer to a required field.
    lines = answers[:stop_after] if stop_after < 8 else [*answers[:2], ""]
    result = typed(env, tmp_path, lines)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("vhbot: aborted; nothing stored")
    assert "melding stored" not in result.stdout
    assert figures(env) == (0, 0)


def test_melding_add_takes_a_name_without_letters_when_a_bsn_follows(
    settings: Settings, people: People
) -> None:
    """As the import does: a first name without letters is fine with a BSN, so it is not
    refused before the BSN is asked; without a BSN it is asked again once the BSN is empty."""
    from bot.__main__ import ask_melding

    person = people.identity()
    said: list[str] = []

    def run(answers: list[str]) -> MeldingRow | None:
        given = iter(answers)
        return ask_melding(
            lambda _prompt: next(given), said.append, settings=settings,
            today=date(2026, 11, 23), bron_id="HAND-1",
        )  # fmt: skip

    start = ["politie", "top_x", person.surname, "-", person.birth_date.isoformat()]
    end = ["Roermond", "2026-11-20", ""]
    row = run([*start, "123456782", *end])
    assert isinstance(row, MeldingRow) and row.identity.bsn == "123456782"
    assert said == []
    # Without a BSN: voornamen is asked again (then geboortedatum and bsn follow again).
    row = run([*start, "", person.given_names, person.birth_date.isoformat(), "", *end])
    assert isinstance(row, MeldingRow) and row.identity.bsn is None
    assert said == [
        "  voornamen: de eerste naam in voornamen moet letters bevatten als er geen BSN is"
    ]
