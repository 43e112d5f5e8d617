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
    # Identity only on the page: a private link, a set-up code, the page once, then refused.
    assert "[Bekend] [Niet bekend] [Gegevens bekijken]" in transcript
    assert "vhbot -> Politie (private):\n    Je link naar de persoonsgegevens van VH-" in transcript
    assert "(pop-up: Ik heb je een link gestuurd in onze privéchat.)" in transcript
    assert "The page (HTTP 200) shows name" in transcript
    assert "The same link a second time (HTTP 403): Deze link kan niet worden gebruikt." in (
        transcript
    )
    assert transcript.rstrip().endswith("Demo finished.")
