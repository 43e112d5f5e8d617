"""Answer rates: what the partners were asked over the last days, and what each
organisation answered (/stand's organisations furthest behind).

A day is a local day (VHBOT_TIMEZONE) of the announcements' moments; an answer
counts for its announcement's day, whenever it was given. At national scale the
90 days hold some 300,000 answers, so an ended day's figures are counted once and
kept (table answer_days) until a change to its announcements or their answers
makes the database forget them (the triggers of migration 0024; the rule of
bot.storage.kept). Today is counted live.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from bot.config import Settings
from bot.domain.roles import Theme
from bot.storage.engine import Database
from bot.storage.kept import count_and_keep, insert_absent
from bot.storage.models import Announcement, Answer, AnswerDay

THEMES: tuple[str, ...] = tuple(t.value for t in Theme)
# answer_days.organisation_id of a day's announcements (no organisation has id 0).
ASKED = 0

# (theme, organisation id or ASKED) -> count
DayFigures = Mapping[tuple[str, int], int]


@dataclass(frozen=True)
class AnswerCounts:
    asked: Mapping[str, int]  # theme -> announcements
    answered: Mapping[tuple[int, str], int]  # (organisation id, theme) -> answers to them

    @classmethod
    def of(cls, figures: DayFigures) -> AnswerCounts:
        return cls(
            asked={theme: n for (theme, org), n in figures.items() if org == ASKED and n},
            answered={(org, theme): n for (theme, org), n in figures.items() if org != ASKED and n},
        )


class AnswerRates:
    def __init__(self, *, settings: Settings, db: Database) -> None:
        self._settings = settings
        self._db = db

    def over(self, session: Session, today: date, days: int) -> AnswerCounts:
        """The announcements of the `days` local days ending with `today` (so far), per
        theme, and each organisation's answers to them."""
        zone = self._settings.timezone
        first = today - timedelta(days=days - 1)
        ended = [first + timedelta(days=n) for n in range(days - 1)]
        kept = self._kept(session, zone, first, today)
        missing = [day for day in ended if day not in kept]
        counted = count_and_keep(
            self._db,
            session,
            missing,
            tables=("announcement", "answer"),
            count=self._count_days,
            keep=lambda own, figures: self._keep(own, zone, first, figures),
        )
        total: Counter[tuple[str, int]] = Counter()
        for figures in (*kept.values(), *counted.values(), self.count(session, today, None)):
            total.update(figures)
        return AnswerCounts.of(total)

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=self._settings.tz)

    def count(self, session: Session, first: date, last: date | None) -> DayFigures:
        """The figures of the local days `first` to `last` (None: up to now), counted
        (nothing kept is read)."""
        since = col(Announcement.created_at) >= self._midnight(first)
        period = (
            since
            if last is None
            else since & (col(Announcement.created_at) < self._midnight(last + timedelta(days=1)))
        )
        figures: dict[tuple[str, int], int] = {}
        for theme, count in session.execute(
            select(col(Announcement.theme), func.count(col(Announcement.id)))
            .where(period)
            .group_by(col(Announcement.theme))
        ):
            figures[(theme, ASKED)] = count
        for organisation_id, theme, count in session.execute(
            select(col(Answer.organisation_id), col(Announcement.theme), func.count(col(Answer.id)))
            .join(Announcement, col(Announcement.id) == col(Answer.announcement_id))
            .where(period)
            .group_by(col(Answer.organisation_id), col(Announcement.theme))
        ):
            figures[(theme, organisation_id)] = count
        return figures

    def _count_days(self, session: Session, days: Sequence[date]) -> dict[date, DayFigures]:
        return {day: self.count(session, day, day) for day in days}

    def _kept(
        self, session: Session, zone: str, first: date, today: date
    ) -> dict[date, DayFigures]:
        """The kept figures of the days from `first` until `today`, of those days kept
        for every theme (a day whose rows the triggers deleted is missing)."""
        found: dict[date, dict[tuple[str, int], int]] = {}
        for day, theme, organisation_id, count in session.execute(
            select(
                col(AnswerDay.day),
                col(AnswerDay.theme),
                col(AnswerDay.organisation_id),
                col(AnswerDay.count),
            ).where(
                col(AnswerDay.zone) == zone,
                col(AnswerDay.day) >= first,
                col(AnswerDay.day) < today,
            )
        ):
            found.setdefault(day, {})[(theme, organisation_id)] = count
        return {
            day: figures
            for day, figures in found.items()
            if all((theme, ASKED) in figures for theme in THEMES)
        }

    def _keep(
        self, session: Session, zone: str, first: date, figures: Mapping[date, DayFigures]
    ) -> None:
        """Keep the days' figures (every theme's announcements, zero too: the day is
        whole) and forget days before `first`, which no rate reads any more."""
        session.execute(delete(AnswerDay).where(col(AnswerDay.day) < first))
        rows = [
            {
                "zone": zone,
                "day": day,
                "theme": theme,
                "organisation_id": organisation_id,
                # Stored as the announcements' moments are (UTC): the triggers compare them.
                "starts_at": self._midnight(day),
                "ends_at": self._midnight(day + timedelta(days=1)),
                "count": count,
            }
            for day, counts in figures.items()
            for (theme, organisation_id), count in {
                **{(theme, ASKED): 0 for theme in THEMES},
                **counts,
            }.items()
        ]
        insert_absent(session, AnswerDay, rows)
