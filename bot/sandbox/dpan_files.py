"""Made-up detention-notification files for `vhbot demo`, tests and benchmarks.

Everyone in them is invented: random combinations of common Dutch names,
birth dates and BSNs that pass the elfproef. No Faker needed at run time.
"""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

FIRST_NAMES = (
    "Jan",
    "Pieter",
    "Kees",
    "Willem",
    "Hendrik",
    "Johannes",
    "Cornelis",
    "Gerrit",
    "Dirk",
    "Thijs",
    "Bram",
    "Daan",
    "Sem",
    "Lucas",
    "Milan",
    "Levi",
    "Noah",
    "Ruben",
    "Jesse",
    "Anna",
    "Maria",
    "Sanne",
    "Lotte",
    "Eva",
    "Fleur",
    "Iris",
    "Noor",
    "Julia",
    "Femke",
    "Mohamed",
    "Yusuf",
    "Ahmet",
    "Priya",
    "Dewi",
    "Sevda",
    "Gert-Jan",
    "Ingrid",
)
SURNAMES = (
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "Kok",
    "Jacobs",
    "Haan",
    "Vermeulen",
    "van den Heuvel",
    "Schouten",
    "Coenen",
    "Wijnen",
    "Hermans",
    "Lemmens",
    "Claessens",
    "Yilmaz",
    "El Amrani",
)
INSTITUTIONS = ("PI Roermond", "PI Sittard", "PI Maastricht", "PI Vught", "PI Heerlen")
HEADER = (
    "bron_id", "soort", "achternaam", "voornamen", "geboortedatum", "bsn",
    "gemeente", "inrichting", "datum", "opmerking",
)  # fmt: skip


def valid_bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the elfproef (no real person's on purpose)."""
    while True:
        digits = [rng.randint(1, 9)] + [rng.randint(0, 9) for _ in range(7)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


@dataclass(frozen=True)
class MadeUpPerson:
    surname: str
    given_names: str
    birth_date: date
    bsn: str


def made_up_people(count: int, *, seed: int = 2026) -> list[MadeUpPerson]:
    rng = random.Random(seed)  # noqa: S311 - invented test data, not security
    people = []
    for _ in range(count):
        people.append(
            MadeUpPerson(
                surname=rng.choice(SURNAMES),
                given_names=f"{rng.choice(FIRST_NAMES)} {rng.choice(FIRST_NAMES)}",
                birth_date=date(1960, 1, 1) + timedelta(days=rng.randint(0, 365 * 45)),
                bsn=valid_bsn(rng),
            )
        )
    return people


def dpan_rows(
    people: Sequence[MadeUpPerson],
    municipalities: Sequence[str],
    today: date,
    *,
    seed: int = 7,
    prefix: str = "DJI",
) -> Iterator[list[str]]:
    """One notification per person: mostly releases in the coming weeks, some entries."""
    rng = random.Random(seed)  # noqa: S311 - invented test data, not security
    for index, person in enumerate(people, start=1):
        release = index % 4 != 0
        when = (
            today + timedelta(days=rng.randint(2, 21))
            if release
            else today - timedelta(days=rng.randint(0, 5))
        )
        yield [
            f"{prefix}-{today:%Y%m%d}-{index:05d}",
            "uitstroom" if release else "instroom",
            person.surname,
            person.given_names,
            person.birth_date.strftime("%d-%m-%Y" if index % 2 else "%Y-%m-%d"),
            person.bsn,
            rng.choice(list(municipalities)),
            rng.choice(INSTITUTIONS),
            when.isoformat(),
            "Woont bij zijn moeder; schulden" if index % 3 == 0 else "",
        ]


def dpan_csv(rows: Iterator[list[str]] | Sequence[list[str]], *, delimiter: str = ";") -> bytes:
    """A complete file, with a BOM the way spreadsheet programs write it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
