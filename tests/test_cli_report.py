"""`vhbot import meldingen --history` and `vhbot report` as operators run them: real
subprocesses, real databases (the history lies in the past of any clock that runs them)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bot.config import MIDDEN_LIMBURG
from bot.domain.reports import CSV_HEADER, Period
from tests.conftest import People, operator_env
from tests.report_history import Cell, Key, expected, rows_of
from tests.services.test_reports import HAND, write_history
from tests.test_cli import vhbot

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    return operator_env(tmp_path, database_url, VHBOT_LOCALE="nl")


@pytest.fixture
def imported(env: dict[str, str], tmp_path: Path, people: People) -> dict[str, str]:
    """The hand-made history of tests/services/test_reports.py, moved in."""
    path = write_history(tmp_path / "historie.csv", rows_of(HAND), people, shuffle=3)
    result = vhbot("import", "meldingen", "--history", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "historie.csv: 14 new, 0 duplicate, 0 rejected; 11 cases opened" in result.stdout
    return env


def parsed(text: str, delimiter: str = ",") -> dict[Key, Cell]:
    lines = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert lines[0] == list(CSV_HEADER)

    def number(cell: str) -> int | None:
        return int(cell) if cell else None

    return {
        (table, period, theme, where, decision): (
            number(meldingen), number(cases), number(persons),
            float(days.replace(",", ".")) if days else None,
        )
        for table, period, theme, where, meldingen, cases, persons, decision, days in lines[1:]
    }  # fmt: skip


def test_a_history_moved_in_is_reported_cell_by_cell(
    imported: dict[str, str], tmp_path: Path
) -> None:
    result = vhbot("report", "--year", "2026", "--format", "csv", env=imported, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert parsed(result.stdout) == expected(HAND, Period(2026), MIDDEN_LIMBURG)

    # Dutch Excel, to a file; a quarter.
    out = tmp_path / "rapport.csv"
    result = vhbot(
        "report", "--year", "2026", "--quarter", "2", "--excel", "--out", str(out),
        env=imported, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "report 2026-Q2 written to rapport.csv\n"
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbftabel;periode;")
    assert out.stat().st_mode & 0o077 == 0
    excel = parsed(data.decode("utf-8-sig"), delimiter=";")
    assert excel == expected(HAND, Period(2026, 2), MIDDEN_LIMBURG)

    # The markdown of the annual reports, small cells suppressed.
    result = vhbot("report", "--year", "2026", "--suppress-small", env=imported, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# Rapportage 2026\n")
    assert "| Roermond | 2026-Q1 | <5 | <5 | <5 |" in result.stdout
    assert "| Totaal | 2026-Q1 | <5 | 6 | 5 |" in result.stdout

    # A quarter the history does not reach.
    result = vhbot("report", "--year", "2024", "--quarter", "4", env=imported, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == "vhbot: geen meldingen of zaken in kwartaal 4 van 2024\n"


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--year", "2019"], "geen meldingen of zaken in 2019"),
        (["--year", "2026", "--quarter", "5"], "--quarter moet 1, 2, 3 of 4 zijn"),
        (["--year", "twintig"], "--year moet een jaartal zijn, zoals 2026"),
        ([], "--year ontbreekt, bijvoorbeeld --year 2026"),
        (["--year", "2026", "--out", "{tmp}/nergens/rapport.md"], "--out: de map bestaat niet"),
        (["--year", "2026", "--out", "{tmp}"], "--out noemt een map; geef een bestandsnaam"),
        (["--year", "2026", "--excel", "--format", "md"],
         "--excel is een soort CSV: laat --format md weg"),
        (["--year", "2026", "--format", "xlsx"], "--format moet md of csv zijn"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(
    env: dict[str, str], tmp_path: Path, args: list[str], line: str
) -> None:
    given = [a.replace("{tmp}", str(tmp_path)) for a in args]
    result = vhbot("report", *given, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == f"vhbot: {line}\n"
    assert result.stdout == ""


def test_a_history_row_in_error_is_named_by_line_without_its_data(
    env: dict[str, str], tmp_path: Path, people: People
) -> None:
    person = people.identity()
    path = tmp_path / "historie.csv"
    path.write_text(
        "bron_id;bron;thema;achternaam;voornamen;geboortedatum;gemeente;datum;besluit;"
        "besluit_datum;gesloten_op\n"
        f"H-1;politie;jeugd;{person.surname};{person.given_names};"
        f"{person.birth_date.isoformat()};Weert;2025-06-01;procesregie;;\n",
        encoding="utf-8",
    )
    result = vhbot("import", "meldingen", "--history", str(path), env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "line 2: besluit_datum is verplicht als besluit is ingevuld\n"
    assert person.surname not in result.stdout + result.stderr
    # Without --history the same row is refused for its history column.
    plain = vhbot("import", "meldingen", str(path), env=env, cwd=tmp_path)
    assert plain.stderr == "line 2: besluit: historiekolommen vragen om --history\n"


def test_a_report_over_an_existing_file_is_readable_by_its_owner_only(
    imported: dict[str, str], tmp_path: Path
) -> None:
    # Exact figures (small cells too): an old copy readable by all must not stay so.
    out = tmp_path / "rapport.md"
    out.write_text("oud\n", encoding="utf-8")
    out.chmod(0o644)
    result = vhbot("report", "--year", "2026", "--out", str(out), env=imported, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert out.read_text(encoding="utf-8").startswith("# Rapportage 2026\n")
    assert out.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("target", ["keys", "anchors", "link", "database"])
def test_out_never_overwrites_the_key_file_the_audit_anchors_or_the_database(
    imported: dict[str, str], tmp_path: Path, target: str
) -> None:
    # `--out vhbot.keys` by a slip of the finger would lose every encrypted field.
    keys = Path(imported["VHBOT_KEY_FILE"])
    anchors = keys.with_name(f"{keys.name}.anchors")
    anchors.touch()
    url = imported["VHBOT_DATABASE_URL"]
    if target == "database" and not url.startswith("sqlite:///"):
        pytest.skip("a PostgreSQL database is no file")
    database = Path(url.removeprefix("sqlite:///"))
    out = {"keys": keys, "anchors": anchors, "link": tmp_path / "link.md", "database": database}
    if target == "link":
        out["link"].symlink_to(keys)
    before = {p: p.read_bytes() for p in (keys, anchors, database) if p.is_file()}
    result = vhbot(
        "report", "--year", "2026", "--out", str(out[target]), env=imported, cwd=tmp_path
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "vhbot: --out noemt een bestand van vhbot zelf (sleutels, auditanker of database); "
        "geef een andere bestandsnaam\n"
    )
    assert {path: path.read_bytes() for path in before} == before


@pytest.mark.parametrize(("args", "line"), [
    (["--year", "2027"], "geen meldingen of zaken in 2027"),
    (["--year", "2999"], "geen meldingen of zaken in 2999"),
])  # fmt: skip
def test_a_period_still_to_come_is_no_report_of_the_cases_open_today(
    imported: dict[str, str], tmp_path: Path, args: list[str], line: str
) -> None:
    # The history leaves cases open; they must not be reported as handled in 2999.
    result = vhbot("report", *args, env=imported, cwd=tmp_path)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"vhbot: {line}\n"
