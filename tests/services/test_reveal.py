"""Reveal links: one member, one target, once, for ten minutes, behind a second factor.

The clock starts at 2026-11-23 09:00 (Amsterdam) and moves only when told.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.identity import Identity
from bot.domain.reveal import LinkKind, LinkState, PinProblem, pin_problem
from bot.domain.roles import Role, Theme
from bot.privacy.pii_guard import PiiGuard
from bot.sandbox.dpan_files import HEADER
from bot.services.audit import CLI
from bot.services.reveal import (
    CommandRefusal,
    IssuedLink,
    PinAccepted,
    PinSet,
    Refusal,
    Refused,
    RevealedCase,
    RevealedPerson,
    RevealError,
    token_hash,
)
from bot.storage.models import (
    Announcement,
    Answer,
    AuditEntry,
    Melding,
    Member,
    Organisation,
    OutboxMessage,
    Person,
    RevealLink,
    SetupCode,
)
from tests.conftest import People
from tests.locking import wait_until_blocked

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
PIN = "480159"
OTHER_PIN = "730264"


@dataclass
class World:
    partner: int  # POL, may see nazorg
    colleague: int  # GGZ, may see nazorg too
    outsider: int  # RAD, granted radicalisation only
    coordinator: int  # VHH coordinator
    announcements: list[int]
    case_id: int
    identities: list[Identity]


def _import(core: Core, tmp_path: Path, identities: list[Identity]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(HEADER)
    for n, identity in enumerate(identities, start=1):
        writer.writerow([
            f"REV-{n}", "uitstroom", identity.surname, identity.given_names,
            identity.birth_date.isoformat(), identity.bsn, "Weert", "PI Roermond",
            "2026-12-01", "Verblijft bij een vriend",
        ])  # fmt: skip
    path = tmp_path / "dpan-reveal.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    report = core.detention.import_path(path, actor="test")
    assert (report.new, report.rejected) == (len(identities), 0)


@pytest.fixture
def world(core: Core, people: People, tmp_path: Path) -> World:
    ms = core.memberships
    with core.db.session() as session:
        ms.add_organisation(session, name="Politie", code="POL", themes=None, actor=CLI)
        ms.add_organisation(session, name="GGZ", code="GGZ", themes=None, actor=CLI)
        ms.add_organisation(
            session, name="Radicaal", code="RAD", themes=[Theme.RADICALISERING], actor=CLI
        )
        ms.add_organisation(session, name="Veiligheidshuis", code="VHH", themes=None, actor=CLI)

        def member(telegram_id: int, org: str, role: Role = Role.PARTNER) -> int:
            added = ms.add_member(
                session,
                telegram_id=telegram_id,
                name=f"Medewerker {telegram_id}",
                organisation_code=org,
                roles=[role],
                actor=CLI,
            )
            assert added.id is not None
            return added.id

        ids = (
            member(101, "POL"),
            member(102, "GGZ"),
            member(103, "RAD"),
            member(104, "VHH", Role.COORDINATOR),
        )
    identities = [people.identity(), people.identity()]
    _import(core, tmp_path, identities)
    with core.db.session() as session:
        announcements = [
            a.id
            for a in session.exec(select(Announcement).order_by(col(Announcement.id)))
            if a.id is not None
        ]
        first = session.get(Announcement, announcements[0])
        assert first is not None and first.case_id is not None
        police = session.exec(select(Organisation).where(Organisation.code == "POL")).one()
        session.add(
            Answer(
                announcement_id=announcements[0],
                organisation_id=police.id or 0,
                member_id=ids[0],
                known=True,
                answered_at=core.clock.now(),
            )
        )
    return World(*ids, announcements, first.case_id, identities)


def now(core: Core) -> datetime:
    return core.clock.now()


def issue(core: Core, member_id: int, target: int, kind: LinkKind = LinkKind.ANNOUNCEMENT) -> str:
    """A link's token."""
    with core.db.session() as session:
        issued = core.reveals.issue_link(session, member_id, kind, target)
    assert isinstance(issued, IssuedLink), issued
    return issued.url.rsplit("/", 1)[1]


def setup_code(core: Core, member_id: int) -> str:
    with core.db.session() as session:
        # The coordinator (member 4) may not make their own: the server's operator does.
        actor = CLI if member_id == 4 else "member:4"
        return core.reveals.create_setup_code(session, member_id, actor).code


def set_pin(core: Core, token: str, code: str, pin: str = PIN) -> PinSet | Refused:
    with core.db.session() as session:
        return core.reveals.set_pin(session, token, code, pin, now=now(core))


def with_pin(core: Core, member_id: int, pin: str = PIN) -> None:
    """The member has chosen a PIN (with a set-up code, through a link of theirs)."""
    token = issue(core, member_id, _any_announcement(core))
    assert isinstance(set_pin(core, token, setup_code(core, member_id), pin), PinSet)


def _any_announcement(core: Core) -> int:
    with core.db.session() as session:
        return session.exec(select(Announcement.id)).first() or 0


def reveal(core: Core, token: str, pin: str = PIN) -> RevealedPerson | RevealedCase | Refused:
    with core.db.session() as session:
        return core.reveals.reveal(session, token, pin, now=now(core))


def check_pin(core: Core, token: str, pin: str) -> PinAccepted | Refused:
    with core.db.session() as session:
        return core.reveals.check_pin(session, token, pin, now=now(core))


def state(core: Core, token: str) -> LinkState:
    with core.db.session() as session:
        return core.reveals.open_link(session, token, now=now(core)).state


def audit(core: Core, *actions: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(action, actor, subject, details) of the entries with these actions, in order."""
    with core.db.session() as session:
        rows = session.exec(
            select(AuditEntry)
            .where(col(AuditEntry.action).in_(actions))
            .order_by(col(AuditEntry.seq))
        ).all()
    return [(r.action, r.actor, r.subject, json.loads(r.details)) for r in rows]


def refusals(core: Core) -> list[str]:
    return [details["reason"] for *_, details in audit(core, "reveal.refused")]


def test_a_link_shows_its_person_once_and_is_stored_only_as_a_hash(
    core: Core, world: World, people: People
) -> None:
    with core.db.session() as session:
        issued = core.reveals.issue_link(
            session, world.partner, LinkKind.ANNOUNCEMENT, world.announcements[0]
        )
    assert isinstance(issued, IssuedLink)
    assert issued.url.startswith(f"{core.settings.public_url}/r/")
    token = issued.url.rsplit("/", 1)[1]
    assert len(token) == 22  # 16 random bytes
    assert issued.expires_at == now(core) + timedelta(minutes=10)
    with core.db.session() as session:
        stored = session.get(RevealLink, issued.link_id)
        assert stored is not None and stored.token_hash == token_hash(token)
        assert token not in repr(session.exec(select(RevealLink)).all())

    with core.db.session() as session:
        first = core.reveals.open_link(session, token, now=now(core))
    assert (first.state, first.needs_setup, first.kind) == (
        LinkState.OK,
        True,
        LinkKind.ANNOUNCEMENT,
    )
    assert reveal(core, token) == Refused(Refusal.NO_PIN)
    code = setup_code(core, world.partner)
    assert len(code) == 11 and code[5] == "-"
    assert isinstance(set_pin(core, token, code), PinSet)
    with core.db.session() as session:
        again = core.reveals.open_link(session, token, now=now(core))
    assert (again.state, again.needs_setup) == (LinkState.OK, False)

    shown = reveal(core, token)
    assert isinstance(shown, RevealedPerson)
    identity = world.identities[0]
    assert shown.identity == identity and not shown.erased
    assert shown.announcement_id == world.announcements[0]
    assert shown.case_reference is not None and shown.case_reference.startswith("VH-2026-")
    melding = shown.melding
    assert (melding.soort, melding.municipality, melding.institution, melding.remark) == (
        "uitstroom",
        "Weert",
        "PI Roermond",
        "Verblijft bij een vriend",
    )
    assert [(a.organisation, a.known) for a in melding.answers] == [("Politie", True)]
    assert PiiGuard(people.made).scan(repr(shown)) == []  # nothing to leak through a log line
    assert "Verblijft" not in repr(shown)

    assert reveal(core, token) == Refused(Refusal.USED)
    assert state(core, token) is LinkState.USED
    link = f"reveal_link:{issued.link_id}"
    member = f"member:{world.partner}"
    assert [(a, actor, subject) for a, actor, subject, _ in audit(
        core, "reveal.issue", "reveal.setup_code", "reveal.pin_set", "reveal.view",
        "person.read", "reveal.refused",
    )] == [
        ("reveal.issue", member, link),
        ("reveal.refused", member, link),  # no PIN yet
        ("reveal.setup_code", "member:4", member),
        ("reveal.pin_set", member, member),
        ("person.read", member, f"person:{_person_of(core, world.announcements[0])}"),
        ("reveal.view", member, link),
        ("reveal.refused", member, link),  # reveal: used
        ("reveal.refused", member, link),  # open: used
    ]  # fmt: skip
    assert refusals(core) == ["no_pin", "used", "used"]
    _assert_no_personal_data_in_audit(core, people)


def _person_of(core: Core, announcement_id: int) -> int:
    with core.db.session() as session:
        announcement = session.get(Announcement, announcement_id)
        assert announcement is not None
        melding = session.get(Melding, announcement.subject_id)
        assert melding is not None
        return melding.person_id


def _assert_no_personal_data_in_audit(core: Core, people: People) -> None:
    with core.db.session() as session:
        written = " ".join(
            f"{e.actor} {e.subject} {e.details}" for e in session.exec(select(AuditEntry))
        )
    assert PiiGuard(people.made).scan(written) == []


def test_two_requests_at_once_reveal_only_once(core: Core, world: World) -> None:
    """The second request reads the link before the first commits; only one gets the data."""
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    results: list[object] = []

    def second() -> None:
        results.append(reveal(core, token))

    with core.db.session() as session:
        results.append(core.reveals.reveal(session, token, PIN, now=now(core)))
        thread = threading.Thread(target=second)
        thread.start()
        wait_until_blocked(core, thread, who="request")
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert isinstance(results[0], RevealedPerson)
    assert results[1] == Refused(Refusal.USED)
    assert [d["reason"] for *_, d in audit(core, "reveal.refused")] == ["used"]
    assert len(audit(core, "reveal.view")) == 1


def test_a_link_expires_after_ten_minutes(core: Core, world: World, clock: FrozenClock) -> None:
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    clock.advance(timedelta(minutes=9, seconds=59))
    assert state(core, token) is LinkState.OK
    clock.advance(timedelta(seconds=1))
    assert state(core, token) is LinkState.EXPIRED
    assert reveal(core, token) == Refused(Refusal.EXPIRED)
    assert check_pin(core, token, PIN) == Refused(Refusal.EXPIRED)
    assert refusals(core) == ["expired", "expired", "expired"]
    assert audit(core, "reveal.view") == []


def test_a_link_is_bound_to_its_member_and_its_target(core: Core, world: World) -> None:
    with_pin(core, world.partner, PIN)
    with_pin(core, world.colleague, OTHER_PIN)
    theirs = issue(core, world.partner, world.announcements[1])
    # The colleague's own PIN does not open the partner's link: it counts as wrong.
    assert reveal(core, theirs, OTHER_PIN) == Refused(Refusal.WRONG_PIN, attempts_left=4)
    assert check_pin(core, theirs, OTHER_PIN) == Refused(Refusal.WRONG_PIN, attempts_left=3)
    assert [(actor, d["failures"]) for _, actor, _, d in audit(core, "reveal.pin_failed")] == [
        (f"member:{world.partner}", 1),
        (f"member:{world.partner}", 2),
    ]
    shown = reveal(core, theirs, PIN)
    assert isinstance(shown, RevealedPerson)
    # The link's own announcement, not the other one.
    assert shown.announcement_id == world.announcements[1]
    assert shown.identity == world.identities[1]
    [(_, actor, _, details)] = audit(core, "reveal.view")
    assert (actor, details["target"]) == (f"member:{world.partner}", world.announcements[1])


def test_only_entitled_members_get_a_link_and_the_rule_is_checked_again(
    core: Core, world: World
) -> None:
    with core.db.session() as session:
        refused = core.reveals.issue_link(
            session, world.outsider, LinkKind.ANNOUNCEMENT, world.announcements[0]
        )
        no_target = core.reveals.issue_link(session, world.partner, LinkKind.ANNOUNCEMENT, 999)
        not_coordinator = core.reveals.issue_link(
            session, world.partner, LinkKind.CASE, world.case_id
        )
    assert refused == Refused(Refusal.NOT_ALLOWED)
    assert no_target == Refused(Refusal.NO_TARGET)
    assert not_coordinator == Refused(Refusal.NOT_ALLOWED)
    with core.db.session() as session:
        assert session.exec(select(RevealLink)).all() == []

    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    # The organisation loses the theme after the link was sent.
    with core.db.session() as session:
        police = session.exec(select(Organisation).where(Organisation.code == "POL")).one()
        police.themes = "jeugd"
        session.add(police)
    assert state(core, token) is LinkState.NOT_ALLOWED
    assert reveal(core, token) == Refused(Refusal.NOT_ALLOWED)
    assert refusals(core) == ["not_allowed", "no_target", "not_allowed"] + ["not_allowed"] * 2
    assert audit(core, "reveal.view") == []


def test_a_coordinator_sees_the_case_page(core: Core, world: World) -> None:
    with_pin(core, world.coordinator)
    token = issue(core, world.coordinator, world.case_id, LinkKind.CASE)
    shown = reveal(core, token)
    assert isinstance(shown, RevealedCase)
    assert shown.case_id == world.case_id and shown.reference.startswith("VH-2026-")
    assert shown.identity == world.identities[0]
    assert [(m.soort, m.remark) for m in shown.meldingen] == [
        ("uitstroom", "Verblijft bij een vriend")
    ]
    assert [a.organisation for a in shown.meldingen[0].answers] == ["Politie"]
    # Not a coordinator any more: the case's link is refused.
    token = issue(core, world.coordinator, world.case_id, LinkKind.CASE)
    with core.db.session() as session:
        coordinator = session.get(Member, world.coordinator)
        assert coordinator is not None
        coordinator.roles = "partner"
        session.add(coordinator)
    assert reveal(core, token) == Refused(Refusal.NOT_ALLOWED)


def test_an_inactive_member_gets_no_link_and_cannot_use_one(core: Core, world: World) -> None:
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    with core.db.session() as session:
        member = session.get(Member, world.partner)
        assert member is not None
        member.active = False  # as an older version or the database would leave it
        session.add(member)
    assert state(core, token) is LinkState.MEMBER_INACTIVE
    assert reveal(core, token) == Refused(Refusal.MEMBER_INACTIVE)
    with core.db.session() as session:
        issued = core.reveals.issue_link(
            session, world.partner, LinkKind.ANNOUNCEMENT, world.announcements[0]
        )
        with pytest.raises(RevealError):
            core.reveals.create_setup_code(session, world.partner, CLI)
    assert issued == Refused(Refusal.MEMBER_INACTIVE)
    assert refusals(core) == ["member_inactive"] * 3


def test_five_wrong_pins_lock_every_link_until_unlocked(core: Core, world: World) -> None:
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    other = issue(core, world.partner, world.announcements[1])
    for left in (4, 3, 2, 1):
        assert check_pin(core, token, "111222") == Refused(Refusal.WRONG_PIN, attempts_left=left)
    assert check_pin(core, token, PIN) == PinAccepted(world.partner)  # resets the count
    for left in (4, 3, 2, 1):
        assert check_pin(core, token, "111222") == Refused(Refusal.WRONG_PIN, attempts_left=left)
    assert reveal(core, token, "111222") == Refused(Refusal.LOCKED, attempts_left=0)

    assert reveal(core, token, PIN) == Refused(Refusal.LOCKED)
    assert state(core, other) is LinkState.LOCKED
    with core.db.session() as session:
        assert core.reveals.issue_link(
            session, world.partner, LinkKind.ANNOUNCEMENT, world.announcements[0]
        ) == Refused(Refusal.LOCKED)
    assert [d["failures"] for *_, d in audit(core, "reveal.pin_failed")] == [1, 2, 3, 4] * 2 + [5]
    assert [(a, s) for a, _, s, _ in audit(core, "reveal.lock")] == [
        ("reveal.lock", f"member:{world.partner}")
    ]
    # The coordinators hear of the lock at once (it may be someone else guessing).
    with core.db.session() as session:
        told = session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith("reveal-lock:")
        )).all()  # fmt: skip
    assert [m.chat_id for m in told] == [104]
    assert f"Lid {world.partner} (Medewerker 101, Politie)" in told[0].text
    assert f"/ontgrendel {world.partner}" in told[0].text

    with core.db.session() as session:
        # A stolen account that locked itself guessing cannot unlock itself.
        with pytest.raises(RevealError) as own:
            core.reveals.unlock(session, world.partner, f"member:{world.partner}")
        assert own.value.reason is CommandRefusal.SELF
        assert core.reveals.unlock(session, world.partner, "member:4") is True
        with pytest.raises(RevealError):
            core.reveals.unlock(session, 999, "member:4")
    assert isinstance(reveal(core, other, PIN), RevealedPerson)
    # The count starts again from zero after the unlock.
    assert check_pin(core, token, "111222") == Refused(Refusal.WRONG_PIN, attempts_left=4)
    assert [(actor, d) for _, actor, _, d in audit(core, "reveal.unlock")] == [
        ("member:4", {"was_locked": True})
    ]


@pytest.mark.parametrize(
    ("pin", "problem"),
    [
        ("000000", PinProblem.TRIVIAL),
        ("777777", PinProblem.TRIVIAL),
        ("123456", PinProblem.TRIVIAL),
        ("654321", PinProblem.TRIVIAL),
        ("345678", PinProblem.TRIVIAL),
        ("890123", PinProblem.TRIVIAL),
        ("121212", PinProblem.TRIVIAL),
        ("12345", PinProblem.MALFORMED),
        ("1234567", PinProblem.MALFORMED),
        ("12a456", PinProblem.MALFORMED),
        ("١٢٣٤٥٦", PinProblem.MALFORMED),  # digits, but not ASCII ones
        (PIN, None),
        ("100000", None),
        ("123457", None),
    ],
)
def test_pin_rules(pin: str, problem: PinProblem | None) -> None:
    assert pin_problem(pin) is problem


def test_a_trivial_pin_is_refused_and_the_code_stays_usable(core: Core, world: World) -> None:
    token = issue(core, world.partner, world.announcements[0])
    code = setup_code(core, world.partner)
    assert set_pin(core, token, code, "123456") == Refused(Refusal.PIN_TRIVIAL)
    assert set_pin(core, token, code, "12 456") == Refused(Refusal.PIN_MALFORMED)
    assert isinstance(set_pin(core, token, code, PIN), PinSet)
    assert refusals(core) == ["pin_trivial", "pin_malformed"]


def test_a_setup_code_works_once_within_72_hours(
    core: Core, world: World, clock: FrozenClock
) -> None:
    code = setup_code(core, world.partner)
    clock.advance(timedelta(hours=72))
    token = issue(core, world.partner, world.announcements[0])
    assert set_pin(core, token, code) == Refused(Refusal.SETUP_CODE_EXPIRED)

    older = setup_code(core, world.partner)
    code = setup_code(core, world.partner)  # a newer code replaces it...
    # ...so the older one is wrong now (and counts like a wrong PIN).
    assert set_pin(core, token, older) == Refused(Refusal.SETUP_CODE_WRONG, attempts_left=4)
    assert isinstance(set_pin(core, token, code.lower().replace("-", " ")), PinSet)
    assert set_pin(core, token, code, OTHER_PIN) == Refused(Refusal.SETUP_CODE_USED)
    assert check_pin(core, token, PIN) == PinAccepted(world.partner)
    assert check_pin(core, token, OTHER_PIN) == Refused(Refusal.WRONG_PIN, attempts_left=4)

    with core.db.session() as session:
        codes = session.exec(select(SetupCode).order_by(col(SetupCode.id))).all()
        assert [c.code_hash.startswith("scrypt$") for c in codes] == [True] * 3
        assert all(code.replace("-", "") not in c.code_hash for c in codes)
    assert refusals(core) == ["setup_code_expired", "setup_code_used"]
    assert [d["factor"] for *_, d in audit(core, "reveal.pin_failed")] == ["setup_code", "pin"]
    assert [d["replaced"] for *_, d in audit(core, "reveal.setup_code")] == [0, 1, 1]


def test_the_31st_reveal_of_a_day_is_refused_and_the_coordinators_are_told_once(
    core: Core, world: World, clock: FrozenClock
) -> None:
    with_pin(core, world.partner)
    today = datetime(2026, 11, 23, 0, 0, 30, tzinfo=AMSTERDAM)  # 23:00:30 UTC the day before
    with core.db.session() as session:
        for n in range(30):
            # One just before local midnight does not count; 29 today do.
            at = today - timedelta(minutes=1) if n == 0 else today
            session.add(
                RevealLink(
                    token_hash=f"{n:064x}",
                    member_id=world.partner,
                    kind="announcement",
                    target_id=world.announcements[0],
                    created_at=at,
                    expires_at=at + timedelta(minutes=10),
                    used_at=at,
                )
            )
    assert isinstance(
        reveal(core, issue(core, world.partner, world.announcements[0])), RevealedPerson
    )
    token = issue(core, world.partner, world.announcements[0])
    assert reveal(core, token) == Refused(Refusal.DAILY_LIMIT)
    assert reveal(core, issue(core, world.partner, world.announcements[1])) == Refused(
        Refusal.DAILY_LIMIT
    )
    with core.db.session() as session:
        told = session.exec(select(OutboxMessage).where(
            col(OutboxMessage.dedupe_key).startswith("reveal-limit:")
        )).all()  # fmt: skip
    assert [(m.dedupe_key, m.chat_id) for m in told] == [
        (f"reveal-limit:{world.partner}:2026-11-23:{world.coordinator}", 104)
    ]
    assert f"Lid {world.partner} (Medewerker 101, Politie)" in told[0].text
    assert refusals(core) == ["daily_limit", "daily_limit"]

    clock.set(datetime(2026, 11, 24, 0, 0, tzinfo=AMSTERDAM))  # the next local day
    assert isinstance(
        reveal(core, issue(core, world.partner, world.announcements[0])), RevealedPerson
    )


def test_revoking_ends_every_open_link(core: Core, world: World, clock: FrozenClock) -> None:
    with_pin(core, world.partner)
    expired = issue(core, world.partner, world.announcements[0])
    clock.advance(timedelta(minutes=11))
    used = issue(core, world.partner, world.announcements[0])
    assert isinstance(reveal(core, used), RevealedPerson)
    first = issue(core, world.partner, world.announcements[0])
    second = issue(core, world.partner, world.announcements[1])
    colleague = issue(core, world.colleague, world.announcements[1])
    with core.db.session() as session:
        assert core.reveals.revoke_links(session, world.partner, "member:4") == 2
        with pytest.raises(RevealError):
            core.reveals.revoke_links(session, 999, "member:4")
    assert [state(core, t) for t in (first, second, used, expired, colleague)] == [
        LinkState.REVOKED,
        LinkState.REVOKED,
        LinkState.USED,
        LinkState.EXPIRED,
        LinkState.OK,
    ]
    assert reveal(core, first) == Refused(Refusal.REVOKED)
    assert [(actor, subject, d) for _, actor, subject, d in audit(core, "reveal.revoke")] == [
        ("member:4", f"member:{world.partner}", {"links": 2})
    ]


def test_deactivating_a_member_revokes_their_links(core: Core, world: World) -> None:
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    with core.db.session() as session:
        core.memberships.deactivate(session, member_id=world.partner, actor=CLI)
    assert state(core, token) is LinkState.REVOKED
    assert reveal(core, token) == Refused(Refusal.REVOKED)
    [(*_, details)] = audit(core, "member.deactivate")
    assert details["revoked_links"] == 2  # with the one its PIN was set through


def test_an_erased_person_shows_as_erased(core: Core, world: World, clock: FrozenClock) -> None:
    with_pin(core, world.coordinator)
    announcement = issue(core, world.coordinator, world.announcements[0])
    case = issue(core, world.coordinator, world.case_id, LinkKind.CASE)
    with core.db.session() as session:
        person = session.get(Person, _person_of(core, world.announcements[0]))
        assert person is not None
        person.identity_ct, person.erased_at = None, clock.now()
        session.add(person)
        for melding in session.exec(select(Melding).where(Melding.person_id == person.id)):
            melding.remark_ct, melding.erased_at = None, clock.now()
            session.add(melding)
    shown = reveal(core, announcement)
    assert isinstance(shown, RevealedPerson)
    assert shown.erased and shown.identity is None
    assert (shown.melding.erased, shown.melding.remark, shown.melding.institution) == (
        True,
        None,
        "PI Roermond",
    )
    whole = reveal(core, case)
    assert isinstance(whole, RevealedCase) and whole.erased
    assert [d["erased"] for *_, d in audit(core, "reveal.view")] == [True, True]
    assert audit(core, "person.read") == []


@pytest.mark.parametrize("token", ["", "short", "x" * 200, "A" * 21 + "=", "Ä" * 22])
def test_a_token_that_is_no_link_is_refused_as_unknown(
    core: Core, world: World, token: str
) -> None:
    assert state(core, token) is LinkState.UNKNOWN
    assert reveal(core, token) == Refused(Refusal.UNKNOWN)
    assert reveal(core, "A" * 22) == Refused(Refusal.UNKNOWN)  # well formed, never issued
    assert [(actor, subject, d["reason"]) for _, actor, subject, d in audit(
        core, "reveal.refused"
    )] == [("web", "", "unknown")] * 3  # fmt: skip


def test_a_setup_code_needs_a_second_person(core: Core, world: World) -> None:
    """Nobody makes their own set-up code, nor one for a member they invited: else one
    stolen coordinator account could invite a stand-in and give it a PIN."""
    with core.db.session() as session:
        with pytest.raises(RevealError) as own:
            core.reveals.create_setup_code(
                session, world.coordinator, f"member:{world.coordinator}"
            )
        assert own.value.reason is CommandRefusal.SELF
        issued = core.memberships.create_invite(
            session, organisation_code="POL", roles=[Role.PARTNER], actor="member:4"
        )
        joined = core.memberships.redeem_invite(
            session, telegram_id=555, code_text=issued.code, display_name="Nieuw Lid", language="nl"
        )
        assert joined.member is not None
        newcomer = joined.member.member_id
    with core.db.session() as session:
        with pytest.raises(RevealError) as invited:
            core.reveals.create_setup_code(session, newcomer, "member:4")
        assert invited.value.reason is CommandRefusal.OWN_INVITEE
        assert core.reveals.create_setup_code(session, newcomer, CLI).member_id == newcomer
    assert [d for *_, d in audit(core, "reveal.setup_code")][-1]["replaced"] == 0


def test_a_link_names_its_subject_and_whether_a_pin_is_set(core: Core, world: World) -> None:
    with core.db.session() as session:
        first = core.reveals.issue_link(
            session, world.partner, LinkKind.ANNOUNCEMENT, world.announcements[0]
        )
        case = core.reveals.issue_link(session, world.coordinator, LinkKind.CASE, world.case_id)
        unknown = core.reveals.issue_case_link(session, world.coordinator, "VH-2099-9999")
    assert isinstance(first, IssuedLink) and isinstance(case, IssuedLink)
    assert first.needs_setup and first.subject.startswith("VH-2026-")
    assert case.subject == first.subject
    assert unknown == Refused(Refusal.NO_TARGET)
    with_pin(core, world.partner)
    with core.db.session() as session:
        again = core.reveals.issue_case_link(session, world.coordinator, case.subject)
        second = core.reveals.issue_link(
            session, world.partner, LinkKind.ANNOUNCEMENT, world.announcements[0]
        )
    assert isinstance(again, IssuedLink) and isinstance(second, IssuedLink)
    assert not second.needs_setup and again.needs_setup  # the coordinator has no PIN


def test_a_withdrawn_link_cannot_be_used(core: Core, world: World) -> None:
    with_pin(core, world.partner)
    with core.db.session() as session:
        issued = core.reveals.issue_link(
            session, world.partner, LinkKind.ANNOUNCEMENT, world.announcements[0]
        )
        assert isinstance(issued, IssuedLink)
        core.reveals.withdraw_link(session, issued.link_id, "no_private_chat")
        core.reveals.withdraw_link(session, issued.link_id, "no_private_chat")  # once is enough
    token = issued.url.rsplit("/", 1)[1]
    assert reveal(core, token) == Refused(Refusal.REVOKED)
    assert [(s, d) for _, _, s, d in audit(core, "reveal.withdraw")] == [
        (f"reveal_link:{issued.link_id}", {"reason": "no_private_chat"})
    ]


def test_links_and_codes_are_purged_a_month_after_they_ended(
    core: Core, world: World, clock: FrozenClock
) -> None:
    old_link = issue(core, world.partner, world.announcements[0])
    setup_code(core, world.colleague)
    clock.advance(timedelta(days=27))
    recent = issue(core, world.partner, world.announcements[0])
    with core.db.session() as session:
        assert core.reveals.purge(session, now(core)) == 0
    clock.advance(timedelta(days=4))  # the first link ended 31 days ago, the code 28
    with core.db.session() as session:
        assert core.reveals.purge(session, now(core)) == 1
    assert state(core, old_link) is LinkState.UNKNOWN
    assert state(core, recent) is LinkState.EXPIRED
    clock.advance(timedelta(days=3))
    with core.db.session() as session:
        assert core.reveals.purge(session, now(core)) == 1  # the code, 31 days after it ended
        assert session.exec(select(SetupCode)).all() == []
    assert [d for *_, d in audit(core, "reveal.purge")] == [
        {"links": 1, "setup_codes": 0},
        {"links": 0, "setup_codes": 1},
    ]
