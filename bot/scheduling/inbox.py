"""The inbox folder: every new detention-notification file is imported exactly once.

A file is claimed by renaming it into `processing/` (only one process wins the
rename), imported, then moved to `processed/`, or to `rejected/` when it could
not be read as a whole, with `<name>.errors.txt` beside it listing each rejected
row by line number and reason (never the row's data). A process killed
half-way leaves the file in `processing/`; a later pass picks it up again once
it has been untouched for a while, and the import carries on where the
database says it was (rows are unique by bron_id).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.services.detention import ImportReport

if TYPE_CHECKING:
    from bot.app import Core

log = logging.getLogger(__name__)

PROCESSING, PROCESSED, REJECTED = "processing", "processed", "rejected"
# A file is taken only when it has not changed for this long (still being written?).
SETTLE_SECONDS = 5.0
# A claimed file untouched this long belongs to a process that died.
STALE_SECONDS = 600.0
# Endings that upload tools give a file until it is complete (WinSCP: .filepart).
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload")


def _candidates(folder: Path, older_than: float) -> list[Path]:
    if not folder.is_dir():
        return []
    now = time.time()
    found = []
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.startswith(".") or path.name.endswith(".errors.txt"):
            continue
        if path.suffix.lower() in PARTIAL_SUFFIXES:
            continue  # an upload still in progress
        if now - path.stat().st_mtime >= older_than:
            found.append(path)
    return found


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    counter = 1
    while target.exists():
        target = folder / f"{Path(name).stem}.{counter}{Path(name).suffix}"
        counter += 1
    return target


def process_inbox(core: Core) -> list[ImportReport]:
    """One pass over the inbox; returns a report per file handled."""
    inbox = core.settings.inbox_dir
    for sub in (PROCESSING, PROCESSED, REJECTED):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    reports = []
    work = [(path, True) for path in _candidates(inbox / PROCESSING, STALE_SECONDS)]
    work += [(path, False) for path in _candidates(inbox, SETTLE_SECONDS)]
    for path, resumed in work:
        claimed = inbox / PROCESSING / path.name
        if not resumed:
            if claimed.exists():
                continue  # a file of that name is being worked on: wait for it
            try:
                os.rename(path, claimed)
            except FileNotFoundError:
                continue  # another process claimed it first
            # rename keeps the old mtime: a file that waited (bot down) would look
            # stale to other processes the moment it is claimed. Its age counts from now.
            os.utime(claimed)
        reports.append(_import_claimed(core, claimed))
    return reports


def _import_claimed(core: Core, claimed: Path) -> ImportReport:
    errors_path = claimed.with_name(claimed.name + ".errors.txt")
    with errors_path.open("w", encoding="utf-8") as errors:

        def on_error(line: int, reasons: list[str]) -> None:
            write_errors(errors, line, reasons)

        def heartbeat(_rows: int) -> None:
            os.utime(claimed)  # still alive: not stale for other processes

        report = core.detention.import_path(
            claimed, actor="inbox", on_error=on_error, after_batch=heartbeat
        )
        if report.unreadable:
            errors.write(f"file: {report.unreadable}\n")
    folder = claimed.parent.parent / (REJECTED if report.unreadable else PROCESSED)
    destination = _free_name(folder, claimed.name)
    has_errors = errors_path.stat().st_size > 0
    if has_errors:
        os.replace(errors_path, destination.with_name(destination.name + ".errors.txt"))
    else:
        errors_path.unlink()
    os.replace(claimed, destination)
    log.info(
        "inbox.imported",
        extra={
            "file": destination.name,
            "new": report.new,
            "duplicate": report.duplicate,
            "rejected": report.rejected,
            "unreadable": report.unreadable is not None,
        },
    )
    return report


def write_errors(stream: TextIO, line: int, reasons: list[str]) -> None:
    stream.write(f"line {line}: {'; '.join(reasons)}\n")
