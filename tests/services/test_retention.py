"""Retention: personal data goes when the rules say so; the counts stay.

The clock starts at 2026-11-23 09:00 (Amsterdam). Dates are judged in the
configured zone, so the boundaries below are local midnights.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import col, func, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.identity import Identity
from bot.sandbox.dpan_files import HEADER
from bot.services.retention import RetentionReport, enforce_retention
from bot.storage.models import AuditEntry, Case, Melding, Person
from tests.conftest import People

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=AMSTERDAM)


def import_rows(core: Core, tmp_path: Path, rows: Sequence[tuple[str, str, Identity, str]]) -> None:
    """Rows of (bron_id, soort, identity, datum), each with a remark."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(HEADER)
    for bron_id, soort, identity, datum in rows:
        writer.writerow([
            bron_id, soort, identity.surname, identity.given_names,
            identity.birth_date.isoformat(), identity.bsn, "Weert", "PI Roermond", datum,
            "Verblijft bij een vriend",
        ])  # fmt: skip
    path = tmp_path / f"dpan-{rows[0][0]}.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    report = core.detention.import_path(path, actor="test")
    assert (report.new, report.rejected, report.unreadable) == (len(rows), 0, None)


def run(core: Core, clock: FrozenClock, moment: datetime) -> RetentionReport:
    clock.set(moment)
    with core.db.session() as session:
        return enforce_retention(session, settings=core.settings, audit=core.audit, now=clock.now())


def melding(core: Core, bron_id: str) -> Melding:
    with core.db.session() as session:
        return session.exec(select(Melding).where(Melding.bron_id == bron_id)).one()


def person_of(core: Core, bron_id: str) -> Person:
    with core.db.session() as session:
        found = session.get(Person, melding(core, bron_id).person_id)
        assert found is not None
        return found


def close_case(core: Core, bron_id: str, closed_at: datetime, *, procesregie: bool) -> None:
    with core.db.session() as session:
        case = session.get(Case, melding(core, bron_id).case_id)
        assert case is not None
        case.closed_at = closed_at.astimezone(UTC)  # as the application stores times
        case.procesregie = procesregie
        session.add(case)


def erase_entries(core: Core) -> list[AuditEntry]:
    with core.db.session() as session:
        return list(
            session.exec(
                select(AuditEntry)
                .where(AuditEntry.action == "retention.erase")
                .order_by(col(AuditEntry.seq))
            ).all()
        )


def assert_kept(core: Core, bron_id: str) -> None:
    kept = melding(core, bron_id)
    assert kept.remark_ct is not None and kept.erased_at is None
    assert person_of(core, bron_id).identity_ct is not None


def assert_erased(core: Core, bron_id: str) -> None:
    gone = melding(core, bron_id)
    assert gone.remark_ct is None and gone.erased_at is not None
    person = person_of(core, bron_id)
    assert person.identity_ct is None and person.erased_at is not None


def test_instroom_is_erased_six_months_after_its_date_and_counts_stay(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    import_rows(core, tmp_path, [("RET-1", "instroom", people.identity(), "2026-11-20")])
    before = melding(core, "RET-1")
    pseudonym = person_of(core, "RET-1").pseudonym
    assert before.case_id is None

    # 2027-05-20 is the first day without the data: local midnight, 22:00 UTC the day before.
    assert run(core, clock, local(2027, 5, 19, 23, 59)) == RetentionReport(0, 0)
    assert_kept(core, "RET-1")

    assert run(core, clock, local(2027, 5, 20, 0, 1)) == RetentionReport(1, 1)
    assert_erased(core, "RET-1")
    after = melding(core, "RET-1")
    assert (after.soort, after.municipality, after.institution, after.event_date) == (
        before.soort,
        before.municipality,
        before.institution,
        before.event_date,
    )
    assert person_of(core, "RET-1").pseudonym == pseudonym
    with core.db.session() as session:
        assert session.exec(select(func.count()).select_from(Melding)).one() == 1
        assert session.exec(select(func.count()).select_from(Person)).one() == 1

    erased_at = melding(core, "RET-1").erased_at
    assert run(core, clock, local(2027, 6, 20)) == RetentionReport(0, 0)
    assert melding(core, "RET-1").erased_at == erased_at


def test_uitstroom_with_an_open_case_is_never_erased(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    import_rows(core, tmp_path, [("RET-2", "uitstroom", people.identity(), "2026-12-01")])
    assert melding(core, "RET-2").case_id is not None

    assert run(core, clock, local(2031, 1, 1)) == RetentionReport(0, 0)
    assert_kept(core, "RET-2")


def test_case_closed_without_procesregie_goes_six_months_after_release(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    import_rows(core, tmp_path, [("RET-3", "uitstroom", people.identity(), "2026-12-01")])
    close_case(core, "RET-3", local(2026, 12, 10, 14), procesregie=False)

    assert run(core, clock, local(2027, 5, 31, 23, 59)) == RetentionReport(0, 0)
    assert_kept(core, "RET-3")
    assert run(core, clock, local(2027, 6, 1, 0, 1)) == RetentionReport(1, 1)
    assert_erased(core, "RET-3")


def test_case_with_procesregie_is_kept_retention_days_after_closing(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    import_rows(core, tmp_path, [("RET-4", "uitstroom", people.identity(), "2026-12-01")])
    closed = local(2027, 1, 10, 12).astimezone(UTC)
    close_case(core, "RET-4", closed, procesregie=True)
    keep = timedelta(days=core.settings.retention_days)
    assert core.settings.retention_days == 730

    # Long past the six months after release, but procesregie keeps it.
    assert run(core, clock, local(2027, 12, 1)) == RetentionReport(0, 0)
    assert run(core, clock, closed + keep - timedelta(minutes=1)) == RetentionReport(0, 0)
    assert_kept(core, "RET-4")
    assert run(core, clock, closed + keep) == RetentionReport(1, 1)
    assert_erased(core, "RET-4")


def test_identity_stays_while_another_melding_still_needs_it(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    someone = people.identity()
    import_rows(
        core,
        tmp_path,
        [
            ("RET-5a", "instroom", someone, "2026-11-20"),
            ("RET-5b", "uitstroom", someone, "2026-12-01"),
        ],
    )
    assert person_of(core, "RET-5a").id == person_of(core, "RET-5b").id

    assert run(core, clock, local(2027, 6, 1)) == RetentionReport(1, 0)
    gone = melding(core, "RET-5a")
    assert gone.remark_ct is None and gone.erased_at is not None
    assert_kept(core, "RET-5b")  # its case is open: the identity is still needed

    close_case(core, "RET-5b", local(2027, 6, 2), procesregie=False)
    assert run(core, clock, local(2027, 6, 3)) == RetentionReport(1, 1)
    assert_erased(core, "RET-5b")


def test_each_run_that_erases_leaves_one_audit_entry(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    import_rows(
        core,
        tmp_path,
        [
            ("RET-6a", "instroom", people.identity(), "2026-11-20"),
            ("RET-6b", "instroom", people.identity(), "2026-11-21"),
            ("RET-6c", "instroom", people.identity(), "2026-12-15"),
        ],
    )
    assert erase_entries(core) == []

    assert run(core, clock, local(2027, 5, 25)) == RetentionReport(2, 2)
    (first,) = erase_entries(core)
    assert first.actor == "system"
    assert '"meldingen":2' in first.details.replace(" ", "")
    assert '"persons":2' in first.details.replace(" ", "")

    assert run(core, clock, local(2027, 5, 26)) == RetentionReport(0, 0)
    assert len(erase_entries(core)) == 1

    assert run(core, clock, local(2027, 6, 15)) == RetentionReport(1, 1)
    assert len(erase_entries(core)) == 2
    assert core.audit.verify(core.db)[1] is None


def test_an_uncatalogued_institution_and_a_withheld_text_go_too(
    core: Core, clock: FrozenClock, people: People, tmp_path: Path
) -> None:
    from bot.safe import MemberName, SafeText
    from bot.services import outbox
    from bot.storage.models import OutboxMessage

    import_rows(core, tmp_path, [("RET-9", "instroom", people.identity(), "2026-11-20")])
    with core.db.session() as session:
        row = session.exec(select(Melding).where(Melding.bron_id == "RET-9")).one()
        row.institution, row.institution_ct = None, core.cipher.encrypt("X", context="x")
        session.add(row)
        outbox.enqueue(
            session, key="withheld", chat_id=1, now=clock.now(),
            text=SafeText.layout("{}", MemberName("Iemand")),
        )  # fmt: skip
        queued = session.exec(select(OutboxMessage)).all()
        for message in queued:
            message.status, message.text_ct, message.text = "failed", "v1.k1.x", ""
            session.add(message)
    assert run(core, clock, local(2027, 5, 24)).meldingen == 1
    assert melding(core, "RET-9").institution_ct is None
    with core.db.session() as session:
        assert all(m.text_ct is None for m in session.exec(select(OutboxMessage)))


def test_institutions_stored_in_clear_by_an_older_version_are_sealed(
    core: Core, people: People, tmp_path: Path
) -> None:
    from bot.scheduling.duties import seal_clear_values
    from bot.services.detention import INSTITUTION_CONTEXT

    import_rows(core, tmp_path, [("OLD-1", "instroom", people.identity(), "2026-11-20")])
    import_rows(core, tmp_path, [("OLD-2", "instroom", people.identity(), "2026-11-20")])
    with core.db.session() as session:  # as migration 0004 leaves rows of before
        for bron_id, written in (("OLD-1", "Bij Henk, Dorpsstraat 1"), ("OLD-2", "pi vught")):
            row = session.exec(select(Melding).where(Melding.bron_id == bron_id)).one()
            row.institution = written
            session.add(row)
    with core.db.session() as session:  # before sealing: never shown as written
        from bot.storage.models import Announcement

        old = session.exec(select(Melding).where(Melding.bron_id == "OLD-1")).one()
        announcement = session.exec(
            select(Announcement).where(Announcement.subject_id == old.id)
        ).one()
        assert announcement.id is not None
        assert core.announcements.facts(session, announcement.id).institution is None
    assert seal_clear_values(core) == 2
    assert seal_clear_values(core) == 0  # idempotent
    sealed, matched = melding(core, "OLD-1"), melding(core, "OLD-2")
    assert sealed.institution is None and sealed.institution_ct is not None
    assert core.cipher.decrypt(sealed.institution_ct, context=INSTITUTION_CONTEXT) == (
        "Bij Henk, Dorpsstraat 1"
    )
    assert (matched.institution, matched.institution_ct) == ("PI Vught", None)
