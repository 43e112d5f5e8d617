"""Delivery under faults: 200 announcements, Telegram failing 30% of calls for a minute.

    .venv/bin/python -m bench.delivery            # about 2.5 min
    .venv/bin/python -m bench.delivery --quick    # 60 announcements, about 30 s

The real bot (`serve`: PTB Application, pacer, outbox sender, handlers, SQLite)
against the fake Bot API server with Telegram's flood limits. Time runs `--scale`
times faster than real time for everything that waits on a clock (the fake's
flood control and 429 windows, the bot's pacer, its clock for backoffs), so ten
minutes of Telegram's 20-per-minute group limit take half a minute. Latencies
of button acknowledgements and replies are measured in real time.

Two runs, each on a fresh database:
  baseline  no faults: how close to the group limit the bot delivers;
  faults    30% of calls fail for the first minute (5xx, connections dropped
            before or after the work), then none.
Then, with the group throttled (429 for every call there), members press
buttons and send a command in private: how long until each is answered.

Printed: time from the end of the faults to the last delivery beyond what the
limits allow (target under 15 s), duplicates (at most one per response lost
after the work), losses (0), 429s met (0 without injected throttling), and the
slowest button acknowledgement and private reply while the group is throttled
(target under 1 s). Everything is invented; files live in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import open_core
from bot.config import MIDDEN_LIMBURG, Settings
from bot.core import Core
from bot.domain.roles import Role
from bot.privacy.keys import create_key_file
from bot.runner import serve
from bot.sandbox.dpan_files import dpan_csv, dpan_rows, made_up_people
from bot.sandbox.fake_telegram import FakeTelegram, FakeUser, RecordedCall
from bot.scheduling.pacer import Pacer
from bot.services.audit import CLI
from bot.storage import migrate
from bot.storage.engine import make_engine

GROUP_PER_MINUTE = 20
MARK = "detentiemelding"


class ScaledTime:
    """Monotonic seconds, sleeps and a wall clock, all running `scale` times real time."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self._real_start = time.monotonic()
        self._wall_start = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)

    def __call__(self) -> float:
        return 1000.0 + (time.monotonic() - self._real_start) * self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.scale)

    def now(self) -> datetime:
        return self._wall_start + timedelta(seconds=self() - 1000.0)


@dataclass
class RunFigures:
    name: str
    count: int
    delivered: int
    duplicates: int
    lost_responses: int
    throttled: int
    fault_end: float  # scaled seconds from the start; 0 without faults
    last_delivery: float
    limit_floor: float  # the earliest the last one can go under the group limit
    took_real: float

    @property
    def beyond_limits(self) -> float:
        return self.last_delivery - max(self.limit_floor, self.fault_end)


def _announcement_calls(telegram: FakeTelegram, group_id: int) -> list[RecordedCall]:
    """Calls that put an announcement in the group: answered, or done with the answer lost."""
    lost = {id(call) for call in telegram.lost_responses}
    return [
        call
        for call in telegram.requests
        if call.method == "sendMessage"
        and str(call.params.get("chat_id")) == str(group_id)
        and MARK in str(call.params.get("text"))
        and (call.status == 200 or id(call) in lost)
    ]


def _settings(folder: Path, telegram: FakeTelegram, group_id: int) -> Settings:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_token=telegram.token,
        telegram_api_url=telegram.api_root,
        database_url=f"sqlite:///{folder / 'bench.sqlite3'}",
        partner_chat_id=group_id,
        key_file=folder / "bench.keys",
        inbox_dir=folder / "inbox",
        outbox_interval_seconds=0.05,
        edit_delay_seconds=0.3,
    )
    create_key_file(settings.key_file)
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    engine.dispose()
    return settings


def _members(core: Core, telegram: FakeTelegram, count: int) -> list[FakeUser]:
    users = []
    with core.db.session() as session:
        for number in range(count):
            code = f"ORG{number}"
            core.memberships.add_organisation(
                session, name=f"Organisatie {number}", code=code, themes=None, actor=CLI
            )
            user = telegram.add_user(f"Lid{number}", language_code="nl", started=True)
            core.memberships.add_member(
                session,
                telegram_id=user.id,
                name=f"Lid{number} Bench",
                organisation_code=code,
                roles=[Role.COORDINATOR] if number == 0 else [Role.PARTNER],
                actor=CLI,
            )
            users.append(user)
    return users


async def _run(
    name: str, count: int, scale: float, fault_rate: float
) -> tuple[RunFigures, float, float]:
    """One run; returns its figures and (with faults) the slowest ack and private reply."""
    scaled = ScaledTime(scale)
    telegram = FakeTelegram(monotonic=scaled)
    await telegram.start()
    group = telegram.add_group("Partners (bench)")
    with tempfile.TemporaryDirectory(prefix="vhbot-bench-delivery-") as name_:
        folder = Path(name_)
        settings = _settings(folder, telegram, group.id)
        core = open_core(settings, clock=scaled)
        members = _members(core, telegram, 6)
        today = scaled.now().date()
        dpan = folder / "dpan.csv"
        dpan.write_bytes(
            dpan_csv(dpan_rows(made_up_people(count, seed=count), MIDDEN_LIMBURG, today))
        )
        pacer = Pacer(monotonic=scaled, sleep=scaled.sleep)
        stop, ready = asyncio.Event(), asyncio.Event()
        bot = asyncio.create_task(serve(core, stop=stop, ready=ready, poll_timeout=1, pacer=pacer))
        await asyncio.wait_for(ready.wait(), timeout=30)
        start, real_start = scaled(), time.monotonic()
        report = await core.db.run(core.detention.import_path, dpan, actor=CLI)
        assert report.new == count, report
        fault_end = 0.0
        if fault_rate:
            telegram.fault_rate(fault_rate, seed=8)
            await scaled.sleep(60)
            telegram.fault_rate(0)
            fault_end = scaled() - start
        deadline = time.monotonic() + 600
        while len({c.params["text"] for c in _announcement_calls(telegram, group.id)}) < count:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        calls = _announcement_calls(telegram, group.id)
        took_real = time.monotonic() - real_start
        texts = Counter(str(call.params["text"]) for call in calls)
        # From the first announcement on, the group limit lets 20 go per minute.
        first = min(call.at for call in calls) - start if calls else 0.0
        limit_floor = first + 60.0 * ((count - 1) // GROUP_PER_MINUTE)
        lost = [
            c for c in telegram.lost_responses
            if c.method == "sendMessage" and MARK in str(c.params.get("text"))
        ]  # fmt: skip
        figures = RunFigures(
            name=name,
            count=count,
            delivered=len(texts),
            duplicates=sum(n - 1 for n in texts.values()),
            lost_responses=len(lost),
            throttled=sum(1 for call in telegram.requests if call.status == 429),
            fault_end=fault_end,
            last_delivery=max(call.at for call in calls) - start if calls else float("nan"),
            limit_floor=limit_floor,
            took_real=took_real,
        )
        slowest_ack, slowest_reply = await _throttled_group(telegram, group.id, members, scaled)
        stop.set()
        await asyncio.wait_for(bot, timeout=30)
        core.db.dispose()
    await telegram.stop()
    return figures, slowest_ack, slowest_reply


async def _throttled_group(
    telegram: FakeTelegram, group_id: int, members: list[FakeUser], scaled: ScaledTime
) -> tuple[float, float]:
    """The group answers 429 to everything; members press buttons and write privately.

    Returns the slowest real-time button acknowledgement and private reply, in seconds.
    """
    announced = [m for m in telegram.messages_to(group_id) if MARK in m.text]
    telegram.throttle(int(30 * scaled.scale), chat_id=group_id)  # 30 s of real time
    slowest_ack = slowest_reply = 0.0
    for index, member in enumerate(members[1:]):
        message = announced[index % len(announced)]
        pressed = time.monotonic()
        since = len(telegram.requests)
        query = telegram.press_button(member, message, message.button_data("Bekend"))
        await telegram.wait_for_call(
            "answerCallbackQuery",
            predicate=lambda c, q=query: c.params.get("callback_query_id") == q,
            since=since,
            timeout=30,
        )
        slowest_ack = max(slowest_ack, time.monotonic() - pressed)
        asked = time.monotonic()
        since_sent = len(telegram.sent)
        telegram.send_text(member, "/start")
        await telegram.wait_for_message(member.id, since=since_sent, timeout=30)
        slowest_reply = max(slowest_reply, time.monotonic() - asked)
        await asyncio.sleep(0.3)
    telegram.throttle(0, chat_id=group_id)
    return slowest_ack, slowest_reply


def _print(baseline: RunFigures, faults: RunFigures, ack: float, reply: float) -> bool:
    print(
        f"\n{faults.count} announcements to one group (Telegram: {GROUP_PER_MINUTE} a minute),"
        f" scaled time: the limits let the last one go 60 s per {GROUP_PER_MINUTE} after the"
        f" first (baseline at {baseline.limit_floor:.0f} s, faults at {faults.limit_floor:.0f} s)"
    )
    lost = f"{faults.duplicates} (responses lost: {faults.lost_responses})"
    rows = [
        ("", "baseline (no faults)", "30% faults, first minute"),
        ("delivered", f"{baseline.delivered}/{baseline.count}",
         f"{faults.delivered}/{faults.count}"),
        ("last delivery (s)", f"{baseline.last_delivery:.1f}", f"{faults.last_delivery:.1f}"),
        (
            "beyond the limits (s)",
            f"{baseline.beyond_limits:.1f}",
            f"{faults.beyond_limits:.1f} (faults ended at {faults.fault_end:.0f} s)",
        ),
        ("duplicates", str(baseline.duplicates), lost),
        ("429s met", str(baseline.throttled), f"{faults.throttled}"),
        ("real time (s)", f"{baseline.took_real:.1f}", f"{faults.took_real:.1f}"),
    ]  # fmt: skip
    for label, first, second in rows:
        print(f"  {label:<24}{first:<24}{second}")
    print(
        f"  group throttled: slowest button acknowledgement {ack * 1000:.0f} ms,"
        f" slowest private reply {reply * 1000:.0f} ms (real time)"
    )
    checks = {
        "beyond the limits under 15 s": faults.beyond_limits < 15,
        "no losses": faults.delivered == faults.count and baseline.delivered == baseline.count,
        "duplicates at most one per lost response": faults.duplicates <= faults.lost_responses
        and baseline.duplicates == 0,
        "no 429 in normal operation": baseline.throttled == 0,
        "acknowledgements and replies under 1 s": ack < 1 and reply < 1,
    }
    for label, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {label}")
    return all(checks.values())


async def _main(count: int, scale: float) -> bool:
    baseline, _ack0, _reply0 = await _run("baseline", count, scale, 0.0)
    faults, ack, reply = await _run("faults", count, scale, 0.3)
    return _print(baseline, faults, ack, reply)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 announcements, not 200")
    parser.add_argument(
        "--scale", type=float, default=None, help="time runs this much faster (10; quick: 20)"
    )
    args = parser.parse_args(argv)
    scale = args.scale or (20.0 if args.quick else 10.0)
    logging.disable(logging.WARNING)  # the faults are expected; the figures tell the story
    ok = asyncio.run(_main(60 if args.quick else 200, scale))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
