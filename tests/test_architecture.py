"""Rules of the code that no type checker sees, read from the source."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parent.parent / "bot"


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(BOT.parent)): path.read_text(encoding="utf-8")
        for path in BOT.rglob("*.py")
    }


def test_safe_texts_are_made_only_by_the_translator_and_the_outbox() -> None:
    """`SafeText(...)` would wrap any string as safe; only these places may build one."""
    allowed = {"bot/safe.py", "bot/i18n.py"}
    direct = re.compile(r"\bSafeText\(")
    offenders = [name for name, text in _sources().items() if direct.search(text)]
    assert sorted(set(offenders) - allowed) == []
    restorers = [name for name, text in _sources().items() if "SafeText.restore(" in text]
    assert restorers == ["bot/services/outbox.py"]


def _modules() -> list[str]:
    """Every module under bot/, by dotted name; the Alembic scripts only run inside Alembic."""
    migrations = BOT / "storage" / "migrations"
    names = []
    for path in sorted(BOT.rglob("*.py")):
        if migrations in path.parents:
            continue
        parts = path.relative_to(BOT.parent).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _third_party_imports() -> list[str]:
    """The modules outside bot/ that bot/ imports, as written (`telegram.ext`, `sqlalchemy`)."""
    found: dict[str, None] = {}
    for text in _sources().values():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                found.update(dict.fromkeys(alias.name for alias in node.names))
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found[node.module] = None
    return [name for name in found if name.split(".")[0] not in {"bot", "__future__"}]


# Runs in a fresh interpreter: loads the third-party libraries once, then forks one
# child per bot module. A child starts with no bot module loaded, so an import
# cycle among bot's modules fails there exactly as `python -c "import bot.X"` would;
# only the libraries' import time (seconds per interpreter) is shared.
_IMPORT_EACH = """
import importlib, os, sys, traceback
libraries, modules = sys.argv[1].split(","), sys.argv[2].split(",")
for name in libraries:
    try:
        importlib.import_module(name)
    except Exception:
        pass  # an optional import (try/except in bot/); the child meets it for real
assert not any(name == "bot" or name.startswith("bot.") for name in sys.modules)
running, failures = {}, []
def reap():
    pid, status = os.wait()
    module, read_end = running.pop(pid)
    with os.fdopen(read_end) as pipe:
        message = pipe.read().strip()
    if status != 0:
        failures.append(f"{module}: {message or status}")
for module in modules:
    if len(running) >= 8:
        reap()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        try:
            importlib.import_module(module)
        except BaseException:
            os.write(write_end, traceback.format_exc().strip().splitlines()[-1].encode())
            os._exit(1)
        os._exit(0)
    os.close(write_end)
    running[pid] = (module, read_end)
while running:
    reap()
sys.stdout.write("\\n".join(sorted(failures)))
"""


@pytest.mark.slow  # 3 to 10 s: some 80 children, each running its modules' top level
@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks one child per module")
def test_every_module_imports_on_its_own() -> None:
    """`python -c "import bot.X"` works for every X: no import cycle hides behind import order."""
    modules = _modules()
    assert {"bot.app", "bot.scheduling.group_removal", "bot.domain.dpan"} <= set(modules)
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, ",".join(_third_party_imports()), ",".join(modules)],
        cwd=BOT.parent, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == []


@pytest.mark.slow  # one interpreter start
def test_the_command_line_loads_no_telegram_code() -> None:
    """A `vhbot` command other than run or demo opens the Core only: without Telegram's
    library (and its HTTP client) loaded it starts in about a second, not 1.5."""
    check = (
        "import sys, bot.__main__, bot.app, bot.storage.migrate\n"
        "print(sorted(m for m in ('telegram', 'httpx') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=BOT.parent, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
