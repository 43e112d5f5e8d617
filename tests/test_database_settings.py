"""Hostile review of issue 8: exit 75 is for a database that does not answer, not for
a wrong setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.test_cli import env as env  # the fixture
from tests.test_cli import vhbot

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("wrong", ["database", "user"])
def test_a_server_that_answers_no_is_a_wrong_setting_exit_2(
    env: dict[str, str], tmp_path: Path, wrong: str
) -> None:
    """deploy/README.md and bot/app.py open_database: 'A database that answers but refuses
    (wrong password, no such database) ... exit 2: the unit does not restart it'. psycopg
    gives every connection failure sqlstate None (the FATAL comes as text, not as a
    result), so a misspelt database or role exits 75 and systemd restarts the bot every
    10 s-2 min for ever instead of stopping it with the line to fix."""
    url = make_url(env["VHBOT_DATABASE_URL"])
    if url.get_backend_name() == "sqlite":
        pytest.skip("PostgreSQL only")
    if wrong == "database":
        url = url.set(database="vhbot_no_such_database_zz")
    else:
        url = url.set(username="vhbot_no_such_role_zz")
    result = vhbot(
        "db",
        "upgrade",
        env={**env, "VHBOT_DATABASE_URL": url.render_as_string(hide_password=False)},
        cwd=tmp_path,
    )
    assert "VHBOT_DATABASE_URL: cannot open" in result.stderr, result.stderr
    assert result.returncode == 2, f"exit {result.returncode}: {result.stderr.strip()}"
