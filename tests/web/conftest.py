"""The web tests' report: where the browser tests left their screenshots."""

from __future__ import annotations

from pathlib import Path

import pytest

SAVED = pytest.StashKey[list[Path]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    saved = terminalreporter.config.stash.get(SAVED, [])
    if saved:
        terminalreporter.write_sep("-", "browser screenshots")
        for path in saved:
            terminalreporter.write_line(str(path))
