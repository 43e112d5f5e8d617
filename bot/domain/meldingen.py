"""Reading a meldingen file (`vhbot import meldingen`): one row at a time, checked. Pure rules.

The format is a contract (shared/formats.md, "Meldingen file"): the rules of the
detention file (encoding, separator, header, per-row rejection; see
`bot.domain.dpan`, whose reader this format plugs into) with the columns `bron`
and `thema` instead of `soort` and `inrichting`. Like there, nothing produced
for people to read ever holds a value from the file.

The history columns (`besluit`, `besluit_datum`, `gesloten_op`) belong to
`--history`, which is not built yet: a file may name them, but a row with a value
in one of them is rejected, so no decision or closing is silently dropped.
"""

from __future__ import annotations

import datetime
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import BinaryIO

from bot.domain.commands import mark
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

MSG_BRON = mark("{column} must be one of {values}")
MSG_THEMA = mark("{column} must be one of {values}")
MSG_HISTORY = mark("{column}: history columns need --history (not yet supported)")
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

    def __repr__(self) -> str:
        return f"MeldingRow(line={self.line}, thema={self.theme.value}, <redacted>)"


def _choices(values: Sequence[str]) -> SafeText:
    return SafeText.joined(", ", [Code(v) for v in values])


def _check(line: int, fields: Fields) -> MeldingRow | None:
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
    )


MELDINGEN: RowFormat[MeldingRow] = RowFormat(
    name="meldingen",
    required=REQUIRED_COLUMNS,
    optional=OPTIONAL_COLUMNS,
    check=_check,
    foreign=("soort", "inrichting"),
)


def read_meldingen(
    stream: BinaryIO,
    *,
    municipalities: Sequence[str],
    today: datetime.date,
    max_field_chars: int = 10_000,
) -> Iterator[MeldingRow | RowError]:
    """Read a meldingen file row by row; as `bot.domain.dpan.read_dpan`, with `MELDINGEN`."""
    return read_rows(
        stream,
        MELDINGEN,
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
