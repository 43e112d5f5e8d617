"""The detention-notification file reader: every rule of shared/formats.md, one bad input each.

All people are generated (Faker nl_NL, tests/privacy/factories.py); no real data.
"""

from __future__ import annotations

import csv
import functools
import io
import time
import tracemalloc
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.config import MIDDEN_LIMBURG
from bot.domain import dpan
from bot.domain.dpan import (
    KNOWN_COLUMNS,
    MSG_BEFORE_BIRTH,
    MSG_BINARY,
    MSG_BSN_DIGITS,
    MSG_BSN_ELFPROEF,
    MSG_DATE,
    MSG_DUPLICATE_COLUMN,
    MSG_DUPLICATE_COLUMNS,
    MSG_EMPTY,
    MSG_FIELD_COUNT,
    MSG_FIRST_NAME_NO_LETTERS,
    MSG_FUTURE,
    MSG_IMPLAUSIBLE,
    MSG_MISSING_COLUMNS,
    MSG_MUNICIPALITY,
    MSG_NO_HEADER,
    MSG_NO_LETTERS,
    MSG_NOT_UTF8,
    MSG_REQUIRED,
    MSG_ROW_TOO_LONG,
    MSG_SOORT,
    MSG_TOO_LONG,
    MSG_TOO_OLD,
    MSG_UNCLOSED_QUOTE,
    REQUIRED_COLUMNS,
    DpanRow,
    FileUnreadable,
    Problem,
    RowError,
    Soort,
    _records,
    csv_safe,
    read_dpan,
)
from bot.domain.identity import Identity
from bot.domain.places import fold
from bot.privacy.pseudonym import is_pseudonym, pseudonym
from tests.privacy.factories import fake, make_identity

TODAY = date(2026, 11, 23)
REGION = MIDDEN_LIMBURG
HEADER: tuple[str, ...] = KNOWN_COLUMNS
INSTITUTIONS = ("PI Limburg Zuid", "PI Vught", "PI Arnhem Zuid")
FORMULA = "=cmd|' /C calc'!A0"

Item = DpanRow | RowError
MESSAGE_IDS = frozenset(v for k, v in vars(dpan).items() if k.startswith("MSG_"))
SAFE_PARAMS = frozenset([*HEADER, ", ".join(REGION)])


# --- helpers ----------------------------------------------------------------------------


@functools.cache
def person(seed: int) -> Identity:
    return make_identity(fake(seed), with_bsn=seed % 3 != 0)


def good_row(seed: int, **changes: str) -> dict[str, str]:
    """A valid row for a generated person; `changes` replace fields."""
    generated = person(seed)
    row = {
        "bron_id": f"DPAN-{seed:06d}",
        "soort": "instroom" if seed % 2 else "uitstroom",
        "achternaam": generated.surname,
        "voornamen": generated.given_names,
        "geboortedatum": generated.birth_date.isoformat(),
        "bsn": generated.bsn or "",
        "gemeente": REGION[seed % len(REGION)],
        "inrichting": INSTITUTIONS[seed % len(INSTITUTIONS)],
        "datum": (TODAY - timedelta(days=seed % 40)).isoformat(),
        "opmerking": f"Melding {seed}, graag contact met de casusregisseur.",
    }
    row.update(changes)
    return row


def quote(value: str, delimiter: str, quote_all: bool) -> str:
    # Python 3.11's csv.writer leaves a lone CR unquoted when the line ends are LF.
    if quote_all or any(c in value for c in (delimiter, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


def make_csv(
    rows: Iterable[Mapping[str, str]],
    *,
    header: Sequence[str] = HEADER,
    delimiter: str = ";",
    bom: bool = False,
    newline: str = "\n",
    quote_all: bool = False,
) -> bytes:
    lines = [[*header]] + [[row.get(column, "") for column in header] for row in rows]
    text = "".join(
        delimiter.join(quote(value, delimiter, quote_all) for value in line) + newline
        for line in lines
    )
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def line_breaks(values: Iterable[str]) -> int:
    """How many lines the values add to their row (CRLF, CR and LF count once)."""
    return sum(v.count("\n") + v.count("\r") - v.count("\r\n") for v in values)


def parse(data: bytes, **options: int) -> list[Item]:
    return list(read_dpan(io.BytesIO(data), municipalities=REGION, today=TODAY, **options))


def unreadable(data: bytes) -> FileUnreadable:
    items = read_dpan(io.BytesIO(data), municipalities=REGION, today=TODAY)
    with pytest.raises(FileUnreadable) as caught:
        next(items)
    return caught.value


def shown(problem: Problem) -> str:
    """Everything a problem could show to a person or a log."""
    return " | ".join(
        [problem.field, problem.message, problem.message.format(**problem.params), repr(problem)]
        + [str(v) for v in problem.params.values()]
    )


def assert_private(error: RowError | FileUnreadable, values: Iterable[str]) -> None:
    """No value from the bad row appears in what the error shows."""
    if isinstance(error, RowError):
        text = " | ".join(shown(p) for p in error.problems) + repr(error)
    else:
        text = " | ".join([str(error), error.message_id, repr(error), repr(error.params)])
    for value in values:
        value = value.strip()
        if len(value) >= 3:
            assert value not in text


def assert_accepted(item: Item, row: Mapping[str, str], line: int) -> DpanRow:
    """`item` is `row`, accepted from `line`, with every field as written."""
    assert isinstance(item, DpanRow), item
    assert item.line == line
    assert item.bron_id == row["bron_id"].strip()
    assert item.soort == Soort(row["soort"].strip().lower())
    assert item.identity.surname == row["achternaam"].strip()
    assert item.identity.given_names == row["voornamen"].strip()
    assert item.identity.birth_date.isoformat() == row["geboortedatum"]
    assert item.identity.bsn == (row["bsn"] or None)
    assert item.municipality == row["gemeente"]
    assert item.institution == row["inrichting"].strip()
    assert item.date.isoformat() == row["datum"]
    assert item.remark == (row["opmerking"].strip() or None)
    return item


def one_bad_row(bad: Mapping[str, str], *, delimiter: str = ";") -> RowError:
    """Parse a file with `bad` between two good rows: the good ones are accepted."""
    before, after = good_row(1), good_row(2)
    items = parse(make_csv([before, bad, after], delimiter=delimiter))
    assert len(items) == 3
    assert_accepted(items[0], before, line=2)
    assert_accepted(items[2], after, line=4 + line_breaks(bad.values()))
    error = items[1]
    assert isinstance(error, RowError)
    assert error.line == 3
    assert_private(error, bad.values())
    return error


def wrong_bsn() -> str:
    """A generated BSN with its check digit changed: nine digits failing the elfproef."""
    valid = make_identity(fake(7)).bsn
    assert valid is not None
    return valid[:8] + str((int(valid[8]) + 1) % 10)


# --- accepted files ---------------------------------------------------------------------


def test_valid_rows_are_read_with_every_field() -> None:
    rows = [good_row(n) for n in range(1, 31)]
    items = parse(make_csv(rows))
    assert len(items) == len(rows)
    for line, (item, row) in enumerate(zip(items, rows, strict=True), start=2):
        assert_accepted(item, row, line)
    assert {i.identity.bsn is None for i in items if isinstance(i, DpanRow)} == {True, False}


@pytest.mark.parametrize("delimiter", [";", ","])
def test_bom_crlf_and_quoted_fields(delimiter: str) -> None:
    tricky = good_row(
        3,
        achternaam="Bourgondië, van",
        voornamen='Jan "Sjeng"',
        opmerking="Eerste regel; met scheiding, en komma\r\ntweede regel\r\nderde",
    )
    rows = [good_row(1), tricky, good_row(4)]
    items = parse(make_csv(rows, delimiter=delimiter, bom=True, newline="\r\n"))
    assert_accepted(items[0], rows[0], line=2)
    accepted = assert_accepted(items[1], tricky, line=3)
    assert accepted.remark is not None and accepted.remark.count("\r\n") == 2
    # The quoted remark spans lines 3 to 5, so the next row starts on line 6.
    assert_accepted(items[2], rows[2], line=6)


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_line_numbers_after_multiline_records(newline: str) -> None:
    multiline = good_row(5, opmerking="a\nb\nc")
    bad = good_row(6, soort="opname")
    data = make_csv([multiline, bad, good_row(7)], newline=newline, quote_all=True)
    items = parse(data)
    assert [type(i) for i in items] == [DpanRow, RowError, DpanRow]
    assert [i.line for i in items] == [2, 5, 6]


def test_header_is_case_and_space_insensitive_in_any_order_with_extra_columns() -> None:
    header = ["  Opmerking", "DATUM ", "Inrichting", "extra", "Gemeente", "bsn"]
    header += ["Geboortedatum", "Voornamen", "ACHTERNAAM", "Soort", "Bron_ID"]
    row = good_row(8)
    data = make_csv(
        [{**row, **{h: row.get(h.strip().lower(), "x") for h in header}}], header=header
    )
    [item] = parse(data)
    assert_accepted(item, row, line=2)


def test_optional_columns_may_be_left_out() -> None:
    header = [c for c in HEADER if c not in ("bsn", "opmerking")]
    row = good_row(9)
    [item] = parse(make_csv([row], header=header))
    assert isinstance(item, DpanRow)
    assert item.identity.bsn is None
    assert item.remark is None


def test_header_only_gives_no_rows() -> None:
    assert parse(make_csv([])) == []
    assert parse(make_csv([]).rstrip(b"\n")) == []


def test_blank_lines_and_empty_spreadsheet_rows_are_skipped() -> None:
    header, first, second = make_csv([good_row(1), good_row(2)]).split(b"\n")[:3]
    data = b"\n".join([header, first, b"", b";;;;;;;;;", b"  ", second])
    items = parse(data)
    assert [type(i) for i in items] == [DpanRow, DpanRow]
    assert [i.line for i in items] == [2, 6]


def test_last_row_without_line_break() -> None:
    row = good_row(10)
    [item] = parse(make_csv([row]).rstrip(b"\n"))
    assert_accepted(item, row, line=2)


@pytest.mark.parametrize(
    "spelling", ["ROERMOND", "echt-susteren", "  Wéért ", "Roërdalen", "leudal"]
)
def test_municipality_spelling_variants_inside_the_region(spelling: str) -> None:
    row = good_row(11, gemeente=spelling)
    [item] = parse(make_csv([row]))
    assert isinstance(item, DpanRow)
    assert item.municipality in REGION
    assert fold(item.municipality) == fold(spelling)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("1-2-1980", date(1980, 2, 1)),
        ("01-02-1980", date(1980, 2, 1)),
        ("1980-2-1", date(1980, 2, 1)),
    ],
)
def test_dates_in_both_formats(written: str, expected: date) -> None:
    [item] = parse(make_csv([good_row(12, geboortedatum=written)]))
    assert isinstance(item, DpanRow)
    assert item.identity.birth_date == expected


def test_bsn_with_separators_is_normalised() -> None:
    valid = make_identity(fake(13)).bsn
    assert valid is not None
    written = f"{valid[:4]}.{valid[4:6]}.{valid[6:]}"
    [item] = parse(make_csv([good_row(13, bsn=written)]))
    assert isinstance(item, DpanRow)
    assert item.identity.bsn == valid


@pytest.mark.parametrize("column", ["opmerking", "achternaam"])
def test_formula_injection_is_kept_as_plain_text(column: str) -> None:
    row = good_row(14, **{column: FORMULA})
    [item] = parse(make_csv([row]))
    accepted = assert_accepted(item, row, line=2)
    assert FORMULA in (accepted.remark, accepted.identity.surname)
    assert csv_safe(FORMULA) == "'" + FORMULA


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_safe_neutralises_formula_starts(start: str) -> None:
    assert csv_safe(start + "SUM(A1:A9)") == "'" + start + "SUM(A1:A9)"


@given(st.text())
def test_csv_safe_changes_only_formula_starts(text: str) -> None:
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        assert csv_safe(text) == "'" + text
    else:
        assert csv_safe(text) == text


def test_tab_and_line_breaks_are_allowed_in_opmerking() -> None:
    row = good_row(15, opmerking="kolom\tkolom\nregel\r\nregel")
    [item] = parse(make_csv([row]))
    assert_accepted(item, row, line=2)


def test_a_row_never_shows_personal_data_in_its_repr() -> None:
    row = good_row(16)
    [item] = parse(make_csv([row]))
    text = repr(item) + str(item)
    for value in row.values():
        if len(value) >= 3 and value not in ("instroom", "uitstroom"):
            assert value not in text


def test_reading_starts_at_the_stream_position(tmp_path: Path) -> None:
    path = tmp_path / "dpan.csv"
    rows = [good_row(17), good_row(18)]
    path.write_bytes(b"junk before" + make_csv(rows))
    with path.open("rb") as stream:
        stream.seek(len(b"junk before"))
        items = list(read_dpan(stream, municipalities=REGION, today=TODAY))
    assert_accepted(items[0], rows[0], line=2)
    assert_accepted(items[1], rows[1], line=3)


# --- rejected rows: one bad input each --------------------------------------------------

BAD_FIELDS = [
    pytest.param({"soort": "opname"}, "soort", MSG_SOORT, id="unknown-soort"),
    pytest.param({"geboortedatum": "31-02-1990"}, "geboortedatum", MSG_DATE, id="impossible-date"),
    pytest.param({"datum": "2026-13-01"}, "datum", MSG_DATE, id="impossible-month"),
    pytest.param({"datum": "23/11/2026"}, "datum", MSG_DATE, id="date-with-slashes"),
    pytest.param(
        {"geboortedatum": "\u0662\u0660\u0660\u0660-\u0660\u0661-\u0660\u0661"},
        "geboortedatum",
        MSG_DATE,
        id="non-ascii-digits",
    ),
    pytest.param(
        {"geboortedatum": (TODAY + timedelta(days=1)).isoformat()},
        "geboortedatum",
        MSG_FUTURE,
        id="future-birth-date",
    ),
    pytest.param({"geboortedatum": "1896-05-01"}, "geboortedatum", MSG_TOO_OLD, id="130-years-old"),
    pytest.param({"bsn": wrong_bsn()}, "bsn", MSG_BSN_ELFPROEF, id="bsn-fails-elfproef"),
    pytest.param({"bsn": "12345"}, "bsn", MSG_BSN_DIGITS, id="bsn-too-short"),
    pytest.param({"bsn": "12345678X"}, "bsn", MSG_BSN_DIGITS, id="bsn-not-digits"),
    pytest.param({"gemeente": "Venlo"}, "gemeente", MSG_MUNICIPALITY, id="outside-region"),
    pytest.param(
        {"datum": (TODAY + timedelta(days=6 * 366)).isoformat()},
        "datum",
        MSG_IMPLAUSIBLE,
        id="datum-far-future",
    ),
    pytest.param({"datum": "2019-01-01"}, "datum", MSG_IMPLAUSIBLE, id="datum-far-past"),
    pytest.param(
        {"geboortedatum": "2024-01-01", "datum": "2023-06-01"},
        "datum",
        MSG_BEFORE_BIRTH,
        id="datum-before-birth",
    ),
    pytest.param({"achternaam": "A" * 201}, "achternaam", MSG_TOO_LONG, id="long-surname"),
    pytest.param({"bron_id": "X" * 65}, "bron_id", MSG_TOO_LONG, id="long-bron-id"),
]


@pytest.mark.parametrize(("changes", "field", "message"), BAD_FIELDS)
def test_a_bad_field_rejects_only_its_row(
    changes: dict[str, str], field: str, message: str
) -> None:
    error = one_bad_row(good_row(20, **changes))
    assert [(p.field, p.message) for p in error.problems] == [(field, message)]


def test_outside_region_lists_the_configured_municipalities() -> None:
    error = one_bad_row(good_row(21, gemeente="Maastricht"))
    [problem] = error.problems
    assert problem.params["municipalities"] == ", ".join(REGION)


@pytest.mark.parametrize("column", REQUIRED_COLUMNS)
def test_an_empty_required_field(column: str) -> None:
    error = one_bad_row(good_row(22, **{column: "  "}))
    assert [(p.field, p.message, dict(p.params)) for p in error.problems] == [
        (column, MSG_REQUIRED, {"column": column})
    ]


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("achternaam", "Jan\x07sen"),
        ("voornamen", "Piet\x1b[31m"),
        ("bron_id", "DPAN\x01001"),
        ("inrichting", "PI\x7fVught"),
        ("achternaam", "Jan\nsen"),
        ("voornamen", "Piet\tJan"),
        ("opmerking", "tekst\x1b[2J"),
        ("opmerking", "tekst\rmet losse CR"),
        ("opmerking", "C1-teken \x85 hier"),
    ],
)
def test_control_characters(column: str, value: str) -> None:
    error = one_bad_row(good_row(23, **{column: value}))
    assert [p.field for p in error.problems] == [column]


def test_every_problem_of_a_row_is_reported() -> None:
    bad = good_row(
        24, soort="vrij", geboortedatum="30-02-2001", bsn=wrong_bsn(), gemeente="Venlo", datum=""
    )
    error = one_bad_row(bad)
    assert [p.field for p in error.problems] == [
        "soort",
        "geboortedatum",
        "bsn",
        "gemeente",
        "datum",
    ]


@pytest.mark.parametrize("extra", [-1, 1])
def test_wrong_field_count(extra: int) -> None:
    before, bad, after = good_row(25), good_row(26), good_row(27)
    lines = make_csv([before, bad, after]).decode().split("\n")
    fields = lines[2].split(";")
    lines[2] = ";".join(fields[:extra] if extra < 0 else [*fields, "extra"])
    items = parse("\n".join(lines).encode())
    assert_accepted(items[0], before, line=2)
    assert_accepted(items[2], after, line=4)
    error = items[1]
    assert isinstance(error, RowError)
    assert error.line == 3
    [problem] = error.problems
    assert (problem.field, problem.message) == ("row", MSG_FIELD_COUNT)
    assert problem.params == {"found": len(HEADER) + extra, "expected": len(HEADER)}
    assert_private(error, bad.values())


def test_a_field_of_20000_characters_is_rejected_and_the_next_row_read() -> None:
    error = one_bad_row(good_row(28, opmerking="lang verhaal; " * 1429))
    [problem] = error.problems
    assert (problem.field, problem.message) == ("opmerking", MSG_TOO_LONG)
    assert problem.params["max"] == 10_000


def test_a_field_past_the_csv_modules_limit_is_skipped_unread() -> None:
    # Longer than csv.field_size_limit() and than the record limit, with quotes
    # and line breaks inside, so only a scanner that keeps its place reads on.
    huge = ('regel "met" aanhalingstekens; en scheiding\n' * 8000)[:300_000]
    error = one_bad_row(good_row(29, opmerking=huge))
    [problem] = error.problems
    assert (problem.field, problem.message) == ("row", MSG_ROW_TOO_LONG)


def test_max_field_chars_is_configurable() -> None:
    row = good_row(30, opmerking="x" * 101)
    [error] = parse(make_csv([row]), max_field_chars=100)
    assert isinstance(error, RowError)
    assert [(p.field, p.params["max"]) for p in error.problems] == [("opmerking", 100)]


def test_a_max_field_chars_past_the_csv_limit_does_not_make_csv_raise() -> None:
    before, bad, after = good_row(1), good_row(33, opmerking="y" * 150_000), good_row(2)
    data = make_csv([before, bad, after])
    items = list(
        read_dpan(io.BytesIO(data), municipalities=REGION, today=TODAY, max_field_chars=200_000)
    )
    assert [type(i) for i in items] == [DpanRow, RowError, DpanRow]
    error = items[1]
    assert isinstance(error, RowError)
    assert [(p.field, p.message) for p in error.problems] == [("row", MSG_ROW_TOO_LONG)]


def test_an_unclosed_quote_is_reported_at_its_row() -> None:
    before, bad = good_row(31), good_row(32)
    data = make_csv([before, bad]) + b'DPAN-9;instroom;"niet gesloten\nrest;van;het\nbestand\n'
    items = parse(data)
    assert_accepted(items[0], before, line=2)
    assert_accepted(items[1], bad, line=3)
    error = items[2]
    assert isinstance(error, RowError)
    assert error.line == 4
    [problem] = error.problems
    assert (problem.field, problem.message) == ("row", MSG_UNCLOSED_QUOTE)
    assert problem.params == {"last_line": 6}


# --- unreadable files -------------------------------------------------------------------


def test_missing_columns() -> None:
    header = [c for c in HEADER if c not in ("gemeente", "datum")]
    error = unreadable(make_csv([good_row(40)], header=header))
    assert error.message_id == MSG_MISSING_COLUMNS
    assert error.params == {"columns": "gemeente, datum"}
    assert_private(error, good_row(40).values())


def test_duplicate_known_column() -> None:
    error = unreadable(make_csv([good_row(41)], header=[*HEADER, "Soort"]))
    assert error.message_id == MSG_DUPLICATE_COLUMNS
    assert error.params == {"columns": "soort"}


def test_duplicate_unknown_column_is_not_named() -> None:
    error = unreadable(make_csv([good_row(42)], header=[*HEADER, "Notitie", "notitie"]))
    assert error.message_id == MSG_DUPLICATE_COLUMN
    assert "otitie" not in str(error)


def test_a_file_without_header_does_not_show_its_first_row() -> None:
    row = good_row(43)
    data = make_csv([row]).split(b"\n", 1)[1]
    error = unreadable(data)
    assert error.message_id == MSG_NO_HEADER
    assert_private(error, row.values())


def test_latin1_file_is_not_utf8() -> None:
    row = good_row(44, achternaam="Müller", voornamen="Renée")
    error = unreadable(make_csv([row]).decode().encode("latin-1"))
    assert error.message_id == MSG_NOT_UTF8
    assert_private(error, row.values())


def test_invalid_utf8_at_the_end_stops_the_file_before_any_row() -> None:
    rows = [good_row(n % 50, bron_id=f"DPAN-{n}") for n in range(3000)]
    data = make_csv(rows) + b"Caf\xe9\n"
    assert len(data) > 3 * 64 * 1024
    items = read_dpan(io.BytesIO(data), municipalities=REGION, today=TODAY)
    # The first request already fails: no row of the file is handed out.
    with pytest.raises(FileUnreadable) as caught:
        next(items)
    assert caught.value.message_id == MSG_NOT_UTF8


def test_utf16_file_is_not_utf8() -> None:
    data = make_csv([good_row(45)]).decode().encode("utf-16")
    assert unreadable(data).message_id == MSG_NOT_UTF8


def test_binary_file() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64 + b"\xff\xd8" * 32
    assert unreadable(png).message_id == MSG_BINARY


def test_nul_inside_an_otherwise_valid_file() -> None:
    data = make_csv([good_row(46)]).replace(b"Melding", b"Mel\x00ding")
    assert unreadable(data).message_id == MSG_BINARY


@pytest.mark.parametrize(
    "data",
    [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf \r\n\t\n", b"\n\n"],
    ids=["empty", "bom", "bom-ws", "nl"],
)
def test_empty_file(data: bytes) -> None:
    assert unreadable(data).message_id == MSG_EMPTY


def test_tab_separated_file_is_not_a_header() -> None:
    assert unreadable(make_csv([good_row(47)], delimiter="\t")).message_id == MSG_NO_HEADER


# --- size and memory --------------------------------------------------------------------


def write_big_file(path: Path, target_bytes: int) -> int:
    """Write rows with long remarks until the file reaches `target_bytes`; return the row count."""
    people = [good_row(n) for n in range(1, 101)]
    remark = " ".join(fake(1).sentences(nb=12))
    remark = '"' + (remark * (900 // len(remark) + 1))[:900].replace('"', '""') + '"'
    # Everything after the bron_id, which is numbered as the rows are written.
    rests = [
        ";".join(
            [
                "",
                p["soort"],
                f'"{p["achternaam"]}"',
                p["voornamen"],
                p["geboortedatum"],
                p["bsn"],
                p["gemeente"],
                p["inrichting"],
                p["datum"],
                remark,
            ]
        )
        + "\r\n"
        for p in people
    ]
    count = 0
    size = 0
    header = ["bron_id", "soort", "achternaam", "voornamen", "geboortedatum", "bsn"]
    header += ["gemeente", "inrichting", "datum", "opmerking"]
    with path.open("wb") as out:
        out.write(("\ufeff" + ";".join(header) + "\r\n").encode())
        while size < target_bytes:
            block = "".join(f"DPAN-{count + j}{rest}" for j, rest in enumerate(rests)).encode()
            out.write(block)
            size += len(block)
            count += len(rests)
    return count


@pytest.mark.slow
def test_a_50_mb_file_streams_in_flat_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = write_big_file(path, 50 * 1024 * 1024)
    assert rows >= 50_000
    tracemalloc.start()
    try:
        began = time.perf_counter()
        with path.open("rb") as stream:
            counts = {DpanRow: 0, RowError: 0}
            for item in read_dpan(stream, municipalities=REGION, today=TODAY):
                counts[type(item)] += 1
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert counts == {DpanRow: rows, RowError: 0}
    assert peak < 16 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"
    assert elapsed < 120


# --- properties -------------------------------------------------------------------------

header_line = ";".join(HEADER).encode() + b"\n"


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.binary(max_size=2000).map(header_line.__add__),
        # Valid UTF-8 with anything in it, so most examples get past the encoding check.
        st.text(max_size=1000).map(lambda text: header_line + text.encode()),
    )
)
def test_arbitrary_bytes_give_rows_errors_or_file_unreadable(data: bytes) -> None:
    message_id: str | None = None
    try:
        items = parse(data)
    except FileUnreadable as error:
        message_id = error.message_id
        items = []
    assert message_id is None or message_id in MESSAGE_IDS
    assert all(isinstance(i, DpanRow | RowError) for i in items)


csv_text = st.text(alphabet=st.sampled_from(['"', ";", ",", "\n", "\r", " ", "a", "é", "\x07"]))


@settings(max_examples=300)
@given(csv_text.map(lambda text: ";".join(HEADER) + "\n" + text))
def test_arbitrary_csv_text_gives_rows_or_errors(text: str) -> None:
    items = parse(text.encode())
    assert all(isinstance(i, DpanRow | RowError) for i in items)
    for item in items:
        if isinstance(item, RowError):
            assert item.problems
            assert_private(item, [text.split("\n", 1)[1]])


@settings(max_examples=500)
@given(csv_text, st.sampled_from([";", ","]), st.integers(min_value=1, max_value=40))
def test_records_split_like_the_csv_module(text: str, delimiter: str, chunk: int) -> None:
    """The record scanner agrees with `csv` on fields and start lines, across chunk edges."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    expected = []
    line = 1
    for fields in reader:
        if fields:
            expected.append((line, fields))
        line = reader.line_num + 1
    chunks = [text[i : i + chunk] for i in range(0, len(text), chunk)]
    found = [
        (record.line, next(csv.reader([record.text], delimiter=delimiter)))
        for record in _records(chunks, delimiter, limit=10_000)
        if record.text is not None
    ]
    assert found == expected


people = st.integers(min_value=1, max_value=10_000)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(people, min_size=1, max_size=8),
    st.sampled_from([";", ","]),
    st.booleans(),
    st.booleans(),
    st.sampled_from(["\n", "\r\n"]),
)
def test_generated_files_round_trip(
    seeds: list[int], delimiter: str, quote_all: bool, bom: bool, newline: str
) -> None:
    rows = [good_row(seed) for seed in seeds]
    data = make_csv(rows, delimiter=delimiter, quote_all=quote_all, bom=bom, newline=newline)
    items = parse(data)
    for line, (item, row) in enumerate(zip(items, rows, strict=True), start=2):
        assert_accepted(item, row, line)


@settings(max_examples=200, deadline=None)
@given(
    people,
    st.sampled_from(HEADER),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00")),
)
def test_problems_only_hold_message_ids_column_names_and_limits(
    seed: int, column: str, value: str
) -> None:
    """Whatever a field holds, a problem is built from fixed parts only, so it cannot leak."""
    items = parse(make_csv([good_row(seed, **{column: value})]))
    for item in items:
        if isinstance(item, RowError):
            for problem in item.problems:
                assert problem.message in MESSAGE_IDS
                assert problem.field in (*HEADER, "row")
                for param in problem.params.values():
                    assert isinstance(param, int) or param in SAFE_PARAMS


# --- rows that could not be turned into a person ----------------------------------------


@pytest.mark.parametrize("surname", ["123", "\U0001f600", " - ", "4 2", "\u0663\u0664"])
def test_a_surname_without_letters_and_no_bsn_is_rejected(surname: str) -> None:
    """Without a BSN the person is found by surname: one without letters cannot be."""
    error = one_bad_row(good_row(30, achternaam=surname, bsn=""))
    assert [(p.field, p.message) for p in error.problems] == [("achternaam", MSG_NO_LETTERS)]


@pytest.mark.parametrize("given_names", ["123", "\U0001f600 Jan", "- Jan", "12 Jan"])
def test_a_first_given_name_without_letters_and_no_bsn_is_rejected(given_names: str) -> None:
    """Without a BSN the first given name counts: without letters two people would merge."""
    error = one_bad_row(good_row(31, voornamen=given_names, bsn=""))
    assert [(p.field, p.message) for p in error.problems] == [
        ("voornamen", MSG_FIRST_NAME_NO_LETTERS)
    ]


def test_names_without_letters_are_accepted_with_a_bsn() -> None:
    """The BSN finds the person; names are kept as written."""
    row = good_row(32, achternaam="123", voornamen="\U0001f600")
    assert row["bsn"]
    [item] = parse(make_csv([row]))
    assert_accepted(item, row, line=2)


@settings(max_examples=300, deadline=None)
@given(
    people,
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
    st.booleans(),
)
def test_every_accepted_row_gives_a_pseudonym(
    seed: int, surname: str, given_names: str, with_bsn: bool
) -> None:
    """Whatever the names hold, an accepted row never makes the pseudonym step fail."""
    changes = {"achternaam": surname, "voornamen": given_names}
    if not with_bsn:
        changes["bsn"] = ""
    for item in parse(make_csv([good_row(seed, **changes)])):
        if isinstance(item, DpanRow):
            assert is_pseudonym(pseudonym(item.identity, bytes(range(32))))
