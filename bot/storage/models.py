"""Tables. Identifying data lives only in `*_ct` columns, encrypted per field.

Timestamps are timezone-aware (stored as UTC). Every change to these tables
goes through an Alembic migration in `bot/storage/migrations/versions`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


def aware(moment: datetime) -> datetime:
    """A datetime read back from the database, timezone-aware (UTC)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and read back timezone-aware, on every database.

    SQLite keeps no offset: an aware Amsterdam time would be stored as its wall
    clock and read back an hour off. So every value is converted to UTC on the
    way in, and marked UTC on the way out; naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a timestamp column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else aware(value).astimezone(UTC)


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True, index=True)
    name: str = Field(max_length=200)
    # Comma-separated Theme values this organisation may see.
    themes: str = Field(default="", max_length=500)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class Member(SQLModel, table=True):
    """A professional of a partner organisation, known by their Telegram account."""

    __tablename__ = "member"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, unique=True, nullable=False))
    # The professional's display name, encrypted like any personal data.
    name_ct: str = Field(sa_column=Column(Text, nullable=False))
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    roles: str = Field(default="partner", max_length=100)
    # nl/en chosen explicitly; None follows the member's Telegram language.
    language: str | None = Field(default=None, max_length=5)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_seen_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    deactivated_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # Set once the bot has removed a deactivated member from the partner group;
    # until then the group-removal duty keeps trying (also after a restart).
    removed_from_group_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class Invite(SQLModel, table=True):
    """A one-time code for joining as a member. Only a hash of the code is kept."""

    __tablename__ = "invite"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True, index=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    roles: str = Field(max_length=100)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    used_by_member_id: int | None = Field(default=None, foreign_key="member.id")
    # Set when the member who issued it is deactivated: refused like an unknown code.
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class AccessRequest(SQLModel, table=True):
    """A coordinator's request that waits for a button (see bot.domain.access).

    A removal (/verwijder) waits for its requester to confirm it; a coordinator
    invite waits for a second coordinator. Buttons name the request, never a member.
    """

    __tablename__ = "access_request"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # removal, invite
    requested_by: int = Field(foreign_key="member.id", index=True)
    # pending, confirmed, refused, cancelled, expired, closed
    status: str = Field(default="pending", max_length=16, index=True)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decided_by: int | None = Field(default=None, foreign_key="member.id")
    # A removal: the member to deactivate.
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    # An invite: for which organisation, with which roles; the invite once confirmed.
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    roles: str = Field(default="", max_length=100)
    invite_id: int | None = Field(default=None, foreign_key="invite.id")


class InviteFailure(SQLModel, table=True):
    """A wrong invite code from one Telegram account: counted to block guessing."""

    __tablename__ = "invite_failure"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str = Field(max_length=16)


class Person(SQLModel, table=True):
    """A person the Veiligheidshuis handles: only a keyed pseudonym in clear."""

    __tablename__ = "person"

    id: int | None = Field(default=None, primary_key=True)
    # HMAC of the normalised identity: finds the same person again, reveals nothing.
    identity_key: str = Field(max_length=64, unique=True, index=True)
    pseudonym: str = Field(max_length=16, unique=True, index=True)
    # Encrypted JSON: surname, given names, birth date, BSN. None once erased.
    identity_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # When identity_ct was last written (created, or held anew after erasure): the
    # outgoing guard of a running bot catches up with persons by this moment.
    identity_stored_at: datetime = Field(
        sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class AuditEntry(SQLModel, table=True):
    """Append-only, hash-chained; database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=64)
    # Canonical JSON of small non-personal facts (ids, counts, reasons).
    details: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditKeying(SQLModel, table=True):
    """One row, written by migration 0005: the first seq whose hash is keyed (HMAC).

    Entries before it were written with plain SHA-256 by older versions. Database
    triggers refuse any insert, update or delete, so the legacy part cannot be
    widened to pass a re-hashed log off as legacy entries.
    """

    __tablename__ = "audit_keying"

    id: int = Field(default=1, primary_key=True, sa_column_kwargs={"autoincrement": False})
    keyed_from: int
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ImportFile(SQLModel, table=True):
    """One imported file, by content hash: a re-run continues the same import.

    Logs, messages and files on disk name an import by its id; the file's name as
    uploaded is not kept (it may hold a person's name, or bytes no log can show).
    """

    __tablename__ = "import_file"
    # The same bytes offered as another kind of file are another import: a wrong
    # attempt (refused as unreadable) leaves the record of the right one alone.
    __table_args__ = (UniqueConstraint("sha256", "kind", name="uq_import_file_sha256_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64)
    # What the file is read as: dpan, meldingen or history (an Importer's kind).
    kind: str = Field(max_length=16)
    status: str = Field(max_length=16)  # running, done, unreadable, failed (given up)
    # Starts since the import last finished; the inbox gives up after a few.
    attempts: int = 0
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    rows_new: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0


class Melding(SQLModel, table=True):
    """A melding: a detention notification (instroom or uitstroom), or one from a
    meldingen file or typed in (soort `melding`). Identity lives on the person."""

    __tablename__ = "melding"

    # A sender's id is unique only among its own meldingen: two sources may both
    # send a "1001". bron_id first, so that the key also serves lookups by bron_id.
    # The reports count meldingen by date, theme and municipality: one index holds all
    # three, so a year's count reads the index alone.
    __table_args__ = (
        UniqueConstraint("bron_id", "bron", name="uq_melding_bron_id_bron"),
        Index("ix_melding_event_date_theme_municipality", "event_date", "theme", "municipality"),
    )

    id: int | None = Field(default=None, primary_key=True)
    bron_id: str = Field(max_length=64)
    soort: str = Field(max_length=16)
    # Who sent it: a source of a meldingen file (bot.domain.meldingen.Bron), or
    # the prison service for detention notifications (bot.domain.dpan.BRON).
    bron: str = Field(max_length=32)
    # Its theme (bot.domain.roles.Theme); detention notifications are nazorg.
    theme: str | None = Field(default=None, max_length=32)
    person_id: int = Field(foreign_key="person.id", index=True)
    municipality: str = Field(max_length=100)
    # The catalogued institution (bot/domain/institutions.py); None when the file
    # named one the catalogue does not know: that text is kept only encrypted.
    institution: str | None = Field(default=None, max_length=200)
    institution_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    event_date: date = Field(sa_column=Column(Date, nullable=False))
    # The sender's free-text remark, encrypted; None when absent or erased.
    remark_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    import_id: int | None = Field(default=None, foreign_key="import_file.id")
    source_line: int = 0
    case_id: int | None = Field(default=None, foreign_key="vh_case.id", index=True)
    erased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class Case(SQLModel, table=True):
    """A case (casus) with its reference, e.g. VH-2026-0042."""

    __tablename__ = "vh_case"
    # A person has at most one open case per theme: a melding joins it. Enforced
    # here too, so that two importers at once cannot both open one.
    __table_args__ = (
        Index(
            "uq_vh_case_open_person_theme",
            "person_id",
            "theme",
            unique=True,
            sqlite_where=text("closed_at IS NULL"),
            postgresql_where=text("closed_at IS NULL"),
        ),
        # /stand counts the quarter so far: the open cases and those closed since; the
        # open cases' columns that /stand, the agenda and the casemanager report read,
        # so that they come from the index alone (migration 0024).
        Index(
            "ix_vh_case_closed_at",
            "closed_at",
            "theme",
            "decision",
            "procesregie",
            "opened_at",
            "decided_at",
            "person_id",
            "id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str = Field(max_length=20, unique=True, index=True)
    year: int
    number: int
    theme: str = Field(max_length=32)
    person_id: int = Field(foreign_key="person.id", index=True)
    municipality: str = Field(max_length=100)
    opened_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    procesregie: bool = False
    # When the case was taken into procesregie: the reports count it in procesregie from
    # then on, also after a later decision closed it. None: never (or by mistake, see
    # bot.services.decisions).
    procesregie_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # The current triage decision (bot.domain.decisions.Decision); earlier ones, and
    # every correction, are in the audit log. None: no decision yet (in triage).
    decision: str | None = Field(default=None, max_length=16)
    # doorgeleid: the organisation the case went to; afgesloten: the reason's code.
    decision_organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    decision_reason: str | None = Field(default=None, max_length=32)
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decided_by: int | None = Field(default=None, foreign_key="member.id")


class QuarterFigures(SQLModel, table=True):
    """An ended quarter's figures of one theme, kept for /stand's chart (see
    bot.services.reports `Reports.quarters`).

    Database triggers (migration 0023) delete the rows of a quarter whenever a change
    to a melding or case could alter its figures, so a row here is always what
    counting again would give.
    """

    __tablename__ = "quarter_figures"

    zone: str = Field(primary_key=True, max_length=64)  # VHBOT_TIMEZONE: local quarters
    # The version of the counting rules (bot.services.reports COUNTING_RULES): figures
    # counted by other rules are not read.
    rules: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    first_day: date = Field(sa_column=Column(Date, primary_key=True))
    theme: str = Field(primary_key=True, max_length=32)
    end_day: date = Field(sa_column=Column(Date, nullable=False))  # the day after the last
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    meldingen: int
    cases: int
    persons: int


class AnswerDay(SQLModel, table=True):
    """An ended day's answer figures of one theme, kept for /stand's answer rates (see
    bot.services.answer_rates): the announcements made that day (organisation_id 0) or
    one organisation's answers to them.

    Database triggers (migration 0024) delete a day's rows whenever a change to its
    announcements or their answers could alter them, so a row here is always what
    counting again would give.
    """

    __tablename__ = "answer_days"
    __table_args__ = (Index("ix_answer_days_ends_at", "ends_at"),)

    zone: str = Field(primary_key=True, max_length=64)  # VHBOT_TIMEZONE: local days
    day: date = Field(sa_column=Column(Date, primary_key=True))
    theme: str = Field(primary_key=True, max_length=32)
    # 0: the day's announcements of the theme; else that organisation's answers to them.
    organisation_id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    ends_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    count: int


class CaseAssignment(SQLModel, table=True):
    """A case offered to a casemanager, and what became of the offer.

    An open offer and an accepted assignment of an open case are the case's current
    one: `current` is True for them and NULL otherwise (declined, withdrawn, or
    ended when the case closed), and (case_id, current) is unique, so a case has at
    most one current assignment on every database (NULLs never collide).
    """

    __tablename__ = "case_assignment"
    __table_args__ = (
        UniqueConstraint("case_id", "current"),
        # A case's accepted casemanager from the index alone (/stand, the daily report).
        Index("ix_case_assignment_case_current", "case_id", "current", "state", "member_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="vh_case.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    # offered, accepted, declined, withdrawn (bot.domain.decisions.AssignmentState)
    state: str = Field(max_length=16)
    current: bool | None = Field(default=True)
    assigned_by: int = Field(foreign_key="member.id")
    # Declined: the reason's code (bot.domain.decisions.DeclineReason).
    decline_reason: str | None = Field(default=None, max_length=16)
    offered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # When the casemanager accepted or declined.
    answered_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # When a reassignment withdrew it.
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class CaseCounter(SQLModel, table=True):
    """The last case number handed out per year (row-locked while numbering)."""

    __tablename__ = "case_counter"

    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last: int = 0


class Announcement(SQLModel, table=True):
    """A question to the partners about one subject, collecting bekend / niet bekend.

    `kind` says what the subject is (bot.domain.announcements.AnnouncementKind):
    for a detention notification `subject_id` is the melding's id. Its messages
    (one in the partner group, or one per member in private chats) are
    `AnnouncementMessage` rows.
    """

    __tablename__ = "announcement"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", name="uq_announcement_kind_subject"),
        # /stand's answer rates read the announcements of the last 90 days.
        Index("ix_announcement_created_at", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    subject_id: int
    case_id: int | None = Field(default=None, foreign_key="vh_case.id", index=True)
    theme: str = Field(max_length=32)
    deadline: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Answers bump answers_version; the editor shows the state in each message and
    # sets that message's rendered_version.
    answers_version: int = 0
    chased_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Chased from this moment on when set (an agenda item: the working day before its
    # meeting), else from the deadline.
    chase_from: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class Meeting(SQLModel, table=True):
    """One meeting of a type (bot.domain.meetings.MeetingType), made when first needed."""

    __tablename__ = "meeting"
    __table_args__ = (UniqueConstraint("type", "starts_at", name="uq_meeting_type_start"),)

    id: int | None = Field(default=None, primary_key=True)
    type: str = Field(max_length=16)
    starts_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AgendaItem(SQLModel, table=True):
    """A case in triage on a meeting's agenda; `rolled_over_from`: the meeting it passed."""

    __tablename__ = "agenda_item"
    __table_args__ = (
        UniqueConstraint("meeting_id", "case_id", name="uq_agenda_item_meeting_case"),
    )

    id: int | None = Field(default=None, primary_key=True)
    meeting_id: int = Field(foreign_key="meeting.id", index=True)
    case_id: int = Field(foreign_key="vh_case.id", index=True)
    rolled_over_from: int | None = Field(default=None, foreign_key="meeting.id")
    # Set when announced (kind agenda_item, subject: this item).
    announcement_id: int | None = Field(default=None, foreign_key="announcement.id")
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class AnnouncementMessage(SQLModel, table=True):
    """One Telegram message showing an announcement: in the partner group, or a private chat."""

    __tablename__ = "announcement_message"
    __table_args__ = (UniqueConstraint("announcement_id", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    # None until the outbox has sent it.
    message_id: int | None = None
    rendered_version: int = 0


class Answer(SQLModel, table=True):
    """The current answer of one organisation to one announcement (history: audit log)."""

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("announcement_id", "organisation_id"),)

    id: int | None = Field(default=None, primary_key=True)
    announcement_id: int = Field(foreign_key="announcement.id", index=True)
    organisation_id: int = Field(foreign_key="organisation.id")
    member_id: int = Field(foreign_key="member.id")
    known: bool
    answered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class OutboxMessage(SQLModel, table=True):
    """A Telegram message to send, committed with the change that caused it.

    Sent at least once by whichever process claims it first; the dedupe key
    makes queuing the same message twice a no-op.
    """

    __tablename__ = "outbox"

    id: int | None = Field(default=None, primary_key=True)
    dedupe_key: str = Field(max_length=120, unique=True)
    chat_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    text: str = Field(sa_column=Column(Text, nullable=False))
    # JSON [[kind, value], ...]: the safe values in `text`, for the outgoing guard.
    # NULL on rows queued before version 0004: the whole text is checked.
    text_values: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # A message the guard withheld: its text only encrypted (`text` is emptied).
    text_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reply_markup: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reply_to_message_id: int | None = None
    # Set on announcements: the sent message id is stored on its announcement_message.
    announcement_id: int | None = Field(default=None, foreign_key="announcement.id")
    status: str = Field(default="pending", max_length=16, index=True)  # pending, sent, failed
    attempts: int = 0
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    claimed_until: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    claim_token: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    message_id: int | None = None
    last_error: str | None = Field(default=None, max_length=200)


class ChatHold(SQLModel, table=True):
    """A chat the bot cannot reach now (Telegram answered 403): its messages wait.

    A private chat waits until the member writes to the bot again (`retry_at`
    None); the partner group is tried again at `retry_at`, with growing pauses.
    The coordinators are told once per hold.
    """

    __tablename__ = "chat_hold"

    chat_id: int = Field(sa_column=Column(BigInteger, primary_key=True))
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    retry_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    attempts: int = 0


class RevealLink(SQLModel, table=True):
    """A one-time link to a web page showing a person's identity (bot.services.reveal).

    Only the SHA-256 of the link's random token is kept. Bound to one member and
    one target: an announcement (kind `announcement`) or a case (kind `case`); or
    the form for a new melding (kind `melding_form`, target: the member), used up
    at the PIN and `done` once the form's melding is stored.
    """

    __tablename__ = "reveal_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: str = Field(max_length=16)  # announcement, case, melding_form
    target_id: int
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True, index=True)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # A melding form's link: when its melding was stored (the form takes no more).
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class WebAccess(SQLModel, table=True):
    """A member's second factor for the web pages: a PIN (slow salted hash) and its lock."""

    __tablename__ = "web_access"

    member_id: int = Field(
        foreign_key="member.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    # `scrypt$n=..,r=..,p=..$salt$hash` (bot.privacy.secrets_hash); None until set.
    pin_hash: str | None = Field(default=None, max_length=200)
    pin_set_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # Wrong PINs and set-up codes since the last right one; the fifth locks.
    failed_pins: int = 0
    locked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class SetupCode(SQLModel, table=True):
    """A one-time code a coordinator hands over by phone, to set a PIN. Hashed at rest."""

    __tablename__ = "setup_code"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    code_hash: str = Field(max_length=200)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Set when a newer code is made for the member: only the newest one counts.
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class Action(SQLModel, table=True):
    """An action of a case's plan of approach (bot.domain.plan).

    Its title is a catalogue code, or the professional's own words, kept only
    encrypted (`title_ct`) and shown on the case page only. The owner is a member
    or an organisation (its members share it). `version` changes with every
    change, so that buttons of an older message are recognised as outdated.
    """

    __tablename__ = "action"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="vh_case.id", index=True)
    number: int  # 1, 2, ... within its case: how Telegram names an own-title action
    domain: str = Field(max_length=32)  # bot.domain.plan.ZrmDomain
    catalogue_code: str | None = Field(default=None, max_length=32)
    title_ct: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    owner_member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    owner_organisation_id: int | None = Field(
        default=None, foreign_key="organisation.id", index=True
    )
    deadline: date = Field(sa_column=Column(Date, nullable=False, index=True))
    state: str = Field(max_length=16, index=True)  # bot.domain.plan.ActionState
    version: int = 1
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_by: int = Field(foreign_key="member.id")
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    done_by: int | None = Field(default=None, foreign_key="member.id")

    __table_args__ = (
        UniqueConstraint("case_id", "number", name="uq_action_case_number"),
        # The open cases' open actions by deadline (/stand's overdue, the sweep) from the
        # index alone, without reading each action of each case.
        Index("ix_action_case_state_deadline", "case_id", "state", "deadline"),
        # Every overdue open action, read as one range of this index alone (/stand's
        # overdue actions, counted per case).
        Index("ix_action_state_deadline_case", "state", "deadline", "case_id"),
    )


class ActionEvent(SQLModel, table=True):
    """What happened to an action: its history on the case page, and stagnation's clock."""

    __tablename__ = "action_event"

    id: int | None = Field(default=None, primary_key=True)
    action_id: int = Field(foreign_key="action.id", index=True)
    case_id: int = Field(foreign_key="vh_case.id", index=True)
    kind: str = Field(max_length=16)  # created, done, postponed, reassigned, cancelled
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    member_id: int | None = Field(default=None, foreign_key="member.id")
    old_deadline: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    new_deadline: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    reason: str | None = Field(default=None, max_length=16)  # bot.domain.plan.PostponeReason

    # Stagnation asks, per open case, for a recent event of some kinds: one probe of this
    # index each.
    __table_args__ = (Index("ix_action_event_case_at", "case_id", "at", "kind"),)
    # The owner before and after the event (a member or an organisation): set on
    # `created` (after only) and `reassigned`.
    old_owner_member_id: int | None = Field(default=None, foreign_key="member.id")
    old_owner_organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    new_owner_member_id: int | None = Field(default=None, foreign_key="member.id")
    new_owner_organisation_id: int | None = Field(default=None, foreign_key="organisation.id")


class ZrmMeasurement(SQLModel, table=True):
    """A ZRM measurement of a case: a score 1..5 per domain, in `zrm_score`."""

    __tablename__ = "zrm_measurement"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="vh_case.id", index=True)
    measured_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    member_id: int = Field(foreign_key="member.id")


class ZrmScore(SQLModel, table=True):
    __tablename__ = "zrm_score"

    measurement_id: int = Field(
        foreign_key="zrm_measurement.id",
        primary_key=True,
        sa_column_kwargs={"autoincrement": False},
    )
    domain: str = Field(max_length=32, primary_key=True)  # bot.domain.plan.ZrmDomain
    score: int


class Conversation(SQLModel, table=True):
    """A member's conversation half-way (/actie, /zrm, postponing): survives a restart.

    One per member; a new command replaces it. Its state is encrypted: it may hold
    an own title typed by the member.
    """

    __tablename__ = "conversation"

    member_id: int = Field(
        foreign_key="member.id", primary_key=True, sa_column_kwargs={"autoincrement": False}
    )
    kind: str = Field(max_length=16)  # idle, actie, zrm, postpone
    step: str = Field(max_length=32)
    # The case it is about: retention empties the conversation with the case's data.
    case_id: int | None = Field(default=None, foreign_key="vh_case.id", index=True)
    state_ct: str = Field(sa_column=Column(Text, nullable=False))
    version: int = 1  # buttons of an earlier step carry an older version
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


__all__ = [
    "AccessRequest",
    "Action",
    "ActionEvent",
    "Announcement",
    "AnnouncementMessage",
    "Answer",
    "AuditEntry",
    "AuditKeying",
    "Case",
    "CaseAssignment",
    "CaseCounter",
    "ChatHold",
    "Conversation",
    "ImportFile",
    "Invite",
    "InviteFailure",
    "Melding",
    "Member",
    "Organisation",
    "OutboxMessage",
    "Person",
    "RevealLink",
    "SetupCode",
    "WebAccess",
    "ZrmMeasurement",
    "ZrmScore",
    "aware",
]
