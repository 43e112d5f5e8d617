from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.privacy.anchor_file import AnchorFile, AnchorFileError, AnchorLineProblem
from bot.privacy.audit_chain import GENESIS_HASH, Anchor, encode_anchor

KEY = bytes(range(32))
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def anchor(n: int, *, hash_char: str = "a") -> Anchor:
    return Anchor(at=START + timedelta(days=n), count=n, seq=n, hash=hash_char * 64, keyed_from=1)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "vhbot.keys.anchors"


def test_no_file_yet(path: Path) -> None:
    reading = AnchorFile(path, KEY).read()
    assert not reading.exists
    assert reading.last is None
    assert not path.exists()


def test_created_0600_whatever_the_umask(path: Path) -> None:
    old = os.umask(0)
    try:
        AnchorFile(path, KEY).append(anchor(1))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_lines_are_appended_never_rewritten(path: Path) -> None:
    anchors = AnchorFile(path, KEY)
    assert anchors.append(anchor(1))
    first = path.read_bytes()
    inode = path.stat().st_ino
    assert anchors.append(anchor(2))
    assert (
        anchors.append(Anchor(at=START, count=0, seq=0, hash=GENESIS_HASH, keyed_from=1)) is False
    )
    content = path.read_bytes()

    assert content.startswith(first)
    assert path.stat().st_ino == inode
    assert content == (encode_anchor(anchor(1), KEY) + encode_anchor(anchor(2), KEY)).encode()
    reading = anchors.read()
    assert reading.anchors == (anchor(1), anchor(2))
    assert reading.last == anchor(2)
    assert reading.problems == ()


def test_an_append_goes_to_the_end_whatever_the_file_offset(path: Path) -> None:
    """O_APPEND: a writer cannot be made to overwrite an earlier line."""
    anchors = AnchorFile(path, KEY)
    anchors.append(anchor(1))
    flags = os.O_APPEND
    real_open = os.open
    seen: list[int] = []

    def spying_open(file: object, mode: int, *args: object) -> int:
        seen.append(mode)
        return real_open(file, mode, *args)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "open", spying_open)
        anchors.append(anchor(2))
    assert any(mode & flags == flags for mode in seen)
    assert anchors.read().anchors == (anchor(1), anchor(2))


def test_a_changed_or_forged_line_is_reported_by_number(path: Path) -> None:
    anchors = AnchorFile(path, KEY)
    for n in (1, 2, 3):
        anchors.append(anchor(n))
    lines = path.read_text().splitlines(keepends=True)
    edited = json.loads(lines[1])
    edited["count"] = 1
    forged = encode_anchor(anchor(9), bytes(32))  # made without the key
    path.write_text(lines[0] + json.dumps(edited) + "\n" + lines[2] + forged)

    reading = anchors.read()

    assert [p.line for p in reading.problems] == [2, 4]
    assert not any(p.replayed for p in reading.problems)
    assert reading.last == anchor(3)


def test_a_replayed_old_line_is_reported_and_not_taken_as_the_last(path: Path) -> None:
    anchors = AnchorFile(path, KEY)
    anchors.append(anchor(1))
    anchors.append(anchor(5))
    with path.open("a") as handle:
        handle.write(encode_anchor(anchor(1), KEY))  # an old, valid line copied to the end

    reading = anchors.read()

    assert reading.problems == (AnchorLineProblem(3, reading.problems[0].digest, replayed=True),)
    assert reading.last == anchor(5)


def test_half_a_line_at_the_end_is_reported(path: Path) -> None:
    anchors = AnchorFile(path, KEY)
    anchors.append(anchor(1))
    with path.open("a") as handle:
        handle.write(encode_anchor(anchor(2), KEY)[:40])
    assert [p.line for p in anchors.read().problems] == [2]


def test_binary_junk_is_a_problem_not_a_crash(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\xff\xfe\x00garbage\n" + encode_anchor(anchor(1), KEY).encode())
    reading = AnchorFile(path, KEY).read()
    assert [p.line for p in reading.problems] == [1]
    assert reading.last == anchor(1)


def test_a_symlink_in_its_place_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "vhbot.keys.anchors"
    link.symlink_to(target)
    anchors = AnchorFile(link, KEY)
    with pytest.raises(AnchorFileError, match="cannot be opened"):
        anchors.append(anchor(1))
    with pytest.raises(AnchorFileError, match="cannot be opened"):
        anchors.read()
    assert target.read_text() == ""


def test_an_unwritable_place_is_one_error_naming_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    anchors = AnchorFile(blocker / "vhbot.anchors", KEY)
    with pytest.raises(AnchorFileError) as raised:
        anchors.append(anchor(1))
    message = str(raised.value)
    assert message.startswith(f"anchor file {blocker / 'vhbot.anchors'} ")
    assert "\n" not in message


def test_after_half_a_line_the_next_append_starts_on_its_own_line(path: Path) -> None:
    anchors = AnchorFile(path, KEY)
    anchors.append(anchor(1))
    with path.open("a") as handle:
        handle.write(encode_anchor(anchor(2), KEY)[:40])  # a crash in the middle of a write

    assert anchors.append(anchor(3))

    reading = anchors.read()
    assert [p.line for p in reading.problems] == [2]
    assert reading.anchors == (anchor(1), anchor(3))


def test_due_is_decided_under_the_lock_against_the_last_line(path: Path) -> None:
    anchors = AnchorFile(path, KEY)
    seen: list[Anchor | None] = []

    def never(last: Anchor | None) -> bool:
        seen.append(last)
        return False

    assert anchors.append(anchor(1))
    assert anchors.append(anchor(2), due=never) is False
    assert seen == [anchor(1)]
    assert anchors.read().anchors == (anchor(1),)
