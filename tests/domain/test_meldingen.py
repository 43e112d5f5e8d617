"""The meldingen row format: the detention file's identity rules plus bron, thema and datum."""

from __future__ import annotations

import io
from datetime import date

import pytest

from bot.config import MIDDEN_LIMBURG
from bot.domain.decisions import Decision
from bot.domain.dpan import MSG_BEFORE_BIRTH, MSG_DATE, MSG_FUTURE, MSG_REQUIRED, RowError
from bot.domain.meldingen import (
    MSG_BEFORE,
    MSG_BESLUIT,
    MSG_BRON,
    MSG_HISTORY,
    MSG_THEMA,
    MSG_WITH_BESLUIT,
    MSG_WITHOUT_BESLUIT,
    NO_HISTORY,
    Bron,
    CaseSpan,
    History,
    MeldingRow,
    Placement,
    check_one,
    history_case,
    read_meldingen,
)
from bot.domain.roles import Theme

TODAY = date(2026, 11, 23)
GOOD = {
    "bron_id": "POL-1", "bron": "Politie", "thema": "TOP_X", "achternaam": "de Vries",
    "voornamen": "Jan Pieter", "geboortedatum": "01-02-1980", "bsn": "",
    "gemeente": "roermond", "datum": "2019-03-04", "opmerking": "belt vaak",
}  # fmt: skip


def problems(values: dict[str, str]) -> list[tuple[str, str]]:
    result = check_one(values, municipalities=MIDDEN_LIMBURG, today=TODAY)
    assert isinstance(result, RowError)
    return [(p.field, p.message) for p in result.problems]


def test_a_good_row_with_an_old_date_and_its_repr_holds_no_data() -> None:
    row = check_one(GOOD, municipalities=MIDDEN_LIMBURG, today=TODAY)
    assert isinstance(row, MeldingRow)
    assert (row.bron, row.theme, row.municipality) == (Bron.POLITIE, Theme.TOP_X, "Roermond")
    assert row.date == date(2019, 3, 4)  # a history moved in: more than 5 years back is fine
    assert "Vries" not in repr(row) and "1980" not in repr(row)


def test_each_broken_field_is_named() -> None:
    assert problems({**GOOD, "bron": "buurman"}) == [("bron", MSG_BRON)]
    assert problems({**GOOD, "thema": "overlast"}) == [("thema", MSG_THEMA)]
    assert problems({**GOOD, "datum": "24-11-2026"}) == [("datum", MSG_FUTURE)]
    assert problems({**GOOD, "datum": ""}) == [("datum", MSG_REQUIRED)]
    assert problems({**GOOD, "datum": "31-01-1980"}) == [("datum", MSG_BEFORE_BIRTH)]
    assert problems({**GOOD, "besluit": "procesregie", "gesloten_op": "2026-01-01"}) == [
        ("besluit", MSG_HISTORY),
        ("gesloten_op", MSG_HISTORY),
    ]


def test_a_file_is_read_with_the_detention_file_rules() -> None:
    text = (
        "\ufeffBron_ID,bron,thema,achternaam,voornamen,geboortedatum,gemeente,datum\r\n"
        "A-1,om,jeugd,Jansen,Piet,2001-05-06,Weert,2026-11-01\r\n"
        "\r\n"
        "A-2,om,jeugd,Jansen,Piet,2001-05-06,Weert\r\n"
    )
    rows = list(
        read_meldingen(io.BytesIO(text.encode()), municipalities=MIDDEN_LIMBURG, today=TODAY)
    )
    assert isinstance(rows[0], MeldingRow) and rows[0].line == 2
    assert isinstance(rows[1], RowError) and rows[1].line == 4


# -- a history moved in (--history) --------------------------------------------------------


def history(values: dict[str, str]) -> MeldingRow | RowError:
    header = ",".join(HISTORY_FIELDS)
    line = ",".join(values.get(name, "") for name in HISTORY_FIELDS)
    rows = list(
        read_meldingen(
            io.BytesIO(f"{header}\r\n{line}\r\n".encode()),
            municipalities=MIDDEN_LIMBURG,
            today=TODAY,
            history=True,
        )
    )
    assert len(rows) == 1
    return rows[0]


HISTORY_FIELDS = [*GOOD, "besluit", "besluit_datum", "gesloten_op"]
PAST = {**GOOD, "opmerking": "", "datum": "2026-03-01"}


def test_history_columns_are_read_with_history() -> None:
    row = history({**PAST, "besluit": "Procesregie", "besluit_datum": "02-03-2026",
                   "gesloten_op": "2026-06-30"})  # fmt: skip
    assert isinstance(row, MeldingRow)
    assert row.history == History(Decision.PROCESREGIE, date(2026, 3, 2), date(2026, 6, 30))
    assert row.history.closes_on == date(2026, 6, 30)
    # A closing decision closes the case on its date; procesregie alone keeps it open.
    closing = history({**PAST, "besluit": "doorgeleid", "besluit_datum": "2026-03-05"})
    assert isinstance(closing, MeldingRow) and closing.history.closes_on == date(2026, 3, 5)
    kept = history({**PAST, "besluit": "procesregie", "besluit_datum": "2026-03-05"})
    assert isinstance(kept, MeldingRow) and kept.history.closes_on is None
    # A later melding of a case decided before it came in.
    later = history({**PAST, "besluit": "afgesloten", "besluit_datum": "2026-02-01"})
    assert isinstance(later, MeldingRow) and later.history.decided_on == date(2026, 2, 1)
    plain = history(PAST)
    assert isinstance(plain, MeldingRow) and plain.history == NO_HISTORY


@pytest.mark.parametrize(
    ("values", "found"),
    [
        ({"besluit": "sluiten", "besluit_datum": "2026-03-02"}, [("besluit", MSG_BESLUIT)]),
        ({"besluit": "procesregie"}, [("besluit_datum", MSG_WITH_BESLUIT)]),
        ({"besluit_datum": "2026-03-02"}, [("besluit_datum", MSG_WITHOUT_BESLUIT)]),
        ({"besluit": "procesregie", "besluit_datum": "2026-13-01"}, [("besluit_datum", MSG_DATE)]),
        ({"besluit": "procesregie", "besluit_datum": "2026-11-24"},
         [("besluit_datum", MSG_FUTURE)]),
        ({"gesloten_op": "2026-11-24"}, [("gesloten_op", MSG_FUTURE)]),
        ({"gesloten_op": "2026-02-28"}, [("gesloten_op", MSG_BEFORE)]),
        (
            {"besluit": "afgesloten", "besluit_datum": "2026-04-02", "gesloten_op": "2026-04-01"},
            [("gesloten_op", MSG_BEFORE)],
        ),
        ({"besluit": "procesregie", "besluit_datum": "1979-01-01"},
         [("besluit_datum", MSG_BEFORE_BIRTH)]),
    ],
)  # fmt: skip
def test_each_broken_history_column_is_named(
    values: dict[str, str], found: list[tuple[str, str]]
) -> None:
    row = history({**PAST, **values})
    assert isinstance(row, RowError)
    assert [(p.field, p.message) for p in row.problems] == found


# Cases of one person and theme: opened on the 1st of January, closed on the 31st; opened on
# 1 March, closed on 31 March; opened on 1 June, open.
JAN, MAR, JUN = (
    CaseSpan(1, date(2026, 1, 1), date(2026, 1, 31)),
    CaseSpan(2, date(2026, 3, 1), date(2026, 3, 31)),
    CaseSpan(3, date(2026, 6, 1), None),
)


@pytest.mark.parametrize(
    ("day", "closes_on", "placement"),
    [
        (date(2026, 1, 15), None, Placement(1)),  # runs then
        (date(2026, 1, 31), None, Placement(1)),  # the closing day itself
        (date(2026, 2, 1), None, Placement(2, moves_start=True)),  # before March's: joins it
        (date(2026, 2, 1), date(2026, 2, 20), Placement(None)),  # closed before March: its own
        (date(2026, 4, 1), None, Placement(3, moves_start=True)),
        (date(2026, 7, 1), None, Placement(3)),  # the open case
        (date(2025, 12, 1), date(2025, 12, 31), Placement(None)),
    ],
)
def test_a_history_melding_joins_the_case_that_runs_on_its_day_or_opens_one(
    day: date, closes_on: date | None, placement: Placement
) -> None:
    assert history_case([JUN, JAN, MAR], day, closes_on) == placement
    assert history_case([], day, closes_on) == Placement(None)


def test_after_its_case_closed_a_melding_opens_a_new_case() -> None:
    assert history_case([JAN], date(2026, 2, 1), None) == Placement(None)
