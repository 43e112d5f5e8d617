from __future__ import annotations

import io

from bot.sandbox.demo import run_demo


def test_demo_plays_the_morning() -> None:
    out = io.StringIO()
    assert run_demo(out) == 0
    transcript = out.getvalue()
    assert "5 new, 0 duplicate, 0 rejected" in transcript
    assert transcript.count("vhbot -> the partner group:\n    Nieuwe detentiemelding") == 5
    assert "[Bekend] [Niet bekend]" in transcript
    assert "(pop-up: Genoteerd voor Politie: bekend.)" in transcript
    assert "Nog geen reactie: 1" in transcript  # Maasgouw, the late organisation
    assert (
        "Herinnering: deze meldingen wachten nog op de reactie van Gemeente Maasgouw" in transcript
    )
    assert "De reactietermijn is verstreken. Nog niet binnen:" in transcript
    assert "finds 0 more to chase" in transcript
    assert transcript.rstrip().endswith("Demo finished.")
