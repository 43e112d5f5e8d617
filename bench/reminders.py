"""Reminders at size: 1,000 casemanagers, 10,000 actions of which 4,000 overdue.

    .venv/bin/python -m bench.reminders                 # about 1.5 min
    .venv/bin/python -m bench.reminders --quick         # 200 casemanagers, about 20 s
    .venv/bin/python -m bench.reminders --database-url postgresql://postgres@127.0.0.1:5432/DB
    .venv/bin/python -m bench.reminders --slow-commits 20   # and a sweep on a slow disk

1. Selection: the time `Reminders.due` takes to find what is due for everyone
   (median of 5; min beside it), on SQLite and, with `--database-url`, PostgreSQL
   (a fresh schema in that database, dropped afterwards; timed again after
   ANALYZE, as autovacuum would leave it). Target: under 1 s.
2. The whole sweep, in real time: the real bot (`serve`: PTB Application, pacer,
   outbox sender; SQLite) against the fake Bot API server enforcing Telegram's
   limits (30 messages a second overall, 1 a second per private chat). The clock
   jumps to 09:00 on a working day, the duty queues the digests, and the outbox
   sends them. Printed: digests sent (must equal the recipients with something
   due), 429s met (0), messages lost (0), and the wall time from the duty's start
   to the last delivery as a ratio to the floor the limits set (recipients / 30
   per second). Target: at most 1.15.
3. The sender's capacity: the same sweep with the overall limit lifted (each chat
   still takes one message a second): messages a second from the first delivery
   to the last, and the process's CPU time per message (bot and fake server).
   Not a target; it shows how much room the sender has at 30 a second, which is
   what keeps the ratio on a machine busy with other work. Also printed with the
   sweep: the bot's database transactions (worker threads) per message.
4. With `--slow-commits MS`: the sweep again, every commit taking MS ms longer
   while it holds SQLite's write lock (a disk busy with other work). Not a target.

Everything is invented; files live in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import event, text
from sqlmodel import col, select

from bench.databases import PostgresDatabases, SqliteDatabases, psycopg_url
from bot.app import open_core
from bot.config import Settings
from bot.core import Core
from bot.domain.calendar import add_working_days
from bot.domain.decisions import AssignmentState, Decision
from bot.domain.plan import ACTION_CATALOGUE, ActionState
from bot.domain.roles import Role, Theme
from bot.privacy.keys import create_key_file
from bot.runner import serve
from bot.sandbox.fake_telegram import FakeTelegram, FloodLimits
from bot.scheduling.pacer import PaceLimits, Pacer
from bot.services.audit import CLI
from bot.services.members import MEMBER_NAME_CONTEXT
from bot.storage.models import (
    Action,
    ActionEvent,
    Case,
    CaseAssignment,
    Member,
    OutboxMessage,
    Person,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
MONDAY = date(2026, 11, 23)
PER_SECOND = 30
TARGET_RATIO = 1.15
TARGET_SELECT = 1.0
LIFTED = 1000  # the overall limit, a second, when measuring the sender's capacity
_WATCHER = "bench-watcher"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class JumpClock:
    """Wall time running at real speed from `start`; `jump` moves it at once."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._real = time.monotonic()

    def now(self) -> datetime:
        return (self._start + timedelta(seconds=time.monotonic() - self._real)).astimezone(UTC)

    def jump(self, to: datetime) -> None:
        self._start, self._real = to, time.monotonic()


@dataclass(frozen=True)
class Size:
    casemanagers: int
    actions: int
    overdue: int


def _seed(core: Core, size: Size, telegram_ids: list[int], coordinator: int = 10**9) -> None:
    """Casemanagers (each the casemanager of two cases), actions owned by random ones."""
    rng = random.Random(11)
    now = core.clock.now()
    opened = datetime(2026, 11, 2, 9, 0, tzinfo=AMSTERDAM)
    codes = [entry.code for entries in ACTION_CATALOGUE.values() for entry in entries]
    domains = {
        entry.code: domain.value
        for domain, entries in ACTION_CATALOGUE.items()
        for entry in entries
    }
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Gemeente Bench", code="GEM", themes=None, actor=CLI
        )
        boss = core.memberships.add_member(
            session, telegram_id=coordinator, name="Coordinator Bench", organisation_code="GEM",
            roles=[Role.COORDINATOR], actor=CLI,
        )  # fmt: skip
        assert boss.id is not None
        org_id = boss.organisation_id
        members = [
            Member(
                telegram_id=telegram_id,
                name_ct=core.cipher.encrypt(f"Casemanager {n}", context=MEMBER_NAME_CONTEXT),
                organisation_id=org_id,
                roles=Role.CASEMANAGER.value,
                created_at=now,
            )
            for n, telegram_id in enumerate(telegram_ids)
        ]
        session.add_all(members)
        session.flush()
        member_ids = [m.id for m in members if m.id is not None]
        persons = [
            Person(
                identity_key=f"{n:064x}",
                pseudonym="P-" + "".join(rng.choice(_CROCKFORD) for _ in range(8)),
                created_at=opened,
                identity_stored_at=opened,
            )
            for n in range(2 * size.casemanagers)
        ]
        session.add_all(persons)
        session.flush()
        cases = [
            Case(
                reference=f"VH-2026-{n + 1:05d}",
                year=2026,
                number=n + 1,
                theme=Theme.MULTIPROBLEMATIEK.value,
                person_id=person.id,
                municipality="Weert",
                opened_at=opened,
                procesregie=True,
                decision=Decision.PROCESREGIE.value,
                decided_at=opened,
            )
            for n, person in enumerate(persons)
            if person.id is not None
        ]
        session.add_all(cases)
        session.flush()
        session.add_all(
            CaseAssignment(
                case_id=case.id,
                member_id=member_ids[n // 2],
                state=AssignmentState.ACCEPTED.value,
                current=True,
                assigned_by=boss.id,
                offered_at=opened,
                answered_at=opened,
            )
            for n, case in enumerate(cases)
            if case.id is not None
        )
        overdue = set(rng.sample(range(size.actions), size.overdue))
        per_case: dict[int, int] = {}
        actions = []
        for n in range(size.actions):
            case = cases[n % len(cases)]
            assert case.id is not None
            per_case[case.id] = per_case.get(case.id, 0) + 1
            if n in overdue:
                deadline = add_working_days(MONDAY, -rng.randint(1, 9))
            else:
                deadline = add_working_days(MONDAY, rng.randint(3, 60))
            code = rng.choice(codes)
            actions.append(
                Action(
                    case_id=case.id,
                    number=per_case[case.id],
                    domain=domains[code],
                    catalogue_code=code,
                    owner_member_id=rng.choice(member_ids),
                    deadline=deadline,
                    state=ActionState.OPEN.value,
                    created_at=opened,
                    created_by=boss.id,
                )
            )
        session.add_all(actions)
        session.flush()
        session.add_all(
            ActionEvent(action_id=a.id, case_id=a.case_id, kind="created", at=opened)
            for a in actions
            if a.id is not None
        )


def _settings(folder: Path, url: str, telegram: FakeTelegram | None) -> Settings:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token=telegram.token if telegram else "123456:BENCH",
        telegram_api_url=telegram.api_root if telegram else "http://127.0.0.1:9",
        database_url=url,
        partner_chat_id=-1001234567890,
        key_file=folder / "bench.keys",
        inbox_dir=folder / "inbox",
        outbox_interval_seconds=0.05,
        web_port=_free_port(),  # the bot's pages; another run may hold the default
    )
    if not settings.key_file.exists():
        create_key_file(settings.key_file)
    return settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _time_selection(core: Core, samples: int = 5) -> tuple[float, float, int]:
    """Median and min seconds of `Reminders.due` for Monday, and the recipients."""
    times = []
    recipients = 0
    for _ in range(samples):
        with core.db.session() as session:
            started = time.perf_counter()
            due = core.reminders.due(session, MONDAY)
            times.append(time.perf_counter() - started)
            recipients = len(due)
    return statistics.median(times), min(times), recipients


def _selection(description: str, url: str, folder: Path, size: Size) -> tuple[str, float, float]:
    clock = JumpClock(datetime(2026, 11, 23, 9, 0, tzinfo=AMSTERDAM))
    core = open_core(_settings(folder, url, None), clock=clock)
    analyzed = None
    try:
        _seed(core, size, [2_000_000 + n for n in range(size.casemanagers)])
        median, least, recipients = _time_selection(core)
        if core.db.dialect == "postgresql":
            # Just after the seeding PostgreSQL has no statistics of these tables yet,
            # and plans as if they were small; autovacuum analyses them within a minute
            # or so of such a load. Measured both ways; the target holds for the first.
            with core.db.engine.connect() as connection:
                connection.execute(text("ANALYZE"))
                connection.commit()
            analyzed = _time_selection(core)
    finally:
        core.db.dispose()
    print(
        f"  selection, {description}: median {median * 1000:.0f} ms, min {least * 1000:.0f} ms"
        f" ({recipients} recipients)"
    )
    if analyzed is not None:
        print(
            f"  selection, {description}, after ANALYZE: median {analyzed[0] * 1000:.0f} ms,"
            f" min {analyzed[1] * 1000:.0f} ms"
        )
    return description, median, least


@dataclass
class SweepFigures:
    recipients: int
    messages: int
    digests_sent: int
    delivered: int
    throttled: int
    wall: float
    queued_in: float
    sending: float  # first delivery to last
    cpu: float  # process CPU seconds from the duty's start to the last delivery
    transactions: int  # database transactions of the bot (worker threads) in that time

    @property
    def floor(self) -> float:
        return self.recipients / PER_SECOND

    @property
    def ratio(self) -> float:
        return self.wall / self.floor if self.floor else float("nan")


async def _sweep(
    folder: Path, url: str, size: Size, *, lifted: bool = False, slow_commits: float = 0.0
) -> SweepFigures:
    """The duty and the outbox at Telegram's limits or, `lifted`, at 1,000 a second overall;
    `slow_commits`: seconds each commit takes longer (a busy or slow disk)."""
    name = "lifted" if lifted else f"limits-{slow_commits}"
    folder = folder / name  # its own keys and audit anchor
    folder.mkdir()
    telegram = FakeTelegram(
        limits=FloodLimits(global_per_second=LIFTED, global_burst=LIFTED) if lifted else None
    )
    await telegram.start()
    users = [
        telegram.add_user(f"Cm{n}", language_code="nl", started=True)
        for n in range(size.casemanagers)
    ]
    boss = telegram.add_user("Coordinator", language_code="nl", started=True)
    clock = JumpClock(datetime(2026, 11, 23, 8, 0, tzinfo=AMSTERDAM))  # before 08:30
    settings = _settings(folder, url, telegram)
    core = open_core(settings, clock=clock)
    _seed(core, size, [user.id for user in users], boss.id)
    with core.db.session() as session:
        expected = len(core.reminders.due(session, MONDAY))
    if slow_commits:

        def slow_disk(_connection: object) -> None:  # before COMMIT: the lock is held
            time.sleep(slow_commits)

        event.listen(core.db.engine, "commit", slow_disk)
    # Counted from the duty's start to the end. Listeners are added before the bot
    # runs and removed after it stopped: SQLAlchemy's lists of them are not for
    # changing while other threads use the engine.
    transactions = 0
    counting = [False]

    def begun(_connection: object) -> None:
        nonlocal transactions
        # The bot's work runs in the loop's worker threads, not in the watcher's.
        if counting[0] and threading.current_thread().name.startswith("asyncio"):
            transactions += 1

    event.listen(core.db.engine, "begin", begun)
    stop, ready = asyncio.Event(), asyncio.Event()
    pacer = Pacer(PaceLimits(overall_per_second=LIFTED) if lifted else None)
    bot = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1, pacer=pacer))
    await asyncio.wait_for(ready.wait(), timeout=60)
    await asyncio.sleep(1.0)  # the start-up duties (nothing due before 08:30) are done
    clock.jump(datetime(2026, 11, 23, 9, 0, tzinfo=AMSTERDAM))
    counting[0] = True
    started, cpu = time.monotonic(), time.process_time()
    run = await core.db.run(core.reminders.send_digests, core.db)
    queued_in = time.monotonic() - started

    def pending() -> int:
        with core.db.session() as session:
            return len(
                session.exec(
                    select(OutboxMessage.id).where(
                        OutboxMessage.status == "pending",
                        col(OutboxMessage.dedupe_key).like("digest:%"),
                    )
                ).all()
            )

    # Watched from a thread of its own: a query in the event loop would hold up the
    # bot (and the fake server) while it waits for the database, and the sends it
    # held back would then reach the server together.
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + 30 + 3 * run.parts / PER_SECOND
    with ThreadPoolExecutor(1, thread_name_prefix=_WATCHER) as watcher:
        while time.monotonic() < deadline:
            if await loop.run_in_executor(watcher, pending) == 0:
                break
            await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu
    counting[0] = False
    calls = [
        call
        for call in telegram.requests
        if call.method == "sendMessage" and "herinneringen" in str(call.params.get("text"))
    ]
    delivered = [call for call in calls if call.status == 200]
    with core.db.session() as session:
        failed = session.exec(
            select(OutboxMessage.dedupe_key, OutboxMessage.last_error).where(
                OutboxMessage.status == "failed"
            )
        ).all()
    for key, error in failed:
        print(f"  failed: {key} ({error})")
    last = max((call.at for call in delivered), default=0.0)
    first = min((call.at for call in delivered), default=0.0)
    # The fake stamps calls with its own monotonic clock (time.monotonic by default).
    wall = last - started
    stop.set()
    await asyncio.wait_for(bot, timeout=30)
    core.db.dispose()
    await telegram.stop()
    return SweepFigures(
        recipients=expected,
        messages=run.parts,
        digests_sent=len({str(call.params.get("chat_id")) for call in delivered}),
        delivered=len(
            {(str(c.params.get("chat_id")), str(c.params.get("text"))) for c in delivered}
        ),
        throttled=sum(1 for call in telegram.requests if call.status == 429),
        wall=wall,
        queued_in=queued_in,
        sending=last - first,
        cpu=cpu,
        transactions=transactions,
    )


def _rate(figures: SweepFigures) -> float:
    return (figures.delivered - 1) / figures.sending if figures.sending else float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 casemanagers, 2,000 actions")
    parser.add_argument("--database-url", help="also time the selection on this PostgreSQL")
    parser.add_argument(
        "--slow-commits",
        type=float,
        metavar="MS",
        help="also sweep with every commit MS milliseconds slower (a busy disk)",
    )
    args = parser.parse_args(argv)
    size = Size(200, 2000, 800) if args.quick else Size(1000, 10_000, 4000)
    logging.disable(logging.WARNING)
    print(
        f"{size.casemanagers} casemanagers, {size.actions} actions, {size.overdue} overdue"
        f" (Monday {MONDAY.isoformat()})"
    )
    checks: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="vhbot-bench-reminders-") as name:
        folder = Path(name)
        sqlite = SqliteDatabases(folder)
        with sqlite.fresh() as url:
            _, median, _least = _selection("SQLite", url, folder, size)
            checks["selection under 1 s on SQLite"] = median < TARGET_SELECT
        if args.database_url:
            postgres = PostgresDatabases(psycopg_url(args.database_url))
            try:
                with postgres.fresh() as url:
                    _, median, _least = _selection(postgres.description, url, folder, size)
                    checks["selection under 1 s on PostgreSQL"] = median < TARGET_SELECT
            finally:
                postgres.close()
        with sqlite.fresh() as url:
            figures = asyncio.run(_sweep(folder, url, size))
        with sqlite.fresh() as url:
            capacity = asyncio.run(_sweep(folder, url, size, lifted=True))
        slow = None
        if args.slow_commits:
            with sqlite.fresh() as url:
                slow = asyncio.run(_sweep(folder, url, size, slow_commits=args.slow_commits / 1000))
        sqlite.close()
    print(
        f"  sweep (real time, SQLite): {figures.digests_sent} digests sent to"
        f" {figures.recipients} recipients with something due, {figures.messages} messages"
        f" queued in {figures.queued_in:.2f} s, {figures.delivered} delivered"
    )
    print(
        f"  429s met: {figures.throttled}; wall time {figures.wall:.1f} s, floor"
        f" {figures.floor:.1f} s ({figures.recipients} / {PER_SECOND} per second):"
        f" ratio {figures.ratio:.3f}"
    )
    per_message = max(figures.messages, 1)
    print(
        f"  CPU: {figures.cpu / per_message * 1000:.1f} ms per message"
        f" (duty, sender and fake server, {figures.cpu:.1f} s in all);"
        f" {figures.transactions} database transactions"
        f" ({figures.transactions / per_message:.2f} per message)"
    )
    print(
        f"  capacity (overall limit lifted to {LIFTED}/s): {capacity.delivered} delivered in"
        f" {capacity.sending:.1f} s after the first, {_rate(capacity):.0f} a second;"
        f" CPU {capacity.cpu / max(capacity.messages, 1) * 1000:.1f} ms per message"
    )
    if slow is not None:
        print(
            f"  sweep with every commit {args.slow_commits:g} ms slower: {slow.delivered} of"
            f" {slow.messages} delivered, 429s met: {slow.throttled}, wall time {slow.wall:.1f} s,"
            f" ratio {slow.ratio:.3f}; {slow.transactions} database transactions"
        )
    checks["digests sent = recipients"] = figures.digests_sent == figures.recipients
    checks["no 429"] = figures.throttled == 0
    checks["no message lost"] = figures.delivered == figures.messages
    checks[f"ratio at most {TARGET_RATIO}"] = figures.ratio <= TARGET_RATIO
    for label, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
