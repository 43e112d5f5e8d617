"""The meldingen row format: the detention file's identity rules plus bron, thema and datum."""

from __future__ import annotations

import io
from datetime import date

from bot.config import MIDDEN_LIMBURG
from bot.domain.dpan import MSG_BEFORE_BIRTH, MSG_FUTURE, MSG_REQUIRED, RowError
from bot.domain.meldingen import (
    MSG_BRON,
    MSG_HISTORY,
    MSG_THEMA,
    Bron,
    MeldingRow,
    check_one,
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
