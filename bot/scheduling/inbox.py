"""The inbox folder: every new detention-notification or meldingen file is imported exactly once.

Which kind a file is follows from its header: one naming `bron` or `thema` is a
meldingen file (`bot.domain.meldingen.is_meldingen_header`); anything else is
taken as a detention-notification file (and rejected as such when it is not one).

A file is claimed by renaming it into `processing/` (only one process wins the
rename) and imported. Then:

- imported (rows may have been rejected): the file is deleted; the rejected
  rows, by line number and reason (never their data), are in
  `processed/import-N-<name>.errors.txt`;
- unreadable as a whole, or given up after `MAX_ATTEMPTS` attempts that did not
  finish: it moves to `rejected/import-N-<name>` with its errors file, the
  coordinators are told (through the outbox, by import number N), and the file
  is deleted once no notice about it waits to be sent (sent, refused for good,
  or none queued because there is no active coordinator to tell).

N is the import's number, the one logs and Telegram use. A name that is not
printable text (invalid UTF-8, a line break, a control character) is never
used: the file is claimed as `upload-<random>` and its files are named by number
only. Every file the bot writes is 0600, whatever the umask.

Links are never followed. The people who upload can write in the inbox, so
they could swap a file or one of the three folders for a symbolic link at any
moment: every operation therefore goes through file descriptors of the folders,
opened once per pass with O_NOFOLLOW, and names relative to them (a pass
refuses to work when one of the folders is a link); files are opened with
O_NOFOLLOW and checked to be regular files on the open descriptor.

A process killed half-way leaves the file in `processing/`; a later pass picks
it up again once it has been untouched for a while, and the import carries on
where the database says it was (rows are unique by sender and bron_id). A file
that failed because the database was away is given back at once and the pass
ends: the database is needed for every file.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from bot.config import SettingsError
from bot.domain.dpan import first_line
from bot.domain.meldingen import is_meldingen_header
from bot.services.imports import Importer, ImportInterrupted, ImportReport, stream_sha256
from bot.storage.engine import unavailable

if TYPE_CHECKING:
    from bot.core import Core

log = logging.getLogger(__name__)

PROCESSING, PROCESSED, REJECTED = "processing", "processed", "rejected"
# A file is taken only when it has not changed for this long (still being written?).
SETTLE_SECONDS = 5.0
# A claimed file untouched this long belongs to a process that died.
STALE_SECONDS = 600.0
# Starts of one import that did not finish (failures, kills) before it is given up.
MAX_ATTEMPTS = 3
# Endings that upload tools give a file until it is complete (WinSCP: .filepart).
PARTIAL_SUFFIXES = (".tmp", ".part", ".partial", ".filepart", ".crdownload")
ERRORS_SUFFIX = ".errors.txt"
MAX_NAME_CHARS = 100
_NUMBERED = re.compile(r"import-([0-9]+)(?:[-.]|$)")
_PLACEHOLDER = re.compile(r"upload-[0-9a-f]{12}")
_PRIVATE = 0o600
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW


def is_safe_name(name: str) -> bool:
    """Tell whether a file name may be shown and reused as it is.

    Printable text only: no line breaks, control or formatting characters (which
    could forge a log line or reorder what a terminal shows), no bytes that were
    not UTF-8 (Python holds those as lone surrogates, which are not printable),
    at most `MAX_NAME_CHARS`, and not starting with "-" or "." or a space.
    """
    return (
        0 < len(name) <= MAX_NAME_CHARS
        and name.isprintable()
        and name == name.strip()
        and not name.startswith(("-", "."))
        and "/" not in name
        and "\\" not in name
    )


@dataclass(frozen=True)
class _Folders:
    """Descriptors of the inbox and its three folders, each opened without following links."""

    inbox: int
    processing: int
    processed: int
    rejected: int


def process_inbox(core: Core) -> list[ImportReport]:
    """One pass over the inbox; returns a report per file imported or given up."""
    with _opened_folders(core.settings.inbox_dir) as folders:
        if folders is None:
            return []
        reports = []
        work = [(name, True) for name in _candidates(folders.processing, STALE_SECONDS)]
        work += [(name, False) for name in _candidates(folders.inbox, SETTLE_SECONDS)]
        for name, resumed in work:
            claimed = _resume(folders, name) if resumed else _claim(folders, name)
            if claimed is None:
                continue
            try:
                report = _import_claimed(core, folders, claimed)
            except SettingsError:
                raise  # the configuration, not the file: every file would fail alike
            except Exception as exc:
                if unavailable(exc):
                    # The database, not the file: every file would fail alike. Given
                    # back, not left to go stale, so that the retry once the database
                    # is back (bot.runner) takes it up at once.
                    _release(folders, claimed)
                    raise
                # One file's trouble (a full disk, a vanished folder) never stops the
                # others; the file stays claimed and a later pass tries again.
                log.exception("inbox.file_failed")  # the type and place only (bot.logs)
                continue
            if report is not None:
                reports.append(report)
        _erase_rejected(core, folders.rejected)
        return reports


@contextlib.contextmanager
def _opened_folders(inbox: os.PathLike[str]) -> Iterator[_Folders | None]:
    """Open the inbox (which the operator may point at through a link) and its folders.

    The three folders are created (0700) when missing and opened with O_NOFOLLOW:
    None, and an error in the log, when one of them is a link or not a folder.
    """
    os.makedirs(inbox, exist_ok=True)
    opened: list[int] = []
    try:
        opened.append(os.open(inbox, os.O_RDONLY | os.O_DIRECTORY))
        for sub in (PROCESSING, PROCESSED, REJECTED):
            created = False
            with contextlib.suppress(FileExistsError):
                os.mkdir(sub, 0o700, dir_fd=opened[0])
                created = True
            try:
                opened.append(os.open(sub, _FOLDER, dir_fd=opened[0]))
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                log.error("inbox.folder_refused", extra={"folder": sub, "reason": "not a folder"})
                yield None
                return
            if created:
                os.fchmod(opened[-1], 0o700)  # exactly: the umask may have taken bits away
        yield _Folders(*opened)
    finally:
        for fd in opened:
            os.close(fd)


def _candidates(folder: int, older_than: float) -> list[str]:
    """Names of regular files (never links) left alone for `older_than` seconds."""
    now = time.time()
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.endswith(ERRORS_SUFFIX):
                continue
            if os.path.splitext(name)[1].lower() in PARTIAL_SUFFIXES:
                continue  # an upload still in progress
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue  # a link, a folder, a pipe: never followed, never taken
                if now - entry.stat(follow_symlinks=False).st_mtime >= older_than:
                    found.append(name)
            except FileNotFoundError:
                continue  # taken meanwhile
    return sorted(found)


def _exists(name: str, folder: int) -> bool:
    try:
        os.stat(name, dir_fd=folder, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _claim(folders: _Folders, name: str) -> str | None:
    """Move a settled file into processing/ (None: someone else has it, or one of its name)."""
    # An unsafe name is never used, not even on disk: a placeholder (_PLACEHOLDER) instead.
    claimed = name if is_safe_name(name) else f"upload-{secrets.token_hex(6)}"
    if _exists(claimed, folders.processing):
        return None  # a file of that name is being worked on: wait for it
    try:
        os.rename(name, claimed, src_dir_fd=folders.inbox, dst_dir_fd=folders.processing)
    except FileNotFoundError:
        return None  # another process claimed it first
    # rename keeps the old mtime: a file that waited (bot down) would look stale to
    # other processes the moment it is claimed. Its age counts from now.
    os.utime(claimed, dir_fd=folders.processing, follow_symlinks=False)
    return claimed


def _resume(folders: _Folders, name: str) -> str | None:
    """Take over a stale file in processing/; its age counts from now (see `_claim`)."""
    try:
        os.utime(name, dir_fd=folders.processing, follow_symlinks=False)
    except FileNotFoundError:
        return None  # finished meanwhile by whoever had it
    return name


def _release(folders: _Folders, claimed: str) -> None:
    """Give a claimed file back: the next pass (of any process) resumes it, without
    waiting for it to go stale."""
    stale = time.time() - STALE_SECONDS - 1
    with contextlib.suppress(FileNotFoundError):
        os.utime(claimed, (stale, stale), dir_fd=folders.processing, follow_symlinks=False)


def _import_claimed(core: Core, folders: _Folders, claimed: str) -> ImportReport | None:
    """Import a claimed file and put it where its outcome says; None: not imported now."""
    with _open_regular(claimed, folders.processing) as stream:
        if stream is None:
            return None
        sha256 = stream_sha256(stream)
        stream.seek(0)
        errors_name = claimed + ERRORS_SUFFIX
        with _create_private(errors_name, folders.processing) as errors:

            def on_error(line: int, reasons: list[str]) -> None:
                write_errors(errors, line, reasons)

            def heartbeat(_rows: int) -> None:
                # Still alive: not stale for other processes.
                os.utime(claimed, dir_fd=folders.processing, follow_symlinks=False)

            importer = _importer_for(core, stream)
            try:
                report = importer.import_stream(
                    stream,
                    name=claimed,
                    sha256=sha256,
                    actor="inbox",
                    on_error=on_error,
                    after_batch=heartbeat,
                    max_attempts=MAX_ATTEMPTS,
                    tell_coordinators=True,
                )
            except ImportInterrupted as exc:
                if unavailable(exc):
                    raise  # not the file's fault: see process_inbox
                if exc.attempts < MAX_ATTEMPTS:
                    # Left in processing/: a later pass resumes it once it is stale.
                    log.warning(
                        "inbox.interrupted",
                        extra={"import": exc.import_id, "attempt": exc.attempts},
                    )
                    return None
                report = importer.give_up(exc.import_id, actor="inbox", attempts=exc.attempts)
            if report.given_up:
                errors.write(f"file: import {report.import_id} stopped after failed attempts\n")
            elif report.unreadable:
                errors.write(f"file: {report.unreadable}\n")
    _put_away(folders, claimed, report.import_id, keep=report.given_up or bool(report.unreadable))
    log.info(
        "inbox.imported",
        extra={
            "import": report.import_id,
            "new": report.new,
            "duplicate": report.duplicate,
            "rejected": report.rejected,
            "unreadable": report.unreadable is not None,
            "given_up": report.given_up,
        },
    )
    return report


def _importer_for(core: Core, stream: BinaryIO) -> Importer[Any]:
    """The importer of the file's kind, told by its header; the stream's position is kept."""
    if is_meldingen_header(first_line(stream)):
        return core.meldingen
    return core.detention


@contextlib.contextmanager
def _open_regular(name: str, folder: int) -> Iterator[BinaryIO | None]:
    """The file opened for reading, never through a link; None when it is not a regular file.

    Checked on the open file itself: a link or pipe swapped in after the listing is
    refused here (and its entry removed from processing/; a link's target is untouched).
    """
    fd: int | None = None
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=folder)
    except FileNotFoundError:
        pass  # gone meanwhile
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        log.warning("inbox.link_refused")
        os.unlink(name, dir_fd=folder)
    if fd is None:
        yield None
        return
    with os.fdopen(fd, "rb") as stream:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            log.warning("inbox.not_a_file")
            os.unlink(name, dir_fd=folder)
            yield None
            return
        # Until it is deleted only the bot's user may read it (if the bot owns it).
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, _PRIVATE)
        yield stream


@contextlib.contextmanager
def _create_private(name: str, folder: int) -> Iterator[TextIO]:
    """A new text file readable by the bot's user only (0600 whatever the umask).

    An older file in its place (left by an interrupted attempt, or a link put
    there) is removed first, never written through: O_EXCL and O_NOFOLLOW.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=folder)
    fd = os.open(
        name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, _PRIVATE, dir_fd=folder
    )
    os.fchmod(fd, _PRIVATE)  # the umask may have taken bits away; make it exact
    with os.fdopen(fd, "w", encoding="utf-8") as stream:
        yield stream


def _put_away(folders: _Folders, claimed: str, import_id: int, *, keep: bool) -> None:
    """Move the errors file (if it has any) and the file itself out of processing/.

    `keep`: the file could not be imported; it waits in rejected/ until the
    coordinators have been told (see `_erase_rejected`). Otherwise it is deleted.
    """
    source = folders.processing
    folder = folders.rejected if keep else folders.processed
    # `claimed` is safe: `_claim` gave an unsafe name a placeholder, left out here.
    numbered = f"import-{import_id}"
    if not _PLACEHOLDER.fullmatch(claimed):
        numbered += f"-{claimed}"
    target = _free_name(folder, numbered)
    errors_name = claimed + ERRORS_SUFFIX
    if os.stat(errors_name, dir_fd=source, follow_symlinks=False).st_size > 0:
        os.replace(errors_name, target + ERRORS_SUFFIX, src_dir_fd=source, dst_dir_fd=folder)
    else:
        os.unlink(errors_name, dir_fd=source)
    if keep:
        os.replace(claimed, target, src_dir_fd=source, dst_dir_fd=folder)
    else:
        os.unlink(claimed, dir_fd=source)


def _free_name(folder: int, name: str) -> str:
    """`name`, or `name.1`, `name.2` ... when it or its errors file is taken in `folder`."""
    target = name
    counter = 1
    while _exists(target, folder) or _exists(target + ERRORS_SUFFIX, folder):
        stem, suffix = os.path.splitext(name)
        target = f"{stem}.{counter}{suffix}"
        counter += 1
    return target


def _erase_rejected(core: Core, folder: int) -> None:
    """Delete each rejected file once no notice about its import waits to be sent."""
    for name in _candidates(folder, 0.0):
        match = _NUMBERED.match(name)
        if match is None:
            continue  # not ours (e.g. left by an older version): left to the operator
        import_id = int(match.group(1))
        if not core.detention.notices_pending(import_id):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(name, dir_fd=folder)
            log.info("inbox.rejected_file_erased", extra={"import": import_id})


def write_errors(stream: TextIO, line: int, reasons: list[str]) -> None:
    stream.write(f"line {line}: {'; '.join(reasons)}\n")
