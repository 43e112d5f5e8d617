"""The report figures (`vhbot report`): counted in the database, one GROUP BY at a time.

The definitions are shared/domain.md's ("Counting the way the reports count"):

- a melding counts under its own municipality and theme, in the period of its date;
- a case counts in a period when it opened before the period ended and did not
  close before it began, under the municipality recorded on the case (a later
  melding from elsewhere joins it without moving it);
- unique persons are the distinct persons among those cases: once per
  municipality in which they have a case, and once in the region's total (which
  can be less than the sum of its rows when someone moved);
- triage is every theme but nazorg;
- a case is in procesregie in a period when its procesregie decision was taken
  before the period ended and it did not close before the period began;
- a case's triage decision is procesregie when it was taken into procesregie
  (`procesregie_at`), else its decision (doorgeleid, afgesloten); it counts in the
  period in which it was taken.

Periods are local (VHBOT_TIMEZONE): a quarter runs from its first day's midnight
to the next quarter's. Nothing here reads personal data, and no query loads rows
to count them in Python: every figure is a COUNT of a GROUP BY (medians: a count
per number of days), so memory grows with the number of municipalities and themes,
never with the number of meldingen or cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col
from sqlmodel import select as select_model

from bot.clock import Clock
from bot.config import Settings
from bot.domain.decisions import AssignmentState, Decision
from bot.domain.reports import (
    ALL_BUT_NAZORG,
    TOTAL,
    Figure,
    Period,
    Report,
    Table,
    median,
    municipality_order,
)
from bot.domain.roles import Theme
from bot.domain.stand import Quarter
from bot.services.audit import AuditLog
from bot.storage.dates import local_days_between
from bot.storage.engine import Database
from bot.storage.kept import count_and_keep, insert_absent
from bot.storage.models import Case, CaseAssignment, Melding, QuarterFigures, UTCDateTime

_NAZORG = Theme.NAZORG.value
# The version of how `per_theme_periods` counts: raise it with any change to the counting,
# so that figures kept under the old rules are no longer read (quarter_figures.rules).
COUNTING_RULES = 1
# A case decided in the period opened mostly within this many years before it.
_YEARS_BACK = 5
THEMES: tuple[str, ...] = tuple(t.value for t in Theme)
DECISIONS: tuple[str, ...] = tuple(d.value for d in Decision)


class NoData(Exception):
    """The period asked has no melding and no case, or has not begun: nothing to report
    (a wrong year?)."""

    def __init__(self, period: Period) -> None:
        super().__init__(f"no data for {period.label}")
        self.period = period


# (theme, municipality) -> figure; "" stands for "all" in either place.
_Counts = dict[tuple[str, str], int]


class Reports:
    """Counts the report tables of a period (see the module)."""

    def __init__(self, *, settings: Settings, db: Database, audit: AuditLog, clock: Clock) -> None:
        self._settings = settings
        self._db = db
        self._audit = audit
        self._clock = clock

    def report(self, period: Period, *, actor: str) -> Report:
        """Every table of `period`, as tidy figures; the report is audited (`report.made`).

        Args:
            period: the year, or a quarter.
            actor: who asks (for the audit log).

        Raises:
            NoData: the period has no melding and no case, or has not begun.
        """
        with self._db.session() as session:
            if self._db.dialect == "postgresql":
                # One snapshot for every query, so the tables agree with each other.
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            if not self._has_data(session, period):
                raise NoData(period)
            report = _Counter(session, period, self._settings, self._db.dialect).report()
        # Its own transaction: the audit chain's head is read under its lock, never from
        # the snapshot above.
        with self._db.session() as session:
            self._audit.record(
                session, actor=actor, action="report.made", subject=f"report:{period.label}"
            )
        return report

    def per_theme(
        self, session: Session, start: date, end: date
    ) -> Mapping[Theme, tuple[int, int, int]]:
        """(meldingen, cases, unique persons) per theme from `start` to `end`, both days
        included, counted as the reports count (/stand's quarter so far and its chart).

        Themes with neither a melding nor a case are left out. Not audited: no personal
        data is read, and /stand shows these figures with the small-cell rule applied.
        """
        return self.per_theme_periods(session, [(start, end)])[0]

    def per_theme_periods(
        self, session: Session, periods: Sequence[tuple[date, date]], *, recent: bool = False
    ) -> list[Mapping[Theme, tuple[int, int, int]]]:
        """`per_theme` of each of `periods` (first and last day, included), in one pass
        over the meldingen and one over the cases (`recent`: periods of the last months,
        see `_active`)."""
        if not periods:
            return []
        tz = self._settings.tz
        bounds = [
            (
                datetime.combine(start, time(0), tzinfo=tz),
                datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz),
            )
            for start, end in periods
        ]
        first, last = min(p[0] for p in periods), max(p[1] for p in periods)
        meldingen: list[dict[str, int]] = [defaultdict(int) for _ in periods]
        in_period = [
            _count_if(and_(col(Melding.event_date) >= start, col(Melding.event_date) <= end))
            for start, end in periods
        ]
        for theme, *per_period in session.execute(
            select(col(Melding.theme), *in_period)
            .where(col(Melding.event_date) >= first, col(Melding.event_date) <= last)
            .group_by(col(Melding.theme))
        ):
            for index, count in enumerate(per_period):
                meldingen[index][theme or _NAZORG] += count  # a detention notification is nazorg's
        case_columns: list[ColumnElement[int]] = []
        for begins, ends in bounds:
            active = _active(begins, ends)
            case_columns += [_count_if(active), _distinct_persons_if(active)]
        begins_all, ends_all = min(b[0] for b in bounds), max(b[1] for b in bounds)
        cases: list[dict[str, tuple[int, int]]] = [{} for _ in periods]
        for theme, *figures in session.execute(
            select(col(Case.theme), *case_columns)
            .where(_active(begins_all, ends_all, recent=recent))
            .group_by(col(Case.theme))
        ):
            for index in range(len(periods)):
                cases[index][theme] = (figures[2 * index], figures[2 * index + 1])
        result: list[Mapping[Theme, tuple[int, int, int]]] = []
        for found_meldingen, found_cases in zip(meldingen, cases, strict=True):
            counts: dict[Theme, tuple[int, int, int]] = {}
            for theme in Theme:
                found = found_meldingen.get(theme.value, 0)
                count, persons = found_cases.get(theme.value, (0, 0))
                if found or count:
                    counts[theme] = (found, count, persons)
            result.append(counts)
        return result

    def quarters(
        self, session: Session, quarters: Sequence[Quarter], today: date
    ) -> list[Mapping[Theme, tuple[int, int, int]]]:
        """`per_theme` of each of `quarters`, a quarter not ended counted up to `today`
        (/stand: this quarter so far and the chart's 8 quarters).

        An ended quarter's figures are kept (table quarter_figures) and read back until a
        change to its meldingen or cases makes the database forget them (the triggers of
        migration 0023), so /stand counts the last two years once, not every time.
        """
        zone = self._settings.timezone
        ended = [q for q in quarters if q.end < today]
        kept = self._kept(session, zone, ended)
        missing = [q for q in ended if q not in kept]
        counted: dict[Quarter, Mapping[Theme, tuple[int, int, int]]] = dict(
            count_and_keep(
                self._db,
                session,
                missing,
                tables=("melding", "vh_case"),
                count=self._count_quarters,
                keep=lambda own, figures: self._keep(own, zone, figures),
            )
        )
        current = [q for q in quarters if q not in ended]
        counted |= self._count_quarters(session, current, today=today, recent=True)
        return [kept[q] if q in kept else counted[q] for q in quarters]

    def _count_quarters(
        self,
        session: Session,
        quarters: Sequence[Quarter],
        *,
        today: date | None = None,
        recent: bool = False,
    ) -> dict[Quarter, Mapping[Theme, tuple[int, int, int]]]:
        """`per_theme` of each of `quarters`, up to `today` when given (see `_active`
        for `recent`)."""
        periods = [(q.start, q.end if today is None else min(q.end, today)) for q in quarters]
        figures = self.per_theme_periods(session, periods, recent=recent)
        return dict(zip(quarters, figures, strict=True))

    def _kept(
        self, session: Session, zone: str, quarters: Sequence[Quarter]
    ) -> dict[Quarter, Mapping[Theme, tuple[int, int, int]]]:
        """The kept figures of those of `quarters` kept for every theme."""
        if not quarters:
            return {}
        by_start = {q.start: q for q in quarters}
        rows = session.execute(
            select(
                col(QuarterFigures.first_day),
                col(QuarterFigures.theme),
                col(QuarterFigures.meldingen),
                col(QuarterFigures.cases),
                col(QuarterFigures.persons),
            ).where(
                col(QuarterFigures.zone) == zone,
                col(QuarterFigures.rules) == COUNTING_RULES,
                col(QuarterFigures.first_day).in_(sorted(by_start)),
            )
        ).all()
        found: dict[date, dict[str, tuple[int, int, int]]] = defaultdict(dict)
        for first_day, theme, meldingen, cases, persons in rows:
            found[first_day][theme] = (meldingen, cases, persons)
        kept: dict[Quarter, Mapping[Theme, tuple[int, int, int]]] = {}
        for first_day, figures in found.items():
            if first_day in by_start and set(THEMES) <= figures.keys():
                kept[by_start[first_day]] = {
                    Theme(theme): counts
                    for theme, counts in figures.items()
                    if theme in THEMES and any(counts)  # a theme no longer known: left out
                }
        return kept

    def _keep(
        self,
        session: Session,
        zone: str,
        figures: Mapping[Quarter, Mapping[Theme, tuple[int, int, int]]],
    ) -> None:
        tz = self._settings.tz
        rows = [
            {
                "zone": zone,
                "rules": COUNTING_RULES,
                "first_day": quarter.start,
                "theme": theme.value,
                "end_day": quarter.end + timedelta(days=1),
                # Stored as the cases' moments are (UTC): the triggers compare them.
                "starts_at": datetime.combine(quarter.start, time(0), tzinfo=tz),
                "ends_at": datetime.combine(quarter.end + timedelta(days=1), time(0), tzinfo=tz),
                "meldingen": counts.get(theme, (0, 0, 0))[0],
                "cases": counts.get(theme, (0, 0, 0))[1],
                "persons": counts.get(theme, (0, 0, 0))[2],
            }
            for quarter, counts in figures.items()
            for theme in Theme
        ]
        insert_absent(session, QuarterFigures, rows)

    def _has_data(self, session: Session, period: Period) -> bool:
        if period.first_day > self._clock.now().astimezone(self._settings.tz).date():
            # Still to come: today's open cases would count as handled in it.
            return False
        start, end = _bounds(period, self._settings)
        melding = session.exec(
            select_model(Melding.id)
            .where(col(Melding.event_date) >= period.first_day)
            .where(col(Melding.event_date) < period.end_day)
            .limit(1)
        ).first()
        if melding is not None:
            return True
        found = session.exec(select_model(Case.id).where(_active(start, end)).limit(1)).first()
        return found is not None


def _bounds(period: Period, settings: Settings) -> tuple[datetime, datetime]:
    """The period's first moment and the first moment after it, local midnights."""
    tz = settings.tz
    return (
        datetime.combine(period.first_day, time(0), tzinfo=tz),
        datetime.combine(period.end_day, time(0), tzinfo=tz),
    )


# Later than any closing: an open case's end, for the comparison that reads every case.
_NEVER = literal(datetime(9999, 12, 31, tzinfo=UTC), UTCDateTime())


def _active(start: datetime, end: datetime, *, recent: bool = False) -> ColumnElement[bool]:
    """A case counts in [start, end): opened before the end, not closed before the start.

    Two spellings of the same condition, for the database's plan: `recent` (a period of
    the last months, few cases) lets it read the open cases and those closed since
    `start` by the index on closed_at; otherwise (a year, a history) reading every case
    in order is faster than looking up most of them one by one, and this spelling,
    which no index matches, makes it do so.
    """
    if recent:
        closed_in_time = or_(col(Case.closed_at).is_(None), col(Case.closed_at) >= start)
    else:
        closed_in_time = func.coalesce(col(Case.closed_at), _NEVER) >= start
    return and_(col(Case.opened_at) < end, closed_in_time)


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(case((condition, literal(1))))


def _distinct_persons_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count(func.distinct(case((condition, col(Case.person_id)))))


class _Counter:
    """One report's queries and their figures, in one session."""

    def __init__(self, session: Session, period: Period, settings: Settings, dialect: str):
        self._session = session
        self._period = period
        self._settings = settings
        self._dialect = dialect
        # The whole period, then (a year) its quarters: the quarterly tables show both.
        self._periods = period.with_quarters()
        self._bounds = {p: _bounds(p, settings) for p in self._periods}
        # The years the days from opening to decision mostly lie in (see local_days_between).
        self._years = (period.first_day.year - _YEARS_BACK, period.first_day.year)

    def report(self) -> Report:
        cases = self._cases()
        meldingen = self._meldingen()
        triage = self._triage()
        decisions = self._decisions()
        found = {m for counts in (*cases.values(), *meldingen.values()) for _, m in counts}
        found |= {m for counts in (*triage.values(), *decisions.values()) for _, m in counts}
        municipalities = municipality_order(self._settings.municipalities, found - {""})
        figures: list[Figure] = []
        figures += self._triage_figures(municipalities, meldingen, triage)
        figures += self._procesregie_figures(municipalities, cases)
        figures += self._theme_figures(municipalities, meldingen, cases)
        figures += self._decision_figures(municipalities, decisions)
        figures += self._duration_figures()
        return Report(self._period, municipalities, tuple(figures))

    # -- queries ---------------------------------------------------------------------

    def _rows(self, statement: Any) -> list[tuple[Any, ...]]:
        """The rows of a GROUP BY (a handful per theme and municipality), as tuples."""
        return [tuple(row) for row in self._session.execute(statement)]

    def _cases(self) -> dict[tuple[str, Period], _Counts]:
        """(kind, period) -> counts per (theme, municipality), and per (theme, "") for
        `persons`: kind `cases` and `persons` of the whole period, `procesregie` (cases in
        procesregie) of each period of the quarterly table."""
        start, end = self._bounds[self._period]
        in_procesregie: list[ColumnElement[int]] = []
        for p in self._periods:
            p_start, p_end = self._bounds[p]
            in_procesregie.append(
                _count_if(and_(_active(p_start, p_end), col(Case.procesregie_at) < p_end))
            )
        result: dict[tuple[str, Period], _Counts] = defaultdict(dict)
        by_municipality = (
            select(
                col(Case.theme),
                col(Case.municipality),
                func.count(),
                func.count(func.distinct(col(Case.person_id))),
                *in_procesregie,
            )
            .where(_active(start, end))
            .group_by(col(Case.theme), col(Case.municipality))
        )
        for theme, municipality, cases, persons, *procesregie in self._rows(by_municipality):
            result[("cases", self._period)][(theme, municipality)] = cases
            result[("persons", self._period)][(theme, municipality)] = persons
            for p, count in zip(self._periods, procesregie, strict=True):
                result[("procesregie", p)][(theme, municipality)] = count
        # The region's unique persons per theme: distinct across municipalities.
        by_theme = (
            select(col(Case.theme), func.count(func.distinct(col(Case.person_id))))
            .where(_active(start, end))
            .group_by(col(Case.theme))
        )
        for theme, persons in self._rows(by_theme):
            result[("persons", self._period)][(theme, "")] = persons
        return result

    def _meldingen(self) -> dict[Period, _Counts]:
        """period -> meldingen per (theme, municipality), by each melding's date."""
        quarters = self._period.quarters()
        which: ColumnElement[int]
        if len(quarters) == 1:
            which = literal(0)
        else:
            which = case(
                *(
                    (col(Melding.event_date) < q.end_day, literal(index))
                    for index, q in enumerate(quarters[:-1])
                ),
                else_=literal(len(quarters) - 1),
            )
        statement = (
            select(col(Melding.theme), col(Melding.municipality), which, func.count())
            .where(col(Melding.event_date) >= self._period.first_day)
            .where(col(Melding.event_date) < self._period.end_day)
            .group_by(col(Melding.theme), col(Melding.municipality), which)
        )
        result: dict[Period, _Counts] = defaultdict(dict)
        for theme, municipality, index, count in self._rows(statement):
            for p in {quarters[index], self._period}:
                key = (theme or _NAZORG, municipality)
                result[p][key] = result[p].get(key, 0) + count
        return result

    def _triage(self) -> dict[tuple[str, Period], _Counts]:
        """(kind, period) -> triage cases and unique persons per ("", municipality) and
        for the region ("", "")."""
        start, end = self._bounds[self._period]
        columns: list[ColumnElement[int]] = []
        for p in self._periods:
            p_start, p_end = self._bounds[p]
            active = _active(p_start, p_end)
            columns += [_count_if(active), _distinct_persons_if(active)]
        triage = and_(_active(start, end), col(Case.theme) != _NAZORG)
        result: dict[tuple[str, Period], _Counts] = defaultdict(dict)
        by_municipality = (
            select(col(Case.municipality), *columns).where(triage).group_by(col(Case.municipality))
        )
        region = select(literal(""), *columns).where(triage)
        for statement in (by_municipality, region):
            for municipality, *figures in self._rows(statement):
                for index, p in enumerate(self._periods):
                    result[("cases", p)][("", municipality)] = figures[2 * index]
                    result[("persons", p)][("", municipality)] = figures[2 * index + 1]
        return result

    def _route(self) -> tuple[ColumnElement[str], ColumnElement[datetime]]:
        """A case's triage decision and its moment (see the module)."""
        route = case(
            (col(Case.procesregie_at).is_not(None), literal(Decision.PROCESREGIE.value)),
            else_=col(Case.decision),
        )
        return route, func.coalesce(col(Case.procesregie_at), col(Case.decided_at))

    def _decisions(self) -> dict[tuple[str, str], _Counts]:
        """(kind, decision) -> `cases` and `persons` decided in the period, per (theme,
        municipality) and per (theme, "")."""
        start, end = self._bounds[self._period]
        route, at = self._route()
        decided = and_(at >= start, at < end, route.is_not(None))
        result: dict[tuple[str, str], _Counts] = defaultdict(dict)
        by_municipality = (
            select(
                col(Case.theme),
                col(Case.municipality),
                route,
                func.count(),
                func.count(func.distinct(col(Case.person_id))),
            )
            .where(decided)
            .group_by(col(Case.theme), col(Case.municipality), route)
        )
        for theme, municipality, decision, cases, persons in self._rows(by_municipality):
            result[("cases", decision)][(theme, municipality)] = cases
            result[("persons", decision)][(theme, municipality)] = persons
        by_theme = (
            select(col(Case.theme), route, func.count(func.distinct(col(Case.person_id))))
            .where(decided)
            .group_by(col(Case.theme), route)
        )
        for theme, decision, persons in self._rows(by_theme):
            result[("persons", decision)][(theme, "")] = persons
        return result

    def _days_to_decision(self) -> dict[str, dict[int, int]]:
        """theme -> {days from the case's opening to its triage decision: cases}."""
        start, end = self._bounds[self._period]
        route, at = self._route()
        days = local_days_between(
            self._dialect, col(Case.opened_at), at, self._settings.timezone, self._years
        )
        # Days worked out once per case (in the subquery), not again for the grouping.
        decided = (
            select(col(Case.theme).label("theme"), days.label("days"))
            .where(at >= start, at < end, route.is_not(None))
            .subquery()
        )
        statement = select(decided.c.theme, decided.c.days, func.count()).group_by(
            decided.c.theme, decided.c.days
        )
        result: dict[str, dict[int, int]] = defaultdict(dict)
        for theme, count_days, count in self._rows(statement):
            result[theme][int(count_days)] = count
        return result

    def _days_to_casemanager(self) -> dict[int, int]:
        """{days from a nazorg case's opening to its first accepted casemanager: cases},
        over the cases whose first acceptance lies in the period."""
        start, end = self._bounds[self._period]
        # An accepted assignment stays accepted, or is withdrawn after its answer (a
        # reassignment); a declined one keeps its state.
        accepted = or_(
            col(CaseAssignment.state) == AssignmentState.ACCEPTED.value,
            and_(
                col(CaseAssignment.state) == AssignmentState.WITHDRAWN.value,
                col(CaseAssignment.answered_at).is_not(None),
            ),
        )
        first = (
            select(
                col(CaseAssignment.case_id).label("case_id"),
                func.min(col(CaseAssignment.answered_at)).label("at"),
            )
            .where(accepted)
            .group_by(col(CaseAssignment.case_id))
            .subquery()
        )
        days = local_days_between(
            self._dialect, col(Case.opened_at), first.c.at, self._settings.timezone, self._years
        )
        accepted_in_period = (
            select(days.label("days"))
            .select_from(Case)
            .join(first, first.c.case_id == col(Case.id))
            .where(col(Case.theme) == _NAZORG, first.c.at >= start, first.c.at < end)
            .subquery()
        )
        statement = select(accepted_in_period.c.days, func.count()).group_by(
            accepted_in_period.c.days
        )
        return {int(count_days): count for count_days, count in self._rows(statement)}

    # -- figures ---------------------------------------------------------------------

    def _triage_figures(
        self,
        municipalities: Sequence[str],
        meldingen: dict[Period, _Counts],
        triage: dict[tuple[str, Period], _Counts],
    ) -> Iterable[Figure]:
        # Triage meldingen per (period, municipality) and per (period, "") for the region,
        # summed once (not again for each of 300 municipalities).
        triage_meldingen: dict[tuple[Period, str], int] = defaultdict(int)
        for p in self._periods:
            for (theme, m), count in meldingen[p].items():
                if theme != _NAZORG:
                    triage_meldingen[(p, m)] += count
                    triage_meldingen[(p, "")] += count

        def melding_count(p: Period, municipality: str) -> int:
            return triage_meldingen.get((p, municipality), 0)

        for municipality in (*municipalities, ""):
            for p in self._periods:
                yield Figure(
                    Table.TRIAGE,
                    p.label,
                    ALL_BUT_NAZORG,
                    municipality or TOTAL,
                    meldingen=melding_count(p, municipality),
                    cases=triage[("cases", p)].get(("", municipality), 0),
                    persons=triage[("persons", p)].get(("", municipality), 0),
                )

    def _procesregie_figures(
        self, municipalities: Sequence[str], cases: dict[tuple[str, Period], _Counts]
    ) -> Iterable[Figure]:
        for municipality in (*municipalities, ""):
            for p in self._periods:
                counts = cases[("procesregie", p)]
                for theme in THEMES:
                    count = (
                        counts.get((theme, municipality), 0)
                        if municipality
                        else sum(c for (t, _), c in counts.items() if t == theme)
                    )
                    yield Figure(
                        Table.PROCESREGIE, p.label, theme, municipality or TOTAL, cases=count
                    )

    def _theme_figures(
        self,
        municipalities: Sequence[str],
        meldingen: dict[Period, _Counts],
        cases: dict[tuple[str, Period], _Counts],
    ) -> Iterable[Figure]:
        p = self._period
        melding_counts, case_counts = meldingen[p], cases[("cases", p)]
        persons = cases[("persons", p)]
        for theme in THEMES:
            for municipality in municipalities:
                yield Figure(
                    Table.THEME,
                    p.label,
                    theme,
                    municipality,
                    meldingen=melding_counts.get((theme, municipality), 0),
                    cases=case_counts.get((theme, municipality), 0),
                    persons=persons.get((theme, municipality), 0),
                )
            yield Figure(
                Table.THEME,
                p.label,
                theme,
                TOTAL,
                meldingen=sum(c for (t, _), c in melding_counts.items() if t == theme),
                cases=sum(c for (t, _), c in case_counts.items() if t == theme),
                persons=persons.get((theme, ""), 0),
            )

    def _decision_figures(
        self, municipalities: Sequence[str], decisions: dict[tuple[str, str], _Counts]
    ) -> Iterable[Figure]:
        label = self._period.label
        # The region's cases per theme and decision, summed once (not once per row).
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for decision in DECISIONS:
            for (theme, _), count in decisions[("cases", decision)].items():
                totals[(theme, decision)] += count
        for theme in THEMES:
            for municipality in (*municipalities, ""):
                for decision in DECISIONS:
                    cases, persons = (
                        decisions[("cases", decision)],
                        decisions[("persons", decision)],
                    )
                    yield Figure(
                        Table.DECISIONS,
                        label,
                        theme,
                        municipality or TOTAL,
                        cases=(
                            cases.get((theme, municipality), 0)
                            if municipality
                            else totals[(theme, decision)]
                        ),
                        persons=persons.get((theme, municipality), 0),
                        decision=decision,
                    )

    def _duration_figures(self) -> Iterable[Figure]:
        label = self._period.label
        to_decision = self._days_to_decision()
        for theme in THEMES:
            histogram = to_decision.get(theme, {})
            yield Figure(
                Table.DAYS_TO_DECISION,
                label,
                theme,
                TOTAL,
                cases=sum(histogram.values()),
                median_days=median(histogram),
            )
        to_casemanager = self._days_to_casemanager()
        yield Figure(
            Table.DAYS_TO_CASEMANAGER,
            label,
            _NAZORG,
            TOTAL,
            cases=sum(to_casemanager.values()),
            median_days=median(to_casemanager),
        )
