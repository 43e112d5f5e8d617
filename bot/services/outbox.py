"""The persistent outbox: messages are queued in the transaction that causes them.

Any process may send: a row is claimed with a conditional UPDATE (a lease), so
two processes never send the same row; a crashed sender's lease runs out and
another takes over. A message whose send failed for a passing reason is tried
again later, with growing pauses.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.domain.roles import Role
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.safe import SafeText
from bot.storage.engine import Database
from bot.storage.models import Announcement, OutboxMessage
from bot.storage.repositories import MemberRepository

# A message the guard withheld keeps its text only encrypted, under this context.
WITHHELD_TEXT_CONTEXT = "outbox.text"
LEASE = timedelta(minutes=2)
# Pauses after the 1st, 2nd, ... failed attempt (the last repeats).
BACKOFF = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
)


@dataclass(frozen=True)
class Claimed:
    id: int
    token: str
    chat_id: int
    text: SafeText
    reply_markup: str | None
    reply_to_message_id: int | None
    announcement_id: int | None
    attempts: int


def enqueue(
    session: Session,
    *,
    key: str,
    chat_id: int,
    text: SafeText,
    now: datetime,
    reply_markup: str | None = None,
    reply_to_message_id: int | None = None,
    announcement_id: int | None = None,
    new_key: bool = False,
) -> bool:
    """Queue a message once per `key`; False when that key was queued before.

    `text` is a SafeText: its values are stored beside it, so the guard checks
    them again when the message is sent.

    `new_key`: the caller knows the key cannot exist yet (it names a row created
    in this transaction), which saves a query and a savepoint.
    """
    row = OutboxMessage(
        dedupe_key=key,
        chat_id=chat_id,
        text=str(text),
        text_values=json.dumps(text.stored_values(), ensure_ascii=False),
        reply_markup=reply_markup,
        reply_to_message_id=reply_to_message_id,
        announcement_id=announcement_id,
        created_at=now,
        next_attempt_at=now,
    )
    if new_key:
        session.add(row)
        return True
    exists = session.exec(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key)).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return False  # another process queued the same key a moment ago
    return True


def enqueue_to_coordinators(
    session: Session,
    *,
    key: str,
    render: Callable[[Translator], SafeText],
    default_locale: str,
    now: datetime,
    leave_out: int | None = None,
) -> int:
    """Queue a private message to every active coordinator, each in their language.

    The dedupe key is `key` plus the coordinator's member number, so a second
    call with the same key queues nothing. `leave_out`: a member not to tell (the
    one the message is about). Returns how many were queued anew.
    """
    queued = 0
    for member in MemberRepository().active_with_role(Role.COORDINATOR.value, session=session):
        if member.id == leave_out:
            continue
        text = render(translator(member.language or default_locale))
        if enqueue(
            session, key=f"{key}:{member.id}", chat_id=member.telegram_id, text=text, now=now
        ):
            queued += 1
    return queued


def claim_due(db: Database, now: datetime, *, limit: int = 20) -> list[Claimed]:
    """Claim up to `limit` due messages for this process, oldest first."""
    token = secrets.token_hex(8)
    with db.session() as session:
        candidates = session.exec(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                col(OutboxMessage.next_attempt_at) <= now,
                or_(
                    col(OutboxMessage.claimed_until).is_(None),
                    col(OutboxMessage.claimed_until) < now,
                ),
            )
            .order_by(col(OutboxMessage.id))
            .limit(limit)
        ).all()
        claimed: list[Claimed] = []
        for message_id in candidates:
            if message_id is None:
                continue
            # Conditional: only one of two racing processes changes the row.
            result = session.execute(
                update(OutboxMessage)
                .where(
                    col(OutboxMessage.id) == message_id,
                    col(OutboxMessage.status) == "pending",
                    or_(
                        col(OutboxMessage.claimed_until).is_(None),
                        col(OutboxMessage.claimed_until) < now,
                    ),
                )
                .values(claimed_until=now + LEASE, claim_token=token)
            )
            if result.rowcount == 1:  # type: ignore[attr-defined]
                row = session.get(OutboxMessage, message_id)
                assert row is not None  # noqa: S101 - just updated
                claimed.append(
                    Claimed(
                        id=message_id,
                        token=token,
                        chat_id=row.chat_id,
                        text=SafeText.restore(
                            row.text,
                            None if row.text_values is None else json.loads(row.text_values),
                        ),
                        reply_markup=row.reply_markup,
                        reply_to_message_id=row.reply_to_message_id,
                        announcement_id=row.announcement_id,
                        attempts=row.attempts,
                    )
                )
    return claimed


def _owned(session: Session, claimed: Claimed) -> OutboxMessage | None:
    row = session.get(OutboxMessage, claimed.id)
    if row is None or row.claim_token != claimed.token or row.status != "pending":
        return None
    return row


def mark_sent(db: Database, claimed: Claimed, *, message_id: int, now: datetime) -> None:
    """Record the delivery; an announcement learns its Telegram message id."""
    with db.session() as session:
        row = _owned(session, claimed)
        if row is None:
            return
        row.status, row.sent_at, row.message_id = "sent", now, message_id
        row.claimed_until = None
        row.attempts += 1
        session.add(row)
        if claimed.announcement_id is not None:
            announcement = session.get(Announcement, claimed.announcement_id)
            if announcement is not None:
                announcement.message_id = message_id
                session.add(announcement)


def mark_retry(
    db: Database, claimed: Claimed, *, error: str, now: datetime, after: timedelta | None = None
) -> None:
    """A passing failure: try again after a pause (Telegram's retry_after when it gave one)."""
    with db.session() as session:
        row = _owned(session, claimed)
        if row is None:
            return
        pause = after or BACKOFF[min(row.attempts, len(BACKOFF) - 1)]
        row.attempts += 1
        row.next_attempt_at = now + pause
        row.claimed_until = None
        row.last_error = error[:200]
        session.add(row)


def release(db: Database, claims: list[Claimed]) -> None:
    """Give back claims this process will not send now: they are due again at once.

    Without this they would wait for their lease (minutes) after a pass that
    stopped early.
    """
    if not claims:
        return
    with db.session() as session:
        for claimed in claims:
            row = _owned(session, claimed)
            if row is not None:
                row.claimed_until = None
                session.add(row)


def mark_failed(
    db: Database,
    claimed: Claimed,
    *,
    error: str,
    now: datetime,
    withheld_by: FieldCipher | None = None,
) -> None:
    """A failure that will not pass (chat gone, bot blocked, refused by the guard).

    `withheld_by`: the guard refused the text; it is kept only encrypted with this
    cipher (for whoever looks into it), never in clear.
    """
    with db.session() as session:
        row = _owned(session, claimed)
        if row is None:
            return
        row.status = "failed"
        row.attempts += 1
        row.claimed_until = None
        row.last_error = error[:200]
        if withheld_by is not None:
            row.text_ct = withheld_by.encrypt(row.text, context=WITHHELD_TEXT_CONTEXT)
            row.text, row.text_values = "", "[]"
        session.add(row)
