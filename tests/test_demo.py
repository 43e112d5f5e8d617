from __future__ import annotations

import io

from bot.sandbox.demo import run_demo


def test_demo_runs_the_real_bot_and_prints_the_conversation() -> None:
    out = io.StringIO()
    assert run_demo(out) == 0
    transcript = out.getvalue()
    assert "vhbot -> Anna (not registered, Dutch):\n    Welkom" in transcript
    assert "vhbot -> John (not registered, English):\n    Welcome" in transcript
    assert "Reclassering Nederland als casemanager, coördinator" in transcript
    assert "vhbot -> partner group:\n    Stuur dit commando in een privégesprek" in transcript
    assert transcript.rstrip().endswith("Demo finished.")
