"""/stand: today's state for a coordinator, counted in the database.

Every part is a GROUP BY / COUNT query (or a service's own selection reused:
the agenda's overview, the reminders' stagnation rule, the casemanager report's
rule), so the time does not grow with the history (issue 12 benchmarks it at
1,000,000 meldingen). Only the themes the coordinator's organisation works on are
counted: a restricted theme is never shown outside its circle.

The report figures (meldingen, cases, unique persons per theme and period) come
through `QuarterCounts`: bot.services.reports `Reports.quarters`, the one way the
reports count (an ended quarter's figures kept until its data changes).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, distinct, func
from sqlalchemy import select as columns
from sqlmodel import Session, col, select

from bot.config import Settings
from bot.domain.decisions import Decision
from bot.domain.dpan import BRON as DJI
from bot.domain.dpan import Soort
from bot.domain.plan import ActionState
from bot.domain.roles import Theme, parse_themes
from bot.domain.stand import (
    ANSWER_RATE_DAYS,
    RELEASES_DAYS,
    Quarter,
    ThemeCounts,
    chart_data,
    last_quarters,
)
from bot.privacy.crypto import FieldCipher
from bot.safe import OrganisationName, printable_name
from bot.services.agenda import Agenda
from bot.services.answer_rates import AnswerRates
from bot.services.decisions import Decisions, accepted_casemanager
from bot.services.reminders import Names, Reminders
from bot.storage.models import (
    Action,
    Case,
    CaseAssignment,
    Melding,
    Member,
    Organisation,
)
from bot.views.stand import Behind, MeetingWaiting, OpenCases, Overdue, StandFacts


class QuarterCounts(Protocol):
    """The report figures of a period, per theme, counted the way the reports count."""

    def quarters(
        self, session: Session, quarters: Sequence[Quarter], today: date
    ) -> list[Mapping[Theme, tuple[int, int, int]]]:
        """`per_theme` of each quarter, one not ended counted up to `today`."""
        ...


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The moment `day` begins in `tz` (the bound of a period of local days)."""
    return datetime.combine(day, time(0), tz)


class Stand:
    def __init__(
        self,
        *,
        settings: Settings,
        cipher: FieldCipher,
        agenda: Agenda,
        decisions: Decisions,
        reminders: Reminders,
        counts: QuarterCounts,
        rates: AnswerRates,
    ) -> None:
        self._settings = settings
        self._cipher = cipher
        self._agenda = agenda
        self._decisions = decisions
        self._reminders = reminders
        self._counts = counts
        self._rates = rates

    def facts(
        self, session: Session, now: datetime, *, member_id: int, theme: Theme | None = None
    ) -> StandFacts | None:
        """What /stand shows `member_id` at `now`, narrowed to `theme` when given.

        Returns None when the member's organisation does not work on `theme` (a
        restricted theme outside its circle is not counted, not even as zero).
        """
        entitled = self._decisions.member_themes(session, member_id)
        if theme is not None and theme not in entitled:
            return None
        themes = tuple(t for t in Theme if t in entitled and theme in (None, t))
        tz = self._settings.tz
        today = now.astimezone(tz).date()
        quarter = Quarter.of(today)
        quarters = last_quarters(today)
        per_quarter = [
            {t: ThemeCounts(*counts) for t, counts in found.items() if t in themes}
            for found in self._counts.quarters(session, quarters, today)
        ]
        # Before the meetings: planning the agenda may carry an item over and so write an
        # announcement in this transaction, and the answer rates keep their days only
        # where no transaction has written announcements (bot.storage.kept).
        behind = self._behind(session, today, themes)
        releases_until = today + timedelta(days=RELEASES_DAYS - 1)
        return StandFacts(
            now=now,
            narrowed=theme,
            themes=themes,
            quarter=quarter,
            open_cases=self._open_cases(session, themes, local_midnight(quarter.start, tz)),
            meetings=self._meetings(session, now, theme, member_id),
            behind=behind,
            overdue=self._overdue(session, today, themes),
            stagnating=self._stagnating(session, today, themes),
            stagnant_after_days=self._reminders.policy.stagnant_after_days,
            without_casemanager=self._decisions.waiting_for_casemanager_count(session, now, themes),
            releases=(
                self._releases(session, today, releases_until) if Theme.NAZORG in themes else None
            ),
            releases_until=releases_until,
            this_quarter=per_quarter[-1],
            chart=chart_data(quarters, per_quarter, themes),
        )

    # -- the parts ------------------------------------------------------------------------

    def _open_cases(
        self, session: Session, themes: Collection[Theme], quarter_start: datetime
    ) -> tuple[OpenCases, ...]:
        """Per theme: open in triage, open in procesregie, doorgeleid since `quarter_start`
        (a doorgeleid decision closes the case: bot.domain.decisions.closes_case)."""
        themed = col(Case.theme).in_(_values(themes))
        # Two reads, not one with OR: each is a range of the closed_at index alone.
        found: dict[str, list[int]] = {}
        for theme, in_triage, in_procesregie in session.execute(
            columns(
                col(Case.theme),
                func.sum(case((col(Case.decision).is_(None), 1), else_=0)),
                func.sum(case((col(Case.procesregie).is_(True), 1), else_=0)),
            )
            .where(col(Case.closed_at).is_(None), themed)
            .group_by(col(Case.theme))
        ):
            found[theme] = [int(in_triage or 0), int(in_procesregie or 0), 0]
        for theme, doorgeleid in session.execute(
            columns(col(Case.theme), func.count(col(Case.id)))
            .where(
                # Implied (the decision closed it then), and lets the database read only
                # the cases closed this quarter instead of every case ever.
                col(Case.closed_at) >= quarter_start,
                col(Case.decision) == Decision.DOORGELEID.value,
                col(Case.decided_at) >= quarter_start,
                themed,
            )
            .group_by(col(Case.theme))
        ):
            found.setdefault(theme, [0, 0, 0])[2] = int(doorgeleid)
        return tuple(OpenCases(t, *found.get(t.value, (0, 0, 0))) for t in themes)

    def _meetings(
        self, session: Session, now: datetime, theme: Theme | None, member_id: int
    ) -> tuple[MeetingWaiting, ...]:
        """The current meetings (those of the agenda's overview) and their items missing
        answers, counted (`Agenda.waiting`), not built item by item."""
        return tuple(
            MeetingWaiting(type=kind, starts_at=starts_at, items=items, waiting=waiting)
            for kind, starts_at, items, waiting in self._agenda.waiting(
                session, now, theme, member_id=member_id
            )
        )

    def _behind(
        self, session: Session, today: date, themes: Collection[Theme]
    ) -> tuple[Behind, ...]:
        """Organisations (with an active member) by their answer rate over the last
        ANSWER_RATE_DAYS local days (today so far included), lowest first, only those
        that left something unanswered: answers / announcements of the themes (of
        `themes`) the organisation works on (`AnswerRates`)."""
        counts = self._rates.over(session, today, ANSWER_RATE_DAYS)
        asked = {t.value: counts.asked.get(t.value, 0) for t in themes}
        if not any(asked.values()):
            return ()
        answered = counts.answered
        with_members = select(Member.organisation_id).where(col(Member.active).is_(True))
        organisations = session.exec(
            select(Organisation).where(col(Organisation.id).in_(with_members))
        ).all()
        behind = []
        for organisation in organisations:
            assert organisation.id is not None  # noqa: S101 - stored rows have ids
            works_on = [t.value for t in themes if t in parse_themes(organisation.themes)]
            total = sum(asked.get(t, 0) for t in works_on)
            given = sum(answered.get((organisation.id, t), 0) for t in works_on)
            if total and given < total:
                name = OrganisationName(printable_name(organisation.name) or "?")
                behind.append(Behind(name, total, given))
        return tuple(sorted(behind, key=lambda b: (b.answered / b.asked, b.name)))

    def _overdue(
        self, session: Session, today: date, themes: Collection[Theme]
    ) -> tuple[Overdue, ...]:
        """Open actions past their deadline on open cases, per the case's accepted
        casemanager (None: the case has none), most first."""
        # Counted per case first, then each case's casemanager looked up once (not once
        # per action: some 44,000 overdue actions at national scale).
        per_case = (
            columns(col(Action.case_id), func.count(col(Action.id)).label("actions"))
            .join(Case, col(Case.id) == col(Action.case_id))
            .where(
                col(Action.state) == ActionState.OPEN.value,
                col(Action.deadline) < today,
                col(Case.closed_at).is_(None),
                col(Case.theme).in_(_values(themes)),
            )
            .group_by(col(Action.case_id))
            .subquery()
        )
        rows = [
            (member_id, int(actions))
            for member_id, actions in session.execute(
                columns(col(CaseAssignment.member_id), func.sum(per_case.c.actions))
                .select_from(per_case)
                .outerjoin(
                    CaseAssignment,
                    and_(
                        col(CaseAssignment.case_id) == per_case.c.case_id,
                        accepted_casemanager(),
                    ),
                )
                .group_by(col(CaseAssignment.member_id))
            )
        ]
        names = Names(session, self._cipher)
        overdue = [
            Overdue(names.member(member_id) if member_id is not None else None, count)
            for member_id, count in rows
        ]
        return tuple(
            sorted(overdue, key=lambda o: (o.casemanager is None, -o.actions, o.casemanager or ""))
        )

    def _stagnating(
        self, session: Session, today: date, themes: Collection[Theme]
    ) -> dict[Theme, int]:
        """Stagnating cases per theme, by the reminders' rule (`Reminders.stagnating`)."""
        rows = session.execute(
            columns(col(Case.theme), func.count(col(Case.id)))
            .where(self._reminders.stagnating(today), col(Case.theme).in_(_values(themes)))
            .group_by(col(Case.theme))
        ).all()
        return {Theme(theme): count for theme, count in rows}

    def _releases(self, session: Session, today: date, until: date) -> int:
        """Persons the prison service announced to leave detention from today to `until`."""
        return int(
            session.execute(
                columns(func.count(distinct(col(Melding.person_id)))).where(
                    col(Melding.bron) == DJI,
                    col(Melding.soort) == Soort.UITSTROOM.value,
                    col(Melding.event_date) >= today,
                    col(Melding.event_date) <= until,
                )
            ).scalar_one()
        )


def _values(themes: Collection[Theme]) -> list[str]:
    return sorted(t.value for t in themes)
