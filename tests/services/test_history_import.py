"""`vhbot import meldingen --history`: past meldingen with their cases' decisions and
closings, on their own dates, announcing nothing.

The clock stands on Monday 2026-11-23 09:00 (Amsterdam).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import col, select

from bot.core import Core
from bot.domain.decisions import Decision
from bot.domain.identity import Identity
from bot.domain.roles import Role
from bot.services.audit import CLI
from bot.storage.models import AgendaItem, AuditEntry, Case, Melding, OutboxMessage
from tests.conftest import People
from tests.report_history import HISTORY_HEADER
from tests.services.test_meldingen_import import melding_row, meldingen_csv

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def history_row(
    identity: Identity,
    bron_id: str,
    datum: str,
    besluit: str = "",
    besluit_datum: str = "",
    gesloten_op: str = "",
    *,
    thema: str = "top_x",
    gemeente: str = "Roermond",
) -> list[str]:
    row = melding_row(identity, bron_id, thema=thema, datum=datum, gemeente=gemeente)
    return [*row, besluit, besluit_datum, gesloten_op]


def write(path: Path, rows: list[list[str]]) -> Path:
    path.write_bytes(meldingen_csv(rows, header=HISTORY_HEADER))
    return path


def midnight(day: str) -> datetime:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=AMSTERDAM)


def cases(core: Core) -> list[Case]:
    with core.db.session() as session:
        return list(session.exec(select(Case).order_by(col(Case.opened_at))).all())


def audit(core: Core, action: str) -> list[dict[str, object]]:
    with core.db.session() as session:
        entries = session.exec(select(AuditEntry).where(AuditEntry.action == action)).all()
        return [json.loads(e.details) for e in entries]


def state(core: Core) -> list[tuple[object, ...]]:
    """Every case and melding as the reports read them."""
    with core.db.session() as session:
        return [
            (c.reference, c.theme, c.municipality, c.opened_at, c.closed_at, c.decision,
             c.decided_at, c.procesregie, c.procesregie_at)
            for c in session.exec(select(Case).order_by(col(Case.id)))
        ] + [
            (m.bron_id, m.case_id, m.event_date, m.municipality)
            for m in session.exec(select(Melding).order_by(col(Melding.id)))
        ]  # fmt: skip


def test_decisions_and_closings_are_recorded_on_their_dates_and_nothing_is_announced(
    core: Core, people: People, tmp_path: Path
) -> None:
    a, b, c, d = (people.identity() for _ in range(4))
    path = write(
        tmp_path / "historie.csv",
        [
            # A relapse after the closing is a new case; the rows come in any order.
            history_row(a, "A-2", "2026-05-04", gemeente="Weert"),
            history_row(a, "A-1", "2025-11-10", "procesregie", "20-11-2025", "2026-02-15"),
            # Decided later than the melding came in; a later melding joins.
            history_row(b, "B-1", "2026-02-20", "procesregie", "2026-04-02"),
            history_row(b, "B-2", "2026-08-15", gemeente="Leudal"),
            # Doorgeleid closes the case on its date.
            history_row(c, "C-1", "2025-03-01", "doorgeleid", "2025-04-01", thema="oggz"),
            # Procesregie first, afgesloten later, each on its own row.
            history_row(d, "D-1", "2026-01-05", "procesregie", "2026-01-10", thema="nazorg"),
            history_row(d, "D-2", "2026-03-05", "afgesloten", "2026-06-30", thema="nazorg"),
        ],
    )
    report = core.history.import_path(path, actor=CLI)
    assert (report.new, report.duplicate, report.rejected) == (7, 0, 0)
    assert sorted(report.cases_opened) == [
        "VH-2025-0001", "VH-2025-0002", "VH-2026-0001", "VH-2026-0002", "VH-2026-0003",
    ]  # fmt: skip
    found = {
        (c.theme, c.opened_at): (c.municipality, c.decision, c.decided_at, c.procesregie_at,
                                 c.closed_at)
        for c in cases(core)
    }  # fmt: skip
    assert found == {
        ("oggz", midnight("2025-03-01")): (
            "Roermond", "doorgeleid", midnight("2025-04-01"), None, midnight("2025-04-01"),
        ),
        ("top_x", midnight("2025-11-10")): (
            "Roermond", "procesregie", midnight("2025-11-20"), midnight("2025-11-20"),
            midnight("2026-02-15"),
        ),
        ("nazorg", midnight("2026-01-05")): (
            "Roermond", "afgesloten", midnight("2026-06-30"), midnight("2026-01-10"),
            midnight("2026-06-30"),
        ),
        ("top_x", midnight("2026-02-20")): (
            "Roermond", "procesregie", midnight("2026-04-02"), midnight("2026-04-02"), None,
        ),
        ("top_x", midnight("2026-05-04")): ("Weert", None, None, None, None),
    }  # fmt: skip
    with core.db.session() as session:
        b2 = session.exec(select(Melding).where(Melding.bron_id == "B-2")).one()
        b1 = session.exec(select(Melding).where(Melding.bron_id == "B-1")).one()
        assert (b2.case_id, b2.municipality) == (b1.case_id, "Leudal")
        # Nothing announced: no outbox rows; the agenda takes the open undecided case only.
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == 0
        core.agenda.plan(session, core.clock.now())
        on_agenda = session.exec(select(AgendaItem.case_id)).all()
    [undecided] = [c for c in cases(core) if c.decision is None]
    assert on_agenda == [undecided.id]
    # Audited as the import and each decision and closing, marked as history.
    [finished] = audit(core, "import.history")
    assert (finished["new"], finished["rejected"]) == (7, 0)
    assert len(audit(core, "case.open")) == 5
    decided = sorted((e["decision"], e["on"]) for e in audit(core, "case.decision"))
    assert decided == [
        ("afgesloten", "2026-06-30"), ("doorgeleid", "2025-04-01"),
        ("procesregie", "2025-11-20"), ("procesregie", "2026-01-10"),
        ("procesregie", "2026-04-02"),
    ]  # fmt: skip
    assert all(e["history"] is True for e in audit(core, "case.decision"))
    assert sorted(e["on"] for e in audit(core, "case.close")) == [
        "2025-04-01", "2026-02-15", "2026-06-30",
    ]  # fmt: skip


def test_the_same_file_twice_is_the_same_state_and_order_does_not_matter(
    core: Core, people: People, tmp_path: Path
) -> None:
    a, b = people.identity(), people.identity()
    rows = [
        history_row(a, "A-1", "2025-01-10", "afgesloten", "2025-02-01"),
        history_row(a, "A-2", "2025-01-20"),
        history_row(a, "A-3", "2025-03-01"),  # after the closing: a relapse
        history_row(a, "A-4", "2025-04-01", gesloten_op="2025-05-01"),
        history_row(b, "B-1", "2026-01-01", thema="jeugd"),
        history_row(b, "B-2", "2025-12-01", "procesregie", "2026-01-15", thema="jeugd"),
    ]
    write(tmp_path / "a.csv", rows)
    core.history.import_path(tmp_path / "a.csv", actor=CLI)
    first = state(core)
    again = core.history.import_path(tmp_path / "a.csv", actor=CLI)
    assert (again.new, again.duplicate, again.rejected) == (0, 6, 0)
    assert state(core) == first
    relapse = [c for c in cases(core) if c.theme == "top_x"]
    assert [(c.opened_at, c.closed_at) for c in relapse] == [
        (midnight("2025-01-10"), midnight("2025-02-01")),
        (midnight("2025-03-01"), midnight("2025-05-01")),
    ]  # fmt: skip

    # The same rows split over two files, the later ones first: the same cases.
    other = tmp_path / "other"
    other.mkdir()
    core_cases = [(c.theme, c.opened_at, c.closed_at, c.decision, c.procesregie_at)
                  for c in cases(core)]  # fmt: skip
    with core.db.session() as session:
        for melding in session.exec(select(Melding)):
            session.delete(melding)
        session.flush()
        for case in session.exec(select(Case)):
            session.delete(case)
    write(other / "late.csv", [rows[2], rows[3], rows[4]])
    write(other / "early.csv", [rows[5], rows[1], rows[0]])
    core.history.import_path(other / "late.csv", actor=CLI)
    core.history.import_path(other / "early.csv", actor=CLI)
    assert [
        (c.theme, c.opened_at, c.closed_at, c.decision, c.procesregie_at) for c in cases(core)
    ] == core_cases


def test_rows_that_contradict_themselves_or_their_case_are_rejected_by_line_and_reason(
    core: Core, people: People, tmp_path: Path
) -> None:
    a, b, c = (people.identity() for _ in range(3))
    earlier = [
        history_row(c, "C-1", "2026-03-01", thema="jeugd"),
        history_row(c, "C-2", "2026-05-01", thema="jeugd"),
    ]
    core.history.import_path(write(tmp_path / "earlier.csv", earlier), actor=CLI)
    errors: list[tuple[int, list[str]]] = []
    path = write(
        tmp_path / "historie.csv",
        [
            history_row(a, "OK-1", "2026-03-01", gesloten_op="2026-04-01"),
            history_row(b, "X-1", "2026-03-01", "besluiten", "2026-03-02"),
            history_row(b, "X-2", "2026-03-01", "procesregie"),
            history_row(b, "X-3", "2026-03-01", "", "2026-03-02"),
            history_row(b, "X-4", "2026-03-01", gesloten_op="2026-02-01"),
            history_row(b, "X-5", "2026-03-01", "afgesloten", "2026-03-10", "2026-03-05"),
            history_row(b, "X-6", "2026-03-01", "procesregie", "2026-11-24"),
            # Decided before the case's first melding (OK-1's case opened 2026-03-01).
            history_row(a, "X-7", "2026-03-15", "procesregie", "2026-02-01"),
            # Joins C's case (imported before) and would close it before its melding of May.
            history_row(c, "X-8", "2026-04-01", "afgesloten", "2026-04-20", thema="jeugd"),
            history_row(a, "OK-1", "2026-03-02"),  # bron_id twice in the file
        ],
    )
    report = core.history.import_path(
        path, actor=CLI, on_error=lambda line, reasons: errors.append((line, reasons))
    )
    assert (report.new, report.rejected) == (1, 9)
    by_line = dict(errors)
    assert by_line == {
        3: ["besluit moet een van deze waarden zijn: procesregie, doorgeleid, afgesloten"],
        4: ["besluit_datum is verplicht als besluit is ingevuld"],
        5: ["besluit_datum is ingevuld zonder besluit"],
        6: ["gesloten_op ligt voor datum"],
        7: ["gesloten_op ligt voor besluit_datum"],
        8: ["besluit_datum ligt in de toekomst"],
        9: ["besluit_datum ligt voor de eerste melding van de zaak"],
        10: [
            "de regel sluit de zaak voor een latere melding van die zaak; een melding na het "
            "sluiten hoort bij een nieuwe zaak"
        ],
        11: ["bron_id staat eerder in dit bestand (regel 2)"],
    }
    shown = str(errors)
    for identity in (a, b, c):
        assert identity.surname not in shown and identity.birth_date.isoformat() not in shown
    # The rejected rows left nothing behind, not even their person or case.
    with core.db.session() as session:
        assert session.exec(select(func.count()).select_from(Melding)).one() == 3
        assert sorted(session.exec(select(Case.theme))) == ["jeugd", "top_x"]
    [jeugd] = [c for c in cases(core) if c.theme == "jeugd"]
    assert (jeugd.opened_at, jeugd.closed_at, jeugd.decision) == (
        midnight("2026-03-01"),
        None,
        None,
    )


def test_a_history_never_changes_what_a_coordinator_decided_in_vhbot(
    core: Core, people: People, tmp_path: Path
) -> None:
    person = people.identity()
    write(tmp_path / "live.csv", [history_row(person, "L-1", "2026-11-02")])
    core.history.import_path(tmp_path / "live.csv", actor=CLI)
    [case] = cases(core)
    with core.db.session() as session:
        core.memberships.add_organisation(session, name="Politie", code="POL", themes=None,
                                          actor=CLI)  # fmt: skip
        coordinator = core.memberships.add_member(
            session, telegram_id=201, name="Coördinator", organisation_code="POL",
            roles=[Role.COORDINATOR], actor=CLI,
        )  # fmt: skip
        assert coordinator.id is not None
        core.decisions.decide(
            session, reference=case.reference, decision=Decision.PROCESREGIE,
            member_id=coordinator.id,
        )  # fmt: skip
    errors: list[tuple[int, list[str]]] = []
    write(
        tmp_path / "h.csv",
        [
            history_row(person, "H-1", "2026-11-03", "afgesloten", "2026-11-04"),
            history_row(person, "H-2", "2026-11-05", "procesregie", "2026-11-23"),
        ],
    )
    report = core.history.import_path(
        tmp_path / "h.csv", actor=CLI, on_error=lambda line, reasons: errors.append((line, reasons))
    )
    assert (report.new, report.rejected) == (1, 1)
    assert errors == [(2, ["over de zaak is in vhbot besloten; een historie verandert dat niet"])]
    [after] = cases(core)
    assert (after.decision, after.closed_at, after.decided_by) == (
        "procesregie", None, coordinator.id,
    )  # fmt: skip
