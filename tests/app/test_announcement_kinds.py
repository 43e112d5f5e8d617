"""One announcement mechanism for every kind: a new kind is a renderer and a publish call.

A tiny kind registered here only for the tests is published through the service
and goes where its theme says: a restricted theme only privately, to the active
members of the organisations granted it; any other theme to the partner group.
A press in any copy records the organisation's answer, and every copy shows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from bot.clock import FrozenClock
from bot.config import Settings
from bot.domain.roles import Role, Theme
from bot.i18n import Translator
from bot.safe import CaseReference, SafeText
from bot.sandbox.fake_telegram import FakeUser, SentMessage
from bot.scheduling.duties import chase_overdue_answers
from bot.services.audit import CLI
from bot.storage.models import Announcement, AnnouncementMessage, Answer
from bot.views.announcements import RENDERERS, THEME_LABELS, Tally, tally_line
from tests.app.conftest import RunningBot, World
from tests.app.test_answers import press
from tests.app.test_tallies import all_rendered

KIND = "test_item"


@dataclass(frozen=True)
class ItemFacts:
    reference: CaseReference
    theme: Theme


class ItemRenderer:
    """All a second kind needs: its facts, its text, its buttons."""

    def facts(self, session: Session, announcement: Announcement, settings: Settings) -> ItemFacts:
        reference = CaseReference(f"VH-2026-{announcement.subject_id:04d}")
        return ItemFacts(reference, Theme(announcement.theme))

    def text(self, facts: ItemFacts, tally: Tally | None, _: Translator, tz: ZoneInfo) -> SafeText:
        lines = [SafeText.joined(" · ", [facts.reference, _(THEME_LABELS[facts.theme])])]
        if tally is not None:
            lines.append(tally_line(tally, _))
        return SafeText.joined("\n", lines)

    def keyboard(self, announcement_id: int, _: Translator) -> str:
        return json.dumps(
            {
                "inline_keyboard": [
                    [
                        {"text": _("Known"), "callback_data": f"ans:{announcement_id}:y"},
                        {"text": _("Not known"), "callback_data": f"ans:{announcement_id}:n"},
                    ]
                ]
            }
        )


@pytest.fixture
def item_kind(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setitem(RENDERERS, KIND, ItemRenderer())
    return KIND


@dataclass
class Circle:
    """Two organisations granted radicalisation, beside the world's two that are not."""

    kim: FakeUser  # Expertisecentrum Radicalisering
    lotte: FakeUser  # Expertisecentrum Radicalisering
    noor: FakeUser  # GGZ Noord
    gone: FakeUser  # GGZ Noord, deactivated

    @property
    def entitled(self) -> list[FakeUser]:
        return [self.kim, self.lotte, self.noor]


@pytest.fixture
def circle(running: RunningBot, world: World) -> Circle:
    core, telegram = running.core, running.telegram
    users = {
        name: telegram.add_user(name, language_code="nl", started=True)
        for name in ("Kim", "Lotte", "Noor", "Rik")
    }
    with core.db.session() as session:
        core.memberships.add_organisation(
            session, name="Expertisecentrum Radicalisering", code="RAD",
            themes=[Theme.RADICALISERING], actor=CLI,
        )  # fmt: skip
        core.memberships.add_organisation(
            session, name="GGZ Noord", code="GGZ",
            themes=[Theme.RADICALISERING, Theme.NAZORG], actor=CLI,
        )  # fmt: skip
        for name, code in (("Kim", "RAD"), ("Lotte", "RAD"), ("Noor", "GGZ"), ("Rik", "GGZ")):
            member = core.memberships.add_member(
                session, telegram_id=users[name].id, name=f"{name} Testlid",
                organisation_code=code, roles=[Role.PARTNER], actor=CLI,
            )  # fmt: skip
            assert member.id is not None
            if name == "Rik":
                core.memberships.deactivate(session, member_id=member.id, actor=CLI)
    return Circle(users["Kim"], users["Lotte"], users["Noor"], users["Rik"])


def publish(running: RunningBot, kind: str, subject_id: int, theme: Theme) -> int:
    core = running.core
    now = core.clock.now()
    with core.db.session() as session:
        return core.announcements.publish(
            session, kind=kind, subject_id=subject_id, theme=theme, case_id=None,
            deadline=now + timedelta(days=1), now=now,
        )  # fmt: skip


def copies(running: RunningBot, user: FakeUser | None, reference: str) -> list[SentMessage]:
    chat_id = running.group.id if user is None else user.id
    return [m for m in running.telegram.messages_to(chat_id) if reference in m.text]


async def test_a_restricted_theme_goes_only_privately_to_the_entitled_members(
    running: RunningBot, world: World, circle: Circle, item_kind: str, clock: FrozenClock
) -> None:
    telegram, core = running.telegram, running.core
    announcement_id = publish(running, item_kind, 99, Theme.RADICALISERING)
    await running.outbox_drained()

    # One private message to each active member of the two entitled organisations.
    for user in circle.entitled:
        [message] = copies(running, user, "VH-2026-0099")
        assert message.text == "VH-2026-0099 · Radicalisering"
        assert [b["text"] for b in message.buttons()] == ["Bekend", "Niet bekend"]
    # Never the group; nobody else: not the others, not the deactivated member.
    assert copies(running, None, "VH-2026-0099") == []
    others = [world.partner, world.casemanager, world.coordinator, world.deactivated, circle.gone]
    assert all(copies(running, user, "VH-2026-0099") == [] for user in others)
    with core.db.session() as session:
        shown = session.exec(select(AnnouncementMessage.chat_id)).all()
    assert sorted(shown) == sorted(user.id for user in circle.entitled)

    # Kim answers in her private chat: recorded for her organisation, and every copy
    # (Lotte's and Noor's too) shows it.
    [kims] = copies(running, circle.kim, "VH-2026-0099")
    text = await press(running, circle.kim, kims, kims.button_data("Bekend"))
    assert text == "Genoteerd voor Expertisecentrum Radicalisering: bekend."
    for user in circle.entitled:
        await telegram.wait_for_message(
            user.id, contains="Bekend: Expertisecentrum Radicalisering · Nog geen reactie: 1"
        )
    await running.settled()
    await all_rendered(core)
    with core.db.session() as session:
        [answer] = session.exec(select(Answer)).all()
        assert (answer.announcement_id, answer.known) == (announcement_id, True)
    edited = [c.params["chat_id"] for c in telegram.calls("editMessageText")]
    assert sorted(edited) == sorted(user.id for user in circle.entitled)  # once each

    # The deadline passes: GGZ Noord, which did not answer, is reminded privately,
    # pointing at this chat; the group hears nothing of a restricted theme.
    clock.advance(timedelta(days=1, minutes=1))
    assert await core.db.run(chase_overdue_answers, core) == 1
    await running.outbox_drained()
    [reminder] = [m for m in telegram.messages_to(circle.noor.id) if "Herinnering" in m.text]
    assert "GGZ Noord" in reminder.text and "in dit gesprek" in reminder.text
    assert "• VH-2026-0099" in reminder.text
    assert not [m for m in telegram.messages_to(circle.kim.id) if "Herinnering" in m.text]
    assert not [m for m in telegram.messages_to(running.group.id) if "Nog niet binnen" in m.text]


async def test_a_second_kind_needs_only_a_renderer(
    running: RunningBot, world: World, circle: Circle, item_kind: str
) -> None:
    """A theme that is not restricted: one message, in the partner group."""
    telegram = running.telegram
    publish(running, item_kind, 7, Theme.JEUGD)
    await running.outbox_drained()
    [message] = copies(running, None, "VH-2026-0007")
    assert message.text == "VH-2026-0007 · Jeugd"
    everyone = [world.partner, world.casemanager, world.coordinator, *circle.entitled]
    assert all(copies(running, user, "VH-2026-0007") == [] for user in everyone)
    await press(running, world.partner, message, message.button_data("Niet bekend"))
    await telegram.wait_for_message(running.group.id, contains="Niet bekend: Politie Limburg")


async def test_a_kind_without_a_renderer_is_refused(running: RunningBot) -> None:
    from bot.views.announcements import UnknownKind

    with pytest.raises(UnknownKind):
        publish(running, "no_such_kind", 1, Theme.JEUGD)
    with running.core.db.session() as session:
        assert session.exec(select(Announcement)).all() == []
