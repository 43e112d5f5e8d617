"""Rules of the code that no type checker sees, read from the source."""

from __future__ import annotations

import re
from pathlib import Path

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
