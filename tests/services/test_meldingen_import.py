"""`vhbot import meldingen`: new, duplicate and rejected rows; cases opened or joined."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import col, select

from bot.core import Core
from bot.domain.identity import Identity
from bot.domain.meldingen import MeldingRow, check_one
from bot.services.audit import CLI
from bot.services.imports import ImportReport
from bot.services.meldingen import new_bron_id
from bot.storage.models import Case, ImportFile, Melding, OutboxMessage
from tests.app.test_detention import HEADER as DPAN_HEADER
from tests.app.test_detention import write_dpan
from tests.conftest import People
from tests.locking import wait_until_blocked

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MELDINGEN_HEADER = [
    "bron_id", "bron", "thema", "achternaam", "voornamen", "geboortedatum", "bsn",
    "gemeente", "datum", "opmerking",
]  # fmt: skip


def melding_row(
    identity: Identity,
    bron_id: str,
    *,
    thema: str = "top_x",
    bron: str = "politie",
    datum: str = "2026-11-20",
    gemeente: str = "Roermond",
) -> list[str]:
    return [
        bron_id, bron, thema, identity.surname, identity.given_names,
        identity.birth_date.isoformat(), identity.bsn or "", gemeente, datum,
        f"Opmerking over {identity.surname}",
    ]  # fmt: skip


def meldingen_csv(rows: Sequence[Sequence[str]], header: Sequence[str] = MELDINGEN_HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def write_meldingen(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    path.write_bytes(meldingen_csv(rows))
    return path


def figures(core: Core) -> tuple[int, int, int]:
    """Meldingen, cases and distinct persons with a case: the three numbers of the reports."""
    with core.db.session() as session:
        meldingen = session.exec(select(func.count()).select_from(Melding)).one()
        cases = session.exec(select(func.count()).select_from(Case)).one()
        persons = session.exec(select(func.count(func.distinct(Case.person_id)))).one()
    return meldingen, cases, persons


def case_of(core: Core, bron_id: str) -> Case:
    with core.db.session() as session:
        melding = session.exec(select(Melding).where(Melding.bron_id == bron_id)).one()
        case = session.get(Case, melding.case_id)
        assert case is not None
        session.expunge(case)
        return case


def test_a_new_file_opens_a_case_in_triage_per_melding_on_its_date(
    core: Core, people: People, tmp_path: Path
) -> None:
    a, b, c = (people.identity() for _ in range(3))
    path = write_meldingen(
        tmp_path / "m.csv",
        [
            melding_row(a, "POL-1", thema="top_x", datum="2026-11-20"),
            melding_row(b, "VT-1", thema="huiselijk_geweld", bron="veilig_thuis"),
            # A history moved in: the case opens on the melding's date, in its year.
            melding_row(c, "GGZ-1", thema="verward_gedrag", bron="ggz", datum="30-12-2025"),
        ],
    )
    report = core.meldingen.import_path(path, actor=CLI)
    assert (report.new, report.duplicate, report.rejected) == (3, 0, 0)
    assert sorted(report.cases_opened) == ["VH-2025-0001", "VH-2026-0001", "VH-2026-0002"]
    first = case_of(core, "POL-1")
    assert (first.theme, first.decision, first.closed_at) == ("top_x", None, None)
    assert first.opened_at.astimezone(AMSTERDAM).date().isoformat() == "2026-11-20"
    old = case_of(core, "GGZ-1")
    assert (old.reference, old.theme) == ("VH-2025-0001", "verward_gedrag")
    assert old.opened_at.astimezone(AMSTERDAM).date().isoformat() == "2025-12-30"
    with core.db.session() as session:
        stored = session.exec(select(Melding).where(Melding.bron_id == "VT-1")).one()
        assert (stored.soort, stored.bron, stored.theme) == (
            "melding", "veilig_thuis", "huiselijk_geweld"
        )  # fmt: skip
        assert stored.remark_ct is not None and b.surname not in stored.remark_ct
        # Nothing is announced by the import: agenda items are announced per meeting.
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 0
        record = session.exec(select(ImportFile)).one()
        assert (record.kind, record.status) == ("meldingen", "done")
    assert figures(core) == (3, 3, 3)


def test_the_same_bron_id_again_is_a_duplicate(core: Core, people: People, tmp_path: Path) -> None:
    a, b = people.identity(), people.identity()
    rows = [melding_row(a, "POL-1"), melding_row(b, "POL-2")]
    core.meldingen.import_path(write_meldingen(tmp_path / "a.csv", rows), actor=CLI)
    again = core.meldingen.import_path(write_meldingen(tmp_path / "a.csv", rows), actor=CLI)
    assert (again.new, again.duplicate, again.rejected) == (0, 2, 0)
    # Another file naming one of them again (and a new one).
    c = people.identity()
    later = core.meldingen.import_path(
        write_meldingen(tmp_path / "b.csv", [rows[1], melding_row(c, "POL-3")]), actor=CLI
    )
    assert (later.new, later.duplicate, later.rejected) == (1, 1, 0)
    assert figures(core) == (3, 3, 3)


def test_two_sources_may_use_the_same_id_without_losing_a_melding(
    core: Core, people: People, tmp_path: Path
) -> None:
    """A melding is known by its sender and the sender's id: the police's "1001" is
    not the GGZ's "1001", and neither is the prison service's "DJI-00001"."""
    a, b, c, d = (people.identity() for _ in range(4))
    core.detention.import_path(write_dpan(tmp_path / "dpan.csv", [a]), actor=CLI)
    rows = [
        melding_row(b, "1001", bron="politie"),
        melding_row(c, "1001", bron="ggz", thema="verward_gedrag"),
        melding_row(d, "DJI-00001", bron="politie"),
    ]
    first = core.meldingen.import_path(write_meldingen(tmp_path / "m.csv", rows), actor=CLI)
    assert (first.new, first.duplicate, first.rejected) == (3, 0, 0)
    # The same file again is three duplicates; one source naming an id twice is
    # still a duplicate within the file.
    again = core.meldingen.import_path(write_meldingen(tmp_path / "m.csv", rows), actor=CLI)
    assert (again.new, again.duplicate, again.rejected) == (0, 3, 0)
    errors: list[tuple[int, list[str]]] = []
    twice = core.meldingen.import_path(
        write_meldingen(tmp_path / "t.csv", [melding_row(b, "2002"), melding_row(c, "2002")]),
        actor=CLI,
        on_error=lambda line, reasons: errors.append((line, reasons)),
    )
    assert (twice.new, twice.duplicate, twice.rejected) == (1, 0, 1)
    assert errors == [(3, ["bron_id staat eerder in dit bestand (regel 2)"])]
    with core.db.session() as session:
        keys = session.exec(
            select(Melding.bron, Melding.bron_id).order_by(Melding.bron, Melding.bron_id)
        ).all()
    assert [tuple(key) for key in keys] == [
        ("dji", "DJI-00001"), ("ggz", "1001"), ("politie", "1001"), ("politie", "2002"),
        ("politie", "DJI-00001"),
    ]  # fmt: skip
    assert figures(core) == (5, 4, 4)


def test_rejected_rows_are_named_by_line_and_reason_without_their_data(
    core: Core, people: People, tmp_path: Path
) -> None:
    good, *bad = (people.identity() for _ in range(6))
    header = [*MELDINGEN_HEADER, "besluit", "besluit_datum", "gesloten_op"]
    rows = [
        [*melding_row(good, "OK-1"), "", "", ""],
        [*melding_row(bad[0], "X-1", bron="buurman"), "", "", ""],
        [*melding_row(bad[1], "X-2", thema="fietsendiefstal"), "", "", ""],
        [*melding_row(bad[2], "X-3", datum="2026-11-24"), "", "", ""],  # tomorrow
        [*melding_row(bad[3], "X-4", gemeente="Amsterdam"), "", "", ""],
        [*melding_row(bad[4], "X-5"), "procesregie", "2026-11-21", ""],
        [*melding_row(bad[0], "OK-1", thema="jeugd"), "", "", ""],  # bron_id twice in the file
    ]
    path = tmp_path / "m.csv"
    path.write_bytes(meldingen_csv(rows, header))
    errors: list[tuple[int, list[str]]] = []
    report = core.meldingen.import_path(
        path, actor=CLI, on_error=lambda line, reasons: errors.append((line, reasons))
    )
    assert (report.new, report.duplicate, report.rejected) == (1, 0, 6)
    by_line = dict(errors)
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8]
    assert "bron moet een van deze waarden zijn" in by_line[3][0]
    assert "thema moet een van deze waarden zijn" in by_line[4][0]
    assert by_line[5] == ["datum ligt in de toekomst"]
    assert "gemeente" in by_line[6][0]
    assert by_line[7] == [
        f"{column}: historiekolommen vragen om --history" for column in ("besluit", "besluit_datum")
    ]
    assert by_line[8] == ["bron_id staat eerder in dit bestand (regel 2)"]
    shown = str(errors)
    for identity in bad:
        assert identity.surname not in shown
        assert identity.birth_date.isoformat() not in shown
    assert "buurman" not in shown and "fietsendiefstal" not in shown
    assert figures(core) == (1, 1, 1)


def test_a_crash_half_way_then_a_rerun_gives_the_state_of_one_run(
    core: Core, people: People, tmp_path: Path
) -> None:
    identities = [people.identity() for _ in range(10)]
    themes = ("top_x", "jeugd")
    # Each person twice, the same theme: the second melding joins the first's case.
    rows = [
        melding_row(identity, f"R-{n}-{k}", thema=themes[n % 2])
        for k in (1, 2)
        for n, identity in enumerate(identities)
    ]
    path = write_meldingen(tmp_path / "m.csv", rows)

    def crash(rows_done: int) -> None:
        if rows_done >= 8:
            raise KeyboardInterrupt  # as if the process was stopped here

    with pytest.raises(KeyboardInterrupt):
        core.meldingen.import_path(path, actor=CLI, after_batch=crash, batch_size=4)
    assert figures(core) == (8, 8, 8)
    again = core.meldingen.import_path(path, actor=CLI, batch_size=4)
    # The run resumed: the rows its first attempt stored are new, as in one clean run.
    assert (again.new, again.duplicate, again.rejected) == (20, 0, 0)
    assert figures(core) == (20, 10, 10)
    with core.db.session() as session:
        references = session.exec(select(Case.reference)).all()
        assert sorted(references) == [f"VH-2026-{n:04d}" for n in range(1, 11)]
        record = session.exec(select(ImportFile)).one()
        assert (record.rows_new, record.rows_duplicate, record.status) == (20, 0, "done")


def test_an_open_case_of_the_same_theme_is_joined_another_theme_or_a_closed_case_is_new(
    core: Core, people: People, tmp_path: Path
) -> None:
    person = people.identity()
    core.meldingen.import_path(
        write_meldingen(tmp_path / "1.csv", [melding_row(person, "A-1", thema="top_x")]),
        actor=CLI,
    )
    first = case_of(core, "A-1")
    second = core.meldingen.import_path(
        write_meldingen(
            tmp_path / "2.csv",
            [
                # Same theme, from elsewhere: joins, and the case keeps its municipality.
                melding_row(person, "A-2", thema="top_x", bron="om", gemeente="Weert"),
                melding_row(person, "A-3", thema="jeugd"),
            ],
        ),
        actor=CLI,
    )
    assert second.new == 2 and len(second.cases_opened) == 1
    assert case_of(core, "A-2").id == first.id
    assert case_of(core, "A-2").municipality == "Roermond"
    assert case_of(core, "A-3").id != first.id
    assert figures(core) == (3, 2, 1)
    with core.db.session() as session:
        case = session.get(Case, first.id)
        assert case is not None
        case.closed_at = datetime(2026, 11, 21, 12, 0, tzinfo=AMSTERDAM)
        session.add(case)
    # A melding of after the closing is a relapse (one from before it joins the closed
    # case: tests/services/test_review_r2_history.py).
    core.meldingen.import_path(
        write_meldingen(
            tmp_path / "3.csv", [melding_row(person, "A-4", thema="top_x", datum="2026-11-22")]
        ),
        actor=CLI,
    )
    relapse = case_of(core, "A-4")
    assert relapse.id not in (first.id, case_of(core, "A-3").id)
    assert relapse.theme == "top_x"
    assert figures(core) == (4, 3, 1)


def test_a_nazorg_melding_joins_the_nazorg_case_of_a_release(
    core: Core, people: People, tmp_path: Path
) -> None:
    person = people.identity()
    core.detention.import_path(write_dpan(tmp_path / "dpan.csv", [person]), actor=CLI)
    with core.db.session() as session:
        nazorg = session.exec(select(Case)).one()
        announced = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    core.meldingen.import_path(
        write_meldingen(
            tmp_path / "m.csv", [melding_row(person, "RECL-1", thema="nazorg", bron="reclassering")]
        ),
        actor=CLI,
    )
    assert case_of(core, "RECL-1").id == nazorg.id
    with core.db.session() as session:
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == announced
    assert figures(core) == (2, 1, 1)


def test_a_melding_typed_in_is_stored_like_an_imported_row(core: Core, people: People) -> None:
    person = people.identity()
    values = {
        "bron_id": new_bron_id(), "bron": "gemeente", "thema": "oggz",
        "achternaam": person.surname, "voornamen": person.given_names,
        "geboortedatum": person.birth_date.isoformat(), "bsn": person.bsn or "",
        "gemeente": "leudal", "datum": "2026-11-23",
    }  # fmt: skip
    today = core.clock.now().date()
    row = check_one(values, municipalities=core.settings.municipalities, today=today)
    assert isinstance(row, MeldingRow)
    added = core.meldingen.add(row, actor=CLI)
    assert (added.reference, added.new_case) == ("VH-2026-0001", True)
    again = check_one(
        {**values, "bron_id": new_bron_id()},
        municipalities=core.settings.municipalities,
        today=today,
    )
    assert isinstance(again, MeldingRow)
    assert core.meldingen.add(again, actor=CLI).new_case is False
    with core.db.session() as session:
        stored = session.exec(select(Melding).order_by(col(Melding.id))).all()
        assert [m.municipality for m in stored] == ["Leudal", "Leudal"]
        assert [m.import_id for m in stored] == [None, None]
    assert figures(core) == (2, 1, 1)


def test_a_case_opened_by_another_importer_meanwhile_is_joined_not_doubled(
    core: Core, people: People, tmp_path: Path
) -> None:
    """The other importer opens the person's case after this one looked and found none:
    the database refuses the second open case and the row joins the first."""
    if core.db.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE): no such race")
    person = people.identity()
    core.meldingen.import_path(
        write_meldingen(tmp_path / "a.csv", [melding_row(person, "GGZ-1", bron="ggz",
                                                         thema="verward_gedrag")]),
        actor=CLI,
    )  # fmt: skip
    first = case_of(core, "GGZ-1")
    reports: list[object] = []

    def other_importer() -> None:
        path = write_meldingen(tmp_path / "b.csv", [melding_row(person, "POL-1")])
        reports.append(core.meldingen.import_path(path, actor=CLI))

    with core.db.session() as session:
        # "The other importer": an open top_x case, not committed yet.
        session.add(
            Case(
                reference="VH-2026-0050",
                year=2026,
                number=50,
                theme="top_x",
                person_id=first.person_id,
                municipality="Roermond",
                opened_at=first.opened_at,
            )
        )
        session.flush()
        thread = threading.Thread(target=other_importer)
        thread.start()
        wait_until_blocked(core, thread, who="import")
    thread.join(timeout=20)
    assert not thread.is_alive()
    report = reports[0]
    assert isinstance(report, ImportReport)
    assert (report.new, report.duplicate, report.rejected, report.cases_opened) == (1, 0, 0, [])
    assert case_of(core, "POL-1").reference == "VH-2026-0050"
    assert figures(core) == (2, 2, 1)


def test_a_file_is_one_kind_and_a_wrong_kind_leaves_the_right_import_alone(
    core: Core, people: People, tmp_path: Path
) -> None:
    a, b = people.identity(), people.identity()
    dpan = write_dpan(tmp_path / "dpan.csv", [a])
    assert core.detention.import_path(dpan, actor=CLI).new == 1
    # The same bytes offered as meldingen: refused, and the detention import stays done.
    wrong = core.meldingen.import_path(dpan, actor=CLI)
    assert wrong.unreadable == "het bestand mist de kolommen bron, thema"
    with core.db.session() as session:
        records = session.exec(select(ImportFile).order_by(col(ImportFile.id))).all()
        assert [(r.kind, r.status, r.rows_new) for r in records] == [
            ("dpan", "done", 1), ("meldingen", "unreadable", 0),
        ]  # fmt: skip
    # A header both kinds could read is refused by both: never stored twice.
    header = [*DPAN_HEADER, "bron", "thema"]
    row = [
        "X-1", "uitstroom", b.surname, b.given_names, b.birth_date.isoformat(), b.bsn or "",
        "Roermond", "PI Roermond", "2026-11-20", "", "politie", "top_x",
    ]  # fmt: skip
    both = tmp_path / "both.csv"
    both.write_bytes(meldingen_csv([row], header=header))
    as_dpan = core.detention.import_path(both, actor=CLI)
    as_meldingen = core.meldingen.import_path(both, actor=CLI)
    for report in (as_dpan, as_meldingen):
        assert report.new == 0 and report.unreadable is not None
        assert "een andere soort bestand" in report.unreadable
    assert figures(core) == (1, 1, 1)


def test_an_older_melding_joining_later_moves_the_case_start_back(
    core: Core, people: People, tmp_path: Path
) -> None:
    """A case opens on its first melding's date, whatever order the rows come in."""
    person = people.identity()
    rows = [
        melding_row(person, "POL-2", datum="2026-06-01"),
        melding_row(person, "POL-1", datum="2025-03-01"),
    ]
    core.meldingen.import_path(write_meldingen(tmp_path / "m.csv", rows), actor=CLI)
    case = case_of(core, "POL-1")
    assert case.id == case_of(core, "POL-2").id
    assert case.opened_at.astimezone(AMSTERDAM).date().isoformat() == "2025-03-01"
    assert figures(core) == (2, 1, 1)
