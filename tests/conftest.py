"""Shared fixtures.

Storage tests run on SQLite by default and on PostgreSQL when
VHBOT_TEST_DATABASE_URL points at a server (CI does both). The schema is
migrated once into a template; each test gets its own copy.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import shutil
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from faker import Faker
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bot.app import open_core
from bot.clock import FrozenClock
from bot.config import Settings
from bot.core import Core
from bot.domain.identity import Identity
from bot.privacy.keys import create_key_file
from bot.privacy.pii_guard import PiiGuard
from bot.sandbox.fake_telegram import FakeTelegram, ManualMonotonic
from bot.storage import migrate
from bot.storage.engine import make_engine

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PG_URL = os.environ.get("VHBOT_TEST_DATABASE_URL", "").strip()
_counter = itertools.count(1)


def _pg(url: str) -> str:
    return (
        url.replace("postgresql://", "postgresql+psycopg://", 1)
        if url.startswith("postgresql://")
        else url
    )


def process_env(settings: Settings | None = None, **overrides: str) -> dict[str, str]:
    """Environment for a `vhbot` subprocess: none of this shell's VHBOT_ settings, the
    database, key file and partner group of `settings` when given, then `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VHBOT_")}
    if settings is not None:
        env.update(
            VHBOT_DATABASE_URL=settings.database_url,
            VHBOT_KEY_FILE=str(settings.key_file),
            VHBOT_PARTNER_CHAT_ID=str(settings.partner_chat_id),
            VHBOT_WEB_PORT=str(settings.web_port),
        )
    env.update(overrides)
    return env


def operator_env(tmp_path: Path, database_url: str, **overrides: str) -> dict[str, str]:
    """A `vhbot` subprocess's environment once the operator ran `vhbot keys init` and
    `vhbot db upgrade`: a key file made here and the already migrated `database_url`
    (those two commands have tests of their own; each costs a subprocess start)."""
    key_file = tmp_path / "vhbot.keys"
    create_key_file(key_file)
    return process_env(VHBOT_DATABASE_URL=database_url, VHBOT_KEY_FILE=str(key_file), **overrides)


def free_port() -> int:
    """A port nobody listens on now (the web pages of a bot under test listen there).

    Taken from a range of 1,000 of this test process's own, below the system's
    ephemeral ports: a port found free here is not handed to another test process
    (pytest-xdist runs one per core; VHBOT_TEST_PORT_BASE moves the ranges for runs
    side by side), nor to an outgoing connection, before the bot listens on it.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    base = int(os.environ.get("VHBOT_TEST_PORT_BASE") or 10000) + 1000 * int(worker or 0)
    for candidate in random.sample(range(base, base + 1000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return candidate
    raise RuntimeError("no free port for the web pages under test")


async def start_vhbot(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """`vhbot ARGS` as a real process, its output captured."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


class PgCopies:
    """Copies of the migrated template on the PostgreSQL server, made ahead and dropped
    afterwards by one background thread.

    CREATE DATABASE and DROP DATABASE take about 70 and 85 ms of the server's work each;
    done while the tests run, a test takes a copy at once (about 2 minutes of a run).
    """

    AHEAD = 2

    def __init__(self, admin_url: str, template: str) -> None:
        self._admin_url, self._template = admin_url, template
        self._ready: list[str] = []
        self._to_drop: list[str] = []
        self._fault: BaseException | None = None
        self._stopping = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="pg-copies", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """A fresh copy's name (waits for one only when the thread is behind)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._ready or self._fault, timeout=120):
                raise TimeoutError("no copy of the test database within 120 s")
            if self._fault is not None:
                raise RuntimeError("copying the test database failed") from self._fault
            name = self._ready.pop(0)
            self._changed.notify_all()
            return name

    def give_back(self, name: str) -> None:
        with self._changed:
            self._to_drop.append(name)
            self._changed.notify_all()

    def close(self) -> None:
        """Stop the thread, then drop what is left (the copies not taken too)."""
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        self._thread.join(timeout=120)
        with psycopg.connect(self._admin_url, autocommit=True) as connection:
            for name in self._ready + self._to_drop:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _work(self) -> None:
        try:
            with psycopg.connect(self._admin_url, autocommit=True) as connection:
                while True:
                    with self._changed:
                        self._changed.wait_for(
                            lambda: self._stopping or self._to_drop or len(self._ready) < self.AHEAD
                        )
                        if self._stopping:
                            return
                        drop = self._to_drop.pop(0) if self._to_drop else None
                    if drop is not None:
                        connection.execute(f'DROP DATABASE IF EXISTS "{drop}" WITH (FORCE)')
                        continue
                    name = f"{self._template.removesuffix('_tpl')}_{os.getpid()}_{next(_counter)}"
                    connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
                    with self._changed:
                        self._ready.append(name)
                        self._changed.notify_all()
        except BaseException as exc:  # told to the test waiting in take()
            with self._changed:
                self._fault = exc
                self._changed.notify_all()


@dataclass
class DatabaseTemplate:
    dialect: str
    template: str  # SQLite: file path; PostgreSQL: database name
    admin_url: str = ""
    copies: PgCopies | None = None

    def clone(self, tmp_path: Path) -> str:
        if self.copies is None:
            target = tmp_path / "vhbot.sqlite3"
            shutil.copyfile(self.template, target)
            return f"sqlite:///{target}"
        name = self.copies.take()
        return make_url(self.admin_url).set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        if self.copies is not None:
            name = make_url(url).database
            assert name is not None
            self.copies.give_back(name)


@pytest.fixture(scope="session")
def database_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplate]:
    if not PG_URL:
        path = tmp_path_factory.mktemp("template") / "template.sqlite3"
        engine = make_engine(f"sqlite:///{path}")
        migrate.upgrade(engine)
        engine.dispose()
        yield DatabaseTemplate("sqlite", str(path))
        return
    admin_url = _pg(PG_URL)
    base = make_url(admin_url).database or "vhbot_test"
    # One template per test process (pytest-xdist runs several against one server).
    template = f"{base}_{os.environ.get('PYTEST_XDIST_WORKER', 'gw0')}_tpl"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{template}"'))
    admin.dispose()
    template_url = make_url(admin_url).set(database=template).render_as_string(False)
    engine = make_engine(template_url)
    migrate.upgrade(engine)
    engine.dispose()
    libpq_url = make_url(admin_url).set(drivername="postgresql").render_as_string(False)
    copies = PgCopies(libpq_url, template)
    try:
        yield DatabaseTemplate("postgresql", template, admin_url, copies)
    finally:
        copies.close()
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def database_url(database_template: DatabaseTemplate, tmp_path: Path) -> Iterator[str]:
    url = database_template.clone(tmp_path)
    yield url
    database_template.drop(url)


@pytest.fixture
def empty_database_url(database_template: DatabaseTemplate, tmp_path: Path) -> Iterator[str]:
    """A database with no schema at all, for migration tests."""
    if database_template.dialect == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"vhbot_empty_{os.getpid()}_{next(_counter)}"
    admin = create_engine(database_template.admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(database_template.admin_url).set(database=name).render_as_string(False)
    yield url
    database_template.drop(url)


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "secrets" / "vhbot.keys"
    create_key_file(path)
    return path


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 23, 9, 0, tzinfo=AMSTERDAM))


@pytest.fixture
def settings(database_url: str, key_file: Path, tmp_path: Path) -> Settings:
    web_port = free_port()
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token="123456:TEST-TOKEN",
        telegram_api_url="http://127.0.0.1:9",
        database_url=database_url,
        partner_chat_id=-1001234567890,
        key_file=key_file,
        inbox_dir=tmp_path / "inbox",
        web_port=web_port,
        public_url=f"http://127.0.0.1:{web_port}",
    )


@pytest.fixture
def core(settings: Settings, clock: FrozenClock) -> Iterator[Core]:
    opened = open_core(settings, clock=clock)
    yield opened
    opened.db.dispose()


@pytest.fixture
def fake() -> Faker:
    faker = Faker("nl_NL")
    faker.seed_instance(20261123)
    return faker


@dataclass
class People:
    """Generated Dutch identities; every one made here is watched in outgoing payloads."""

    faker: Faker
    made: list[Identity] = field(default_factory=list)

    def identity(self, *, with_bsn: bool = True) -> Identity:
        identity = Identity(
            surname=self.faker.last_name(),
            given_names=f"{self.faker.first_name()} {self.faker.first_name()}",
            birth_date=self.faker.date_of_birth(minimum_age=18, maximum_age=80),
            bsn=self.faker.ssn() if with_bsn else None,
        )
        self.made.append(identity)
        return identity


@pytest.fixture
def people(fake: Faker) -> People:
    return People(fake)


class PayloadLeak(AssertionError):
    pass


@pytest.fixture
def flood_clock() -> ManualMonotonic:
    """The fake server's flood-control clock; tests move it at a person's pace."""
    return ManualMonotonic()


@pytest.fixture
async def telegram(people: People, flood_clock: ManualMonotonic) -> AsyncIterator[FakeTelegram]:
    """The fake Bot API server, with a guard that fails the test if any payload leaks PII."""
    server = FakeTelegram(monotonic=flood_clock)

    def no_personal_data(method: str, params: Any) -> None:
        guard = PiiGuard(people.made)
        text = " ".join(str(value) for value in params.values())
        hits = guard.scan(text)
        if hits:
            raise PayloadLeak(
                f"{method} payload holds personal data: {sorted({h.kind for h in hits})}"
            )

    server.payload_observers.append(no_personal_data)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()
