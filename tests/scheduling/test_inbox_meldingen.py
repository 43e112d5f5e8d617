"""The inbox takes meldingen files too: each kind is told by its header and imported alike."""

from __future__ import annotations

import codecs

from sqlmodel import col, func, select

from bot.core import Core
from bot.domain.dpan import MSG_MISSING_COLUMNS
from bot.i18n import translator
from bot.safe import Code, SafeText
from bot.scheduling.inbox import PROCESSED, REJECTED, process_inbox
from bot.storage.models import Case, Melding
from tests.conftest import People
from tests.scheduling.test_inbox import (
    add_coordinator,
    dpan_bytes,
    drop,
    files,
    notices,
    rows_for,
)
from tests.services.test_meldingen_import import MELDINGEN_HEADER, melding_row, meldingen_csv


def kinds(core: Core) -> dict[str, str]:
    with core.db.session() as session:
        return dict(session.exec(select(Melding.bron_id, Melding.soort)).all())


def test_both_kinds_of_file_are_told_apart_by_their_header(core: Core, people: People) -> None:
    inbox = core.settings.inbox_dir
    dpan_rows = rows_for(people, 2, prefix="DJI")
    a, b, c = (people.identity() for _ in range(3))
    meldingen = meldingen_csv([
        melding_row(a, "POL-1", thema="top_x"),
        melding_row(b, "POL-2", thema="jeugd", gemeente="Utrecht"),  # rejected: not the region
        melding_row(c, "VT-1", thema="huiselijk_geweld", bron="veilig_thuis"),
    ])  # fmt: skip
    # Excel's "CSV UTF-8" with a BOM and commas: recognised all the same.
    as_excel = codecs.BOM_UTF8 + meldingen.decode("utf-8").replace(";", ",").encode("utf-8")
    drop(inbox, "a-dpan.csv", dpan_bytes(dpan_rows))
    drop(inbox, "b-meldingen.csv", as_excel)

    reports = process_inbox(core)

    assert [(r.name, r.new, r.duplicate, r.rejected) for r in reports] == [
        ("a-dpan.csv", 2, 0, 0),
        ("b-meldingen.csv", 2, 0, 1),
    ]
    assert kinds(core) == {
        "DJI-0001": "uitstroom", "DJI-0002": "uitstroom", "POL-1": "melding", "VT-1": "melding",
    }  # fmt: skip
    (errors_file,) = files(inbox)
    assert errors_file.startswith(f"{PROCESSED}/import-{reports[1].import_id}-b-meldingen.csv")
    errors = (inbox / errors_file).read_text(encoding="utf-8")
    assert errors.startswith("line 3: gemeente ")
    assert b.surname not in errors and "Utrecht" not in errors
    with core.db.session() as session:
        themes = session.exec(select(Case.theme).order_by(col(Case.id))).all()
        assert themes == ["nazorg", "nazorg", "top_x", "huiselijk_geweld"]

    # The same files again: nothing twice.
    drop(inbox, "b-meldingen-again.csv", as_excel)
    (again,) = process_inbox(core)
    assert (again.new, again.duplicate, again.rejected) == (0, 2, 1)
    with core.db.session() as session:
        assert session.exec(select(func.count()).select_from(Melding)).one() == 4


def test_a_meldingen_file_missing_a_column_is_rejected_as_a_meldingen_file(
    core: Core, people: People
) -> None:
    inbox = core.settings.inbox_dir
    coordinator = add_coordinator(core)
    header = [c for c in MELDINGEN_HEADER if c != "datum"]
    content = meldingen_csv([[*melding_row(people.identity(), "POL-1")[:-2], "x"]], header)
    drop(inbox, "zonder-datum.csv", content)

    (report,) = process_inbox(core)

    _ = translator(core.settings.locale)
    assert report.unreadable == _(
        MSG_MISSING_COLUMNS, columns=SafeText.joined(", ", [Code("datum")])
    )
    assert f"{REJECTED}/import-{report.import_id}-zonder-datum.csv" in files(inbox)
    (notice,) = notices(core)
    assert notice.chat_id == coordinator
    assert "bestand met meldingen" in notice.text
    assert "zonder-datum" not in notice.text


def test_the_first_line_of_a_file_is_enough_to_tell_its_kind() -> None:
    from bot.domain.meldingen import is_meldingen_header

    assert is_meldingen_header("bron_id;bron;thema;achternaam")
    assert is_meldingen_header("\ufeffBRON_ID,Thema , gemeente")
    assert not is_meldingen_header("bron_id;soort;achternaam;voornamen;inrichting")
    assert not is_meldingen_header("bron_idbronthema")
