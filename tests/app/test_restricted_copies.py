"""A private copy of a restricted announcement stops following the tally once its
reader is no longer entitled (found by a hostile review)."""

from __future__ import annotations

from sqlmodel import select

from bot.domain.roles import Theme
from bot.services.audit import CLI
from bot.storage.models import Member
from tests.app.conftest import RunningBot, World
from tests.app.test_announcement_kinds import Circle, circle, copies, item_kind, publish
from tests.app.test_answers import press
from tests.app.test_tallies import all_rendered

__all__ = ["circle", "item_kind"]  # fixtures of the announcement-kind tests


async def test_a_member_deactivated_after_publishing_no_longer_gets_the_tally(
    running: RunningBot, world: World, circle: Circle, item_kind: str
) -> None:
    telegram, core = running.telegram, running.core
    publish(running, item_kind, 99, Theme.RADICALISERING)
    await running.outbox_drained()
    with core.db.session() as session:
        lotte = session.exec(select(Member).where(Member.telegram_id == circle.lotte.id)).one()
        assert lotte.id is not None
        core.memberships.deactivate(session, member_id=lotte.id, actor=CLI)
    [kims] = copies(running, circle.kim, "VH-2026-0099")
    await press(running, circle.kim, kims, kims.button_data("Bekend"))
    await running.settled()
    await all_rendered(core)
    edited = [c.params["chat_id"] for c in telegram.calls("editMessageText")]
    assert circle.kim.id in edited
    # Lotte left: her private copy of a radicalisation item keeps being updated
    # with who answered what.
    assert circle.lotte.id not in edited
