"""The `vhbot` command line as scripts use it: real subprocesses, real databases."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text
from sqlmodel import select

from bot.storage.engine import make_engine
from tests.conftest import operator_env, process_env

pytestmark = pytest.mark.slow


def vhbot(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path, empty_database_url: str) -> dict[str, str]:
    return process_env(
        VHBOT_DATABASE_URL=empty_database_url,
        VHBOT_KEY_FILE=str(tmp_path / "vhbot.keys"),
    )


@pytest.fixture
def ready(tmp_path: Path, database_url: str) -> dict[str, str]:
    """After `vhbot keys init` and `vhbot db upgrade` (tested above on their own)."""
    return operator_env(tmp_path, database_url)


def test_help_lists_the_commands(env: dict[str, str], tmp_path: Path) -> None:
    result = vhbot("--help", env=env, cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "demo", "db", "keys", "audit", "org", "member"):
        assert command in result.stdout


def test_keys_init_creates_a_private_file_once(env: dict[str, str], tmp_path: Path) -> None:
    first = vhbot("keys", "init", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "vhbot.keys"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    content = key_file.read_bytes()
    second = vhbot("keys", "init", env=env, cwd=tmp_path)
    assert second.returncode == 2
    assert "already exists" in second.stderr and second.stderr.count("\n") == 1
    assert key_file.read_bytes() == content


def test_files_are_private_whatever_the_umask(env: dict[str, str], tmp_path: Path) -> None:
    old = os.umask(0o002)  # a shared machine's default: group may write, all may read
    try:
        assert vhbot("keys", "init", env=env, cwd=tmp_path).returncode == 0
        upgraded = vhbot("db", "upgrade", env=env, cwd=tmp_path)
        org = vhbot("org", "add", "Politie Limburg", "--short", "POL", env=env, cwd=tmp_path)
    finally:
        os.umask(old)
    assert upgraded.returncode == 0 and org.returncode == 0, upgraded.stderr + org.stderr
    created = [tmp_path / "vhbot.keys"]
    url = env["VHBOT_DATABASE_URL"]
    if url.startswith("sqlite:///"):
        database = Path(url.removeprefix("sqlite:///"))
        created.append(database)
        created += list(database.parent.glob(f"{database.name}-*"))  # WAL, if left
    for path in created:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_db_upgrade_is_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    first = vhbot("db", "upgrade", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "upgraded" in first.stdout
    second = vhbot("db", "upgrade", env=env, cwd=tmp_path)
    assert second.returncode == 0
    assert "already at" in second.stdout


def test_org_member_and_audit_verify(ready: dict[str, str], tmp_path: Path) -> None:
    env = ready
    added = vhbot("org", "add", "Politie Limburg", "--short", "POL", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "radicalisering" not in added.stdout
    duplicate = vhbot("org", "add", "Politie", "--short", "pol", env=env, cwd=tmp_path)
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    member = vhbot(
        "member",
        "add",
        "--telegram-id",
        "4242",
        "--name",
        "Fenna Jansen",
        "--org",
        "POL",
        "--role",
        "coordinator",
        env=env,
        cwd=tmp_path,
    )
    assert member.returncode == 0, member.stderr
    listed = vhbot("org", "list", env=env, cwd=tmp_path)
    assert "POL" in listed.stdout
    verified = vhbot("audit", "verify", env=env, cwd=tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "intact: 2 entries" in verified.stdout
    rotated = vhbot("keys", "rotate", env=env, cwd=tmp_path)
    assert rotated.returncode == 0, rotated.stderr
    assert "under key k2" in rotated.stdout and "member.name_ct 1," in rotated.stdout


def test_an_unreachable_database_is_one_line_and_exit_75(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Not a wrong setting: the server did not answer. 75 (EX_TEMPFAIL) tells systemd
    to start it again later, where a wrong setting (2) stops it until it is fixed."""
    url = "postgresql://vhbot:s3cret@127.0.0.1:1/none"
    result = vhbot("db", "upgrade", env={**env, "VHBOT_DATABASE_URL": url}, cwd=tmp_path)
    assert result.returncode == 75
    assert "VHBOT_DATABASE_URL: cannot open" in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "s3cret" not in result.stderr


@pytest.mark.parametrize(
    ("args", "setup", "expected"),
    [
        (("run",), {}, "VHBOT_TELEGRAM_TOKEN is not set"),
        (("run",), {"VHBOT_TELEGRAM_TOKEN": "1:x"}, "VHBOT_PARTNER_CHAT_ID is not set"),
        (
            ("run",),
            {"VHBOT_TELEGRAM_TOKEN": "1:x", "VHBOT_PARTNER_CHAT_ID": "-100"},
            "run `vhbot keys init`",
        ),
        (("org", "list"), {"VHBOT_TIMEZONE": "Nowhere/Else"}, "VHBOT_TIMEZONE:"),
        (("db", "upgrade"), {"VHBOT_DATABASE_URL": "oracle://x"}, "VHBOT_DATABASE_URL:"),
    ],
)
def test_bad_configuration_gets_one_line(
    env: dict[str, str], tmp_path: Path, args: tuple[str, ...], setup: dict[str, str], expected: str
) -> None:
    result = vhbot(*args, env={**env, **setup}, cwd=tmp_path)
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "s3cret" not in result.stderr


def test_key_file_readable_by_others_is_refused(ready: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "vhbot.keys").chmod(0o644)
    result = vhbot("org", "list", env=ready, cwd=tmp_path)
    assert result.returncode == 2
    assert "readable by others" in result.stderr


def test_outdated_schema_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    assert vhbot("keys", "init", env=env, cwd=tmp_path).returncode == 0
    result = vhbot("org", "list", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "run `vhbot db upgrade`" in result.stderr


def test_invite_and_member_remove(ready: dict[str, str], tmp_path: Path) -> None:
    env = ready
    assert (
        vhbot("org", "add", "Mondriaan GGZ", "--short", "GGZ", env=env, cwd=tmp_path).returncode
        == 0
    )
    invite = vhbot("invite", "--org", "ggz", "--role", "casemanager", env=env, cwd=tmp_path)
    assert invite.returncode == 0, invite.stderr
    code = invite.stdout.strip()
    assert len(code) == 11 and code[5] == "-"
    assert "valid until" in invite.stderr and f"/start {code}" in invite.stderr
    unknown = vhbot("invite", "--org", "XYZ", env=env, cwd=tmp_path)
    assert unknown.returncode == 1 and "no organisation with code XYZ" in unknown.stderr

    added = vhbot(
        "member",
        "add",
        "--telegram-id",
        "5000000077",
        "--name",
        "Ruud Testlid",
        "--org",
        "GGZ",
        env=env,
        cwd=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    removed = vhbot("member", "remove", "--telegram-id", "5000000077", env=env, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "deactivated" in removed.stdout
    missing = vhbot("member", "remove", "--telegram-id", "1", env=env, cwd=tmp_path)
    assert missing.returncode == 1 and "no member" in missing.stderr


def _sql(env: dict[str, str], *statements: str) -> None:
    engine = make_engine(env["VHBOT_DATABASE_URL"])
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


def test_audit_verify_against_the_anchor(ready: dict[str, str], tmp_path: Path) -> None:
    env = ready
    for command in (
        ("org", "add", "Politie Limburg", "--short", "POL"),
        ("member", "add", "--telegram-id", "4242", "--name", "Fenna Jansen", "--org", "POL"),
        ("org", "add", "Reclassering Nederland", "--short", "RN"),
    ):
        assert vhbot(*command, env=env, cwd=tmp_path).returncode == 0
    anchors = tmp_path / "vhbot.keys.anchors"

    alone = vhbot("audit", "verify", env=env, cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert "intact: 3 entries" in alone.stdout
    assert f"no anchor file yet ({anchors})" in alone.stdout

    swept = vhbot("sweep", env=env, cwd=tmp_path)
    assert swept.returncode == 0, swept.stderr
    assert stat.S_IMODE(anchors.stat().st_mode) == 0o600
    anchored = json.loads(anchors.read_text())
    assert anchored["count"] == anchored["seq"] == 3
    matched = vhbot("audit", "verify", env=env, cwd=tmp_path)
    assert matched.returncode == 0, matched.stderr
    today = datetime.now(ZoneInfo("Europe/Amsterdam")).strftime("%Y-%m-%d")
    assert f"matches the anchor of {today}" in matched.stdout
    assert f"head {anchored['hash'][:8]}" in matched.stdout

    # The last entry deleted, with the triggers dropped first: the chain alone still holds.
    if env["VHBOT_DATABASE_URL"].startswith("postgresql"):
        _sql(
            env,
            "DROP TRIGGER audit_log_no_change ON audit_log",
            "DELETE FROM audit_log WHERE seq = 3",
        )
    else:
        _sql(env, "DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log WHERE seq = 3")
    truncated = vhbot("audit", "verify", env=env, cwd=tmp_path)
    assert truncated.returncode == 1
    assert "intact: 2 entries" in truncated.stdout
    assert truncated.stderr.count("\n") == 1, truncated.stderr
    assert truncated.stderr.startswith("vhbot: audit log truncated from entry 3")
    assert f"the anchor of {today}" in truncated.stderr

    anchors.write_text(anchors.read_text().replace('"count":3', '"count":2'))
    forged = vhbot("audit", "verify", env=env, cwd=tmp_path)
    assert forged.returncode == 1
    assert forged.stderr == (
        f"vhbot: anchor file {anchors}: line 1 does not verify (changed, forged or cut off)\n"
    )
    assert f"no valid anchor in {anchors}" in forged.stdout


def test_outbox_prints_counts_and_the_oldest_pending_age(
    ready: dict[str, str], tmp_path: Path
) -> None:
    from datetime import UTC, timedelta

    from bot.i18n import translator
    from bot.services import outbox
    from bot.storage.engine import Database
    from bot.storage.models import OutboxMessage

    env = ready
    empty = vhbot("outbox", env=env, cwd=tmp_path)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines()[:4] == [
        "pending: 0",
        "sent: 0",
        "failed: 0",
        "oldest pending age: -",
    ]
    db = Database.from_url(env["VHBOT_DATABASE_URL"])
    now = datetime.now(UTC)
    text = translator("nl")("Done.")
    with db.session() as session:
        rows = [(150, "pending"), (20, "pending"), (300, "sent"), (300, "sent"), (5, "failed")]
        for n, (age, _) in enumerate(rows):
            at = now - timedelta(minutes=age)
            outbox.enqueue(session, key=f"t:{n}", chat_id=n + 1, text=text, now=at)
        session.flush()
        for row in session.exec(select(OutboxMessage)).all():
            row.status = rows[int(row.dedupe_key[2:])][1]
            session.add(row)
    db.dispose()
    counted = vhbot("outbox", env=env, cwd=tmp_path)
    assert counted.returncode == 0, counted.stderr
    assert counted.stdout.splitlines()[:4] == [
        "pending: 2",
        "sent: 2",
        "failed: 1",
        "oldest pending age: 2 h 30 min",
    ]
