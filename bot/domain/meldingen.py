"""Reading a meldingen file (`vhbot import meldingen`): one row at a time, checked. Pure rules.

The format is a contract (shared/formats.md, "Meldingen file"): the rules of the
detention file (encoding, separator, header, per-row rejection; see
`bot.domain.dpan`, whose reader this format plugs into) with the columns `bron`
and `thema` instead of `soort` and `inrichting`. Like there, nothing produced
for people to read ever holds a value from the file.

The history columns (`besluit`, `besluit_datum`, `gesloten_op`) belong to
`--history` (a history moved in from a spreadsheet, `MELDINGEN_HISTORY`): any
file may name them, but without `--history` a row with a value in one of them is
rejected, so no decision or closing is silently dropped. Where a history row
belongs (its case, or a new one) is `history_case`.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import BinaryIO

from bot.domain.commands import mark
from bot.domain.decisions import Decision, closes_case
from bot.domain.dpan import (
    MAX_AGE_YEARS,
    MSG_FUTURE,
    MSG_TOO_OLD,
    Fields,
    Problem,
    RowError,
    RowFormat,
    check_values,
    header_names,
    read_rows,
)
from bot.domain.identity import Identity
from bot.domain.roles import Theme
from bot.safe import Code, SafeText

REQUIRED_COLUMNS: tuple[str, ...] = (
    "bron_id",
    "bron",
    "thema",
    "achternaam",
    "voornamen",
    "geboortedatum",
    "gemeente",
    "datum",
)
HISTORY_COLUMNS: tuple[str, ...] = ("besluit", "besluit_datum", "gesloten_op")
OPTIONAL_COLUMNS: tuple[str, ...] = ("bsn", "opmerking", *HISTORY_COLUMNS)
# Columns only a meldingen file has: a header naming one is a meldingen file's,
# even when it misses others (it is then rejected with the meldingen file's reason).
OWN_COLUMNS: frozenset[str] = frozenset({"bron", "thema"})

MSG_ONE_OF = mark("{column} must be one of {values}")
MSG_BRON = MSG_ONE_OF
MSG_THEMA = MSG_ONE_OF
MSG_BESLUIT = MSG_ONE_OF
MSG_HISTORY = mark("{column}: history columns need --history")
MSG_WITH_BESLUIT = mark("{column} is required when besluit is given")
MSG_WITHOUT_BESLUIT = mark("{column} is given without besluit")
MSG_BEFORE = mark("{column} is before {other}")
MSG_THEMA_NOT_GRANTED = mark("{column}: your organisation does not take part in this theme")

# The fields of one melding typed in by hand (`vhbot melding add`, the web form), in
# order, each with whether it is required; `bron_id` is made, not typed.
MANUAL_FIELDS: tuple[tuple[str, bool], ...] = (
    ("bron", True),
    ("thema", True),
    ("achternaam", True),
    ("voornamen", True),
    ("geboortedatum", True),
    ("bsn", False),
    ("gemeente", True),
    ("datum", True),
    ("opmerking", False),
)


class Bron(StrEnum):
    """Where a melding came from."""

    POLITIE = "politie"
    OM = "om"
    RECLASSERING = "reclassering"
    GGZ = "ggz"
    VEILIG_THUIS = "veilig_thuis"
    GEMEENTE = "gemeente"
    ZSM = "zsm"
    PARTNER = "partner"
    OVERIG = "overig"


@dataclass(frozen=True)
class History:
    """What a history row says of its case besides the melding: the triage decision
    already taken and its date, and the date the case was closed."""

    decision: Decision | None = None
    decided_on: datetime.date | None = None
    closed_on: datetime.date | None = None

    @property
    def closes_on(self) -> datetime.date | None:
        """The day the row's case closed: `gesloten_op`, else the day of a decision
        that closes a case (doorgeleid, afgesloten); None: open as far as it says."""
        if self.closed_on is not None:
            return self.closed_on
        if self.decision is not None and closes_case(self.decision):
            return self.decided_on
        return None


NO_HISTORY = History()


@dataclass(frozen=True, repr=False)
class MeldingRow:
    """One accepted melding. repr shows no personal data."""

    line: int
    bron_id: str
    bron: Bron
    theme: Theme
    identity: Identity
    municipality: str
    date: datetime.date
    remark: str | None
    # A row of `--history`: its case's decision and closing (NO_HISTORY otherwise).
    history: History = field(default=NO_HISTORY)

    def __repr__(self) -> str:
        return f"MeldingRow(line={self.line}, thema={self.theme.value}, <redacted>)"


@dataclass(frozen=True)
class CaseSpan:
    """A case of one person and theme as `history_case` sees it: its local days."""

    case_id: int
    opened_on: datetime.date
    closed_on: datetime.date | None  # None: open


@dataclass(frozen=True)
class Placement:
    """Where a history row goes: the case it joins (None: a new one), and whether
    the case's start moves back to the row's day (an older melding arriving later)."""

    case_id: int | None
    moves_start: bool = False


def history_case(
    cases: Sequence[CaseSpan], day: datetime.date, closes_on: datetime.date | None
) -> Placement:
    """The case of a person and theme that a history melding of `day` belongs to.

    Rows of one person are taken in date order, so a melding after its case's
    closing opens a new case (a relapse); taken in another order (a second file,
    meldingen imported before) the result is the same:

    - a case that runs on `day` (opened on or before it, and open or closed on or
      after it) is joined; the latest opened one when two do;
    - else the first case opened after `day` is joined and starts on `day`, unless
      the row's own case closes (`closes_on`) before that case opened;
    - else the melding opens a new case.

    Args:
        cases: the person's cases of the melding's theme, in any order.
        day: the melding's date.
        closes_on: when the row says its case closed (`History.closes_on`).
    """
    running = [
        c for c in cases if c.opened_on <= day and (c.closed_on is None or day <= c.closed_on)
    ]
    if running:
        return Placement(max(running, key=lambda c: (c.opened_on, c.case_id)).case_id)
    later = sorted((c for c in cases if c.opened_on > day), key=lambda c: (c.opened_on, c.case_id))
    if later and (closes_on is None or closes_on >= later[0].opened_on):
        return Placement(later[0].case_id, moves_start=True)
    return Placement(None)


def _choices(values: Sequence[str]) -> SafeText:
    return SafeText.joined(", ", [Code(v) for v in values])


def _check(line: int, fields: Fields) -> MeldingRow | None:
    return _check_row(line, fields, history=False)


def _check_history(line: int, fields: Fields) -> MeldingRow | None:
    return _check_row(line, fields, history=True)


def _history_date(fields: Fields, column: str, identity: Identity | None) -> datetime.date | None:
    """An optional date of the history columns: a valid date, not in the future and
    not before the person's birth."""
    if not fields.value(column):
        return None
    when = fields.date(column)
    if when is not None:
        if when > fields.today:
            fields.problem(column, MSG_FUTURE)
        else:
            fields.not_before_birth(column, when, identity)
    return when


def _read_history(fields: Fields, identity: Identity | None, when: datetime.date | None) -> History:
    """The history columns of one row, checked; problems collect on `fields`.

    A decision of a later melding may lie before that melding's date (the case was
    decided before it came in), so `besluit_datum` is not compared with `datum`;
    a case's closing is: a melding after its case closed belongs to a new case.
    """
    decision: Decision | None = None
    if raw := fields.value("besluit"):
        try:
            decision = Decision(raw.casefold())
        except ValueError:
            fields.problem("besluit", MSG_BESLUIT, values=_choices([d.value for d in Decision]))
    decided_on = _history_date(fields, "besluit_datum", identity)
    if fields.value("besluit") and not fields.value("besluit_datum"):
        fields.problem("besluit_datum", MSG_WITH_BESLUIT)
    elif fields.value("besluit_datum") and not fields.value("besluit"):
        fields.problem("besluit_datum", MSG_WITHOUT_BESLUIT)
    closed_on = _history_date(fields, "gesloten_op", identity)
    if closed_on is not None:
        if when is not None and closed_on < when:
            fields.problem("gesloten_op", MSG_BEFORE, other=Code("datum"))
        elif decided_on is not None and closed_on < decided_on:
            fields.problem("gesloten_op", MSG_BEFORE, other=Code("besluit_datum"))
    return History(decision=decision, decided_on=decided_on, closed_on=closed_on)


def _check_row(line: int, fields: Fields, *, history: bool) -> MeldingRow | None:
    bron_id = fields.text("bron_id")

    bron: Bron | None = None
    if raw := fields.required("bron"):
        try:
            bron = Bron(raw.casefold())
        except ValueError:
            fields.problem("bron", MSG_BRON, values=_choices([b.value for b in Bron]))

    theme: Theme | None = None
    if raw := fields.required("thema"):
        try:
            theme = Theme(raw.casefold())
        except ValueError:
            fields.problem("thema", MSG_THEMA, values=_choices([t.value for t in Theme]))

    identity = fields.identity()
    municipality = fields.municipality()

    when = fields.date("datum")
    if when is not None:
        if when > fields.today:
            fields.problem("datum", MSG_FUTURE)
        elif when.year < fields.today.year - MAX_AGE_YEARS:
            fields.problem("datum", MSG_TOO_OLD, years=MAX_AGE_YEARS)
        else:
            fields.not_before_birth("datum", when, identity)

    remark = fields.remark()

    found = NO_HISTORY
    if history:
        found = _read_history(fields, identity, when)
    else:
        for column in HISTORY_COLUMNS:
            if fields.value(column):
                fields.problem(column, MSG_HISTORY)

    if fields.problems or bron is None or theme is None or identity is None:
        return None
    if municipality is None or when is None:
        return None
    return MeldingRow(
        line=line,
        bron_id=bron_id,
        bron=bron,
        theme=theme,
        identity=identity,
        municipality=municipality,
        date=when,
        remark=remark,
        history=found,
    )


MELDINGEN: RowFormat[MeldingRow] = RowFormat(
    name="meldingen",
    required=REQUIRED_COLUMNS,
    optional=OPTIONAL_COLUMNS,
    check=_check,
    foreign=("soort", "inrichting"),
)
# `vhbot import meldingen --history`: the same columns, the history columns read.
MELDINGEN_HISTORY: RowFormat[MeldingRow] = RowFormat(
    name="meldingen",
    required=REQUIRED_COLUMNS,
    optional=OPTIONAL_COLUMNS,
    check=_check_history,
    foreign=("soort", "inrichting"),
)


def read_meldingen(
    stream: BinaryIO,
    *,
    municipalities: Sequence[str],
    today: datetime.date,
    max_field_chars: int = 10_000,
    history: bool = False,
) -> Iterator[MeldingRow | RowError]:
    """Read a meldingen file row by row; as `bot.domain.dpan.read_dpan`, with `MELDINGEN`
    (`MELDINGEN_HISTORY` when `history`: the history columns are read, not refused)."""
    return read_rows(
        stream,
        MELDINGEN_HISTORY if history else MELDINGEN,
        municipalities=municipalities,
        today=today,
        max_field_chars=max_field_chars,
    )


def is_meldingen_header(first_line: str) -> bool:
    """Tell whether a file's first line is a meldingen file's header (see `OWN_COLUMNS`)."""
    return bool(header_names(first_line) & OWN_COLUMNS)


def check_one(
    values: Mapping[str, str],
    *,
    municipalities: Sequence[str],
    today: datetime.date,
) -> MeldingRow | RowError:
    """Check one melding typed in by hand (`vhbot melding add`) with the file's rules.

    Args:
        values: column name to the value typed; absent columns count as empty.
        municipalities: the region's municipalities.
        today: the date to judge dates against.

    Returns:
        The row (line 0), or the `RowError` with a problem per field to ask again.
    """
    return check_values(MELDINGEN, values, municipalities=municipalities, today=today)


def check_form(
    values: Mapping[str, str],
    *,
    municipalities: Sequence[str],
    today: datetime.date,
    themes: Collection[Theme],
) -> MeldingRow | RowError:
    """`check_one` for the web form, which also knows who types: a theme outside
    `themes` (those the member's organisation takes part in) is a problem of `thema`.

    Only the fields of MANUAL_FIELDS and `bron_id` are read; the history columns
    cannot be posted.
    """
    wanted = {name for name, _required in MANUAL_FIELDS} | {"bron_id"}
    result = check_one(
        {k: v for k, v in values.items() if k in wanted},
        municipalities=municipalities,
        today=today,
    )
    theme = values.get("thema", "").strip().casefold()
    if theme in {t.value for t in Theme} and Theme(theme) not in themes:
        problem = Problem("thema", MSG_THEMA_NOT_GRANTED, {"column": Code("thema")})
        if isinstance(result, RowError):
            return RowError(result.line, (*result.problems, problem))
        return RowError(result.line, (problem,))
    return result
