"""The inbox folder: each dropped detention-notification file is imported exactly once.

File ages are set with os.utime (SETTLE_SECONDS and STALE_SECONDS look at real
mtimes); no test waits for real time to pass.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import re
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import pytest
from sqlalchemy import MetaData, String, Text
from sqlalchemy.exc import OperationalError
from sqlmodel import col, func, select

from bot.core import Core
from bot.domain.dpan import (
    MSG_BINARY,
    MSG_BSN_ELFPROEF,
    MSG_EMPTY,
    MSG_MISSING_COLUMNS,
    MSG_MUNICIPALITY,
    MSG_NO_LETTERS,
    MSG_NOT_UTF8,
)
from bot.domain.identity import Identity
from bot.domain.roles import Role
from bot.i18n import translator
from bot.logs import JsonLineFormatter
from bot.privacy.pseudonym import (
    PSEUDONYM_CHARS,
    identity_key,
    is_pseudonym,
    pseudonym,
    pseudonym_from_identity_key,
)
from bot.safe import Code, Municipality, SafeText
from bot.sandbox.dpan_files import HEADER
from bot.scheduling import inbox as inbox_module
from bot.scheduling.inbox import (
    MAX_ATTEMPTS,
    PROCESSED,
    PROCESSING,
    REJECTED,
    STALE_SECONDS,
    process_inbox,
)
from bot.services import outbox
from bot.services.audit import CLI
from bot.storage.models import Case, ImportFile, Melding, OutboxMessage, Person
from bot.views import announcements as announcement_views
from bot.views.announcements import AnnouncementFacts
from tests.conftest import People


def row(
    identity: Identity,
    bron_id: str,
    *,
    soort: str = "uitstroom",
    datum: str = "2026-12-01",
    gemeente: str = "Roermond",
    bsn: str | None = None,
) -> list[str]:
    return [
        bron_id, soort, identity.surname, identity.given_names,
        identity.birth_date.strftime("%d-%m-%Y"), identity.bsn if bsn is None else bsn,
        gemeente, "PI Roermond", datum, "Opmerking van de afzender",
    ]  # fmt: skip


def dpan_bytes(rows: Sequence[list[str]], header: Sequence[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def age(path: Path, seconds: float) -> Path:
    """Make `path` look last written `seconds` ago."""
    moment = time.time() - seconds
    os.utime(path, (moment, moment))
    return path


def drop(folder: Path, name: str, content: bytes, *, seconds_ago: float = 60.0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return age(path, seconds_ago)


def rows_for(people: People, count: int, prefix: str = "INB") -> list[list[str]]:
    return [row(people.identity(), f"{prefix}-{n:04d}") for n in range(1, count + 1)]


def bron_ids(core: Core) -> list[str]:
    with core.db.session() as session:
        return list(session.exec(select(Melding.bron_id).order_by(Melding.bron_id)).all())


def melding_count(core: Core) -> int:
    with core.db.session() as session:
        return session.exec(select(func.count()).select_from(Melding)).one()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def files(inbox: Path) -> list[str]:
    """Every file under the inbox (folders left out), as `folder/name`."""
    return sorted(str(p.relative_to(inbox)) for p in inbox.rglob("*") if not p.is_dir())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def add_coordinator(core: Core, telegram_id: int = 4242) -> int:
    with core.db.session() as session:
        if core.memberships.organisations(session) == []:
            core.memberships.add_organisation(
                session, name="Veiligheidshuis", code="VHH", themes=None, actor=CLI
            )
        core.memberships.add_member(
            session, telegram_id=telegram_id, name="Coördinator Testlid",
            organisation_code="VHH", roles=[Role.COORDINATOR], actor=CLI,
        )  # fmt: skip
    return telegram_id


def notices(core: Core) -> list[OutboxMessage]:
    """Messages queued for someone other than the partner group (coordinators)."""
    with core.db.session() as session:
        return list(
            session.exec(
                select(OutboxMessage)
                .where(OutboxMessage.chat_id != core.settings.partner_chat_id)
                .order_by(col(OutboxMessage.id))
            ).all()
        )


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """The log lines as the bot writes them (bot.logs), at every level."""
    formatter = JsonLineFormatter()
    return "\n".join(formatter.format(record) for record in caplog.records)


def database_text(core: Core) -> str:
    """Every text value in every table, as one string."""
    metadata = MetaData()
    metadata.reflect(core.db.engine)
    values: list[str] = []
    with core.db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            texts = [c for c in table.columns if isinstance(c.type, String | Text)]
            if texts:
                for found in connection.execute(table.select().with_only_columns(*texts)):
                    values.extend(str(v) for v in found)
    return "\n".join(values)


def send_all(core: Core) -> None:
    """What the outbox sender does when Telegram accepts every message."""
    for claimed in outbox.claim_due(core.db, core.clock.now(), limit=1000).messages:
        outbox.mark_sent(core.db, claimed, message_id=claimed.id, now=core.clock.now())


def test_settled_file_is_imported_once_and_deleted(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 4)
    drop(inbox, "dpan-1.csv", dpan_bytes(rows))

    reports = process_inbox(core)

    assert [(r.name, r.new, r.duplicate, r.rejected, r.unreadable) for r in reports] == [
        ("dpan-1.csv", 4, 0, 0, None)
    ]
    # No clear copy is kept: the data is in the database, encrypted.
    assert files(inbox) == []
    assert bron_ids(core) == [r[0] for r in rows]

    assert process_inbox(core) == []
    assert melding_count(core) == 4


def test_file_still_being_written_is_left_for_a_later_pass(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    path = drop(inbox, "dpan-1.csv", dpan_bytes(rows_for(people, 2)), seconds_ago=0)

    assert process_inbox(core) == []
    assert path.exists()
    assert names(inbox / PROCESSING) == []
    assert melding_count(core) == 0

    age(path, 60)  # the writer finished a while ago
    assert [r.new for r in process_inbox(core)] == [2]


def test_rejected_rows_are_listed_by_line_without_their_data(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 5)
    # Line 1 is the header: rows[1] is line 3, rows[3] is line 5.
    bad_bsn = rows[1][5][:8] + str((int(rows[1][5][8]) + 1) % 10)  # breaks the elfproef
    rows[1][5] = bad_bsn
    rows[3][6] = "Amsterdam"  # not in the region
    drop(inbox, "dpan-2.csv", dpan_bytes(rows))

    (report,) = process_inbox(core)

    assert (report.new, report.duplicate, report.rejected, report.unreadable) == (3, 0, 2, None)
    errors_name = f"import-{report.import_id}-dpan-2.csv.errors.txt"
    assert files(inbox) == [f"{PROCESSED}/{errors_name}"]  # the data file is deleted
    assert mode(inbox / PROCESSED / errors_name) == 0o600
    errors = (inbox / PROCESSED / errors_name).read_text(encoding="utf-8")
    _ = translator(core.settings.locale)
    municipalities = SafeText.joined(", ", [Municipality(m) for m in core.settings.municipalities])
    assert errors.splitlines() == [
        f"line 3: {_(MSG_BSN_ELFPROEF)}",
        f"line 5: {_(MSG_MUNICIPALITY, column=Code('gemeente'), municipalities=municipalities)}",
    ]
    for bad in (rows[1], rows[3]):
        bron_id, _soort, surname, given_names, birth, bsn = bad[:6]
        for value in (bron_id, surname, given_names, birth, bsn):
            assert value not in errors
    assert "Amsterdam" not in errors
    assert bron_ids(core) == [rows[0][0], rows[2][0], rows[4][0]]


@pytest.mark.parametrize(
    ("content", "message", "params"),
    [
        pytest.param(b"PK\x03\x04" + bytes(range(256)) * 4, MSG_BINARY, {}, id="binary"),
        pytest.param(
            b"bron_id;soort;achternaam;voornamen;geboortedatum;gemeente;inrichting;datum\r\n"
            b"INB-0001;uitstroom;Caf\xe9;Zo\xeb Ren\xe9e;01-02-1990;Roermond;PI Roermond;"
            b"2026-12-01\r\n",
            MSG_NOT_UTF8,
            {},
            id="latin-1",
        ),
        pytest.param(b"", MSG_EMPTY, {}, id="empty"),
        pytest.param(
            b"bron_id;soort;achternaam;voornamen;geboortedatum;inrichting\r\n"
            b"INB-0001;uitstroom;Jansen;Jan;01-02-1990;PI Roermond\r\n",
            MSG_MISSING_COLUMNS,
            {"columns": SafeText.joined(", ", [Code("gemeente"), Code("datum")])},
            id="missing-columns",
        ),
    ],
)
def test_unreadable_file_is_rejected_with_the_reason(
    core: Core, content: bytes, message: str, params: dict[str, SafeText]
) -> None:
    inbox = core.settings.inbox_dir
    drop(inbox, "kapot.csv", content)

    coordinator = add_coordinator(core)

    (report,) = process_inbox(core)

    reason = translator(core.settings.locale)(message, **params)
    assert report.unreadable == reason
    assert (report.new, report.duplicate, report.rejected) == (0, 0, 0)
    kept = f"import-{report.import_id}-kapot.csv"
    assert files(inbox) == [f"{REJECTED}/{kept}", f"{REJECTED}/{kept}.errors.txt"]
    # Kept, readable by the bot only, until the coordinators have been told.
    assert (inbox / REJECTED / kept).read_bytes() == content
    assert mode(inbox / REJECTED / kept) == 0o600
    errors = (inbox / REJECTED / f"{kept}.errors.txt").read_text(encoding="utf-8")
    assert errors == f"file: {reason}\n"
    assert melding_count(core) == 0
    (notice,) = notices(core)
    assert notice.chat_id == coordinator
    assert f"Import {report.import_id} " in notice.text
    assert "kapot" not in notice.text

    process_inbox(core)
    assert (inbox / REJECTED / kept).exists()  # the notice is not sent yet
    send_all(core)
    process_inbox(core)
    assert files(inbox) == [f"{REJECTED}/{kept}.errors.txt"]  # told: the file is gone


def test_the_same_file_twice_adds_nothing(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    content = dpan_bytes(rows_for(people, 3))
    drop(inbox, "dpan.csv", content)
    assert [(r.new, r.duplicate) for r in process_inbox(core)] == [(3, 0)]

    drop(inbox, "kopie.csv", content)  # the same content under another name
    drop(inbox, "dpan.csv", content)  # and under the same name again
    reports = process_inbox(core)

    assert [(r.new, r.duplicate, r.rejected, r.unreadable) for r in reports] == [
        (0, 3, 0, None),
        (0, 3, 0, None),
    ]
    assert len({r.import_id for r in reports}) == 1  # the same content is the same import
    assert melding_count(core) == 3
    assert files(inbox) == []


def test_file_left_in_processing_by_a_killed_process_is_resumed(
    core: Core, people: People, tmp_path: Path
) -> None:
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 6)
    # The killed run got the first three rows in (same bron_ids, same data) ...
    partial = tmp_path / "eerste-deel.csv"
    partial.write_bytes(dpan_bytes(rows[:3]))
    assert core.detention.import_path(partial, actor="inbox").new == 3
    # ... and left the claimed file behind, untouched since.
    drop(inbox / PROCESSING, "dpan.csv", dpan_bytes(rows), seconds_ago=STALE_SECONDS + 60)

    reports = process_inbox(core)

    assert [(r.new, r.duplicate, r.rejected) for r in reports] == [(3, 3, 0)]
    assert bron_ids(core) == sorted(r[0] for r in rows)
    assert files(inbox) == []
    assert process_inbox(core) == []
    assert melding_count(core) == 6


def test_file_in_processing_of_a_live_process_is_left_alone(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    content = dpan_bytes(rows_for(people, 2))
    path = drop(inbox / PROCESSING, "dpan.csv", content, seconds_ago=30)

    assert process_inbox(core) == []
    assert path.read_bytes() == content
    assert names(inbox / PROCESSED) == []
    assert melding_count(core) == 0


def test_file_claimed_just_now_is_not_taken_by_another_process(
    core: Core, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files that piled up while the bot was down are old when claimed, but not stale."""
    inbox = core.settings.inbox_dir
    drop(inbox, "dpan.csv", dpan_bytes(rows_for(people, 2)), seconds_ago=3600)
    import_stream = core.detention.import_stream
    other_pass: list[list[str]] = []
    looking = False

    def import_with_a_second_process_around(stream: BinaryIO, **kwargs: object) -> object:
        nonlocal looking
        if not looking:  # while this process holds the claim, another one looks
            looking = True
            other_pass.append([r.name for r in inbox_module.process_inbox(core)])
        return import_stream(stream, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(core.detention, "import_stream", import_with_a_second_process_around)

    reports = process_inbox(core)

    assert other_pass == [[]]
    assert [(r.name, r.new) for r in reports] == [("dpan.csv", 2)]
    assert files(inbox) == []


def test_hidden_and_partial_files_are_ignored(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    content = dpan_bytes(rows_for(people, 1))
    partial = (".dpan.csv", "dpan.csv.part", "dpan.csv.tmp", "dpan.csv.filepart", "dpan.csv.PART")
    for name in partial:
        drop(inbox, name, content, seconds_ago=3600)

    assert process_inbox(core) == []
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == sorted(partial)
    assert melding_count(core) == 0


def test_errors_files_never_overwrite_each_other(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 2)
    rows[1][6] = "Amsterdam"
    content = dpan_bytes(rows)
    drop(inbox, "dpan.csv", content)
    (first,) = process_inbox(core)
    drop(inbox, "dpan.csv", content)  # the same file again: the same import, the same name
    process_inbox(core)
    rows2 = rows_for(people, 2, prefix="TWEE")
    rows2[0][6] = "Amsterdam"
    drop(inbox, "dpan.csv", dpan_bytes(rows2))
    (third,) = process_inbox(core)

    number = first.import_id
    assert files(inbox) == [
        f"{PROCESSED}/import-{number}-dpan.1.csv.errors.txt",
        f"{PROCESSED}/import-{number}-dpan.csv.errors.txt",
        f"{PROCESSED}/import-{third.import_id}-dpan.csv.errors.txt",
    ]
    assert third.import_id != number
    done = inbox / PROCESSED
    assert re.fullmatch(
        r"line 3: .+\n", (done / f"import-{number}-dpan.1.csv.errors.txt").read_text()
    )
    assert re.fullmatch(
        r"line 2: .+\n", (done / f"import-{third.import_id}-dpan.csv.errors.txt").read_text()
    )


# --- one bad row, one bad file, one bad name: never more ----------------------------------


def test_a_surname_without_letters_rejects_its_row_only(core: Core, people: People) -> None:
    """Was: an uncaught error, the batch rolled back, the file stuck in processing/."""
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 5)
    rows[1][2], rows[1][5] = "123", ""  # line 3: no letters, no BSN
    rows[3][2], rows[3][5] = "\U0001f600", ""  # line 5: an emoji
    drop(inbox, "dpan.csv", dpan_bytes(rows))

    (report,) = process_inbox(core)

    assert (report.new, report.duplicate, report.rejected, report.unreadable) == (3, 0, 2, None)
    assert bron_ids(core) == [rows[0][0], rows[2][0], rows[4][0]]
    _ = translator(core.settings.locale)
    reason = _(MSG_NO_LETTERS, column=Code("achternaam"))
    errors_name = f"import-{report.import_id}-dpan.csv.errors.txt"
    assert files(inbox) == [f"{PROCESSED}/{errors_name}"]
    assert (inbox / PROCESSED / errors_name).read_text().splitlines() == [
        f"line 3: {reason}",
        f"line 5: {reason}",
    ]


def test_an_unexpected_error_in_one_row_rejects_that_row_only(
    core: Core, people: People, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch is redone row by row; the failing row's case and audit entries roll back."""
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 6)  # six releases: six cases
    doomed = pseudonym(people.made[2], core.keys.pseudonym_key)  # line 4
    real_text = announcement_views.announcement_text

    def failing_text(facts: AnnouncementFacts, *args: object, **kwargs: object) -> str:
        # Fails after the person, the case (number, audit entry) and the melding are in.
        if facts.pseudonym == doomed:
            raise KeyError(people.made[2].surname)  # an error text holding data
        return real_text(facts, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(announcement_views, "announcement_text", failing_text)
    drop(inbox, "dpan.csv", dpan_bytes(rows))

    (report,) = process_inbox(core)

    assert (report.new, report.duplicate, report.rejected) == (5, 0, 1)
    assert bron_ids(core) == [r[0] for r in rows[:2] + rows[3:]]
    errors_name = f"import-{report.import_id}-dpan.csv.errors.txt"
    assert files(inbox) == [f"{PROCESSED}/{errors_name}"]
    [line] = (inbox / PROCESSED / errors_name).read_text().splitlines()
    assert line.startswith("line 4: ") and f" {report.import_id} " in line
    assert people.made[2].surname not in line
    # What rolled back left no trace: case numbers without a gap, an intact audit chain.
    with core.db.session() as session:
        numbers = sorted(session.exec(select(Case.number)).all())
    assert numbers == [1, 2, 3, 4, 5]
    assert core.audit.verify(core.db)[1] is None
    assert people.made[2].surname not in logged(caplog)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "import.row_failed"
    ]


def test_a_file_that_cannot_be_finished_is_rejected_after_bounded_attempts(
    core: Core, people: People, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Was: the file stayed in processing/ and failed again every 10 minutes, for ever."""
    inbox = core.settings.inbox_dir
    coordinator = add_coordinator(core)
    rows = rows_for(people, 3)
    failing_after = 2  # the database fails for good at the third row (one batch: all undone)

    def register(session: object, identity: Identity, **kwargs: object) -> object:
        if identity in people.made[failing_after:]:
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return real_register(session, identity, **kwargs)  # type: ignore[arg-type]

    real_register = core.vault.register
    monkeypatch.setattr(core.vault, "register", register)
    drop(inbox, "dpan.csv", dpan_bytes(rows))

    for attempt in range(1, MAX_ATTEMPTS):
        assert process_inbox(core) == []
        assert files(inbox) == [f"{PROCESSING}/dpan.csv", f"{PROCESSING}/dpan.csv.errors.txt"]
        with core.db.session() as session:
            record = session.exec(select(ImportFile)).one()
        assert (record.status, record.attempts) == ("running", attempt)
        assert notices(core) == []
        assert process_inbox(core) == []  # a live claim is left alone ...
        age(inbox / PROCESSING / "dpan.csv", STALE_SECONDS + 1)  # ... a stale one resumed

    (report,) = process_inbox(core)

    assert report.given_up and report.import_id == record.id
    kept = f"import-{report.import_id}-dpan.csv"
    assert files(inbox) == [f"{REJECTED}/{kept}", f"{REJECTED}/{kept}.errors.txt"]
    assert (inbox / REJECTED / f"{kept}.errors.txt").read_text() == (
        f"file: import {report.import_id} stopped after failed attempts\n"
    )
    with core.db.session() as session:
        record = session.exec(select(ImportFile)).one()
    assert (record.status, record.attempts) == ("failed", MAX_ATTEMPTS)
    (notice,) = notices(core)
    assert notice.chat_id == coordinator
    number = report.import_id
    assert notice.text == translator(core.settings.locale)(
        "Import {number} could not be finished in {attempts} attempts and was stopped. Rows "
        "imported before it stopped: {imported}; the rest of the file was not imported. The "
        "log has the cause under import {number}; the file is deleted once this message has "
        "been sent. Ask the sender to send the file again once the cause has been fixed.",
        number=number,
        attempts=MAX_ATTEMPTS,
        imported=0,
    )
    assert melding_count(core) == 0

    send_all(core)
    process_inbox(core)
    assert files(inbox) == [f"{REJECTED}/{kept}.errors.txt"]


def test_an_import_killed_every_time_is_given_up_at_its_next_start(
    core: Core, people: People, tmp_path: Path
) -> None:
    """A kill leaves no chance to count a failure: the starts are counted instead."""
    inbox = core.settings.inbox_dir
    add_coordinator(core)
    content = dpan_bytes(rows_for(people, 2))
    with core.db.session() as session:  # as left by MAX_ATTEMPTS runs killed half-way
        session.add(
            ImportFile(
                sha256=hashlib.sha256(content).hexdigest(),
                kind="dpan",
                status="running",
                attempts=MAX_ATTEMPTS,
                started_at=core.clock.now(),
            )
        )
    drop(inbox / PROCESSING, "dpan.csv", content, seconds_ago=STALE_SECONDS + 60)

    (report,) = process_inbox(core)

    assert report.given_up and melding_count(core) == 0
    assert names(inbox / REJECTED) == [
        f"import-{report.import_id}-dpan.csv",
        f"import-{report.import_id}-dpan.csv.errors.txt",
    ]
    assert len(notices(core)) == 1


def test_the_same_content_sent_again_after_a_give_up_is_tried_again(
    core: Core, people: People
) -> None:
    inbox = core.settings.inbox_dir
    add_coordinator(core)
    content = dpan_bytes(rows_for(people, 2))
    with core.db.session() as session:
        session.add(
            ImportFile(
                sha256=hashlib.sha256(content).hexdigest(),
                kind="dpan",
                status="failed",
                attempts=MAX_ATTEMPTS,
                started_at=core.clock.now(),
            )
        )
    drop(inbox, "dpan.csv", content)

    (report,) = process_inbox(core)

    assert (report.given_up, report.new) == (False, 2)
    assert files(inbox) == []


BAD_NAMES = [
    pytest.param(b"Vermeulen-\xff\xfe.csv", id="not-utf8"),
    pytest.param(b'Vermeulen\n{"level":"ERROR"}.csv', id="newline"),
    pytest.param(b"Vermeulen\x1b[2J.csv", id="escape"),
    pytest.param("Vermeulen\u202evsc.txt".encode(), id="right-to-left-override"),
    pytest.param(b"Vermeulen" + b"x" * 200 + b".csv", id="too-long"),
    pytest.param(b"-Vermeulen.csv", id="option-like"),
]


@pytest.mark.parametrize("raw_name", BAD_NAMES)
def test_a_file_name_that_cannot_be_shown_is_never_used(
    core: Core, people: People, raw_name: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Was: a traceback (not UTF-8), or the name in the log and the database as given."""
    caplog.set_level(logging.DEBUG)
    add_coordinator(core)
    inbox = core.settings.inbox_dir
    inbox.mkdir(parents=True)
    rows = rows_for(people, 3)
    rows[1][6] = "Amsterdam"  # one rejected row: an errors file is written
    path = Path(os.fsdecode(os.path.join(os.fsencode(inbox), raw_name)))
    path.write_bytes(dpan_bytes(rows))
    age(path, 60)
    unreadable = Path(os.fsdecode(os.path.join(os.fsencode(inbox), raw_name + b"2")))
    unreadable.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    age(unreadable, 60)

    reports = process_inbox(core)

    assert sorted((r.new, r.rejected, r.unreadable is None) for r in reports) == [
        (0, 0, False),
        (2, 1, True),
    ]
    imported, rejected = sorted(reports, key=lambda r: r.unreadable is None, reverse=True)
    assert files(inbox) == [
        f"{PROCESSED}/import-{imported.import_id}.errors.txt",
        f"{REJECTED}/import-{rejected.import_id}",
        f"{REJECTED}/import-{rejected.import_id}.errors.txt",
    ]
    assert all("Vermeulen" not in r.name for r in reports)
    assert "Vermeulen" not in logged(caplog)
    assert "Vermeulen" not in database_text(core)


def test_symbolic_links_in_the_inbox_are_never_followed(
    core: Core, people: People, tmp_path: Path
) -> None:
    inbox = core.settings.inbox_dir
    outside = tmp_path / "elders"
    outside.mkdir()
    target = outside / "geheim.csv"
    content = dpan_bytes(rows_for(people, 2))
    target.write_bytes(content)
    target.chmod(0o644)
    inbox.mkdir()
    (inbox / "link.csv").symlink_to(target)
    (inbox / "map").symlink_to(outside, target_is_directory=True)
    (inbox / PROCESSING).mkdir()
    (inbox / PROCESSING / "oud.csv").symlink_to(target)  # "left by a killed process"
    for link in (inbox / "link.csv", inbox / PROCESSING / "oud.csv"):
        old = time.time() - STALE_SECONDS - 60
        os.utime(link, (old, old), follow_symlinks=False)

    assert process_inbox(core) == []

    assert melding_count(core) == 0
    assert (inbox / "link.csv").is_symlink() and (inbox / PROCESSING / "oud.csv").is_symlink()
    assert target.read_bytes() == content and mode(target) == 0o644
    assert sorted(p.name for p in outside.iterdir()) == ["geheim.csv"]


@pytest.mark.parametrize("folder", [PROCESSING, PROCESSED, REJECTED])
def test_no_file_is_moved_through_a_linked_folder(
    core: Core, people: People, tmp_path: Path, folder: str
) -> None:
    inbox = core.settings.inbox_dir
    elsewhere = tmp_path / "elders"
    elsewhere.mkdir()
    inbox.mkdir()
    (inbox / folder).symlink_to(elsewhere, target_is_directory=True)
    drop(inbox, "dpan.csv", dpan_bytes(rows_for(people, 2)))

    assert process_inbox(core) == []

    assert list(elsewhere.iterdir()) == []
    assert (inbox / "dpan.csv").exists()
    assert melding_count(core) == 0


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_files_the_bot_writes_are_private_whatever_the_umask(
    core: Core, people: People, umask: int
) -> None:
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 2)
    rows[0][6] = "Amsterdam"
    drop(inbox, "dpan.csv", dpan_bytes(rows))
    drop(inbox, "kapot.csv", b"\x00\x01binary")
    add_coordinator(core)  # kapot.csv is kept until the coordinator has been told
    (inbox / "dpan.csv").chmod(0o666)
    (inbox / "kapot.csv").chmod(0o666)
    previous = os.umask(umask)
    try:
        reports = process_inbox(core)
    finally:
        os.umask(previous)

    assert len(reports) == 2
    written = [inbox / name for name in files(inbox)]
    assert len(written) == 3  # errors of dpan.csv; kapot.csv and its errors in rejected/
    assert {mode(path) for path in written} == {0o600}
    assert {mode(inbox / sub) for sub in (PROCESSING, PROCESSED, REJECTED)} == {0o700}


def test_an_errors_file_placed_in_advance_is_not_written_through(
    core: Core, people: People, tmp_path: Path
) -> None:
    inbox = core.settings.inbox_dir
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    (inbox / PROCESSING).mkdir(parents=True)
    (inbox / PROCESSING / "dpan.csv.errors.txt").symlink_to(victim)
    rows = rows_for(people, 2)
    rows[0][6] = "Amsterdam"
    drop(inbox, "dpan.csv", dpan_bytes(rows))

    (report,) = process_inbox(core)

    assert (report.new, report.rejected) == (1, 1)
    assert victim.read_text() == "untouched"


def test_a_pseudonym_collision_is_a_new_person_not_a_duplicate(core: Core, people: People) -> None:
    """Two identities whose keys share 40 bits: the second gets a longer pseudonym."""
    inbox = core.settings.inbox_dir
    identity = people.identity(with_bsn=False)
    taken = pseudonym(identity, core.keys.pseudonym_key)
    longer = pseudonym_from_identity_key(
        identity_key(identity, core.keys.pseudonym_key), chars=PSEUDONYM_CHARS + 1
    )
    with core.db.session() as session:  # someone else holds both already
        for number, code in enumerate((taken, longer)):
            session.add(
                Person(
                    identity_key=f"{number:064x}",
                    pseudonym=code,
                    identity_ct=None,
                    created_at=core.clock.now(),
                    identity_stored_at=core.clock.now(),
                )
            )
    drop(inbox, "dpan.csv", dpan_bytes([row(identity, "INB-0001")]))

    (report,) = process_inbox(core)

    assert (report.new, report.duplicate, report.rejected) == (1, 0, 0)
    assert bron_ids(core) == ["INB-0001"]
    with core.db.session() as session:
        codes = sorted(session.exec(select(Person.pseudonym)).all())
        announced = session.exec(
            select(OutboxMessage.text).where(OutboxMessage.chat_id == core.settings.partner_chat_id)
        ).one()
    expected = pseudonym_from_identity_key(
        identity_key(identity, core.keys.pseudonym_key), chars=PSEUDONYM_CHARS + 2
    )
    assert codes == sorted([taken, longer, expected])
    assert expected.startswith(longer) and expected in announced
    assert is_pseudonym(expected)
