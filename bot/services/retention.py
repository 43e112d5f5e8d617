"""Retention: personal data is erased when the rules say so; counts stay.

- A notification that never became a case, or whose case closed without
  procesregie: its personal data goes 6 months after the release date (the
  event date for an entry) - the Bjsg rule.
- A case with procesregie: VHBOT_RETENTION_DAYS after it closed.
A person's identity is erased once no notification or case still needs it;
the pseudonym stays, so reports can still count unique persons.
With a case's personal data go the own titles of its plan's actions (typed
text) and any conversation about it half-way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlmodel import Session, col, select

from bot.config import Settings
from bot.domain.detention import notification_erase_date
from bot.services.audit import AuditLog
from bot.services.plan import erase_plan_texts
from bot.storage.models import Case, Melding, OutboxMessage, Person


@dataclass(frozen=True)
class RetentionReport:
    meldingen: int
    persons: int


def _melding_due(
    melding: Melding, case: Case | None, today: date, now: datetime, keep_days: int
) -> bool:
    if case is None or (case.closed_at is not None and not case.procesregie):
        return notification_erase_date(melding.event_date) <= today
    if case.closed_at is not None and case.procesregie:
        return case.closed_at + timedelta(days=keep_days) <= now
    return False  # an open case needs the data


def enforce_retention(
    session: Session, *, settings: Settings, audit: AuditLog, now: datetime
) -> RetentionReport:
    """Erase what is due; safe to run any number of times."""
    today = now.astimezone(settings.tz).date()
    candidates = session.exec(select(Melding).where(col(Melding.erased_at).is_(None))).all()
    erased = 0
    touched_persons: set[int] = set()
    touched_cases: set[int] = set()
    for melding in candidates:
        case = session.get(Case, melding.case_id) if melding.case_id else None
        if not _melding_due(melding, case, today, now, settings.retention_days):
            continue
        melding.remark_ct = None
        melding.institution_ct = None
        melding.erased_at = now
        session.add(melding)
        touched_persons.add(melding.person_id)
        if case is not None and case.id is not None:
            touched_cases.add(case.id)
        erased += 1
    persons = 0
    for person_id in sorted(touched_persons):
        still_needed = (
            session.exec(
                select(Melding.id).where(
                    Melding.person_id == person_id, col(Melding.erased_at).is_(None)
                )
            ).first()
            is not None
            or session.exec(
                select(Case.id).where(Case.person_id == person_id, col(Case.closed_at).is_(None))
            ).first()
            is not None
        )
        person = session.get(Person, person_id)
        if still_needed or person is None or person.identity_ct is None:
            continue
        person.identity_ct = None
        person.erased_at = now
        session.add(person)
        persons += 1
    withheld = _erase_withheld_texts(session, today)
    plan_texts = erase_plan_texts(session, touched_cases)
    if erased or persons or withheld or plan_texts:
        audit.record(
            session,
            actor="system",
            action="retention.erase",
            subject="retention",
            meldingen=erased,
            persons=persons,
            withheld_messages=withheld,
            plan_texts=plan_texts,
        )
    return RetentionReport(erased, persons)


def _erase_withheld_texts(session: Session, today: date) -> int:
    """A message the guard withheld is kept (encrypted) no longer than a notification."""
    rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.text_ct).is_not(None))).all()
    erased = 0
    for row in rows:
        if notification_erase_date(row.created_at.date()) <= today:
            row.text_ct = None
            session.add(row)
            erased += 1
    return erased
