"""The persistent outbox: messages are queued in the transaction that causes them.

Any process may send: rows are claimed with a conditional UPDATE (a lease), so
two processes never send the same row; a crashed sender's lease runs out and
another takes over. A message whose send failed for a passing reason is tried
again later, with growing pauses. Claims are short: a sender claims only what
it sends at once (one message per chat, about a second's worth of Telegram's
overall limit), so after a crash only the messages that were in flight wait for
their lease; the rest go on at the next start. Both ends are batched: one
transaction claims a batch, one records the deliveries that finished together,
so a message costs a share of two transactions, not two of its own.

A chat Telegram refuses (403) is put on hold (`ChatHold`): its messages stay
pending, untried, until the hold is lifted.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.domain.roles import Role
from bot.i18n import Translator, translator
from bot.privacy.crypto import FieldCipher
from bot.safe import SafeText
from bot.storage.engine import Database
from bot.storage.models import AnnouncementMessage, ChatHold, OutboxMessage
from bot.storage.repositories import MemberRepository

# A message the guard withheld keeps its text only encrypted, under this context.
WITHHELD_TEXT_CONTEXT = "outbox.text"
# Longer than any one send may take (PTB's timeouts add up to about 20 s).
LEASE = timedelta(seconds=45)
# Pauses after the 1st, 2nd, ... failed attempt of one message (the last repeats).
# Short: a fault that has passed may not keep a message back for minutes. While
# Telegram is away altogether the sender pauses as a whole (see outbox_sender).
BACKOFF = (
    timedelta(seconds=1),
    timedelta(seconds=2),
    timedelta(seconds=5),
    timedelta(seconds=10),
)
# Pauses between tries of a group that refuses the bot (403).
GROUP_HOLD_BACKOFF = (
    timedelta(seconds=10),
    timedelta(seconds=30),
    timedelta(seconds=60),
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


@dataclass(frozen=True)
class Claim:
    """What one claim took, and the chats it was asked to leave out that have a message due."""

    messages: list[Claimed]
    skipped: list[int]


def claim_due(
    db: Database, now: datetime, *, limit: int = 20, skip_chats: Collection[int] = ()
) -> Claim:
    """Claim the oldest due message of up to `limit` chats (one per chat), in one transaction.

    One per chat, because a chat takes at most one message a second (a group 20 a
    minute): more would wait in this process while holding their claims.
    `skip_chats`: chats the caller cannot send to now (paced, or a send in flight);
    those that have a message due come back as `skipped`, so the caller knows whom
    to come back for. Chats on hold are left out.

    The claim is one conditional UPDATE of all candidates (a lease): of two racing
    processes, each row goes to one, and each reads back only the rows that carry
    its own token.
    """
    token = secrets.token_hex(8)
    unclaimed = or_(
        col(OutboxMessage.claimed_until).is_(None),
        col(OutboxMessage.claimed_until) < now,
    )
    held = select(ChatHold.chat_id).where(
        or_(col(ChatHold.retry_at).is_(None), col(ChatHold.retry_at) > now)
    )
    due = (
        col(OutboxMessage.status) == "pending",
        col(OutboxMessage.next_attempt_at) <= now,
        unclaimed,
        col(OutboxMessage.chat_id).not_in(held),
    )
    skip = sorted(set(skip_chats))
    oldest = func.min(OutboxMessage.id)
    query = select(oldest).where(*due).group_by(col(OutboxMessage.chat_id)).order_by(oldest)
    if skip:
        query = query.where(col(OutboxMessage.chat_id).not_in(skip))
    with db.session() as session:
        candidates = [id_ for id_ in session.exec(query.limit(limit)).all() if id_ is not None]
        skipped = (
            list(
                session.exec(
                    select(OutboxMessage.chat_id)
                    .where(*due, col(OutboxMessage.chat_id).in_(skip))
                    .distinct()
                ).all()
            )
            if skip
            else []
        )
        if not candidates:
            return Claim([], skipped)
        # Conditional: a row another process claimed meanwhile is left to it.
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.id).in_(candidates), col(OutboxMessage.status) == "pending")
            .where(unclaimed)
            .values(claimed_until=now + LEASE, claim_token=token)
        )
        rows = session.exec(
            select(OutboxMessage)
            .where(col(OutboxMessage.id).in_(candidates), OutboxMessage.claim_token == token)
            .order_by(col(OutboxMessage.id))
        ).all()
        messages = [
            Claimed(
                id=row.id,
                token=token,
                chat_id=row.chat_id,
                text=SafeText.restore(
                    row.text, None if row.text_values is None else json.loads(row.text_values)
                ),
                reply_markup=row.reply_markup,
                reply_to_message_id=row.reply_to_message_id,
                announcement_id=row.announcement_id,
                attempts=row.attempts,
            )
            for row in rows
            if row.id is not None
        ]
    return Claim(messages, skipped)


def _owned(session: Session, claimed: Claimed) -> OutboxMessage | None:
    row = session.get(OutboxMessage, claimed.id)
    if row is None or row.claim_token != claimed.token or row.status != "pending":
        return None
    return row


@dataclass(frozen=True)
class Delivery:
    """A claimed message Telegram took: its message id there, and when."""

    claimed: Claimed
    message_id: int
    at: datetime


def record_deliveries(db: Database, deliveries: Sequence[Delivery]) -> list[bool]:
    """Record deliveries in one transaction; an announcement learns its message id there.

    A delivery whose claim is no longer this sender's (its lease ran out and another
    took it over) changes nothing. Returns, per delivery, True when it lifted its
    chat's hold (the chat takes messages again; told once per chat).
    """
    if not deliveries:
        return []
    ids = [delivery.claimed.id for delivery in deliveries]
    with db.session() as session:
        rows = {
            row.id: row
            for row in session.exec(
                select(OutboxMessage).where(col(OutboxMessage.id).in_(ids))
            ).all()
        }
        owned = [
            delivery
            for delivery in deliveries
            if (row := rows.get(delivery.claimed.id)) is not None
            and row.claim_token == delivery.claimed.token
            and row.status == "pending"
        ]
        for delivery in owned:
            row = rows[delivery.claimed.id]
            row.status, row.sent_at, row.message_id = "sent", delivery.at, delivery.message_id
            row.claimed_until = None
            row.attempts += 1
            session.add(row)
        shown = {delivery.claimed.announcement_id for delivery in owned} - {None}
        if shown:
            ids_in_chats = {
                (delivery.claimed.announcement_id, delivery.claimed.chat_id): delivery.message_id
                for delivery in owned
            }
            for message in session.exec(
                select(AnnouncementMessage).where(
                    col(AnnouncementMessage.announcement_id).in_(shown)
                )
            ).all():
                message_id = ids_in_chats.get((message.announcement_id, message.chat_id))
                if message_id is not None:
                    message.message_id = message_id
                    session.add(message)
        chats = {delivery.claimed.chat_id for delivery in owned}
        held = set(
            session.exec(select(ChatHold.chat_id).where(col(ChatHold.chat_id).in_(chats))).all()
            if chats
            else []
        )
        if held:
            session.execute(delete(ChatHold).where(col(ChatHold.chat_id).in_(held)))
    recorded = {delivery.claimed.id for delivery in owned}
    lifted: list[bool] = []
    for delivery in deliveries:
        chat_id = delivery.claimed.chat_id
        reopened = delivery.claimed.id in recorded and chat_id in held
        if reopened:
            held.discard(chat_id)  # told once per chat
        lifted.append(reopened)
    return lifted


def mark_sent(db: Database, claimed: Claimed, *, message_id: int, now: datetime) -> bool:
    """Record one delivery (`record_deliveries` of one); True when it lifted a hold."""
    return record_deliveries(db, [Delivery(claimed, message_id, now)])[0]


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


def hold_chat(session: Session, chat_id: int, *, now: datetime, retry: bool) -> ChatHold | None:
    """Telegram refused `chat_id` (403): its messages wait. Returns the hold when it is new.

    `retry`: try the chat again later with growing pauses (the partner group);
    otherwise it waits until `lift_hold` (a member who blocked the bot writes again).
    """
    hold = session.get(ChatHold, chat_id)
    created = hold is None
    if hold is None:
        hold = ChatHold(chat_id=chat_id, since=now, attempts=0)
    if retry:
        hold.retry_at = now + GROUP_HOLD_BACKOFF[min(hold.attempts, len(GROUP_HOLD_BACKOFF) - 1)]
    hold.attempts += 1
    session.add(hold)
    return hold if created else None


def lift_hold(session: Session, chat_id: int) -> bool:
    """The chat can be reached again; True when it was on hold."""
    result = session.execute(delete(ChatHold).where(col(ChatHold.chat_id) == chat_id))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unclaim(db: Database, claimed: Claimed, *, error: str) -> None:
    """Give a claim back without counting it as a failure (its chat went on hold)."""
    with db.session() as session:
        row = _owned(session, claimed)
        if row is not None:
            row.claimed_until = None
            row.last_error = error[:200]
            session.add(row)


@dataclass(frozen=True)
class OutboxCounts:
    """`vhbot outbox`: messages per status, and how long the oldest pending one waits."""

    pending: int
    sent: int
    failed: int
    oldest_pending_age: timedelta | None  # None: nothing pending
    held_chats: int  # chats Telegram refused (403): their messages wait


def counts(db: Database, now: datetime) -> OutboxCounts:
    """The outbox's counts per status and the age of its oldest pending message."""
    with db.session() as session:
        per_status = dict(
            session.exec(
                select(OutboxMessage.status, func.count(col(OutboxMessage.id))).group_by(
                    col(OutboxMessage.status)
                )
            ).all()
        )
        oldest = session.exec(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending")
        ).one()
        held = session.exec(select(func.count()).select_from(ChatHold)).one()
    age = None
    if oldest is not None:
        age = max(now - (oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)), timedelta(0))
    return OutboxCounts(
        pending=int(per_status.get("pending", 0)),
        sent=int(per_status.get("sent", 0)),
        failed=int(per_status.get("failed", 0)),
        oldest_pending_age=age,
        held_chats=int(held),
    )
