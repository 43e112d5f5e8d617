"""The audit anchor file: an append-only record of the audit chain's head, outside the database.

One line per anchor (see `audit_chain.encode_anchor`), each with an HMAC under
the audit key, so a line edited or forged without the key file is found. The
file is created 0600 whatever the umask, only ever opened with O_APPEND and
never rewritten; a symlink in its place is refused.

Errors name the file and the problem, never its content.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.privacy.audit_chain import Anchor, decode_anchor, encode_anchor

# A valid line is about 250 bytes; a year of daily anchors stays far below this.
_MAX_BYTES = 64 * 1024 * 1024


class AnchorFileError(Exception):
    """The anchor file cannot be read or written; the message names the file, not its lines."""


@dataclass(frozen=True)
class AnchorLineProblem:
    """A line of the anchor file that cannot be trusted.

    Attributes:
        line: its line number, from 1.
        digest: the first 12 hex characters of the line's SHA-256: tells this
            line from another at the same number (after the file was replaced).
        replayed: False: the line does not verify (edited, forged, or cut off by a
            crash); True: it verifies but goes back to fewer entries than a line
            before it (an old line copied to the end, or lines reordered).
    """

    line: int
    digest: str
    replayed: bool = False


@dataclass(frozen=True)
class AnchorReading:
    """What the anchor file holds.

    Attributes:
        exists: False when there is no anchor file yet.
        anchors: the lines that verify, in file order.
        problems: the lines that do not (see AnchorLineProblem).
    """

    exists: bool
    anchors: tuple[Anchor, ...] = ()
    problems: tuple[AnchorLineProblem, ...] = ()

    @property
    def last(self) -> Anchor | None:
        """The newest valid anchor."""
        # Lines that go back are reported as problems, not kept: the last kept is the newest.
        return self.anchors[-1] if self.anchors else None


class AnchorFile:
    """The anchor file at `path`, authenticated with the audit key."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    def read(self) -> AnchorReading:
        """Every line, checked.

        Raises:
            AnchorFileError: the file exists but cannot be read, or is not a regular file.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return AnchorReading(exists=False)
        except OSError as exc:
            raise self._error("cannot be opened", exc) from None
        try:
            return self._parse(self._read_all(fd))
        finally:
            os.close(fd)

    def append(self, anchor: Anchor, *, due: Callable[[Anchor | None], bool] | None = None) -> bool:
        """Append one anchor line; False when it was not due.

        The file is locked while its last anchor is read and the line written,
        so two processes (`vhbot run` and `vhbot sweep`) decide against the
        same last line and never write lines out of order: a line that would go
        back to an older head than the last valid anchor is never written, and
        `due(last)` may refuse others (e.g. one already written today).

        Raises:
            AnchorFileError: the file or its folder cannot be created or written.
        """
        fd = self._open_for_append()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = self._read_all(fd)
            last = self._parse(raw).last
            if last is not None and (last.seq, last.count) > (anchor.seq, anchor.count):
                return False
            if due is not None and not due(last):
                return False
            line = encode_anchor(anchor, self._key).encode("ascii")
            if raw and not raw.endswith(b"\n"):
                # Half a line left by a crash stays (and is reported); ours starts clean.
                line = b"\n" + line
            # One write of one short line with O_APPEND: it lands whole at the end.
            written = os.write(fd, line)
            if written != len(line):
                raise OSError(0, "short write")
            os.fsync(fd)
        except OSError as exc:
            raise self._error("cannot be written", exc) from None
        finally:
            os.close(fd)  # also releases the lock
        return True

    def _open_for_append(self) -> int:
        # Read too: the last line is checked under the same lock the write holds.
        flags = os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise self._error("cannot create its folder", exc) from None
        created = True
        try:
            fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            created = False
            try:
                fd = os.open(self.path, flags)
            except OSError as exc:
                raise self._error("cannot be opened", exc) from None
        except OSError as exc:
            raise self._error("cannot be created", exc) from None
        try:
            if created:
                # The umask may only remove bits; make the mode exact anyway.
                os.fchmod(fd, 0o600)
                _fsync_dir(self.path.parent)
            elif not stat.S_ISREG(os.fstat(fd).st_mode):
                raise AnchorFileError(f"anchor file {self.path} is not a regular file")
        except OSError as exc:
            os.close(fd)
            raise self._error("cannot be prepared", exc) from None
        except AnchorFileError:
            os.close(fd)
            raise
        return fd

    def _read_all(self, fd: int) -> bytes:
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise AnchorFileError(f"anchor file {self.path} is not a regular file")
            if info.st_size > _MAX_BYTES:
                raise AnchorFileError(
                    f"anchor file {self.path} is larger than an anchor file can be"
                )
            chunks: list[bytes] = []
            offset = 0
            while True:
                chunk = os.pread(fd, 1 << 16, offset)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                offset += len(chunk)
        except OSError as exc:
            raise self._error("cannot be read", exc) from None

    def _parse(self, raw: bytes) -> AnchorReading:
        anchors: list[Anchor] = []
        problems: list[AnchorLineProblem] = []
        highest = (-1, -1)
        lines = raw.split(b"\n")
        # Every line written ends in a newline: the part after the last one is
        # empty, unless a crash (or someone) left half a line there.
        for number, line in enumerate(lines, start=1):
            if number == len(lines) and not line:
                break
            anchor = self._decode(line)
            digest = hashlib.sha256(line).hexdigest()[:12]
            if anchor is None:
                problems.append(AnchorLineProblem(number, digest))
            elif (anchor.seq, anchor.count) < highest:
                # The log only grows, and appends are locked and ordered.
                problems.append(AnchorLineProblem(number, digest, replayed=True))
            else:
                highest = (anchor.seq, anchor.count)
                anchors.append(anchor)
        return AnchorReading(exists=True, anchors=tuple(anchors), problems=tuple(problems))

    def _decode(self, line: bytes) -> Anchor | None:
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            return None
        return decode_anchor(text, self._key)

    def _error(self, what: str, exc: OSError) -> AnchorFileError:
        # strerror only ("Permission denied"); str(exc) would repeat the path.
        return AnchorFileError(
            f"anchor file {self.path} {what} ({exc.strerror or type(exc).__name__})"
        )


def _fsync_dir(directory: Path) -> None:
    # Makes the new directory entry durable; not every platform allows it.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
