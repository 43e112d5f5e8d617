"""The outgoing guard: every identity held, minus the bot's own constant wording."""

from __future__ import annotations

from datetime import date

from bot.app import Core
from bot.privacy.pseudonym import Identity
from bot.services.audit import CLI
from bot.services.guard import OutgoingGuard


async def test_guard_catches_identities_but_not_organisation_names(core: Core) -> None:
    person = Identity(
        surname="Mee", given_names="Anouk Lieke", birth_date=date(1984, 3, 7), bsn="111222333"
    )
    with core.db.session() as session:
        core.vault.register(session, person, actor=CLI)
        core.memberships.add_organisation(session, name="MEE", code="MEE", themes=None, actor=CLI)
    guard = OutgoingGuard(core.db, core.vault, allowed_words=core.settings.municipalities)

    assert await guard.scan(["Bekend: MEE, Politie · Nog geen reactie: 3"]) == []
    leaks = ["Over Anouk", "geboren 07-03-1984", "BSN 111 222 333", "Lieke"]
    for text in leaks:
        assert await guard.scan([text]), text
    assert guard.identities == 1


async def test_guard_learns_persons_added_later_by_another_process(core: Core) -> None:
    guard = OutgoingGuard(core.db, core.vault)
    assert await guard.scan(["Sjoerd Brinkhuis"]) == []
    later = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:  # as `vhbot import dpan` would, elsewhere
        core.vault.register(session, later, actor=CLI)
    assert {hit.kind for hit in await guard.scan(["Sjoerd Brinkhuis"])} == {"surname", "given_name"}
