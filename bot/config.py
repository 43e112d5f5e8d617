"""One typed settings object, read from the environment and `.env`.

Names and defaults are a contract (shared/formats.md): scripts outside the
project set them. Created once in `bot.__main__` and passed down; never at import.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.domain.institutions import DEFAULT_INSTITUTIONS, InstitutionCatalogue, parse_institutions
from bot.domain.meetings import MeetingType, Schedule, ScheduleError
from bot.domain.places import fold
from bot.safe import Institution, Municipality

SUPPORTED_LOCALES: tuple[str, ...] = ("nl", "en")

MIDDEN_LIMBURG = (
    "Echt-Susteren",
    "Leudal",
    "Maasgouw",
    "Nederweert",
    "Roerdalen",
    "Roermond",
    "Weert",
)


class SettingsError(Exception):
    """A missing or invalid setting; the message names the variable."""


class TryAgainLater(SettingsError):
    """Something the bot needs is not there now (not a wrong setting): try again later."""


class DatabaseUnavailable(TryAgainLater):
    """The database server cannot be reached now (not a wrong setting): try again later."""


class WebPortUnavailable(TryAgainLater):
    """The web pages' address is taken (say, by a process still stopping): try again later."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VHBOT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    database_url: str = "sqlite:///vhbot.sqlite3"
    partner_chat_id: int | None = None
    key_file: Path = Path("vhbot.keys")
    # Where the audit chain's head is anchored; None: beside the key file. Set it
    # when the key file lies in a read-only place (systemd credentials, a secret).
    audit_anchor_file: Path | None = None
    timezone: str = "Europe/Amsterdam"
    locale: Literal["nl", "en"] = "nl"
    municipalities: Annotated[tuple[str, ...], NoDecode] = MIDDEN_LIMBURG
    # The penitentiary institutions a notification may name (bot/domain/institutions.py).
    institutions: Annotated[dict[str, tuple[str, ...]], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_INSTITUTIONS)
    )
    inbox_dir: Path = Path("inbox")
    retention_days: int = Field(default=730, ge=1)
    public_url: str = "http://127.0.0.1:8080"
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=8080, ge=1, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Announcements: partners answer within this many working days, at this hour.
    response_working_days: int = Field(default=1, ge=0, le=10)
    response_time: time = time(12, 0)
    # Many answers within this many seconds give one edit of the announcement.
    edit_delay_seconds: float = Field(default=2.0, ge=0.05, le=30)
    outbox_interval_seconds: float = Field(default=5.0, gt=0, le=60)
    # When each type of meeting is held (bot/domain/meetings.py): 'tue 10:00',
    # 'first wed 14:00'. A meeting on a public holiday moves to the next working day.
    meeting_triage: Annotated[Schedule, NoDecode] = Schedule.parse("tue 10:00")
    meeting_nazorg: Annotated[Schedule, NoDecode] = Schedule.parse("thu 10:00")
    meeting_radicalisering: Annotated[Schedule, NoDecode] = Schedule.parse("first wed 14:00")
    # Agenda items are announced this many working days before their meeting.
    agenda_lead_working_days: int = Field(default=2, ge=0, le=10)
    inbox_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    # The daily digest of actions due (working days only), from this local time on.
    reminder_time: time = time(8, 30)

    @field_validator("telegram_api_url", "public_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("web_host")
    @classmethod
    def _host_given(cls, value: str) -> str:
        value = value.strip()
        if not value or any(c.isspace() or c == "/" for c in value):
            raise ValueError("must be a host name or IP address, without a scheme")
        return value

    @field_validator("meeting_triage", "meeting_nazorg", "meeting_radicalisering", mode="before")
    @classmethod
    def _read_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return Schedule.parse(value)
            except ScheduleError as exc:
                raise ValueError(str(exc)) from None
        return value

    def meeting_schedule(self, meeting: MeetingType) -> Schedule:
        return {
            MeetingType.TRIAGE: self.meeting_triage,
            MeetingType.NAZORG: self.meeting_nazorg,
            MeetingType.RADICALISERING: self.meeting_radicalisering,
        }[meeting]

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known IANA time zone") from exc
        return value

    @field_validator("municipalities", mode="before")
    @classmethod
    def _split_municipalities(cls, value: object) -> object:
        if isinstance(value, str):
            names = tuple(part.strip() for part in value.split(",") if part.strip())
            if not names:
                raise ValueError("must name at least one municipality")
            for name in names:
                if Municipality.or_none(name) is None:  # it is shown in announcements
                    raise ValueError("a municipality name has letters, spaces, '-', '.' or \"'\"")
            return names
        return value

    @field_validator("institutions", mode="before")
    @classmethod
    def _parse_institutions(cls, value: object) -> object:
        entries = parse_institutions(value) if isinstance(value, str) else value
        if isinstance(entries, dict):
            InstitutionCatalogue.of(entries)  # refuses two entries with one spelling
            for name in entries:
                if Institution.or_none(name) is None:  # it is shown in announcements
                    raise ValueError("an institution name has letters, spaces, '-', '.' or \"'\"")
        return entries

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            # psycopg 3 is the driver we ship; plain postgresql:// would pick psycopg2.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value

    @property
    def anchor_file(self) -> Path:
        """The audit anchor file: VHBOT_AUDIT_ANCHOR_FILE, else `<key file>.anchors` beside it."""
        if self.audit_anchor_file is not None:
            return self.audit_anchor_file
        return self.key_file.with_name(f"{self.key_file.name}.anchors")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def institution_catalogue(self) -> InstitutionCatalogue:
        return InstitutionCatalogue.of(self.institutions)

    def require_telegram(self) -> tuple[str, int]:
        """The token and partner chat id, or a SettingsError naming what is missing."""
        if self.telegram_token is None or not self.telegram_token.get_secret_value().strip():
            raise SettingsError("VHBOT_TELEGRAM_TOKEN is not set (the bot token from BotFather)")
        if self.partner_chat_id is None:
            raise SettingsError("VHBOT_PARTNER_CHAT_ID is not set (id of the partner group)")
        return self.telegram_token.get_secret_value().strip(), self.partner_chat_id

    def is_region_municipality(self, name: str) -> str | None:
        """The configured spelling of `name` when it is one of the region's municipalities."""
        wanted = fold(name)
        for municipality in self.municipalities:
            if fold(municipality) == wanted:
                return municipality
        return None


def load_settings(**overrides: object) -> Settings:
    """Read settings; a problem becomes one SettingsError line naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "?"
        raise SettingsError(f"VHBOT_{field.upper()}: {first['msg']}") from None
