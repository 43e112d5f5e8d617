"""Reading a detention-notification (DPAN) file: one row at a time, checked. Pure rules.

The format is a contract (shared/formats.md, "Detention-notification file"): CSV
in UTF-8 (a BOM is allowed), comma or semicolon separated, one header row. Each
row becomes a `DpanRow` or, when it breaks a rule, a `RowError` naming its line
and every problem; a file that cannot be read at all raises `FileUnreadable`.

The file holds personal data of vulnerable people, so nothing this module
produces for people to read (messages, their parameters, exceptions, reprs)
ever contains a value from the file: only column names, limits and line numbers.
Messages are English message ids, marked for translation and formatted with
their parameters by the caller's translator.

Memory stays flat whatever the size of the file: the file is read in chunks,
the record boundaries are found by a small scanner that follows the `csv`
module's quoting rules, and only one record (of bounded size) is held at a time.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, BinaryIO, Generic, NamedTuple, TypeVar

from bot.domain.bsn import InvalidBsn, normalise_bsn
from bot.domain.commands import mark
from bot.domain.identity import Identity, first_given_name_letters, surname_letters
from bot.domain.places import fold
from bot.safe import Code, Municipality, Param, SafeText

REQUIRED_COLUMNS: tuple[str, ...] = (
    "bron_id",
    "soort",
    "achternaam",
    "voornamen",
    "geboortedatum",
    "gemeente",
    "inrichting",
    "datum",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("bsn", "opmerking")
KNOWN_COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS

# Longest accepted value per one-line text column (opmerking: `max_field_chars`).
TEXT_LIMITS: Mapping[str, int] = {
    "bron_id": 64,
    "achternaam": 200,
    "voornamen": 200,
    "inrichting": 200,
}
MAX_AGE_YEARS = 120
DATUM_RANGE_YEARS = 5

_CHUNK_BYTES = 64 * 1024
# The header is looked for in the first line; a first line longer than this is
# no header, and reading no further keeps a file without line breaks cheap.
_HEADER_CHARS = 64 * 1024
# A record (all fields, quotes and delimiters) longer than twice the longest
# allowed field plus room for the other columns cannot hold a valid row; it is
# skipped unread, so a huge field never has to fit in memory.
_RECORD_SLACK_CHARS = 64 * 1024
_DELIMITERS = (";", ",")

_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})")
_DUTCH_DATE = re.compile(r"([0-9]{1,2})-([0-9]{1,2})-([0-9]{4})")
# Unicode category Cc is exactly these two ranges. One-line fields allow none of
# them (nor the Unicode line and paragraph separators); opmerking allows tab and
# line breaks (LF, or CRLF as Windows writes them inside a quoted field).
_ONE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_MULTI_LINE_FORBIDDEN = re.compile("\r(?!\n)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BSN_SEPARATORS = re.compile(r"[ .\-]")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Message ids (English), translated by the caller. Parameters never hold a value
# from the file.
MSG_NOT_UTF8 = mark("the file is not a UTF-8 text file; save it as CSV UTF-8")
MSG_BINARY = mark("the file looks like a binary file, not a CSV text file")
MSG_EMPTY = mark("the file is empty")
MSG_NO_HEADER = mark("the first line is not a header; expected the columns {columns}")
MSG_MISSING_COLUMNS = mark("the file misses the columns {columns}")
MSG_DUPLICATE_COLUMNS = mark("the header names the columns {columns} more than once")
MSG_DUPLICATE_COLUMN = mark("the header names a column more than once")
MSG_BEFORE_BIRTH = mark("{column} is before the date of birth")
MSG_OTHER_KIND = mark(
    "the header also names {columns}, columns of another kind of file; "
    "a file holds one kind of rows"
)
MSG_FIELD_COUNT = mark("the row has {found} fields; the header has {expected}")
MSG_ROW_TOO_LONG = mark("the row is too long; a field may have at most {max} characters")
MSG_UNCLOSED_QUOTE = mark(
    "a quoted field that starts on this row is not closed; "
    "the rest of the file (to line {last_line}) was read as part of it"
)
MSG_NOT_CSV = mark("the row cannot be read as CSV")
MSG_REQUIRED = mark("{column} is required")
MSG_TOO_LONG = mark("{column} is too long; at most {max} characters")
MSG_ONE_LINE = mark("{column} must be a single line without tabs or control characters")
MSG_CONTROL = mark("{column} contains a control character; only tabs and line breaks are allowed")
MSG_SOORT = mark("{column} must be instroom or uitstroom")
MSG_DATE = mark("{column} is not a valid date; use YYYY-MM-DD or DD-MM-YYYY")
MSG_FUTURE = mark("{column} lies in the future")
MSG_TOO_OLD = mark("{column} is more than {years} years ago")
MSG_IMPLAUSIBLE = mark("{column} is an implausible date: more than {years} years from today")
MSG_BSN_DIGITS = mark("the BSN must have 9 digits")
MSG_BSN_ELFPROEF = mark("the BSN does not pass the elfproef (11-test)")
MSG_MUNICIPALITY = mark("{column} is not one of the region's municipalities ({municipalities})")
MSG_NO_LETTERS = mark("{column} must contain letters when there is no BSN")
MSG_FIRST_NAME_NO_LETTERS = mark(
    "the first name in {column} must contain letters when there is no BSN"
)


RowT = TypeVar("RowT")


class Soort(StrEnum):
    INSTROOM = "instroom"
    UITSTROOM = "uitstroom"


# The sender of every detention notification: the prison service (DJI). A
# melding is known by its sender and the sender's id (`melding.bron`, `bron_id`).
BRON = "dji"


@dataclass(frozen=True, repr=False)
class DpanRow:
    """One accepted row. repr shows no personal data."""

    line: int
    bron_id: str
    soort: Soort
    identity: Identity
    municipality: str
    institution: str
    date: datetime.date
    remark: str | None

    @property
    def bron(self) -> str:
        return BRON

    def __repr__(self) -> str:
        return f"DpanRow(line={self.line}, soort={self.soort.value}, <redacted>)"


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field ("row" for the row as a whole).

    `message` is an English message id with named placeholders; `params` fills
    them and never holds a value from the file.
    """

    field: str
    message: str
    params: Mapping[str, Param]


@dataclass(frozen=True)
class RowError:
    """A rejected row: the line it starts on and every problem found in it."""

    line: int
    problems: tuple[Problem, ...]


class FileUnreadable(Exception):
    """The file as a whole cannot be imported.

    Attributes:
        message_id: English message id saying why, with named placeholders.
        params: values for the placeholders; never content of the file.
    """

    def __init__(self, message_id: str, params: Mapping[str, Param] | None = None) -> None:
        self.message_id = message_id
        self.params: Mapping[str, Param] = dict(params or {})
        super().__init__(message_id.format(**self.params))


def csv_safe(text: str) -> str:
    """Neutralise a value for a CSV or spreadsheet export (formula injection).

    A value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    would be run as a formula by a spreadsheet; a leading apostrophe makes it text.

    Args:
        text: the value as stored.

    Returns:
        `text` with ``'`` in front when it starts with one of those characters,
        otherwise `text` unchanged.
    """
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def read_dpan(
    stream: BinaryIO,
    *,
    municipalities: Sequence[str],
    today: datetime.date,
    max_field_chars: int = 10_000,
) -> Iterator[DpanRow | RowError]:
    """Read a detention-notification file row by row (`read_rows` with `DPAN`).

    A generator: nothing is read until the first item is asked for. Then the
    whole file is checked to be UTF-8 text and its header is read, so
    `FileUnreadable` comes from that first `next()`, never after a row was
    handed out. The stream is read twice (once to check the encoding, once to
    parse) from its current position; it must be seekable, and the caller
    keeps it open until the iterator is exhausted.

    Args:
        stream: the file, opened in binary mode.
        municipalities: the region's municipalities, in their configured spelling.
        today: the date to judge dates against.
        max_field_chars: the longest accepted opmerking. A row longer than twice
            this plus 64 Ki characters, or than `csv.field_size_limit()`, is
            rejected as a whole, unparsed (it cannot hold a valid row).

    Yields:
        One `DpanRow` or `RowError` per non-blank row, in file order.

    Raises:
        FileUnreadable: the file is not UTF-8 text, is empty, or its header lacks
            columns or names one twice.
    """
    return read_rows(
        stream,
        DPAN,
        municipalities=municipalities,
        today=today,
        max_field_chars=max_field_chars,
    )


def read_rows(
    stream: BinaryIO,
    row_format: RowFormat[RowT],
    *,
    municipalities: Sequence[str],
    today: datetime.date,
    max_field_chars: int = 10_000,
) -> Iterator[RowT | RowError]:
    """Read a file of one of the row formats (DPAN, meldingen) row by row.

    The rules every format shares (encoding, separator, header, blank rows, row
    length, per-row rejection) are applied here; the format's `check` turns one
    row's fields into its row type or a `RowError`. See `read_dpan`.
    """
    start = stream.tell()
    _check_utf8(stream)
    stream.seek(start)
    chunks = _decoded_chunks(stream)
    first_line, peeked = _first_line(chunks)
    delimiter = _detect_delimiter(first_line, row_format)
    # Capped at the csv module's own limit, so no field can make it raise.
    record_limit = min(2 * max_field_chars + _RECORD_SLACK_CHARS, csv.field_size_limit())
    records = _records(itertools.chain(peeked, chunks), delimiter, record_limit)
    header = next(records, None)
    if header is None or header.text is None or header.unclosed:
        raise FileUnreadable(MSG_NO_HEADER, {"columns": _columns(row_format.required)})
    columns = _header_columns(header.text, delimiter, row_format)
    checker = _RowChecker(
        row_format=row_format,
        columns=columns,
        municipalities=municipalities,
        today=today,
        max_field_chars=max_field_chars,
    )
    yield from _rows(records, delimiter, checker)


def check_values(
    row_format: RowFormat[RowT],
    values: Mapping[str, str],
    *,
    municipalities: Sequence[str],
    today: datetime.date,
    max_field_chars: int = 10_000,
) -> RowT | RowError:
    """Check one row given as column -> value (typed in by hand), with the file's rules.

    Absent columns count as empty; the row's line is 0.
    """
    columns = list(row_format.known)
    checker = _RowChecker(
        row_format=row_format,
        columns=columns,
        municipalities=municipalities,
        today=today,
        max_field_chars=max_field_chars,
    )
    return checker.check(0, [values.get(c, "") for c in columns])


def header_names(first_line: str) -> set[str]:
    """The normalised column names a file's first line could name, with either separator.

    Used to tell the kinds of file apart before reading one (the inbox takes both).
    """
    names: set[str] = set()
    for delimiter in _DELIMITERS:
        try:
            names |= {_normalise_column(n) for n in _split(first_line, delimiter)}
        except csv.Error:
            continue
    return names


def first_line(stream: BinaryIO) -> str:
    """The first line of a file (decoded leniently, BOM dropped); the position is kept."""
    start = stream.tell()
    data = stream.read(_HEADER_CHARS)
    stream.seek(start)
    text = data.decode("utf-8-sig", errors="replace")
    return re.split("[\r\n]", text, maxsplit=1)[0]


# --- the file as a whole ----------------------------------------------------------------


def _check_utf8(stream: BinaryIO) -> None:
    """Read the whole stream once, in chunks; raise unless it is non-empty UTF-8 text."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    first = True
    has_text = False
    while True:
        data = stream.read(_CHUNK_BYTES)
        if first and data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # Excel's "Unicode text": readable, but not the agreed encoding.
            raise FileUnreadable(MSG_NOT_UTF8)
        first = False
        if b"\x00" in data:
            raise FileUnreadable(MSG_BINARY)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise FileUnreadable(MSG_NOT_UTF8) from None
        if not has_text and text.strip():
            has_text = True
        if not data:
            break
    if not has_text:
        raise FileUnreadable(MSG_EMPTY)


def _decoded_chunks(stream: BinaryIO) -> Iterator[str]:
    """The stream as text chunks; re-checked, in case it changed since `_check_utf8`."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    while True:
        data = stream.read(_CHUNK_BYTES)
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError:
            raise FileUnreadable(MSG_NOT_UTF8) from None
        if "\x00" in text:
            raise FileUnreadable(MSG_BINARY)
        if text:
            yield text
        if not data:
            return


def _first_line(chunks: Iterator[str]) -> tuple[str, list[str]]:
    """The first line (without its line break, at most `_HEADER_CHARS`) and the chunks read."""
    peeked: list[str] = []
    size = 0
    for chunk in chunks:
        peeked.append(chunk)
        size += len(chunk)
        if "\n" in chunk or "\r" in chunk or size >= _HEADER_CHARS:
            break
    text = "".join(peeked)[:_HEADER_CHARS]
    return re.split("[\r\n]", text, maxsplit=1)[0], peeked


def _columns(names: Sequence[str]) -> SafeText:
    return SafeText.joined(", ", [Code(name) for name in names])


def _split(text: str, delimiter: str) -> list[str]:
    return next(csv.reader((text,), delimiter=delimiter), [])


def _normalise_column(name: str) -> str:
    return name.strip().casefold()


def _detect_delimiter(first_line: str, row_format: RowFormat[Any]) -> str:
    """The delimiter that splits the header into the most known columns."""
    required, optional = set(row_format.required), set(row_format.optional)
    best, best_score = _DELIMITERS[0], 0
    for delimiter in _DELIMITERS:
        try:
            names = {_normalise_column(n) for n in _split(first_line, delimiter)}
        except csv.Error:
            continue
        score = len(names & required) * 2 + len(names & optional)
        if score > best_score:
            best, best_score = delimiter, score
    if best_score == 0:
        raise FileUnreadable(MSG_NO_HEADER, {"columns": _columns(row_format.required)})
    return best


def _header_columns(text: str, delimiter: str, row_format: RowFormat[Any]) -> list[str]:
    """The header's normalised column names; raise when one is missing or doubled."""
    try:
        columns = [_normalise_column(n) for n in _split(text, delimiter)]
    except csv.Error:
        raise FileUnreadable(MSG_NO_HEADER, {"columns": _columns(row_format.required)}) from None
    named = [c for c in columns if c]
    if len(set(named)) != len(named):
        doubled = [c for c in row_format.known if columns.count(c) > 1]
        if doubled:
            raise FileUnreadable(MSG_DUPLICATE_COLUMNS, {"columns": _columns(doubled)})
        # Not a column we know: its name might be anything, so it is not repeated.
        raise FileUnreadable(MSG_DUPLICATE_COLUMN)
    missing = [c for c in row_format.required if c not in columns]
    if missing:
        raise FileUnreadable(MSG_MISSING_COLUMNS, {"columns": _columns(missing)})
    # A file that both kinds could read would be stored twice, once as each.
    if row_format.foreign and all(c in columns for c in row_format.foreign):
        raise FileUnreadable(MSG_OTHER_KIND, {"columns": _columns(row_format.foreign)})
    return columns


# --- records ----------------------------------------------------------------------------

_START, _FIELD, _QUOTED, _AFTER_QUOTE = range(4)


class _Record(NamedTuple):
    line: int  # where the record starts
    text: str | None  # without its line break; None when longer than the limit
    unclosed: bool  # the file ended inside a quoted field
    last_line: int  # where the record ends


def _records(chunks: Iterable[str], delimiter: str, limit: int) -> Iterator[_Record]:
    """Split text into CSV records, following the `csv` module's default dialect.

    A record ends at a line break outside quotes. The states are those of the
    `csv` reader (field start, unquoted field, quoted field, just after a quote
    in a quoted field), so each record's text parses with `csv` exactly as the
    whole file would, and line numbers count CR, LF and CRLF as one break each.
    Blank lines yield nothing; a record longer than `limit` yields text None, and
    only its length is kept while it is read.
    """
    anywhere = re.compile('["\r\n' + re.escape(delimiter) + "]")
    in_quotes = re.compile('["\r\n]')
    state = _START
    line = 1
    start_line = 1
    parts: list[str] = []
    size = 0
    after_cr = False  # the character just consumed was a CR; an LF now joins it
    after_break = False  # the character just consumed was a line break

    for buf in chunks:
        pos = 0  # first character not yet scanned
        rec_from = 0  # first character of the record not yet saved in `parts`
        while True:
            match = (in_quotes if state == _QUOTED else anywhere).search(buf, pos)
            end = match.start() if match is not None else len(buf)
            if end > pos:
                after_cr = after_break = False
                if state in (_START, _AFTER_QUOTE):
                    state = _FIELD
            if match is None:
                break
            char = buf[end]
            pos = end + 1
            if char == '"':
                after_cr = after_break = False
                if state == _START:
                    state = _QUOTED
                elif state == _QUOTED:
                    state = _AFTER_QUOTE
                elif state == _AFTER_QUOTE:
                    state = _QUOTED  # a doubled quote inside a quoted field
            elif char == delimiter:
                after_cr = after_break = False
                state = _START
            elif char == "\n" and after_cr:
                # The LF of a CRLF: the break was counted at the CR.
                after_cr = False
                if state != _QUOTED:
                    rec_from = pos
            elif state == _QUOTED:
                line += 1
                after_cr = char == "\r"
                after_break = True
            else:
                size += end - rec_from
                if size > limit:
                    parts.clear()
                elif size:
                    parts.append(buf[rec_from:end])
                if size:
                    text = "".join(parts) if size <= limit else None
                    yield _Record(start_line, text, unclosed=False, last_line=line)
                parts.clear()
                size = 0
                state = _START
                line += 1
                start_line = line
                rec_from = pos
                after_cr = char == "\r"
        rest = len(buf) - rec_from
        if rest:
            size += rest
            if size > limit:
                parts.clear()
            else:
                parts.append(buf[rec_from:])

    if size or state == _QUOTED:
        text = "".join(parts) if size <= limit else None
        last_line = line - 1 if after_break else line
        yield _Record(start_line, text, unclosed=state == _QUOTED, last_line=last_line)


# --- rows -------------------------------------------------------------------------------


def _rows(
    records: Iterator[_Record], delimiter: str, checker: _RowChecker[RowT]
) -> Iterator[RowT | RowError]:
    for record in records:
        if record.unclosed:
            problem = Problem("row", MSG_UNCLOSED_QUOTE, {"last_line": record.last_line})
            yield RowError(record.line, (problem,))
            continue
        if record.text is None:
            problem = Problem("row", MSG_ROW_TOO_LONG, {"max": checker.max_field_chars})
            yield RowError(record.line, (problem,))
            continue
        if not record.text.strip():
            continue
        try:
            fields = _split(record.text, delimiter)
        except csv.Error:
            yield RowError(record.line, (Problem("row", MSG_NOT_CSV, {}),))
            continue
        if not any(f.strip() for f in fields):
            continue  # a spreadsheet's empty row: ";;;;;;;"
        yield checker.check(record.line, fields)


def _years_from(day: datetime.date, years: int) -> datetime.date:
    """The same day `years` later (or earlier when negative); 29 February becomes the 28th."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _parse_date(text: str) -> datetime.date | None:
    if match := _ISO_DATE.fullmatch(text):
        year, month, day = match.groups()
    elif match := _DUTCH_DATE.fullmatch(text):
        day, month, year = match.groups()
    else:
        return None
    try:
        return datetime.date(int(year), int(month), int(day))
    except ValueError:
        return None


class Fields:
    """One row's fields with the checks every format shares; problems collect as they go.

    A format's `check` asks for its columns through these methods, in the order
    its problems should be listed, and builds its row when `problems` is empty.
    """

    def __init__(self, checker: _RowChecker[Any], fields: list[str]) -> None:
        self._checker = checker
        self._fields = fields
        self.problems: list[Problem] = []

    @property
    def today(self) -> datetime.date:
        return self._checker.today

    def value(self, column: str) -> str:
        index = self._checker.index.get(column)
        return "" if index is None else self._fields[index].strip()

    def problem(self, column: str, message: str, **params: Param) -> None:
        self.problems.append(Problem(column, message, {"column": Code(column), **params}))

    def text(self, column: str) -> str:
        found = self.value(column)
        if not found:
            self.problem(column, MSG_REQUIRED)
        elif len(found) > TEXT_LIMITS[column]:
            self.problem(column, MSG_TOO_LONG, max=TEXT_LIMITS[column])
        elif _ONE_LINE_FORBIDDEN.search(found):
            self.problem(column, MSG_ONE_LINE)
        return found

    def required(self, column: str) -> str:
        found = self.value(column)
        if not found:
            self.problem(column, MSG_REQUIRED)
        return found

    def date(self, column: str) -> datetime.date | None:
        found = self.required(column)
        if not found:
            return None
        parsed = _parse_date(found)
        if parsed is None:
            self.problem(column, MSG_DATE)
        return parsed

    def not_before_birth(
        self, column: str, when: datetime.date | None, identity: Identity | None
    ) -> None:
        """A date in the person's life is not before their birth (a wrong birth date is
        named on its own)."""
        if when is None or identity is None:
            return
        if "geboortedatum" not in {p.field for p in self.problems} and when < identity.birth_date:
            self.problem(column, MSG_BEFORE_BIRTH)

    def identity(self) -> Identity | None:
        """achternaam, voornamen, geboortedatum and bsn, checked alike in every format."""
        surname = self.text("achternaam")
        given_names = self.text("voornamen")

        birth_date = self.date("geboortedatum")
        if birth_date is not None:
            if birth_date > self.today:
                self.problem("geboortedatum", MSG_FUTURE)
            elif birth_date < self._checker.oldest_birth:
                self.problem("geboortedatum", MSG_TOO_OLD, years=MAX_AGE_YEARS)

        bsn: str | None = None
        if raw_bsn := self.value("bsn"):
            try:
                bsn = normalise_bsn(raw_bsn)
            except InvalidBsn:
                digits = _BSN_SEPARATORS.sub("", raw_bsn)
                shaped = digits.isascii() and digits.isdigit() and len(digits) in (8, 9)
                self.problem("bsn", MSG_BSN_ELFPROEF if shaped else MSG_BSN_DIGITS)

        if not raw_bsn:
            # Without a BSN the person is found by surname, birth date and first
            # given name (bot.domain.identity): a name without letters finds nobody,
            # or folds two people into one.
            flagged = {p.field for p in self.problems}
            if "achternaam" not in flagged and not surname_letters(surname):
                self.problem("achternaam", MSG_NO_LETTERS)
            if "voornamen" not in flagged and not first_given_name_letters(given_names):
                self.problem("voornamen", MSG_FIRST_NAME_NO_LETTERS)
        if birth_date is None:
            return None
        return Identity(surname=surname, given_names=given_names, birth_date=birth_date, bsn=bsn)

    def municipality(self) -> str | None:
        municipality: str | None = None
        if raw_municipality := self.required("gemeente"):
            municipality = self._checker.municipalities.get(fold(raw_municipality))
            if municipality is None:
                self.problem(
                    "gemeente", MSG_MUNICIPALITY, municipalities=self._checker.municipality_list
                )
        return municipality

    def dated_around_today(self, column: str) -> datetime.date | None:
        """A date within `DATUM_RANGE_YEARS` of today, either way."""
        when = self.date(column)
        if when is not None and not self._checker.earliest <= when <= self._checker.latest:
            self.problem(column, MSG_IMPLAUSIBLE, years=DATUM_RANGE_YEARS)
        return when

    def remark(self) -> str | None:
        remark = self.value("opmerking") or None
        if remark is not None:
            if len(remark) > self._checker.max_field_chars:
                self.problem("opmerking", MSG_TOO_LONG, max=self._checker.max_field_chars)
            elif _MULTI_LINE_FORBIDDEN.search(remark):
                self.problem("opmerking", MSG_CONTROL)
        return remark


@dataclass(frozen=True)
class RowFormat(Generic[RowT]):
    """A kind of file: its columns and how one row's fields become a row.

    `check` gets the line and the row's `Fields`; it returns its row, or None
    when `Fields.problems` is not empty (the reader then yields a `RowError`).
    """

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    check: Callable[[int, Fields], RowT | None]
    # The other kind's own required columns: a header naming them all is refused.
    foreign: tuple[str, ...] = ()

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


class _RowChecker(Generic[RowT]):
    """Turns one row's fields into the format's row or a RowError with all its problems."""

    def __init__(
        self,
        *,
        row_format: RowFormat[RowT],
        columns: list[str],
        municipalities: Sequence[str],
        today: datetime.date,
        max_field_chars: int,
    ) -> None:
        self.row_format = row_format
        self.width = len(columns)
        # The first occurrence of each known column (duplicates were refused).
        self.index = {name: columns.index(name) for name in row_format.known if name in columns}
        self.municipalities = {fold(name): name for name in municipalities}
        self.municipality_list = SafeText.joined(", ", [Municipality(m) for m in municipalities])
        self.max_field_chars = max_field_chars
        self.oldest_birth = _years_from(today, -MAX_AGE_YEARS)
        self.today = today
        self.earliest = _years_from(today, -DATUM_RANGE_YEARS)
        self.latest = _years_from(today, DATUM_RANGE_YEARS)

    def check(self, line: int, fields: list[str]) -> RowT | RowError:
        if len(fields) != self.width:
            params = {"found": len(fields), "expected": self.width}
            return RowError(line, (Problem("row", MSG_FIELD_COUNT, params),))
        row_fields = Fields(self, fields)
        row = self.row_format.check(line, row_fields)
        if row_fields.problems or row is None:
            return RowError(line, tuple(row_fields.problems))
        return row


def _check_dpan(line: int, fields: Fields) -> DpanRow | None:
    bron_id = fields.text("bron_id")

    soort: Soort | None = None
    if raw_soort := fields.required("soort"):
        try:
            soort = Soort(raw_soort.casefold())
        except ValueError:
            fields.problem("soort", MSG_SOORT)

    identity = fields.identity()
    municipality = fields.municipality()
    institution = fields.text("inrichting")
    when = fields.dated_around_today("datum")
    fields.not_before_birth("datum", when, identity)
    remark = fields.remark()

    # Without problems every required value was found and parsed; the None
    # checks only tell the type checker so.
    if fields.problems or soort is None or identity is None or municipality is None:
        return None
    if when is None:
        return None
    return DpanRow(
        line=line,
        bron_id=bron_id,
        soort=soort,
        identity=identity,
        municipality=municipality,
        institution=institution,
        date=when,
        remark=remark,
    )


DPAN: RowFormat[DpanRow] = RowFormat(
    name="dpan",
    required=REQUIRED_COLUMNS,
    optional=OPTIONAL_COLUMNS,
    check=_check_dpan,
    foreign=("bron", "thema"),
)
