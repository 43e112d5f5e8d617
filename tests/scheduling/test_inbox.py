"""The inbox folder: each dropped detention-notification file is imported exactly once.

File ages are set with os.utime (SETTLE_SECONDS and STALE_SECONDS look at real
mtimes); no test waits for real time to pass.
"""

from __future__ import annotations

import csv
import io
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from sqlmodel import func, select

from bot.app import Core
from bot.domain.dpan import (
    MSG_BINARY,
    MSG_BSN_ELFPROEF,
    MSG_EMPTY,
    MSG_MISSING_COLUMNS,
    MSG_MUNICIPALITY,
    MSG_NOT_UTF8,
)
from bot.i18n import translator
from bot.privacy.pseudonym import Identity
from bot.safe import Code, Municipality, SafeText
from bot.sandbox.dpan_files import HEADER
from bot.scheduling import inbox as inbox_module
from bot.scheduling.inbox import PROCESSED, PROCESSING, REJECTED, STALE_SECONDS, process_inbox
from bot.storage.models import Melding
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


def test_settled_file_is_imported_once_and_moved_to_processed(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 4)
    drop(inbox, "dpan-1.csv", dpan_bytes(rows))

    reports = process_inbox(core)

    assert [(r.name, r.new, r.duplicate, r.rejected, r.unreadable) for r in reports] == [
        ("dpan-1.csv", 4, 0, 0, None)
    ]
    assert names(inbox / PROCESSED) == ["dpan-1.csv"]
    assert names(inbox / PROCESSING) == []
    assert not (inbox / "dpan-1.csv").exists()
    assert list(inbox.rglob("*.errors.txt")) == []
    assert bron_ids(core) == [r[0] for r in rows]

    assert process_inbox(core) == []
    assert melding_count(core) == 4
    assert names(inbox / PROCESSED) == ["dpan-1.csv"]


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
    assert names(inbox / PROCESSED) == ["dpan-2.csv", "dpan-2.csv.errors.txt"]
    errors = (inbox / PROCESSED / "dpan-2.csv.errors.txt").read_text(encoding="utf-8")
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

    (report,) = process_inbox(core)

    reason = translator(core.settings.locale)(message, **params)
    assert report.unreadable == reason
    assert (report.new, report.duplicate, report.rejected) == (0, 0, 0)
    assert names(inbox / REJECTED) == ["kapot.csv", "kapot.csv.errors.txt"]
    assert (inbox / REJECTED / "kapot.csv").read_bytes() == content
    errors = (inbox / REJECTED / "kapot.csv.errors.txt").read_text(encoding="utf-8")
    assert errors == f"file: {reason}\n"
    assert names(inbox / PROCESSING) == []
    assert names(inbox / PROCESSED) == []
    assert melding_count(core) == 0


def test_the_same_file_twice_adds_nothing_and_names_never_clash(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    content = dpan_bytes(rows_for(people, 3))
    drop(inbox, "dpan.csv", content)
    assert [(r.new, r.duplicate) for r in process_inbox(core)] == [(3, 0)]

    drop(inbox, "kopie.csv", content)  # the same content under another name
    drop(inbox, "dpan.csv", content)  # and under the name already in processed/
    reports = process_inbox(core)

    assert [(r.new, r.duplicate, r.rejected, r.unreadable) for r in reports] == [
        (0, 3, 0, None),
        (0, 3, 0, None),
    ]
    assert melding_count(core) == 3
    done = names(inbox / PROCESSED)
    assert len(done) == 3, done
    assert {"dpan.csv", "kopie.csv"} <= set(done)
    assert all(name.endswith(".csv") for name in done)
    assert all((inbox / PROCESSED / name).read_bytes() == content for name in done)
    assert names(inbox / PROCESSING) == []
    assert [p.name for p in inbox.iterdir() if p.is_file()] == []


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
    assert names(inbox / PROCESSING) == []
    assert names(inbox / PROCESSED) == ["dpan.csv"]
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
    import_path = core.detention.import_path
    other_pass: list[list[str]] = []
    looking = False

    def import_with_a_second_process_around(path: Path, **kwargs: object) -> object:
        nonlocal looking
        if not looking:  # while this process holds the claim, another one looks
            looking = True
            other_pass.append([r.name for r in inbox_module.process_inbox(core)])
        return import_path(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(core.detention, "import_path", import_with_a_second_process_around)

    reports = process_inbox(core)

    assert other_pass == [[]]
    assert [(r.name, r.new) for r in reports] == [("dpan.csv", 2)]
    assert names(inbox / PROCESSED) == ["dpan.csv"]


def test_hidden_and_partial_files_are_ignored(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    content = dpan_bytes(rows_for(people, 1))
    partial = (".dpan.csv", "dpan.csv.part", "dpan.csv.tmp", "dpan.csv.filepart", "dpan.csv.PART")
    for name in partial:
        drop(inbox, name, content, seconds_ago=3600)

    assert process_inbox(core) == []
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == sorted(partial)
    assert melding_count(core) == 0


def test_errors_file_names_follow_the_suffixed_file(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    rows = rows_for(people, 2)
    rows[1][6] = "Amsterdam"
    drop(inbox, "dpan.csv", dpan_bytes(rows))
    process_inbox(core)
    rows2 = rows_for(people, 2, prefix="TWEE")
    rows2[0][6] = "Amsterdam"
    drop(inbox, "dpan.csv", dpan_bytes(rows2))
    process_inbox(core)

    done = names(inbox / PROCESSED)
    assert len(done) == 4, done
    errors = [n for n in done if n.endswith(".errors.txt")]
    assert sorted(n.removesuffix(".errors.txt") for n in errors) == sorted(
        n for n in done if not n.endswith(".errors.txt")
    )
    second = next(n for n in errors if n != "dpan.csv.errors.txt")
    assert re.fullmatch(r"line 2: .+\n", (inbox / PROCESSED / second).read_text())
