"""Issue 11, reminders: the daily digest, escalation, stagnation and the ZRM, at the service.

The clock starts on Monday 2026-11-23 09:00 (Amsterdam) and moves only when told.
Actions are rows made by tests/plan_factory.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, time, timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.calendar import add_working_days
from bot.domain.plan import ActionState, ZrmDomain, action_button_data
from bot.domain.roles import Role, Theme
from bot.i18n import translator
from bot.scheduling.duties import send_reminders
from bot.services.audit import CLI
from bot.services.reminders import Reminders, digest_key
from bot.storage.models import Member, OutboxMessage
from bot.views.reminders import ActionDue, CaseDigest, Why, digest_parts
from tests import plan_factory as pf

MONDAY = date(2026, 11, 23)


@dataclass
class Team:
    coordinator: int
    other_coordinator: int
    casemanager: int
    owner: int  # a partner of POL
    colleague: int  # another partner of POL: shares POL's actions
    idle: int  # RN partner with nothing due
    pol: int  # organisation id


@pytest.fixture
def team(core: Core) -> Team:
    ms = core.memberships
    with core.db.session() as session:
        pol = ms.add_organisation(
            session, name="Politie Limburg", code="POL", themes=None, actor=CLI
        )
        ms.add_organisation(session, name="Reclassering", code="RN", themes=None, actor=CLI)
        assert pol.id is not None

        def add(telegram_id: int, org: str, role: Role, name: str | None = None) -> int:
            return pf.member(ms, session, telegram_id=telegram_id, org=org, roles=[role], name=name)

        return Team(
            coordinator=add(301, "RN", Role.COORDINATOR),
            other_coordinator=add(302, "RN", Role.COORDINATOR),
            casemanager=add(303, "RN", Role.CASEMANAGER),
            owner=add(304, "POL", Role.PARTNER, "Bram Eigenaar"),
            colleague=add(305, "POL", Role.PARTNER),
            idle=add(306, "RN", Role.PARTNER),
            pol=pol.id,
        )


def _digests(core: Core) -> dict[str, OutboxMessage]:
    with core.db.session() as session:
        rows = session.exec(
            select(OutboxMessage).where(col(OutboxMessage.dedupe_key).like("digest:%"))
        ).all()
        for row in rows:
            session.expunge(row)
    return {row.dedupe_key: row for row in rows}


def _digest(core: Core, member_id: int, day: date = MONDAY) -> OutboxMessage | None:
    return _digests(core).get(digest_key(member_id, day))


def _buttons(row: OutboxMessage) -> list[str]:
    assert row.reply_markup is not None
    markup = json.loads(row.reply_markup)
    return [button["callback_data"] for line in markup["inline_keyboard"] for button in line]


def _run(core: Core) -> int:
    """The duty as a fresh process runs it (no memory of an earlier run today)."""
    fresh = Reminders(settings=core.settings, clock=core.clock, cipher=core.cipher)
    return fresh.send_digests(core.db).digests


def test_one_digest_per_person_grouped_by_case_with_buttons(core: Core, team: Team) -> None:
    """Due within 2 working days or overdue, own and organisation's, grouped by case;
    an own title is named by its number; nothing for whoever has nothing due."""
    with core.db.session() as session:
        first = pf.case(session, opened=date(2026, 11, 2), casemanager=team.casemanager)
        second = pf.case(session, opened=date(2026, 11, 2), casemanager=team.casemanager)
        tomorrow = pf.action(
            session, case=first, deadline=date(2026, 11, 24), created_by=team.casemanager,
            owner=team.owner,
        )  # fmt: skip
        overdue = pf.action(
            session, case=first, deadline=date(2026, 11, 20), created_by=team.casemanager,
            owner=team.owner, domain=ZrmDomain.JUSTITIE, code=None, title_ct="sealed",
        )  # fmt: skip
        shared = pf.action(
            session, case=second, deadline=date(2026, 11, 25), created_by=team.casemanager,
            organisation=team.pol, domain=ZrmDomain.FINANCIEN, code="fin_schuldhulp",
        )  # fmt: skip
        pf.action(  # three working days ahead: not yet
            session, case=second, deadline=date(2026, 11, 26), created_by=team.casemanager,
            owner=team.owner, code="huis_opvang",
        )  # fmt: skip
        pf.action(  # done: never again
            session, case=second, deadline=date(2026, 11, 2), created_by=team.casemanager,
            owner=team.owner, state=ActionState.DONE,
        )  # fmt: skip
        refs = (first.reference, second.reference)
        ids = [(a.id, a.version) for a in (overdue, tomorrow, shared)]  # overdue first
    assert _run(core) == 2  # owner and colleague (the casemanager: nothing beyond 5 days)
    digests = _digests(core)
    assert set(digests) == {
        digest_key(team.owner, MONDAY),
        digest_key(team.colleague, MONDAY),
    }
    mine = digests[digest_key(team.owner, MONDAY)]
    text = mine.text
    assert text.startswith("Je herinneringen voor")
    assert text.index(refs[0]) < text.index(refs[1])
    first_block, second_block = text.split(refs[1])
    assert "woonruimte zoeken, deadline" in first_block
    assert "justitie: eigen actie #2" in first_block
    assert "te laat (1 werkdagen)" in first_block
    assert "aanmelden bij schuldhulpverlening" in second_block
    assert "opvang" not in text  # not yet due
    assert "sealed" not in text
    assert _buttons(mine) == [
        action_button_data(action_id, version, verb)
        for action_id, version in ids
        for verb in ("d", "p")
    ]
    theirs = digests[digest_key(team.colleague, MONDAY)]
    assert refs[0] not in theirs.text and refs[1] in theirs.text
    assert _buttons(theirs) == [action_button_data(*ids[2], "d"), action_button_data(*ids[2], "p")]
    assert mine.chat_id == 304  # the owner's Telegram id


def test_nothing_due_no_digest(core: Core, team: Team) -> None:
    with core.db.session() as session:
        opened = pf.case(session, opened=date(2026, 11, 2), casemanager=team.casemanager)
        pf.action(
            session, case=opened, deadline=date(2026, 12, 10), created_by=team.casemanager,
            owner=team.owner,
        )  # fmt: skip
    assert _run(core) == 0
    assert _digests(core) == {}


def test_run_twice_queues_once(core: Core, team: Team, clock: FrozenClock) -> None:
    """Again after a restart (a fresh process) and later the same day: nothing twice;
    the next working day brings the next digest."""
    with core.db.session() as session:
        opened = pf.case(session, opened=date(2026, 11, 2), casemanager=team.casemanager)
        pf.action(
            session, case=opened, deadline=date(2026, 11, 20), created_by=team.casemanager,
            owner=team.owner,
        )  # fmt: skip
    assert send_reminders(core) == 1
    assert send_reminders(core) == 0  # the running duty: done for today
    assert _run(core) == 0  # a restarted bot, or `vhbot sweep`
    clock.advance(timedelta(hours=6))
    assert _run(core) == 0
    assert len(_digests(core)) == 1
    clock.set(pf.local(date(2026, 11, 24), time(8, 30)))
    assert send_reminders(core) == 1
    assert set(_digests(core)) == {
        digest_key(team.owner, MONDAY),
        digest_key(team.owner, date(2026, 11, 24)),
    }


def test_not_before_the_reminder_time_nor_on_weekends_and_holidays(
    core: Core, team: Team, clock: FrozenClock
) -> None:
    """Christmas 2026 is a Friday: nothing then nor on the weekend; Monday 28 December
    counts the overdue working days without the holidays."""
    with core.db.session() as session:
        opened = pf.case(session, opened=date(2026, 12, 1), casemanager=team.casemanager)
        pf.action(
            session, case=opened, deadline=date(2026, 12, 24), created_by=team.casemanager,
            owner=team.owner,
        )  # fmt: skip
    clock.set(pf.local(date(2026, 12, 24), time(8, 29)))
    assert _run(core) == 0
    for day in (date(2026, 12, 25), date(2026, 12, 26), date(2026, 12, 27)):
        clock.set(pf.local(day, time(10, 0)))
        assert _run(core) == 0, day
    clock.set(pf.local(date(2026, 12, 28), time(8, 30)))
    assert _run(core) == 1
    row = _digest(core, team.owner, date(2026, 12, 28))
    assert row is not None
    assert "te laat (1 werkdagen)" in row.text  # the 24th's deadline; 25th, 26th off


@pytest.mark.parametrize(
    ("overdue", "casemanager_told", "coordinators_told"),
    [(5, False, False), (6, True, False), (10, True, False), (11, True, True)],
)
def test_escalation_after_5_and_10_working_days(
    core: Core, team: Team, overdue: int, casemanager_told: bool, coordinators_told: bool
) -> None:
    with core.db.session() as session:
        opened = pf.case(session, opened=date(2026, 11, 2), casemanager=team.casemanager)
        pf.action(
            session, case=opened, deadline=add_working_days(MONDAY, -overdue),
            created_by=team.casemanager, owner=team.owner,
        )  # fmt: skip
        reference = opened.reference
    _run(core)
    owner = _digest(core, team.owner)
    assert owner is not None and f"te laat ({overdue} werkdagen)" in owner.text
    casemanager = _digest(core, team.casemanager)
    assert (casemanager is not None) is casemanager_told
    for coordinator in (team.coordinator, team.other_coordinator):
        assert (_digest(core, coordinator) is not None) is coordinators_told
    if casemanager is not None:
        assert reference in casemanager.text
        # The owner is named; the buttons are the owner's.
        assert "woonruimte zoeken van Bram Eigenaar, deadline" in casemanager.text
        assert casemanager.reply_markup is None


def test_escalation_reaches_only_an_accepted_casemanager(core: Core, team: Team) -> None:
    with core.db.session() as session:
        opened = pf.case(
            session, opened=date(2026, 11, 2), casemanager=team.casemanager, accepted=False
        )
        pf.action(
            session, case=opened, deadline=add_working_days(MONDAY, -7),
            created_by=team.coordinator, organisation=team.pol,
        )  # fmt: skip
    _run(core)
    assert _digest(core, team.casemanager) is None
    shared = _digest(core, team.owner)
    assert shared is not None and "woonruimte zoeken, deadline" in shared.text


def test_stagnation_after_four_weeks_without_an_action_event(
    core: Core, team: Team, clock: FrozenClock
) -> None:
    with core.db.session() as session:
        quiet = pf.case(
            session, opened=date(2026, 10, 1), decided=date(2026, 10, 20),
            casemanager=team.casemanager,
        )  # fmt: skip
        pf.action(  # created 29 days ago, deadline far ahead: nothing else happened
            session, case=quiet, deadline=date(2027, 2, 1), created_by=team.casemanager,
            owner=team.owner, created_at=pf.local(date(2026, 10, 25)),
        )  # fmt: skip
        busy = pf.case(
            session, opened=date(2026, 10, 1), decided=date(2026, 10, 1),
            casemanager=team.casemanager,
        )  # fmt: skip
        moving = pf.action(
            session, case=busy, deadline=date(2027, 2, 1), created_by=team.casemanager,
            owner=team.owner, created_at=pf.local(date(2026, 10, 2)),
        )  # fmt: skip
        pf.event(session, moving, kind="postponed", at=pf.local(date(2026, 11, 10)))
        young = pf.case(  # decided 3 weeks ago, nothing in its plan yet
            session, opened=date(2026, 10, 1), decided=date(2026, 11, 2),
            casemanager=team.casemanager,
        )  # fmt: skip
        not_procesregie = pf.case(  # nazorg without procesregie: no stagnation rule
            session, opened=date(2026, 10, 1), theme=Theme.NAZORG, procesregie=False,
            casemanager=team.casemanager,
        )  # fmt: skip
        refs = [c.reference for c in (quiet, busy, young, not_procesregie)]
    _run(core)
    for member_id in (team.casemanager, team.coordinator, team.other_coordinator):
        row = _digest(core, member_id)
        assert row is not None, member_id
        assert "Stagnatie: geen actie toegevoegd, afgerond of uitgesteld sinds" in row.text
        stagnating = [ref for ref in refs if ref in row.text and "Stagnatie" in row.text]
        assert refs[0] in stagnating
        assert refs[1] not in row.text and refs[2] not in row.text
    assert _digest(core, team.owner) is None  # the owner hears of stagnation from nobody


def test_a_cancelled_action_is_not_reminded_and_changes_are_no_progress(
    core: Core, team: Team
) -> None:
    """A cancelled action drops out of the digests and escalation; giving an action to
    another owner or cancelling one does not count against stagnation (progress is an
    action added, completed or postponed)."""
    with core.db.session() as session:
        stuck = pf.case(
            session, opened=date(2026, 10, 1), decided=date(2026, 10, 20),
            casemanager=team.casemanager,
        )  # fmt: skip
        dropped = pf.action(  # long overdue, but cancelled last week
            session, case=stuck, deadline=date(2026, 10, 30), created_by=team.casemanager,
            owner=team.owner, state=ActionState.CANCELLED,
            created_at=pf.local(date(2026, 10, 25)),
        )  # fmt: skip
        pf.event(session, dropped, kind="cancelled", at=pf.local(date(2026, 11, 16)))
        handed_on = pf.action(  # due far ahead, given to another owner last week
            session, case=stuck, deadline=date(2027, 2, 1), created_by=team.casemanager,
            owner=team.colleague, created_at=pf.local(date(2026, 10, 25)),
        )  # fmt: skip
        pf.event(session, handed_on, kind="reassigned", at=pf.local(date(2026, 11, 17)))
        reference = stuck.reference
    _run(core)
    assert _digest(core, team.owner) is None  # the cancelled action: not reminded
    quiet_since = translator("nl").date(date(2026, 10, 25))
    for member_id in (team.casemanager, team.coordinator):
        row = _digest(core, member_id)
        assert row is not None, member_id
        assert reference in row.text
        assert f"Stagnatie: geen actie toegevoegd, afgerond of uitgesteld sinds {quiet_since}" in (
            row.text
        )
        assert "woonruimte zoeken" not in row.text  # no escalation of the cancelled one


def test_zrm_due_two_months_after_opening_then_six_after_the_first(core: Core, team: Team) -> None:
    with core.db.session() as session:
        # Opened 24 September: first due 24 November, within 2 working days.
        fresh = pf.case(
            session, opened=date(2026, 9, 24), decided=date(2026, 11, 1),
            casemanager=team.casemanager, theme=Theme.NAZORG, procesregie=False,
        )  # fmt: skip
        # Measured first on 20 May: the follow-up was due 20 November (overdue).
        followed = pf.case(
            session, opened=date(2026, 5, 1), decided=date(2026, 11, 1),
            casemanager=team.casemanager,
        )  # fmt: skip
        pf.measurement(session, case=followed, on=date(2026, 5, 20), by=team.casemanager)
        # Opened 26 September: first due 26 November, 3 working days ahead: not yet.
        later = pf.case(
            session, opened=date(2026, 9, 26), decided=date(2026, 11, 1),
            casemanager=team.casemanager,
        )  # fmt: skip
        # Both measurements done: nothing due any more.
        done = pf.case(
            session, opened=date(2025, 1, 1), decided=date(2026, 11, 1),
            casemanager=team.casemanager,
        )  # fmt: skip
        pf.measurement(session, case=done, on=date(2025, 2, 1), by=team.casemanager)
        pf.measurement(session, case=done, on=date(2025, 8, 1), by=team.casemanager)
        refs = [c.reference for c in (fresh, followed, later, done)]
    _run(core)
    row = _digest(core, team.casemanager)
    assert row is not None
    first_block, second_block = row.text.split(refs[1])
    assert refs[0] in first_block
    assert "ZRM: eerste meting uiterlijk dinsdag 24 november 2026" in first_block
    assert "ZRM: vervolgmeting uiterlijk vrijdag 20 november 2026" in second_block
    assert refs[2] not in row.text and refs[3] not in row.text
    assert _digest(core, team.coordinator) is None  # the ZRM is the casemanager's


def test_a_long_digest_is_split_within_telegrams_limits(core: Core, team: Team) -> None:
    """70 actions: more than 100 buttons and 4096 characters. Parts with their own keys,
    a case going on repeats its heading, every action once, every button once."""
    with core.db.session() as session:
        cases = [
            pf.case(session, opened=date(2026, 11, 2), casemanager=team.casemanager)
            for _ in range(7)
        ]
        made = [
            pf.action(
                session, case=cases[n % 7], deadline=date(2026, 11, 20), owner=team.owner,
                created_by=team.casemanager,
            ).id
            for n in range(70)
        ]  # fmt: skip
    assert _run(core) == 1
    parts = sorted(
        (row for key, row in _digests(core).items() if key.startswith(f"digest:{team.owner}:")),
        key=lambda row: row.id or 0,
    )
    assert len(parts) >= 2
    assert parts[0].dedupe_key == digest_key(team.owner, MONDAY)
    assert parts[1].dedupe_key == digest_key(team.owner, MONDAY, 2)
    buttons: list[str] = []
    for number, part in enumerate(parts, start=1):
        assert len(part.text) <= 4096
        assert f"(deel {number} van {len(parts)})" in part.text
        buttons += _buttons(part)
        assert len(_buttons(part)) <= 100
    assert len(buttons) == len(set(buttons)) == 140
    assert {int(data.split(":")[1]) for data in buttons} == set(made)
    assert any("(vervolg)" in part.text for part in parts[1:])


def test_english_for_a_member_who_chose_it(core: Core, team: Team) -> None:
    with core.db.session() as session:
        owner = session.get(Member, team.owner)
        assert owner is not None
        owner.language = "en"
        session.add(owner)
        opened = pf.case(session, opened=date(2026, 11, 2), casemanager=team.casemanager)
        pf.action(
            session, case=opened, deadline=MONDAY, created_by=team.casemanager, owner=team.owner
        )
    _run(core)
    row = _digest(core, team.owner)
    assert row is not None
    assert row.text.startswith("Your reminders for")
    assert "housing: find housing, deadline today" in row.text


def test_no_part_holds_more_than_100_buttons() -> None:
    """However much room the text leaves, 60 own actions (120 buttons) take two parts."""
    case = CaseDigest("VH-2026-0042", "P-7KQ4M2XZ", Theme.NAZORG)
    case.actions.extend(
        ActionDue(
            action_id=n, version=1, number=n, domain=ZrmDomain.ADL, catalogue_code=None,
            deadline=MONDAY, overdue=0, why=Why.OWNER,
        )
        for n in range(1, 61)
    )  # fmt: skip
    parts = digest_parts(translator("nl"), [case], MONDAY, limit=100_000)
    assert [part.buttons for part in parts] == [100, 20]
    assert "(vervolg)" in parts[1].text


def test_a_zrm_measured_twice_the_same_day_is_no_follow_up(core: Core, team: Team) -> None:
    """Two measurements on one day (the casemanager and a coordinator, or a slip) are
    still the first: the follow-up six months later stays due and is reminded."""
    with core.db.session() as session:
        case = pf.case(
            session, opened=date(2026, 4, 1), decided=date(2026, 11, 1),
            casemanager=team.casemanager,
        )  # fmt: skip
        pf.measurement(session, case=case, on=date(2026, 5, 20), by=team.casemanager)
        pf.measurement(session, case=case, on=date(2026, 5, 20), by=team.coordinator)
    _run(core)
    row = _digest(core, team.casemanager)
    assert row is not None
    assert "ZRM: vervolgmeting uiterlijk vrijdag 20 november 2026" in row.text


def test_what_is_due_needs_no_database_once_read(core: Core, team: Team) -> None:
    # Read in one session, used after it ended: nothing reads the database again (on
    # SQLite a new read would hold the write lock for as long as the object lives).
    with core.db.session() as session:
        case = pf.case(session, opened=MONDAY - timedelta(days=80), casemanager=team.casemanager)
        pf.action(
            session,
            case=case,
            deadline=MONDAY - timedelta(days=40),
            created_by=team.casemanager,
            owner=team.owner,
        )
    with core.db.session() as session:
        due = core.reminders.due(session, MONDAY)
    before = core.db.engine.pool.checkedout()
    escalated = due[team.coordinator][0].actions[0]
    assert (escalated.why, escalated.owner) == (Why.COORDINATOR, "Bram Eigenaar")
    assert core.db.engine.pool.checkedout() == before
