"""/stand at the service: every part on known data, only the coordinator's themes, and
the report figures through the QuarterCounts interface.

The clock stands on Monday 2026-11-23 09:00 (Amsterdam), in Q4 2026.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.decisions import AssignmentState, CloseReason, Decision, DeclineReason
from bot.domain.meetings import MeetingType
from bot.domain.plan import ActionState
from bot.domain.roles import Role, Theme
from bot.domain.stand import Quarter, ThemeCounts
from bot.services.answer_rates import AnswerRates
from bot.services.audit import CLI
from bot.services.stand import Stand
from bot.storage.models import (
    Announcement,
    Answer,
    Case,
    CaseAssignment,
    Melding,
    Organisation,
    Person,
)
from bot.views.stand import StandFacts
from tests import plan_factory as pf

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TODAY = date(2026, 11, 23)
_persons = itertools.count(1)


@dataclass
class Team:
    coordinator: int  # RN: every theme but radicalisering
    radical_coordinator: int  # RAD: radicalisering only
    casemanager: int
    partner: int  # POL
    rn: int
    pol: int


@pytest.fixture
def team(core: Core) -> Team:
    ms = core.memberships
    with core.db.session() as session:
        rn = ms.add_organisation(session, name="Reclassering", code="RN", themes=None, actor=CLI)
        pol = ms.add_organisation(session, name="Politie", code="POL", themes=None, actor=CLI)
        ms.add_organisation(
            session, name="Radicaal", code="RAD", themes=[Theme.RADICALISERING], actor=CLI
        )
        assert rn.id is not None and pol.id is not None

        def add(telegram_id: int, org: str, role: Role, name: str) -> int:
            return pf.member(ms, session, telegram_id=telegram_id, org=org, roles=[role], name=name)

        return Team(
            coordinator=add(401, "RN", Role.COORDINATOR, "Fenna Coördinator"),
            radical_coordinator=add(402, "RAD", Role.COORDINATOR, "Kim Radicaal"),
            casemanager=add(403, "RN", Role.CASEMANAGER, "Sanne Casemanager"),
            partner=add(404, "POL", Role.PARTNER, "Bram Politie"),
            rn=rn.id,
            pol=pol.id,
        )


def decided(
    session: Session,
    theme: Theme,
    decision: Decision | None,
    *,
    opened: date,
    on: date | None = None,
) -> Case:
    """A case of `theme` with `decision` taken `on` (doorgeleid closes it), or in triage."""
    row = pf.case(session, opened=opened, theme=theme, procesregie=False)
    if decision is not None:
        row.decision, row.decided_at = decision.value, pf.local(on or opened)
        row.procesregie = decision is Decision.PROCESREGIE
        if decision is not Decision.PROCESREGIE:
            row.closed_at = row.decided_at
    session.add(row)
    session.flush()
    return row


def melding(
    session: Session,
    *,
    theme: Theme,
    on: date,
    bron: str = "politie",
    soort: str = "melding",
    person_id: int | None = None,
) -> None:
    if person_id is None:
        person = Person(
            identity_key=f"stand-{next(_persons)}",
            pseudonym=f"P-{next(_persons):08d}",
            created_at=pf.local(on),
            identity_stored_at=pf.local(on),
        )
        session.add(person)
        session.flush()
        assert person.id is not None
        person_id = person.id
    session.add(
        Melding(
            bron_id=f"b{next(_persons)}",
            soort=soort,
            bron=bron,
            theme=theme.value,
            person_id=person_id,
            municipality="Weert",
            event_date=on,
            received_at=pf.local(TODAY),
        )
    )
    session.flush()


def facts(core: Core, member_id: int, theme: Theme | None = None) -> StandFacts:
    with core.db.session() as session:
        found = core.stand.facts(session, core.clock.now(), member_id=member_id, theme=theme)
    assert found is not None
    return found


def test_open_cases_per_theme_and_doorgeleid_this_quarter(core: Core, team: Team) -> None:
    with core.db.session() as session:
        for _ in range(2):
            decided(session, Theme.TOP_X, None, opened=date(2026, 11, 2))
        decided(session, Theme.TOP_X, Decision.PROCESREGIE, opened=date(2026, 9, 1))
        decided(session, Theme.TOP_X, Decision.DOORGELEID, opened=date(2026, 10, 5))
        # Doorgeleid last quarter, and afgesloten this one: neither counts.
        decided(
            session, Theme.TOP_X, Decision.DOORGELEID, opened=date(2026, 9, 1), on=date(2026, 9, 30)
        )
        decided(session, Theme.TOP_X, Decision.AFGESLOTEN, opened=date(2026, 10, 5))
        decided(
            session,
            Theme.JEUGD,
            Decision.DOORGELEID,
            opened=date(2026, 10, 1),
            on=date(2026, 10, 1),
        )
        decided(session, Theme.RADICALISERING, None, opened=date(2026, 11, 2))
    shown = facts(core, team.coordinator)
    assert Theme.RADICALISERING not in shown.themes
    rows = {row.theme: (row.triage, row.procesregie, row.doorgeleid) for row in shown.open_cases}
    assert set(rows) == set(Theme) - {Theme.RADICALISERING}
    assert rows[Theme.TOP_X] == (2, 1, 1)
    assert rows[Theme.JEUGD] == (0, 0, 1)
    assert rows[Theme.OGGZ] == (0, 0, 0)
    circle = facts(core, team.radical_coordinator)
    assert circle.themes == (Theme.RADICALISERING,)
    assert [(r.theme, r.triage) for r in circle.open_cases] == [(Theme.RADICALISERING, 1)]
    # Narrowed to one theme; a theme outside the circle is refused, not counted as zero.
    narrowed = facts(core, team.coordinator, Theme.JEUGD)
    assert narrowed.themes == (Theme.JEUGD,) and narrowed.narrowed is Theme.JEUGD
    assert [(r.theme, r.doorgeleid) for r in narrowed.open_cases] == [(Theme.JEUGD, 1)]
    with core.db.session() as session:
        assert (
            core.stand.facts(
                session, core.clock.now(), member_id=team.coordinator, theme=Theme.RADICALISERING
            )
            is None
        )


def test_agenda_items_waiting_and_the_organisations_behind(
    core: Core, team: Team, clock: FrozenClock
) -> None:
    # An OGGZ case on an agenda of August, asked then: more than 90 days ago.
    clock.set(datetime(2026, 8, 3, 9, tzinfo=AMSTERDAM))
    with core.db.session() as session:
        decided(session, Theme.OGGZ, None, opened=date(2026, 8, 1))
        core.agenda.plan(session, clock.now())
        core.agenda.announce_due(session, clock.now())
    clock.set(datetime(2026, 11, 23, 9, tzinfo=AMSTERDAM))
    with core.db.session() as session:
        first = decided(session, Theme.TOP_X, None, opened=date(2026, 11, 2))
        second = decided(session, Theme.TOP_X, None, opened=date(2026, 11, 3))
        decided(session, Theme.RADICALISERING, None, opened=date(2026, 11, 3))
        core.agenda.plan(session, clock.now())
        core.agenda.announce_due(session, clock.now())
        # An organisation whose only member has left since is not expected any more:
        # its answer to the second item does not stand in for POL's.
        gone = core.memberships.add_organisation(
            session, name="Gemeente", code="GEM", themes=None, actor=CLI
        )
        leaver = pf.member(
            core.memberships, session, telegram_id=410, org="GEM", roles=[Role.PARTNER]
        )
        assert gone.id is not None
        # Both organisations answered the first; only RN (and GEM) the second.
        for case, organisations in ((first, (team.rn, team.pol)), (second, (team.rn, gone.id))):
            announcement = session.exec(
                select(Announcement).where(Announcement.case_id == case.id)
            ).one()
            assert announcement.id is not None
            for organisation in organisations:
                session.add(
                    Answer(
                        announcement_id=announcement.id,
                        organisation_id=organisation,
                        member_id=team.coordinator,
                        known=False,
                        answered_at=clock.now(),
                    )
                )
        core.memberships.deactivate(session, member_id=leaver, actor=CLI)
    shown = facts(core, team.coordinator)
    meetings = {m.type: (m.items, m.waiting) for m in shown.meetings}
    # The triage meets Tuesday: three items (the OGGZ one rolled over), two still waiting.
    assert meetings == {MeetingType.TRIAGE: (3, 2), MeetingType.NAZORG: (0, 0)}
    # Asked in the last 90 days: the two TOP_X items (the OGGZ case's announcement moved
    # to its new item, but was made in August). POL answered one of two; RN both.
    assert [(b.name, b.asked, b.answered, b.percent) for b in shown.behind] == [
        ("Politie", 2, 1, 50)
    ]
    # Narrowed to OGGZ: nothing was asked of it in the last 90 days.
    assert facts(core, team.coordinator, Theme.OGGZ).behind == ()
    circle = facts(core, team.radical_coordinator)
    assert [(m.type, m.items) for m in circle.meetings] == [(MeetingType.RADICALISERING, 1)]
    assert circle.behind == ()  # announced on the first Wednesday: not yet


def test_overdue_actions_per_casemanager(core: Core, team: Team) -> None:
    with core.db.session() as session:
        theirs = pf.case(session, opened=date(2026, 9, 1), casemanager=team.casemanager)
        nobody = pf.case(session, opened=date(2026, 9, 1))
        offered = pf.case(
            session, opened=date(2026, 9, 1), casemanager=team.casemanager, accepted=False
        )
        closed = pf.case(session, opened=date(2026, 9, 1), casemanager=team.casemanager)
        restricted = pf.case(
            session,
            opened=date(2026, 9, 1),
            casemanager=team.casemanager,
            theme=Theme.RADICALISERING,
        )
        by = team.casemanager
        for deadline in (date(2026, 11, 20), date(2026, 11, 22)):
            pf.action(session, case=theirs, deadline=deadline, created_by=by, owner=team.partner)
        pf.action(session, case=theirs, deadline=TODAY, created_by=by, owner=team.partner)
        pf.action(
            session,
            case=theirs,
            deadline=date(2026, 11, 1),
            created_by=by,
            owner=team.partner,
            state=ActionState.DONE,
        )
        pf.action(
            session, case=nobody, deadline=date(2026, 11, 1), created_by=by, organisation=team.pol
        )
        pf.action(session, case=offered, deadline=date(2026, 11, 1), created_by=by, owner=by)
        for other in (closed, restricted):
            pf.action(session, case=other, deadline=date(2026, 11, 1), created_by=by, owner=by)
        closed.closed_at = pf.local(date(2026, 11, 20))
        session.add(closed)
    shown = facts(core, team.coordinator)
    assert [(o.casemanager, o.actions) for o in shown.overdue] == [
        ("Sanne Casemanager", 2),
        (None, 2),  # no casemanager, and one only offered the case
    ]
    assert [(o.casemanager, o.actions) for o in facts(core, team.radical_coordinator).overdue] == [
        ("Sanne Casemanager", 1)
    ]


def test_stagnating_cases_by_the_reminders_rule(core: Core, team: Team) -> None:
    with core.db.session() as session:
        quiet = pf.case(
            session,
            opened=date(2026, 10, 1),
            decided=date(2026, 10, 20),
            casemanager=team.casemanager,
        )
        pf.action(
            session,
            case=quiet,
            deadline=date(2027, 2, 1),
            created_by=team.casemanager,
            owner=team.partner,
            created_at=pf.local(date(2026, 10, 25)),
        )
        # Quiet since 26 October: exactly 28 days, stagnating; the 27th: not yet.
        edge = pf.case(session, opened=date(2026, 10, 26), theme=Theme.JEUGD)
        pf.case(session, opened=date(2026, 10, 27), theme=Theme.JEUGD)
        busy = pf.case(session, opened=date(2026, 9, 1), theme=Theme.JEUGD)
        moving = pf.action(
            session,
            case=busy,
            deadline=date(2027, 2, 1),
            created_by=team.casemanager,
            owner=team.partner,
            created_at=pf.local(date(2026, 9, 2)),
        )
        pf.event(session, moving, kind="postponed", at=pf.local(date(2026, 11, 10)))
        pf.case(session, opened=date(2026, 9, 1), theme=Theme.NAZORG, procesregie=False)
        pf.case(session, opened=date(2026, 9, 1), theme=Theme.RADICALISERING)
        references = {quiet.reference, edge.reference}
    shown = facts(core, team.coordinator)
    assert shown.stagnating == {Theme.MULTIPROBLEMATIEK: 1, Theme.JEUGD: 1}
    assert shown.stagnant_after_days == 28
    assert facts(core, team.radical_coordinator).stagnating == {Theme.RADICALISERING: 1}
    # The same rule as the digests: the coordinators hear of exactly these (and the
    # restricted one, which their digest shows and /stand does not).
    with core.db.session() as session:
        told = core.reminders.due(session, TODAY)[team.coordinator]
    quiet_ones = {c.reference for c in told if c.quiet_since is not None}
    assert references < quiet_ones and len(quiet_ones) == 3


def test_cases_waiting_for_a_casemanager(core: Core, team: Team) -> None:
    with core.db.session() as session:
        # Nazorg waits from its opening; procesregie from its decision; 2 working days.
        pf.case(session, opened=date(2026, 11, 10), theme=Theme.NAZORG, procesregie=False)
        pf.case(session, opened=date(2026, 11, 19), theme=Theme.NAZORG, procesregie=False)
        pf.case(session, opened=date(2026, 11, 20), theme=Theme.NAZORG, procesregie=False)
        pf.case(session, opened=date(2026, 9, 1), decided=date(2026, 11, 2))
        pf.case(session, opened=date(2026, 9, 1), decided=date(2026, 11, 20))
        pf.case(  # offered, not accepted: still waiting
            session,
            opened=date(2026, 9, 1),
            decided=date(2026, 11, 2),
            casemanager=team.casemanager,
            accepted=False,
        )
        pf.case(  # accepted
            session,
            opened=date(2026, 9, 1),
            decided=date(2026, 11, 2),
            casemanager=team.casemanager,
        )
        pf.case(session, opened=date(2026, 9, 1), theme=Theme.RADICALISERING)
        # Accepted by a casemanager who has left since: waiting again.
        gone = pf.member(
            core.memberships, session, telegram_id=409, org="RN", roles=[Role.CASEMANAGER]
        )
        pf.case(session, opened=date(2026, 9, 1), decided=date(2026, 11, 2), casemanager=gone)
        core.memberships.deactivate(session, member_id=gone, actor=CLI)
    shown = facts(core, team.coordinator)
    assert shown.without_casemanager == {Theme.NAZORG: 2, Theme.MULTIPROBLEMATIEK: 3}
    # The count is the daily report's list, counted.
    with core.db.session() as session:
        listed = core.decisions.waiting_for_casemanager(session, core.clock.now())
    assert sorted(w.theme for w in listed) == sorted(
        [Theme.NAZORG] * 2 + [Theme.MULTIPROBLEMATIEK] * 3 + [Theme.RADICALISERING]
    )
    assert facts(core, team.radical_coordinator).without_casemanager == {Theme.RADICALISERING: 1}


def test_a_case_reopened_by_a_correction_waits_for_a_casemanager_again(
    core: Core, team: Team, clock: FrozenClock
) -> None:
    # Its accepted assignment ended with the closing (the casemanager's access ended):
    # the digests and /stand's overdue actions see no casemanager, so the daily report
    # must list it, not take the old acceptance for a casemanager.
    with core.db.session() as session:
        reference = pf.case(
            session, opened=date(2026, 9, 1), decided=date(2026, 11, 2),
            casemanager=team.casemanager,
        ).reference  # fmt: skip
        core.decisions.decide(
            session, reference=reference, decision=Decision.AFGESLOTEN,
            member_id=team.coordinator, reason=CloseReason.DOEL_BEREIKT,
        )  # fmt: skip
        core.decisions.decide(
            session, reference=reference, decision=Decision.PROCESREGIE,
            member_id=team.coordinator,
        )  # fmt: skip
        listed = core.decisions.waiting_for_casemanager(session, clock.now())
    assert facts(core, team.coordinator).without_casemanager == {}
    assert listed == []  # waiting from the correction on: not 2 working days yet
    clock.set(datetime(2026, 11, 26, 9, tzinfo=AMSTERDAM))  # Thursday
    assert facts(core, team.coordinator).without_casemanager == {Theme.MULTIPROBLEMATIEK: 1}
    with core.db.session() as session:
        listed = core.decisions.waiting_for_casemanager(session, clock.now())
        told = core.reminders.due(session, clock.now().date())
    assert [w.reference for w in listed] == [reference]
    # Its line shows no casemanager, not the acceptance that ended with the closing.
    assert (listed[0].state, listed[0].member_number) == (None, None)
    assert team.casemanager not in told


def test_a_waiting_case_shows_its_open_offer_not_an_older_decline(
    core: Core, team: Team, clock: FrozenClock
) -> None:
    # Declined by one casemanager, then offered to another: the offer is what the daily
    # report and the case page show (PostgreSQL sorts the declined row's NULL `current`
    # first in descending order, SQLite last).
    with core.db.session() as session:
        other = pf.member(
            core.memberships, session, telegram_id=411, org="RN", roles=[Role.CASEMANAGER]
        )
        case = pf.case(session, opened=date(2026, 9, 1), decided=date(2026, 11, 2))
        assert case.id is not None
        for member in (team.casemanager, other):
            core.decisions.assign(
                session, member_number=member, by=team.coordinator, reference=case.reference
            )
            if member == team.casemanager:
                offer = session.exec(
                    select(CaseAssignment).where(CaseAssignment.member_id == member)
                ).one()
                assert offer.id is not None
                core.decisions.answer_offer(
                    session, assignment_id=offer.id, member_id=member, accept=False,
                    reason=DeclineReason.CAPACITY,
                )  # fmt: skip
        listed = core.decisions.waiting_for_casemanager(session, clock.now())
        shown = core.decisions.casemanager_of(session, case.id)
    assert [(w.state, w.member_number) for w in listed] == [(AssignmentState.OFFERED, other)]
    assert shown is not None and shown.state is AssignmentState.OFFERED


def test_releases_in_the_next_fourteen_days(core: Core, team: Team) -> None:
    with core.db.session() as session:
        for on in (TODAY, date(2026, 12, 6)):  # today and the 14th day
            melding(session, theme=Theme.NAZORG, on=on, bron="dji", soort="uitstroom")
        melding(session, theme=Theme.NAZORG, on=date(2026, 12, 7), bron="dji", soort="uitstroom")
        melding(session, theme=Theme.NAZORG, on=date(2026, 11, 22), bron="dji", soort="uitstroom")
        melding(session, theme=Theme.NAZORG, on=date(2026, 11, 25), bron="dji", soort="instroom")
        melding(session, theme=Theme.NAZORG, on=date(2026, 11, 25), bron="politie")
    shown = facts(core, team.coordinator)
    assert (shown.releases, shown.releases_until) == (2, date(2026, 12, 6))
    # Outside the nazorg circle, or narrowed to another theme: not shown at all.
    assert facts(core, team.radical_coordinator).releases is None
    assert facts(core, team.coordinator, Theme.JEUGD).releases is None


class RecordingCounts:
    """A QuarterCounts that answers from a table and remembers what it was asked."""

    def __init__(self, answer: Mapping[Theme, tuple[int, int, int]]) -> None:
        self.answer = answer
        self.asked: list[tuple[date, date]] = []

    def quarters(
        self, session: Session, quarters: Sequence[Quarter], today: date
    ) -> list[Mapping[Theme, tuple[int, int, int]]]:
        self.asked += [(q.start, min(q.end, today)) for q in quarters]
        return [self.answer for _ in quarters]


def test_the_quarter_figures_and_the_chart_come_through_quarter_counts(
    core: Core, team: Team
) -> None:
    counts = RecordingCounts({Theme.JEUGD: (7, 3, 2), Theme.RADICALISERING: (9, 9, 9)})
    stand = Stand(
        settings=core.settings,
        cipher=core.cipher,
        agenda=core.agenda,
        decisions=core.decisions,
        reminders=core.reminders,
        counts=counts,
        rates=AnswerRates(settings=core.settings, db=core.db),
    )
    with core.db.session() as session:
        shown = stand.facts(session, core.clock.now(), member_id=team.coordinator)
    assert shown is not None
    # The last 8 quarters, the current one up to today.
    assert counts.asked[0] == (date(2025, 1, 1), date(2025, 3, 31))
    assert counts.asked[-1] == (date(2026, 10, 1), TODAY)
    assert len(counts.asked) == 8 and shown.quarter == Quarter(2026, 4)
    # Only the coordinator's themes, exactly (the view applies the small-cell rule).
    assert shown.this_quarter == {Theme.JEUGD: ThemeCounts(7, 3, 2)}
    assert Theme.RADICALISERING not in shown.chart.themes
    assert [b.height for b in shown.chart.meldingen[Theme.JEUGD]] == [7] * 8
    assert [b.small for b in shown.chart.cases[Theme.JEUGD]] == [True] * 8


def test_the_reports_count_meldingen_cases_and_persons_of_a_period_for_stand(
    core: Core, team: Team
) -> None:
    """Reports.per_theme, /stand's quarter so far: both days included; a detention
    notification (no theme of its own) counts under nazorg."""
    with core.db.session() as session:
        spanning = pf.case(session, opened=date(2026, 8, 1), theme=Theme.JEUGD)
        pf.case(session, opened=date(2026, 10, 5), theme=Theme.JEUGD)
        before = decided(
            session, Theme.JEUGD, Decision.AFGESLOTEN, opened=date(2026, 8, 1), on=date(2026, 9, 30)
        )
        # The same person's second case of another theme, opened this quarter.
        second = pf.case(session, opened=date(2026, 10, 6), theme=Theme.OGGZ)
        second.person_id = spanning.person_id
        session.add(second)
        decided(
            session, Theme.OGGZ, Decision.AFGESLOTEN, opened=date(2026, 10, 7), on=date(2026, 10, 8)
        )
        pf.case(session, opened=TODAY + timedelta(days=1), theme=Theme.JEUGD)  # after the end
        for on in (date(2026, 10, 1), date(2026, 11, 23), date(2026, 9, 30), date(2026, 11, 24)):
            melding(session, theme=Theme.JEUGD, on=on, person_id=before.person_id)
        melding(session, theme=Theme.NAZORG, on=TODAY, bron="dji", soort="uitstroom")
    with core.db.session() as session:
        found = core.reports.per_theme(session, date(2026, 10, 1), TODAY)
    assert found == {
        Theme.JEUGD: (2, 2, 2),
        Theme.OGGZ: (0, 2, 2),
        Theme.NAZORG: (1, 0, 0),  # a melding without a case (its case is not in this test)
    }
    with core.db.session() as session:
        earlier = core.reports.per_theme(session, date(2026, 7, 1), date(2026, 9, 30))
    assert earlier == {Theme.JEUGD: (1, 2, 2)}
    # The chart's several periods in one pass give what each period gives on its own.
    periods = [
        (date(2026, 4, 1), date(2026, 6, 30)),
        (date(2026, 7, 1), date(2026, 9, 30)),
        (date(2026, 10, 1), TODAY),
        (date(2026, 8, 1), date(2026, 8, 1)),
    ]
    with core.db.session() as session:
        together = core.reports.per_theme_periods(session, periods)
        apart = [core.reports.per_theme(session, start, end) for start, end in periods]
    assert together == apart and together[1] == earlier and together[2] == found


def test_a_member_without_an_organisations_themes_sees_nothing(core: Core, team: Team) -> None:
    with core.db.session() as session:
        organisation = session.exec(select(Organisation).where(Organisation.code == "RN")).one()
        organisation.themes = ""
        session.add(organisation)
        decided(session, Theme.TOP_X, None, opened=date(2026, 11, 2))
    shown = facts(core, team.coordinator)
    assert shown.themes == () and shown.open_cases == () and shown.meetings == ()
    assert shown.releases is None and shown.chart.themes == ()
