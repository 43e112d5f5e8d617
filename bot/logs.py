"""Structured logging: one JSON line per event, no personal data, no token.

httpx logs every request URL at INFO, and a Bot API URL contains the token; we
silence it and also redact the token from anything that reaches a handler.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message"}

NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler", "aiohttp.access", "alembic", "sqlalchemy")
# Our own loggers; every other library logs at INFO and above only, whatever the level:
# at DEBUG, PTB writes each outgoing call with its text and each incoming update
# (group chatter with names), and SQLAlchemy writes result rows.
OWN_LOGGERS = ("bot", "vhbot", "__main__")
LIBRARY_FLOOR = logging.INFO


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type and where it was raised, never the text: exception texts
            # and tracebacks can quote data (a value, a statement's parameters).
            entry["error"] = record.exc_info[0].__name__
            entry["error_at"] = _raised_at(record.exc_info[2])
        return json.dumps(entry, ensure_ascii=False, default=str)


def _raised_at(tb: TracebackType | None) -> str | None:
    if tb is None:
        return None
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    return f"{code.co_filename.rsplit('/', 1)[-1]}:{code.co_name}:{tb.tb_lineno}"


class RedactFilter(logging.Filter):
    """Replaces secrets (the bot token) wherever they appear in a record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, "[redacted]")
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if any(secret in text for secret in self._secrets):
                record.exc_info = None
                record.msg = f"{record.msg} (error text withheld: contained a secret)"
        return True


class LibraryFloor(logging.Filter):
    """Drops other libraries' records below INFO: their debug output carries contents.

    What they log from INFO up keeps only its wording, never its values or
    traceback: PTB, for one, logs the raw updates it cannot read at CRITICAL.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in OWN_LOGGERS:
            return True
        if record.levelno < LIBRARY_FLOOR:
            return False
        if record.args or record.exc_info:
            record.msg = f"{record.msg} [values left out]"
            record.args = None
            record.exc_info, record.exc_text = None, None
        return True


def configure_logging(
    level: str = "INFO", *, secrets: Iterable[str] = (), stream: Any = None
) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter())
    handler.addFilter(LibraryFloor())
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # Not even built: PTB formats every payload for its debug lines otherwise.
    logging.getLogger("telegram").setLevel(max(LIBRARY_FLOOR, logging.getLevelName(level)))
