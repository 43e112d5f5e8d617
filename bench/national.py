"""National scale: /stand, a year's report and the sweep's selection over 25 houses' history.

    .venv/bin/python -m bench.national                      # full size, SQLite (cached file)
    .venv/bin/python -m bench.national --scale 0.1          # 1/10
    .venv/bin/python -m bench.national --database-url postgresql://postgres@127.0.0.1:5432/DB

The history is generated straight into the tables (executemany on SQLite, COPY on
PostgreSQL), not through the services: at full size 1,000,000 meldingen, 500,000
cases and 2,000,000 actions over 5 years (see `_History` for the spread). Then, on
Monday 23 November 2026 08:00 (Europe/Amsterdam):

- `Stand.facts` for a coordinator (every theme), target under 200 ms;
- `Reports.report` of the year 2025, target under 3 s;
- `Reminders.due` (the morning sweep's selection), target under 1 s;

each the median of several runs with the min beside it, and the peak of Python
memory (tracemalloc) in a separate, untimed run. The baseline beside each is a
plain `SELECT count(*)` of the table the figure is about, in the same run.

The SQLite database is cached in the folder given by `--cache` (default: the
system's temporary folder) under a name holding the scale and the schema head,
so a second run only measures. On PostgreSQL the history lives in a schema of the
database named (`vhbot_national_<scale>_<head>`), kept for the next run in the
same way; `--fresh` rebuilds either.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from bisect import bisect
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.databases import psycopg_url
from bench.reminders import _settings
from bot.app import open_core
from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.decisions import AssignmentState, CloseReason, Decision
from bot.domain.dpan import BRON as DJI
from bot.domain.meetings import MeetingType, meeting_type_for
from bot.domain.meldingen import Bron
from bot.domain.plan import ACTION_CATALOGUE, ActionState
from bot.domain.reports import Period
from bot.domain.roles import DEFAULT_THEMES, Role, Theme, format_themes
from bot.services.members import MEMBER_NAME_CONTEXT
from bot.storage import migrate
from bot.storage.engine import make_engine

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 23, 8, 0, tzinfo=AMSTERDAM)
TODAY = NOW.date()
YEARS = 5
REPORT_YEAR = 2025
TARGETS = {"stand": 0.2, "report": 3.0, "due": 1.0}
FULL = {"meldingen": 1_000_000, "cases": 500_000, "actions": 2_000_000}
HOUSES = 25
MUNICIPALITIES = 300  # about 12 per house
CASEMANAGERS_PER_HOUSE = 40
ORGANISATIONS = 15
PARTNERS_PER_ORGANISATION = 20
# How many of each theme (shares of the cases), roughly as the seed's annual reports.
THEME_SHARE = {
    Theme.NAZORG: 0.35,
    Theme.MULTIPROBLEMATIEK: 0.20,
    Theme.HUISELIJK_GEWELD: 0.12,
    Theme.VERWARD_GEDRAG: 0.12,
    Theme.JEUGD: 0.09,
    Theme.OGGZ: 0.06,
    Theme.TOP_X: 0.05,
    Theme.RADICALISERING: 0.01,
}
# Triage decisions (shares), the days they take, and how long procesregie lasts.
DECISION_SHARE = {Decision.PROCESREGIE: 0.25, Decision.DOORGELEID: 0.40, Decision.AFGESLOTEN: 0.35}
DECISION_MEAN_DAYS = 3.0  # exponential: about 3 days of cases are waiting for a decision
PROCESREGIE_DAYS = (60, 540)
ANNOUNCED_DAYS = 120  # cases opened this recently have their agenda item and answers
ANSWER_RATE = 0.85
CODES = [
    (domain.value, entry.code) for domain, entries in ACTION_CATALOGUE.items() for entry in entries
]


# -- the history --------------------------------------------------------------------------


class _Writer:
    """Rows into one table: executemany (SQLite) or COPY (PostgreSQL), in chunks."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.dialect = dialect
        self.counts: dict[str, int] = {}

    def ts(self, moment: datetime) -> Any:
        """A naive UTC moment (whole seconds) as the column takes it."""
        return f"{moment}.000000" if self.dialect == "sqlite" else moment

    def day(self, day: date) -> Any:
        return day.isoformat() if self.dialect == "sqlite" else day

    def write(self, table: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        count = 0
        if self.dialect == "sqlite":
            # Table and column names are this module's constants, never input.
            placeholders = ", ".join("?" * len(names))
            statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({placeholders})"  # noqa: S608
            for chunk in _chunks(rows, 20_000):
                self.connection.executemany(statement, chunk)
                count += len(chunk)
        else:
            with (
                self.connection.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
                    count += 1
        self.counts[table] = self.counts.get(table, 0) + count
        return count


def _chunks(rows: Iterable[Sequence[Any]], size: int) -> Iterator[list[Sequence[Any]]]:
    iterator = iter(rows)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)


class _History:
    """The generated history (see the module); ids are given here, from 1.

    Spread: cases open uniformly over 5 years; themes by THEME_SHARE; 300
    municipalities with a Zipf-like spread (a few cities, many villages); persons
    have 1.25 cases on average, 5 % of the cases of a person with several lie in
    another municipality (moved). A case is decided after an exponential number of
    days (mean 3): the cases still waiting are those of the last days, about 3 days'
    worth (the open undecided backlog: at full size some 800 cases, a few tens per
    house on the current agendas). Doorgeleid and afgesloten close the case at the
    decision; procesregie lasts 2 to 18 months, so about a year's procesregie cases
    are open. Each case has one melding at its opening, the rest of the meldingen
    fall on random cases on random days while they were open; nazorg's are
    detention notifications (DJI instroom/uitstroom), and a quarter of the open
    nazorg cases have a release announced in the next 30 days. Procesregie cases
    have an accepted casemanager (3 % of the open ones do not) and the actions
    (about 16 a case), created while the case was open with a deadline 10 to 60
    days later; on closed cases done (90 %) or cancelled, on open cases done when
    their deadline passed more than a month ago (95 %), else 40 %: what is left
    open includes the overdue ones. Action events (created, done) exist for the
    actions of open cases (stagnation reads only those). Every case opened in the
    last 120 days was on the agenda of the weekly meeting after its opening, with
    its announcement answered by 85 % of the organisations; the open undecided ones
    are on the current meetings.
    """

    def __init__(self, core: Core, writer: _Writer, scale: float) -> None:
        self.core = core
        self.w = writer
        self.rng = random.Random(12)
        self.n_cases = int(FULL["cases"] * scale)
        self.n_meldingen = int(FULL["meldingen"] * scale)
        self.n_actions = int(FULL["actions"] * scale)
        self.now = _utc(NOW)

    def build(self) -> None:
        self._organisations_and_members()
        self._cases()
        self._meldingen()
        self._assignments()
        self._actions()
        self._agenda()

    # organisations, members ---------------------------------------------------------

    def _organisations_and_members(self) -> None:
        w, cipher, now = self.w, self.core.cipher, self.now
        all_themes = format_themes(set(DEFAULT_THEMES))
        organisations = [(1, "GEM", "Gemeenten", all_themes, w.ts(now))] + [
            (
                n,
                f"ORG{n}",
                f"Organisatie {n}",
                format_themes(set(Theme)) if n % 5 == 0 else all_themes,
                w.ts(now),
            )
            for n in range(2, ORGANISATIONS + 1)
        ]
        w.write("organisation", ("id", "code", "name", "themes", "created_at"), organisations)
        self.org_themes = {row[0]: row[3] for row in organisations}
        members = []
        member_id = itertools.count(1)

        def member(org: int, roles: str) -> int:
            n = next(member_id)
            name = cipher.encrypt(f"Medewerker {n}", context=MEMBER_NAME_CONTEXT)
            members.append((n, 5_000_000 + n, name, org, roles, True, w.ts(now)))
            return n

        self.coordinator = member(1, f"{Role.COORDINATOR.value},{Role.CASEMANAGER.value}")
        for _ in range(HOUSES - 1):
            member(1, Role.COORDINATOR.value)
        self.casemanagers = [
            member(1 + n % ORGANISATIONS, Role.CASEMANAGER.value)
            for n in range(HOUSES * CASEMANAGERS_PER_HOUSE)
        ]
        self.partners: dict[int, list[int]] = {}
        for org in range(1, ORGANISATIONS + 1):
            self.partners[org] = [
                member(org, Role.PARTNER.value) for _ in range(PARTNERS_PER_ORGANISATION)
            ]
        w.write(
            "member",
            ("id", "telegram_id", "name_ct", "organisation_id", "roles", "active", "created_at"),
            members,
        )

    # cases, persons --------------------------------------------------------------------

    def _cases(self) -> None:
        rng, w, now = self.rng, self.w, self.now
        start = now - timedelta(days=365 * YEARS)
        span = int((now - start).total_seconds())
        opened = sorted(start + timedelta(seconds=rng.randrange(span)) for _ in range(self.n_cases))
        themes = list(THEME_SHARE)
        theme_weights = list(itertools.accumulate(THEME_SHARE.values()))
        muni_weights = list(itertools.accumulate(1 / (n + 5) for n in range(MUNICIPALITIES)))
        self.municipalities = [f"Gemeente {n + 1:03d}" for n in range(MUNICIPALITIES)]
        decisions = list(DECISION_SHARE)
        decision_weights = list(itertools.accumulate(DECISION_SHARE.values()))
        reasons = list(CloseReason)
        n_persons = int(self.n_cases / 1.25)
        home = [bisect(muni_weights, rng.random() * muni_weights[-1]) for _ in range(n_persons)]
        next_person = itertools.count(n_persons + 1)  # fresh persons for open cases
        counters: dict[int, int] = {}
        self.cases: list[
            tuple[Any, ...]
        ] = []  # id, theme, muni, person, opened, closed, decision, decided
        rows = []
        for case_id, at in enumerate(opened, start=1):
            theme = themes[bisect(theme_weights, rng.random() * theme_weights[-1])]
            decided: datetime | None = at + timedelta(
                seconds=int(rng.expovariate(1 / DECISION_MEAN_DAYS) * 86400)
            )
            decision: Decision | None = None
            closed: datetime | None = None
            if decided is not None and decided > now:
                decided = None
            if decided is not None:
                decision = decisions[bisect(decision_weights, rng.random() * decision_weights[-1])]
                if decision is Decision.PROCESREGIE:
                    closed = decided + timedelta(days=rng.randint(*PROCESREGIE_DAYS))
                    if closed > now:
                        closed = None
                else:
                    closed = decided
            if closed is None:
                person = next(next_person)  # at most one open case per person and theme
                municipality = bisect(muni_weights, rng.random() * muni_weights[-1])
            else:
                person = rng.randrange(n_persons) + 1
                municipality = home[person - 1]
                if rng.random() < 0.05:
                    municipality = rng.randrange(MUNICIPALITIES)  # moved
            year = at.year
            counters[year] = counters.get(year, 0) + 1
            procesregie = decision is Decision.PROCESREGIE
            self.cases.append((case_id, theme, municipality, person, at, closed, decision, decided))
            rows.append(
                (
                    case_id,
                    f"VH-{year}-{counters[year]:06d}",
                    year,
                    counters[year],
                    theme.value,
                    person,
                    self.municipalities[municipality],
                    w.ts(at),
                    w.ts(closed) if closed else None,
                    procesregie,
                    w.ts(decided) if procesregie and decided else None,
                    decision.value if decision else None,
                    rng.randint(2, ORGANISATIONS) if decision is Decision.DOORGELEID else None,
                    rng.choice(reasons).value if decision is Decision.AFGESLOTEN else None,
                    w.ts(decided) if decided else None,
                    self.coordinator if decided else None,
                )
            )
        n_all = next(next_person) - 1
        w.write(
            "person",
            ("id", "identity_key", "pseudonym", "created_at", "identity_stored_at"),
            ((n, f"{n:064x}", f"P-{n:08d}", w.ts(start), w.ts(start)) for n in range(1, n_all + 1)),
        )
        w.write(
            "vh_case",
            (
                "id", "reference", "year", "number", "theme", "person_id", "municipality",
                "opened_at", "closed_at", "procesregie", "procesregie_at", "decision",
                "decision_organisation_id", "decision_reason", "decided_at", "decided_by",
            ),
            rows,
        )  # fmt: skip
        w.write("case_counter", ("year", "last"), sorted(counters.items()))

    # meldingen -----------------------------------------------------------------------------

    def _meldingen(self) -> None:
        rng, w, now = self.rng, self.w, self.now
        extra = [0] * len(self.cases)
        for _ in range(max(0, self.n_meldingen - len(self.cases))):
            extra[rng.randrange(len(self.cases))] += 1
        bronnen = list(Bron)
        ids = itertools.count(1)

        def rows() -> Iterator[tuple[Any, ...]]:
            for (case_id, theme, muni, person, at, closed, _, _), more in zip(
                self.cases, extra, strict=True
            ):
                until = closed or now
                days = max(0, (until - at).days)
                nazorg = theme is Theme.NAZORG
                municipality = self.municipalities[muni]
                for k in range(1 + more):
                    moment = at if k == 0 else at + timedelta(days=rng.randint(0, days))
                    n = next(ids)
                    if nazorg:
                        soort = "instroom" if k == 0 else rng.choice(("instroom", "uitstroom"))
                        bron, theme_value = DJI, None
                    else:
                        soort, bron, theme_value = "melding", rng.choice(bronnen).value, theme.value
                    yield (
                        n, str(n), soort, bron, theme_value, person, municipality,
                        w.day(moment.date()), w.ts(moment), 0, case_id,
                    )  # fmt: skip
                if nazorg and closed is None and rng.random() < 0.25:
                    n = next(ids)
                    release = TODAY + timedelta(days=rng.randint(0, 30))
                    yield (
                        n, str(n), "uitstroom", DJI, None, person, municipality,
                        w.day(release), w.ts(now), 0, case_id,
                    )  # fmt: skip

        w.write(
            "melding",
            (
                "id", "bron_id", "soort", "bron", "theme", "person_id", "municipality",
                "event_date", "received_at", "source_line", "case_id",
            ),
            rows(),
        )  # fmt: skip

    # assignments, actions -------------------------------------------------------------------

    def _assignments(self) -> None:
        rng, w = self.rng, self.w
        self.casemanager_of: dict[int, int] = {}
        rows = []
        for case_id, _, _, _, _, closed, decision, decided in self.cases:
            if decision is not Decision.PROCESREGIE or decided is None:
                continue
            if closed is None and rng.random() < 0.03:
                continue  # still waiting for a casemanager
            member = rng.choice(self.casemanagers)
            self.casemanager_of[case_id] = member
            rows.append(
                (
                    case_id, member, AssignmentState.ACCEPTED.value,
                    True if closed is None else None, self.coordinator,
                    w.ts(decided + timedelta(days=1)),
                    w.ts(decided + timedelta(days=2)),
                )
            )  # fmt: skip
        w.write(
            "case_assignment",
            (
                "case_id",
                "member_id",
                "state",
                "current",
                "assigned_by",
                "offered_at",
                "answered_at",
            ),
            rows,
        )

    def _actions(self) -> None:
        rng, w, now = self.rng, self.w, self.now
        procesregie = [c for c in self.cases if c[6] is Decision.PROCESREGIE]
        per_case = self.n_actions / max(1, len(procesregie))
        ids = itertools.count(1)
        events: list[tuple[Any, ...]] = []

        def rows() -> Iterator[tuple[Any, ...]]:
            for case_id, _, _, _, _, closed, _, decided in procesregie:
                until = closed or now
                days = max(1, (until - decided).days)
                owner = self.casemanager_of.get(case_id) or self.casemanagers[0]
                for number in range(1, int(per_case * 2 * rng.random()) + 2):
                    n = next(ids)
                    created = decided + timedelta(days=rng.randint(0, days - 1), hours=1)
                    deadline = created.date() + timedelta(days=rng.randint(10, 60))
                    done_at: datetime | None = None
                    if closed is not None:
                        state = ActionState.DONE if rng.random() < 0.9 else ActionState.CANCELLED
                        if state is ActionState.DONE:
                            done_at = min(closed, created + timedelta(days=rng.randint(1, 40)))
                    else:
                        old = deadline < TODAY - timedelta(days=30)
                        done = rng.random() < (0.95 if old else 0.4)
                        state = ActionState.DONE if done else ActionState.OPEN
                        if done:
                            done_at = min(now, created + timedelta(days=rng.randint(1, 40)))
                    domain, code = rng.choice(CODES)
                    by_org = rng.random() < 0.2
                    yield (
                        n, case_id, number, domain, code,
                        None if by_org else owner,
                        rng.randint(2, ORGANISATIONS) if by_org else None,
                        w.day(deadline), state.value, 1, w.ts(created), owner,
                        w.ts(done_at) if done_at else None, owner if done_at else None,
                    )  # fmt: skip
                    if closed is None:
                        events.append((n, case_id, "created", w.ts(created), owner))
                        if done_at is not None:
                            events.append((n, case_id, "done", w.ts(done_at), owner))

        w.write(
            "action",
            (
                "id", "case_id", "number", "domain", "catalogue_code", "owner_member_id",
                "owner_organisation_id", "deadline", "state", "version", "created_at",
                "created_by", "done_at", "done_by",
            ),
            rows(),
        )  # fmt: skip
        w.write("action_event", ("action_id", "case_id", "kind", "at", "member_id"), events)

    # meetings, agenda, announcements, answers ---------------------------------------------

    def _agenda(self) -> None:
        rng, w, now = self.rng, self.w, self.now
        agenda = self.core.agenda
        meeting_ids: dict[tuple[str, datetime], int] = {}
        meetings: list[tuple[Any, ...]] = []

        def meeting(kind: MeetingType, starts_at: datetime) -> int:
            key = (kind.value, starts_at)
            if key not in meeting_ids:
                meeting_ids[key] = len(meeting_ids) + 1
                meetings.append((meeting_ids[key], kind.value, w.ts(starts_at)))
            return meeting_ids[key]

        items, announcements, answers = [], [], []
        since = now - timedelta(days=ANNOUNCED_DAYS)
        orgs_for = {
            theme: [org for org, themes in self.org_themes.items() if theme.value in themes]
            for theme in Theme
        }
        for case_id, theme, _, _, at, _, decision, _ in self.cases:
            if at < since:
                continue
            kind = meeting_type_for(theme)
            aware = at.replace(tzinfo=UTC)
            starts_at = _utc(agenda.next_start(kind, aware if decision else NOW))
            item = len(items) + 1
            meeting_id = meeting(kind, starts_at)
            items.append((item, meeting_id, case_id, item, w.ts(at)))
            created = at + timedelta(minutes=5)
            announcements.append(
                (item, "agenda_item", item, case_id, theme.value, w.ts(starts_at), w.ts(created), 0)
            )
            for org in orgs_for[theme]:
                if rng.random() < ANSWER_RATE:
                    member = rng.choice(self.partners[org])
                    answered = min(now, created + timedelta(hours=rng.randint(1, 96)))
                    answers.append((item, org, member, rng.random() < 0.3, w.ts(answered)))
        w.write("meeting", ("id", "type", "starts_at"), meetings)
        w.write(
            "announcement",
            (
                "id",
                "kind",
                "subject_id",
                "case_id",
                "theme",
                "deadline",
                "created_at",
                "answers_version",
            ),
            announcements,
        )
        w.write(
            "agenda_item",
            ("id", "meeting_id", "case_id", "announcement_id", "created_at"),
            items,
        )
        w.write(
            "answer",
            ("announcement_id", "organisation_id", "member_id", "known", "answered_at"),
            answers,
        )


# -- databases ------------------------------------------------------------------------------


def _tag(scale: float) -> str:
    return f"{scale:g}".replace(".", "_") + "_" + migrate.head_revision()[:12].replace("-", "_")


def _state(cache: Path, name: str) -> Path:
    """The folder kept between runs: the SQLite file, and the key file its names are
    encrypted with (bench.keys, as `_settings` names it)."""
    folder = cache / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sqlite(cache: Path, scale: float, fresh: bool) -> tuple[str, Path, float | None]:
    """The cached SQLite file's URL (built when missing), its folder, and the seconds
    building took (None: reused)."""
    folder = _state(cache, f"vhbot-national-{_tag(scale)}")
    path = folder / "history.sqlite3"
    url = f"sqlite:///{path}"
    if path.exists() and not fresh:
        return url, folder, None
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    building = folder / "building.sqlite3"
    building.unlink(missing_ok=True)
    (folder / "bench.keys").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{building}")
    migrate.upgrade(engine)
    engine.dispose()
    core = open_core(_settings(folder, f"sqlite:///{building}", None), clock=FrozenClock(NOW))
    connection = sqlite3.connect(building)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    try:
        writer = _Writer(connection, "sqlite")
        _History(core, writer, scale).build()
        connection.commit()
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()
        core.db.dispose()
    building.rename(path)
    return url, folder, time.perf_counter() - started


def _postgres(url: str, scale: float, fresh: bool, cache: Path) -> tuple[str, Path, float | None]:
    """A schema of the database at `url` holding the history (built when missing)."""
    base = psycopg_url(url)
    schema = f"vhbot_national_{_tag(scale)}"
    folder = _state(cache, f"vhbot-national-pg-{_tag(scale)}")
    if not (folder / "bench.keys").exists():
        fresh = True
    scoped = (
        make_url(base)
        .update_query_dict({"options": f"-csearch_path={schema}"})
        .render_as_string(hide_password=False)
    )
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            done = connection.execute(
                text(
                    "SELECT 1 FROM pg_tables WHERE schemaname = :s AND tablename = 'national_done'"
                ),
                {"s": schema},
            ).first()
            if done is not None and not fresh:
                return scoped, folder, None
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        admin.dispose()
    started = time.perf_counter()
    engine = make_engine(scoped)
    migrate.upgrade(engine)
    engine.dispose()
    core = open_core(_settings(folder, scoped, None), clock=FrozenClock(NOW))
    plain = make_url(base).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(plain, options=f"-csearch_path={schema}") as connection:
            connection.execute("SET TIME ZONE 'UTC'")
            writer = _Writer(connection, "postgresql")
            _History(core, writer, scale).build()
            for table in writer.counts:
                connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                    if table not in ("case_counter",)
                    else "SELECT 1"
                )
            connection.execute("CREATE TABLE national_done (id int)")
            connection.commit()
            connection.autocommit = True
            # What autovacuum does soon after a load: statistics, and the visibility map
            # that lets the covering indexes answer without reading the table.
            connection.execute("VACUUM ANALYZE")
    finally:
        core.db.dispose()
    return scoped, folder, time.perf_counter() - started


# -- measuring --------------------------------------------------------------------------------


def _timed(work: Callable[[], object], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        gc.collect()
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def _peak(work: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _measure(
    url: str, folder: Path, runs: int
) -> dict[str, tuple[float, float, int, float, float]]:
    core = open_core(_settings(folder, url, None), clock=FrozenClock(NOW))
    coordinator = 1
    period = Period(REPORT_YEAR)
    work: dict[str, Callable[[], object]] = {}

    def stand() -> object:
        with core.db.session() as session:
            return core.stand.facts(session, NOW, member_id=coordinator)

    def report() -> object:
        return core.reports.report(period, actor="bench")

    def due() -> object:
        with core.db.session() as session:
            return core.reminders.due(session, TODAY)

    def count(table: str) -> Callable[[], object]:
        def run() -> object:
            with core.db.session() as session:
                return session.execute(text(f"SELECT count(*) FROM {table}")).scalar()  # noqa: S608

        return run

    work = {"stand": stand, "report": report, "due": due}
    baselines = {"stand": count("vh_case"), "report": count("melding"), "due": count("action")}
    results = {}
    try:
        stand()  # plans the agenda once (nothing to add: the history has it)
        for name, job in work.items():
            job()  # warm the caches
            median, least = _timed(job, runs)
            base_median, base_min = _timed(baselines[name], runs)
            results[name] = (median, least, _peak(job), base_median, base_min)
    finally:
        core.db.dispose()
    return results


def _print(
    label: str, scale: float, results: dict[str, tuple[float, float, int, float, float]]
) -> bool:
    names = {
        "stand": "/stand (Stand.facts)",
        "report": f"year report {REPORT_YEAR} (Reports.report)",
        "due": "sweep selection (Reminders.due)",
    }
    baselines = {
        "stand": "count(*) vh_case",
        "report": "count(*) melding",
        "due": "count(*) action",
    }
    print(f"{label}, scale {scale:g}")
    print(f"  {'':34} {'median':>9} {'min':>9} {'target':>7} {'peak mem':>9}   baseline (median)")
    ok = True
    for name, (median, least, peak, base, _) in results.items():
        target = TARGETS[name]
        passed = median < target
        ok &= passed
        print(
            f"  {names[name]:34} {median * 1000:7.0f}ms {least * 1000:7.0f}ms"
            f" {target * 1000:5.0f}ms"
            f" {peak / 2**20:7.1f}MB   {baselines[name]} {base * 1000:.0f} ms"
            f"   {'ok' if passed else 'FAIL'}"
        )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.national", description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--database-url", help="PostgreSQL (postgresql://...); default SQLite")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--fresh", action="store_true", help="rebuild the history")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    if args.database_url:
        url, folder, built = _postgres(args.database_url, args.scale, args.fresh, args.cache)
        label = "PostgreSQL"
    else:
        url, folder, built = _sqlite(args.cache, args.scale, args.fresh)
        label = "SQLite"
    size = {k: int(v * args.scale) for k, v in FULL.items()}
    print(
        f"{label}: {size['meldingen']:,} meldingen, {size['cases']:,} cases,"
        f" ~{size['actions']:,} actions over {YEARS} years; "
        + (f"generated in {built:.0f} s" if built is not None else "history reused")
    )
    results = _measure(url, folder, args.runs)
    return 0 if _print(label, args.scale, results) else 1


if __name__ == "__main__":
    sys.exit(main())
