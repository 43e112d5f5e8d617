"""A crash or a kill half-way through an import loses nothing and adds nothing twice."""

from __future__ import annotations

import asyncio
import signal
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import col, func, select

from bot.config import Settings
from bot.core import Core
from bot.domain.identity import Identity
from bot.sandbox.dpan_files import dpan_csv, dpan_rows, made_up_people
from bot.services.audit import CLI
from bot.services.detention import ImportInterrupted
from bot.storage.models import Case, ImportFile, Melding, OutboxMessage
from tests.conftest import process_env, start_vhbot


def invented_file(path: Path, count: int, settings: Settings) -> Path:
    people = made_up_people(count, seed=count)
    path.write_bytes(dpan_csv(dpan_rows(people, settings.municipalities, date(2026, 11, 23))))
    return path


def counts(core: Core) -> tuple[int, int, int]:
    with core.db.session() as session:
        meldingen = session.exec(select(func.count()).select_from(Melding)).one()
        distinct = session.exec(select(func.count(func.distinct(Melding.bron_id)))).one()
        announce = session.exec(
            select(func.count())
            .select_from(OutboxMessage)
            .where(col(OutboxMessage.dedupe_key).startswith("announce:"))
        ).one()
    assert meldingen == distinct
    return meldingen, announce, distinct


def test_crash_between_batches_then_rerun(core: Core, tmp_path: Path) -> None:
    dpan = invented_file(tmp_path / "dpan.csv", 30, core.settings)

    def crash_after_two_batches(rows_done: int) -> None:
        if rows_done >= 14:
            raise KeyboardInterrupt  # as if the process was stopped here

    with pytest.raises(KeyboardInterrupt):
        core.detention.import_path(
            dpan, actor=CLI, after_batch=crash_after_two_batches, batch_size=7
        )
    assert counts(core)[:2] == (14, 14)
    again = core.detention.import_path(dpan, actor=CLI, batch_size=7)
    # The run resumed: what its first attempt stored is new, as in one clean run.
    assert (again.new, again.duplicate, again.rejected) == (30, 0, 0)
    assert counts(core)[:2] == (30, 30)
    with core.db.session() as session:
        references = session.exec(select(Case.reference)).all()
        assert len(references) == len(set(references))
        record = session.exec(select(ImportFile)).one()
        assert (record.kind, record.rows_new, record.rows_duplicate) == ("dpan", 30, 0)
        assert record.status == "done"


def test_crash_inside_a_batch_leaves_no_half_rows(
    core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failure of the database (not of a row) stops the import; the batch rolls back whole."""
    dpan = invented_file(tmp_path / "dpan.csv", 20, core.settings)
    real_register = core.vault.register
    calls = {"n": 0}

    def failing_register(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 13:  # the 6th row of the 2nd batch of 7
            raise OperationalError("INSERT", {}, Exception("database or disk is full"))
        return real_register(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(core.vault, "register", failing_register)
    with pytest.raises(ImportInterrupted) as stopped:
        core.detention.import_path(dpan, actor=CLI, batch_size=7)
    assert (stopped.value.attempts, stopped.value.cause) == (1, "OperationalError")
    assert "full" not in str(stopped.value)
    assert counts(core)[:2] == (7, 7)  # the first batch only: the second rolled back whole
    monkeypatch.setattr(core.vault, "register", real_register)
    again = core.detention.import_path(dpan, actor=CLI, batch_size=7)
    assert (again.new, again.duplicate) == (20, 0)
    assert counts(core)[:2] == (20, 20)
    with core.db.session() as session:
        record = session.exec(select(ImportFile)).one()
        assert (record.status, record.attempts) == ("done", 2)
        assert (record.rows_new, record.rows_duplicate) == (20, 0)


def test_one_failing_row_is_rejected_and_the_rest_of_its_batch_imported(
    core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dpan = invented_file(tmp_path / "dpan.csv", 20, core.settings)
    real_register = core.vault.register
    people = made_up_people(20, seed=20)

    def failing_register(session: object, identity: Identity, **kwargs: object) -> object:
        if identity.bsn == people[12].bsn:
            raise ValueError("no good")  # the 6th row of the 2nd batch of 7: line 14
        return real_register(session, identity, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(core.vault, "register", failing_register)
    errors: list[tuple[int, list[str]]] = []
    report = core.detention.import_path(
        dpan, actor=CLI, batch_size=7, on_error=lambda line, why: errors.append((line, why))
    )
    assert (report.new, report.duplicate, report.rejected) == (19, 0, 1)
    assert [line for line, _ in errors] == [14]
    assert counts(core)[:2] == (19, 19)
    assert core.audit.verify(core.db)[1] is None


def test_rows_that_all_fail_are_not_rejected_but_the_import_stopped(
    core: Core, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every row of a batch failing is a fault of the code or the database: the file is kept."""
    dpan = invented_file(tmp_path / "dpan.csv", 10, core.settings)

    def broken(*args: object, **kwargs: object) -> object:
        raise TypeError("a bug")

    monkeypatch.setattr(core.vault, "register", broken)
    errors: list[tuple[int, list[str]]] = []
    with pytest.raises(ImportInterrupted) as stopped:
        core.detention.import_path(
            dpan, actor=CLI, batch_size=4, on_error=lambda line, why: errors.append((line, why))
        )
    assert stopped.value.cause == "TypeError"
    assert errors == []
    assert counts(core)[:2] == (0, 0)


@pytest.mark.slow
async def test_killed_importer_process_then_rerun(core: Core, tmp_path: Path) -> None:
    total = 1500
    dpan = invented_file(tmp_path / "big.csv", total, core.settings)
    env = process_env(core.settings)
    process = await start_vhbot("import", "dpan", str(dpan), env=env)
    # A plain engine to watch progress: the bot's SQLite sessions begin IMMEDIATE
    # and would queue behind the importer's write lock, missing the moment.
    watcher = create_engine(core.settings.database_url)
    try:
        for _ in range(600):  # until some batches are committed, at most ~60 s
            with watcher.connect() as connection:
                done = connection.execute(text("SELECT count(*) FROM melding")).scalar_one()
            if done > 0 or process.returncode is not None:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        await process.wait()
        watcher.dispose()
    imported_before = counts(core)[0]
    assert 0 < imported_before < total, "the kill should land half-way"
    report = core.detention.import_path(dpan, actor=CLI)
    # Resumed: the rows of the killed attempt are new, not duplicates; counted once.
    assert (report.new, report.duplicate) == (total, 0)
    assert counts(core)[:2] == (total, total)
    with core.db.session() as session:
        record = session.exec(select(ImportFile)).one()
        assert (record.rows_new, record.rows_duplicate, record.attempts) == (total, 0, 2)
