"""vhbot benchmarks: each against a baseline measured in the same run.

    .venv/bin/python -m bench.run                 # default run, storage on SQLite
    .venv/bin/python -m bench.run --quick         # smaller run (a smoke test)
    .venv/bin/python -m bench.run --database-url postgresql://user@host:5432/db

1. DPAN parsing: `read_dpan` vs plain `csv.reader` over the same bytes.
2. Import: `DetentionService.import_path` into a fresh migrated database vs plain
   INSERTs of as many minimal rows through the same engine, in batches of 200;
   then a re-import of the same file (all duplicates).
3. PII guard: the outgoing check of an announcement's values (`scan_values`) with
   5,000 identities vs a naive surname loop over the whole text.
4. Field encryption: `FieldCipher` encrypt+decrypt vs AESGCM directly.

Every person and file is invented (bot.sandbox.dpan_files). Key file and SQLite
databases live in a temporary folder; PostgreSQL work happens in temporary
schemas. Everything is removed at the end. See bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Column, Integer, MetaData, String, Table, event
from sqlalchemy.engine import Engine

from bench.databases import FreshDatabases, PostgresDatabases, SqliteDatabases
from bench.timing import Stats, paired, time_once
from bot.app import open_core
from bot.config import MIDDEN_LIMBURG, Settings
from bot.domain.detention import case_reference
from bot.domain.dpan import DpanRow, Soort, read_dpan
from bot.domain.identity import Identity
from bot.domain.roles import Theme
from bot.i18n import translator
from bot.privacy.crypto import FieldCipher
from bot.privacy.keys import KEY_BYTES, DataKey, KeyRing, create_key_file
from bot.privacy.pii_guard import PiiGuard
from bot.safe import (
    CaseReference,
    Institution,
    Municipality,
    OrganisationName,
    Pseudonym,
    SafeText,
)
from bot.sandbox.dpan_files import dpan_csv, dpan_rows, made_up_people
from bot.services.audit import CLI
from bot.services.detention import BATCH_SIZE
from bot.services.guard import scan_values
from bot.services.persons import IDENTITY_CONTEXT
from bot.views.announcements import AnnouncementFacts, Tally, announcement_text

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


@dataclass(frozen=True)
class Plan:
    """Sizes and repetitions of one run."""

    parse_rows: int
    parse_repeat: int
    import_rows: int
    import_repeat: int
    guard_identities: int
    micro_repeat: int
    target_seconds: float  # how long one sample of a fast benchmark lasts


DEFAULT = Plan(
    parse_rows=20_000,
    parse_repeat=7,
    import_rows=2_000,
    import_repeat=3,
    guard_identities=5_000,
    micro_repeat=7,
    target_seconds=0.2,
)
QUICK = Plan(
    parse_rows=2_000,
    parse_repeat=3,
    import_rows=300,
    import_repeat=2,
    guard_identities=5_000,
    micro_repeat=5,
    target_seconds=0.05,
)


@dataclass(frozen=True)
class Result:
    """One line of the summary: ours and the baseline, in seconds per unit."""

    name: str
    ours: Stats
    baseline: Stats
    unit: str  # what one unit is: "row", "scan", "op"
    baseline_name: str
    as_rate: bool  # show units per second (True) or time per unit (False)

    @property
    def ratio(self) -> float:
        """How many times the baseline's cost ours has (medians); > 1 is slower."""
        return self.ours.median / self.baseline.median


# --- formatting ----------------------------------------------------------------------


def fmt_time(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:,.1f} µs"
    if seconds < 1.0:
        return f"{seconds * 1e3:,.2f} ms"
    return f"{seconds:,.2f} s"


def fmt_rate(per_second: float, unit: str) -> str:
    return f"{per_second:,.0f} {unit}s/s"


def fmt_ratio(ratio: float) -> str:
    return f"{ratio:,.1f}x" if ratio >= 1 else f"{ratio:.2f}x"


def fmt_figure(stats: Stats, result: Result) -> str:
    if result.as_rate:
        return fmt_rate(stats.rate, result.unit)
    return fmt_time(stats.median)


def show(label: str, stats: Stats, unit: str, *, rate: bool) -> None:
    """One detail line: median and minimum (and the rates they give)."""
    line = (
        f"  {label:<34} median {fmt_time(stats.median):>10}/{unit}"
        f"   min {fmt_time(stats.min):>10}/{unit}"
    )
    if rate:
        line += f"   {fmt_rate(stats.rate, unit):>14} (best {fmt_rate(stats.best_rate, unit)})"
    print(line)


def show_ratio(result: Result) -> None:
    print(f"  -> ours costs {fmt_ratio(result.ratio)} the {result.baseline_name}")


# --- 1. DPAN parsing -------------------------------------------------------------------


def invented_file(rows: int, today: date, *, prefix: str = "DJI", seed: int = 2026) -> bytes:
    people = made_up_people(rows, seed=seed)
    return dpan_csv(dpan_rows(people, MIDDEN_LIMBURG, today, prefix=prefix))


def bench_parse(plan: Plan) -> Result:
    rows = plan.parse_rows
    today = datetime.now(AMSTERDAM).date()
    data = invented_file(rows, today)
    print(f"\n1. DPAN parsing: {rows:,} invented rows, {len(data) / 1e6:.2f} MB")

    def ours() -> int:
        parsed = read_dpan(io.BytesIO(data), municipalities=MIDDEN_LIMBURG, today=today)
        return sum(1 for item in parsed if isinstance(item, DpanRow))

    def baseline() -> int:
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
        return sum(1 for _ in csv.reader(text, delimiter=";")) - 1  # minus the header

    if ours() != rows or baseline() != rows:
        raise SystemExit("bench: the invented file did not parse into the expected rows")
    ours_stats, baseline_stats = paired(
        ours,
        baseline,
        repeat=plan.parse_repeat,
        target_seconds=plan.target_seconds,
        per_call=rows,
    )
    result = Result(
        "DPAN parse (read_dpan)",
        ours_stats,
        baseline_stats,
        "row",
        "plain csv.reader",
        as_rate=True,
    )
    show("read_dpan", ours_stats, "row", rate=True)
    show("csv.reader (baseline)", baseline_stats, "row", rate=True)
    show_ratio(result)
    return result


# --- 2. import into the database ---------------------------------------------------------


def bench_settings(url: str, key_file: Path, folder: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=url,
        key_file=key_file,
        partner_chat_id=-100123,
        telegram_token="1:x",  # noqa: S106 - a dummy; the benchmark never calls Telegram
        inbox_dir=folder / "inbox",
    )


def plain_inserts(engine: Engine, keys: Sequence[str], *, batch_size: int, per_row: bool) -> float:
    """Seconds to insert one minimal row per key into a new table, a transaction per batch.

    The table is a regular one in the same database (same durability as the
    import: on SQLite the same WAL file, on PostgreSQL logged), dropped afterwards.
    `per_row` sends one INSERT per row instead of one executemany per batch.
    """
    metadata = MetaData()
    table = Table(
        "bench_plain_insert",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("bron_id", String(64), nullable=False, unique=True),
        Column("source_line", Integer, nullable=False),
    )
    metadata.create_all(engine)
    try:
        statement = table.insert()
        start = time.perf_counter()
        with engine.connect() as connection:
            for first in range(0, len(keys), batch_size):
                values = [
                    {"bron_id": key, "source_line": first + offset + 2}
                    for offset, key in enumerate(keys[first : first + batch_size])
                ]
                with connection.begin():
                    if per_row:
                        for value in values:
                            connection.execute(statement, value)
                    else:
                        connection.execute(statement, values)
        return time.perf_counter() - start
    finally:
        metadata.drop_all(engine)


class StatementCounter:
    """Counts the SQL statements an engine sends (a cheap listener: about 1 µs each)."""

    def __init__(self, engine: Engine) -> None:
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1

    def take(self) -> int:
        """The statements since the last call."""
        count, self.count = self.count, 0
        return count


@dataclass(frozen=True)
class ImportTimes:
    """Seconds for the whole file (the baselines: one figure per pass)."""

    imported: float
    reimported: float
    plain_batched: tuple[float, ...]
    plain_per_row: tuple[float, ...]
    statements: int  # SQL statements the import sent
    statements_again: int  # ... and the re-import


# The baselines take milliseconds: several passes per database (after one
# untimed pass) keep a passing hiccup of the machine from deciding the figure.
BASELINE_PASSES = 3


def one_import(
    databases: FreshDatabases, path: Path, rows: int, key_file: Path, folder: Path
) -> ImportTimes:
    """Baselines, import and re-import of `path` into one fresh database (seconds)."""
    with databases.fresh() as url:
        core = open_core(bench_settings(url, key_file, folder))
        try:
            keys = [f"PLAIN-{index:06d}" for index in range(rows)]
            engine = core.db.engine
            baselines: dict[bool, list[float]] = {False: [], True: []}
            for per_row in (False, True):
                plain_inserts(engine, keys, batch_size=BATCH_SIZE, per_row=per_row)  # warm-up
            for _ in range(BASELINE_PASSES):
                for per_row in (False, True):
                    baselines[per_row].append(
                        plain_inserts(engine, keys, batch_size=BATCH_SIZE, per_row=per_row)
                    )

            sent = StatementCounter(engine)
            start = time.perf_counter()
            first = core.detention.import_path(path, actor=CLI)
            imported = time.perf_counter() - start
            statements = sent.take()
            if (first.new, first.duplicate, first.rejected) != (rows, 0, 0) or first.unreadable:
                raise SystemExit(f"bench: import gave {first}, expected {rows} new rows")

            start = time.perf_counter()
            again = core.detention.import_path(path, actor=CLI)
            reimported = time.perf_counter() - start
            statements_again = sent.take()
            if (again.new, again.duplicate, again.rejected) != (0, rows, 0):
                raise SystemExit(f"bench: re-import gave {again}, expected {rows} duplicates")
        finally:
            core.db.dispose()
    return ImportTimes(
        imported,
        reimported,
        tuple(baselines[False]),
        tuple(baselines[True]),
        statements,
        statements_again,
    )


def bench_import(plan: Plan, database_url: str | None) -> tuple[Result, Result]:
    rows = plan.import_rows
    with tempfile.TemporaryDirectory(prefix="vhbot-bench-") as name:
        folder = Path(name)
        key_file = folder / "secrets" / "vhbot.keys"
        create_key_file(key_file)
        databases: FreshDatabases = (
            PostgresDatabases(database_url) if database_url else SqliteDatabases(folder)
        )
        try:
            print(
                f"\n2. Import: {rows:,} invented rows into a fresh migrated database,"
                f" {plan.import_repeat} repetitions; {databases.description}"
            )
            today = datetime.now(AMSTERDAM).date()
            warm_up = folder / "warm-up.csv"
            warm_up.write_bytes(invented_file(20, today, prefix="WARM", seed=1))
            path = folder / "dpan.csv"
            path.write_bytes(invented_file(rows, today))
            one_import(databases, warm_up, 20, key_file, folder)  # loads catalogs, caches
            runs = [
                one_import(databases, path, rows, key_file, folder)
                for _ in range(plan.import_repeat)
            ]
        finally:
            databases.close()

    def per_row(times: Callable[[ImportTimes], Sequence[float]]) -> Stats:
        return Stats(tuple(seconds / rows for run in runs for seconds in times(run)))

    imported = per_row(lambda run: (run.imported,))
    reimported = per_row(lambda run: (run.reimported,))
    batched = per_row(lambda run: run.plain_batched)
    single = per_row(lambda run: run.plain_per_row)
    show("import_path (new rows)", imported, "row", rate=True)
    show("import_path again (duplicates)", reimported, "row", rate=True)
    show("plain INSERT, batched (baseline)", batched, "row", rate=True)
    show("plain INSERT, one per row", single, "row", rate=True)
    import_result = Result(
        "Import (new rows)", imported, batched, "row", "batched plain INSERT", as_rate=True
    )
    reimport_result = Result(
        "Re-import (all duplicates)",
        reimported,
        batched,
        "row",
        "batched plain INSERT",
        as_rate=True,
    )
    show_ratio(import_result)
    statements = statistics.median(run.statements for run in runs) / rows
    statements_again = statistics.median(run.statements_again for run in runs) / rows
    print(
        f"  -> {fmt_time(imported.median - batched.median)} per row above the floor: parsing,"
        f" pseudonym, encryption, audit, case and announcement, in {statements:.1f} SQL"
        f" statements a row (re-import: {statements_again:.1f}); one INSERT per row instead"
        f" of batches costs {single.median / batched.median:,.1f}x"
    )
    print(
        f"  -> a re-import costs {reimported.median / imported.median:.0%} of the first import"
        f" ({reimport_result.ratio:,.1f}x the baseline)"
    )
    return import_result, reimport_result


# --- 3. PII guard ----------------------------------------------------------------------


def typical_announcement() -> SafeText:
    """A typical outgoing text (about 400 characters): an announcement with its tally."""
    _ = translator("nl")
    facts = AnnouncementFacts(
        soort=Soort.UITSTROOM,
        case_reference=CaseReference(case_reference(2026, 42)),
        pseudonym=Pseudonym("P-7KQ4M2XZ"),
        theme=Theme.NAZORG,
        municipality=Municipality("Roermond"),
        institution=Institution("PI Roermond"),
        event_date=date(2026, 12, 3),
        deadline=datetime(2026, 11, 24, 12, 0, tzinfo=AMSTERDAM),
    )
    names = (
        "Politie Limburg", "Reclassering Nederland", "GGZ Noord- en Midden-Limburg",
        "Gemeente Roermond", "Openbaar Ministerie", "Leger des Heils",
    )  # fmt: skip
    organisations = [OrganisationName(name) for name in names]
    tally = Tally(known=organisations[:2], not_known=organisations[2:3], missing=organisations[3:])
    return announcement_text(facts, tally, _, AMSTERDAM)


def bench_guard(plan: Plan) -> Result:
    people = made_up_people(plan.guard_identities, seed=99)
    identities = [Identity(p.surname, p.given_names, p.birth_date, p.bsn) for p in people]
    allowed = list(MIDDEN_LIMBURG)
    start = time.perf_counter()
    guard = PiiGuard(identities, allowed_words=allowed)
    built = time.perf_counter() - start
    text = typical_announcement()
    surnames = [identity.surname.casefold() for identity in identities]
    print(
        f"\n3. PII guard: {len(identities):,} identities (built in {fmt_time(built)}),"
        f" a {len(text)}-character announcement"
    )

    def ours() -> int:
        return len(scan_values(guard, text.values))

    def baseline() -> int:
        folded = text.casefold()
        return sum(1 for surname in surnames if surname in folded)

    print(f"  hits: guard {ours()}, naive {baseline()} (a clean text: both should be 0)")
    ours_stats, baseline_stats = paired(
        ours, baseline, repeat=plan.micro_repeat, target_seconds=plan.target_seconds
    )
    result = Result(
        "PII guard scan",
        ours_stats,
        baseline_stats,
        "scan",
        "naive surname loop",
        as_rate=False,
    )
    show("scan_values (the outgoing check)", ours_stats, "scan", rate=False)
    show("naive `surname in text` (baseline)", baseline_stats, "scan", rate=False)
    show_ratio(result)
    return result


# --- 4. field encryption -----------------------------------------------------------------


def identity_json() -> str:
    """An invented identity as PersonVault stores it (compact JSON, sorted keys)."""
    return json.dumps(
        {
            "birth_date": "1984-03-17",
            "bsn": "111222333",
            "given_names": "Jan Johannes Cornelis",
            "surname": "van den Heuvel-Claessens",
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def bench_cipher(plan: Plan) -> Result:
    secret = secrets.token_bytes(KEY_BYTES)
    ring = KeyRing(
        data_keys=(DataKey("k1", secret, "2026-01-01"),),
        pseudonym_key=secrets.token_bytes(KEY_BYTES),
    )
    cipher = FieldCipher(ring)
    aesgcm = AESGCM(secret)
    plaintext = identity_json()
    associated = IDENTITY_CONTEXT.encode("utf-8")
    token = cipher.encrypt(plaintext, context=IDENTITY_CONTEXT)
    print(
        f"\n4. Field encryption: a {len(plaintext.encode('utf-8'))}-byte identity JSON,"
        f" token of {len(token)} characters"
    )

    def ours() -> str:
        sealed = cipher.encrypt(plaintext, context=IDENTITY_CONTEXT)
        return cipher.decrypt(sealed, context=IDENTITY_CONTEXT)

    def baseline() -> str:
        nonce = os.urandom(12)
        sealed = aesgcm.encrypt(nonce, plaintext.encode("utf-8"), associated)
        return aesgcm.decrypt(nonce, sealed, associated).decode("utf-8")

    if ours() != plaintext or baseline() != plaintext:
        raise SystemExit("bench: encryption did not round-trip")
    ours_stats, baseline_stats = paired(
        ours, baseline, repeat=plan.micro_repeat, target_seconds=plan.target_seconds
    )
    result = Result(
        "Field encrypt+decrypt",
        ours_stats,
        baseline_stats,
        "op",
        "bare AESGCM",
        as_rate=False,
    )
    show("FieldCipher encrypt+decrypt", ours_stats, "op", rate=False)
    show("AESGCM encrypt+decrypt (baseline)", baseline_stats, "op", rate=False)
    encrypt_only = time_once(
        lambda: cipher.encrypt(plaintext, context=IDENTITY_CONTEXT), number=5000
    )
    decrypt_only = time_once(lambda: cipher.decrypt(token, context=IDENTITY_CONTEXT), number=5000)
    print(f"  (of which encrypt {fmt_time(encrypt_only)}, decrypt {fmt_time(decrypt_only)})")
    show_ratio(result)
    return result


# --- the run -----------------------------------------------------------------------------


def summary(results: Sequence[Result]) -> str:
    headers = ("benchmark", "ours", "baseline", "ratio")
    table = [
        (
            result.name,
            fmt_figure(result.ours, result),
            f"{fmt_figure(result.baseline, result)} ({result.baseline_name})",
            fmt_ratio(result.ratio),
        )
        for result in results
    ]
    widths = [max(len(row[i]) for row in (headers, *table)) for i in range(len(headers))]
    lines = [
        "  ".join(
            cell.rjust(width) if index in (1, 3) else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in (headers, *table)
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.run",
        description="vhbot benchmarks, each against a baseline measured in the same run.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smaller run (about 20 s), e.g. as a smoke test"
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="run the storage benchmark on this PostgreSQL database (postgresql://...), in"
        " temporary schemas that are dropped afterwards; default: a temporary SQLite file",
    )
    args = parser.parse_args(argv)
    if args.database_url and not args.database_url.startswith(
        ("postgresql://", "postgresql+psycopg://")
    ):
        parser.error("--database-url must be a postgresql:// URL (SQLite is the default)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else DEFAULT
    started = time.perf_counter()
    print(
        f"vhbot benchmarks ({'quick' if args.quick else 'default'} run)"
        f" - Python {platform.python_version()}, {platform.system()} {platform.machine()},"
        f" {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f};"
        " figures are medians (and minimum) of repeated samples"
    )
    results: list[Result] = [bench_parse(plan)]
    results.extend(bench_import(plan, args.database_url))
    results.append(bench_guard(plan))
    results.append(bench_cipher(plan))
    print(f"\nSummary (ratio = ours / baseline cost; took {time.perf_counter() - started:.0f} s)")
    print(summary(results))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
