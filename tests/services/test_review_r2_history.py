"""Review r2 of issue 12: a history moved in, counted as the reports count.

The clock stands on Monday 2026-11-23 09:00 (Amsterdam).
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.identity import Identity
from bot.domain.meldingen import MeldingRow, check_one
from bot.domain.reports import TOTAL, Period, Table
from bot.services.audit import CLI
from bot.services.imports import ImportReport
from bot.services.meldingen import new_bron_id
from bot.services.reports import NoData
from bot.storage.models import Case, Melding, OutboxMessage
from tests.conftest import People
from tests.services.test_history_import import history_row, midnight, write
from tests.services.test_meldingen_import import case_of, melding_row, write_meldingen


def _cases(core: Core) -> list[Case]:
    with core.db.session() as session:
        return list(session.exec(select(Case).order_by(col(Case.opened_at))).all())


def test_an_older_melding_from_elsewhere_moves_the_case_to_its_municipality(
    core: Core, people: People, tmp_path: Path
) -> None:
    # The same two meldingen in one file give a case of Roermond (its first melding's);
    # in two files, the later first, the case must be the same (history_case's promise).
    person = people.identity()
    core.history.import_path(
        write(tmp_path / "late.csv", [history_row(person, "P-2", "2026-05-01", gemeente="Weert")]),
        actor=CLI,
    )
    core.history.import_path(
        write(tmp_path / "early.csv", [history_row(person, "P-1", "2026-03-01")]), actor=CLI
    )
    [case] = _cases(core)
    assert (case.opened_at, case.municipality) == (midnight("2026-03-01"), "Roermond")


def test_an_older_melding_of_a_normal_import_moves_the_case_to_its_municipality(
    core: Core, people: People, tmp_path: Path
) -> None:
    person = people.identity()
    core.meldingen.import_path(
        write_meldingen(
            tmp_path / "a.csv", [melding_row(person, "N-2", datum="2026-11-20", gemeente="Weert")]
        ),
        actor=CLI,
    )
    _import(core, tmp_path / "b.csv", person, "N-1", "2026-10-01")
    [case] = _cases(core)
    assert (case.opened_at, case.municipality) == (midnight("2026-10-01"), "Roermond")
    report = core.reports.report(Period(2026), actor=CLI)
    assert report.find(Table.THEME, "2026", "top_x", "Roermond").cases == 1
    assert report.find(Table.THEME, "2026", "top_x", "Weert").cases == 0
    assert report.find(Table.THEME, "2026", "top_x", TOTAL).cases == 1


def test_a_decision_after_its_case_closed_is_rejected_in_either_row_order(
    core: Core, people: People, tmp_path: Path
) -> None:
    # A case closed on 1 February cannot be taken into procesregie on 10 March: the
    # reports would count it in procesregie in a quarter it was closed in, and no closing
    # decision follows the procesregie one.
    a, b = people.identity(), people.identity()
    errors: list[tuple[int, list[str]]] = []
    path = write(
        tmp_path / "h.csv",
        [
            history_row(a, "A-1", "2026-01-10", gesloten_op="2026-02-01"),
            history_row(a, "A-2", "2026-01-20", "procesregie", "2026-03-10"),
            history_row(b, "B-1", "2026-01-10", "procesregie", "2026-03-10"),
            history_row(b, "B-2", "2026-01-20", gesloten_op="2026-02-01"),
        ],
    )
    report = core.history.import_path(
        path, actor=CLI, on_error=lambda line, reasons: errors.append((line, reasons))
    )
    assert (report.new, report.rejected) == (2, 2)
    assert errors == [(line, ["besluit_datum ligt na het sluiten van de zaak"]) for line in (3, 5)]
    for case in _cases(core):
        assert case.procesregie_at is None or case.closed_at is None


def test_a_late_melding_within_a_closed_history_case_opens_no_case_in_the_past(
    core: Core, people: People, tmp_path: Path
) -> None:
    # The history: a case from 10 January to 1 February 2025. A police file imported later
    # holds a melding of 20 January 2025 about it: it belongs to that case, not to a new
    # one opened in January 2025 and open ever since (counted in every quarter from then).
    person = people.identity()
    core.history.import_path(
        write(tmp_path / "h.csv", [history_row(person, "H-1", "2025-01-10", "afgesloten",
                                               "2025-02-01")]),
        actor=CLI,
    )  # fmt: skip
    _import(core, tmp_path / "m.csv", person, "M-1", "2025-01-20")
    # 2025: one case (the history's) and its two meldingen; 2026 has no case at all.
    found = core.reports.report(Period(2025), actor=CLI).find(Table.THEME, "2025", "top_x", TOTAL)
    assert (found.meldingen, found.cases, found.persons) == (2, 1, 1)
    with pytest.raises(NoData):
        core.reports.report(Period(2026), actor=CLI)
    # It joined the closed case, which stays closed; nothing was announced.
    (case,) = _cases(core)
    assert case.closed_at == midnight("2025-02-01")
    with core.db.session() as session:
        joined = session.exec(select(Melding.case_id).where(Melding.bron_id == "M-1")).one()
        assert joined == case.id
        assert session.exec(select(OutboxMessage)).all() == []
    # A melding after the closing is a relapse: a new case.
    _import(core, tmp_path / "m2.csv", person, "M-2", "2025-03-20")
    assert len(_cases(core)) == 2


AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TODAY = date(2026, 11, 23)


def _close_the_only_case(core: Core, at: datetime) -> None:
    with core.db.session() as session:
        case = session.exec(select(Case)).one()
        case.closed_at = at
        session.add(case)


def _import(core: Core, path: Path, person: Identity, bron_id: str, datum: str) -> ImportReport:
    """One melding of `person`, imported the normal way."""
    return core.meldingen.import_path(
        write_meldingen(path, [melding_row(person, bron_id, datum=datum)]), actor=CLI
    )


def test_a_late_melding_of_a_closed_case_s_first_day_joins_it(
    core: Core, people: People, clock: FrozenClock, tmp_path: Path
) -> None:
    # Opened by a melding of today (at the moment of the import, not at midnight), closed
    # two days later; a melding about that first day arriving later joins it.
    person = people.identity()
    _import(core, tmp_path / "a.csv", person, "A-1", "2026-11-23")
    _close_the_only_case(core, datetime(2026, 11, 25, 12, 0, tzinfo=AMSTERDAM))
    clock.advance(timedelta(days=10))
    _import(core, tmp_path / "b.csv", person, "A-2", "2026-11-23")
    assert len(_cases(core)) == 1
    assert case_of(core, "A-2").closed_at is not None


def test_a_late_melding_within_a_closed_case_joins_it_also_when_a_later_case_is_open(
    core: Core, people: People, tmp_path: Path
) -> None:
    person = people.identity()
    _import(core, tmp_path / "a.csv", person, "E-1", "2026-01-10")
    _close_the_only_case(core, datetime(2026, 3, 31, 12, 0, tzinfo=AMSTERDAM))
    _import(core, tmp_path / "b.csv", person, "E-2", "2026-06-01")
    episode, running = _cases(core)
    _import(core, tmp_path / "c.csv", person, "E-3", "2026-02-15")
    after = {c.id: c for c in _cases(core)}
    assert case_of(core, "E-3").id == episode.id
    assert after[running.id].opened_at == running.opened_at
    assert after[running.id].closed_at is None


def test_a_melding_of_today_after_its_case_closed_today_opens_a_new_case(
    core: Core, people: People, clock: FrozenClock, tmp_path: Path
) -> None:
    # Closed this morning at 08:00; a melding dated today arrives at 14:00: a relapse, to
    # be triaged, not a line in this morning's closed case.
    person = people.identity()
    _import(core, tmp_path / "a.csv", person, "A-1", "2026-10-20")
    _close_the_only_case(core, datetime(2026, 11, 23, 8, 0, tzinfo=AMSTERDAM))
    clock.advance(timedelta(hours=5))
    report = _import(core, tmp_path / "b.csv", person, "A-2", "2026-11-23")
    assert case_of(core, "A-2").closed_at is None
    assert report.cases_opened


def _form_row(core: Core, person: Identity, datum: str) -> MeldingRow:
    values = {
        "bron_id": new_bron_id(), "bron": "gemeente", "thema": "oggz",
        "achternaam": person.surname, "voornamen": person.given_names,
        "geboortedatum": person.birth_date.isoformat(), "bsn": person.bsn or "",
        "gemeente": "leudal", "datum": datum,
    }  # fmt: skip
    row = check_one(values, municipalities=core.settings.municipalities, today=TODAY)
    assert isinstance(row, MeldingRow)
    return row


def test_an_import_and_a_form_melding_for_the_same_person_do_not_deadlock(
    core: Core, people: People
) -> None:
    # An import batch holds the audit chain (its earlier rows) and then places a row of Q;
    # a web form for Q meanwhile places its melding and then audits. Neither may lock
    # Q's cases before the chain, or the two wait for each other.
    if core.db.dialect != "postgresql":
        pytest.skip("SQLite runs one writer at a time (BEGIN IMMEDIATE)")
    p, q = people.identity(), people.identity()
    core.meldingen.add(_form_row(core, q, "2026-11-01"), actor=CLI)
    errors: list[BaseException] = []

    def form() -> None:
        try:
            with core.db.session() as session:
                core.meldingen.add_in(session, _form_row(core, q, "2026-11-20"), actor=CLI)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=form)
    try:
        with core.db.session() as batch:
            core.meldingen.add_in(batch, _form_row(core, p, "2026-11-20"), actor=CLI)
            thread.start()
            thread.join(timeout=1.5)
            core.meldingen.add_in(batch, _form_row(core, q, "2026-11-21"), actor=CLI)
    except OperationalError as error:
        errors.append(error)
    thread.join(timeout=10)
    assert not errors, [type(e).__name__ for e in errors]
