"""The form for a new melding (/melding) on the reveal pages: link, PIN, form, stored once.

The world is the reveal tests' (the coordinator is member 4, of VHH, which takes
part in every theme but radicalisering); the clock starts at 2026-11-23 09:00
(Amsterdam) and moves only when told.
"""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.reveal import LinkState
from bot.domain.roles import Role
from bot.services.audit import CLI
from bot.services.reveal import IssuedLink, Refusal, Refused, token_hash
from bot.storage.models import Case, Melding, Member, OutboxMessage
from bot.storage.repositories import RevealLinkRepository
from bot.web.forms import melding_form_token
from tests.conftest import People
from tests.services.test_reveal import (
    OTHER_PIN,
    PIN,
    World,
    audit,
    refusals,
    state,
    with_pin,
    world,
)
from tests.web.test_reveal_pages import client, form_of, post, refused

__all__ = ["client", "world"]  # fixtures shared with the reveal tests

REFERENCE = re.compile(r"VH-2026-[0-9]{4}")


def issue_form(core: Core, member_id: int) -> str:
    with core.db.session() as session:
        issued = core.reveals.issue_melding_form_link(session, member_id)
    assert isinstance(issued, IssuedLink), issued
    return issued.url.rsplit("/", 1)[1]


def good(**changes: str) -> dict[str, str]:
    values = {
        "step": "melding",
        "bron": "politie",
        "thema": "top_x",
        "achternaam": "Formulierman",
        "voornamen": "Gerrit Jan",
        "geboortedatum": "1984-03-07",
        "bsn": "",
        "gemeente": "Roermond",
        "datum": "2026-11-20",
        "opmerking": "Belde zelf, \nbezorgde buurman",
    }
    values.update(changes)
    return values


async def opened_form(client: httpx.AsyncClient, core: Core, world: World) -> tuple[str, str]:
    """A coordinator's link opened with their PIN: its token and the melding form's token."""
    with_pin(core, world.coordinator)
    token = issue_form(core, world.coordinator)
    page = await client.get(f"/r/{token}")
    assert page.status_code == 200 and 'name="pin"' in page.text
    shown = await post(client, token, form_of(page), pin=PIN)
    assert shown.status_code == 200 and 'name="achternaam"' in shown.text
    return token, form_of(shown)


def meldingen(core: Core) -> list[Melding]:
    with core.db.session() as session:
        return list(session.exec(select(Melding).where(Melding.soort == "melding")).all())


async def test_the_form_stores_the_melding_once_and_shows_its_case(
    client: httpx.AsyncClient, core: Core, world: World, people: People
) -> None:
    token, form = await opened_form(client, core, world)
    assert state(core, token) is LinkState.USED  # used up at the PIN, counted like a reveal
    assert "Formulierman" not in (await client.get(f"/r/{token}")).text

    stored = await post(client, token, form, **good())
    assert stored.status_code == 200, stored.text
    found = REFERENCE.search(stored.text)
    assert found and "geopend" in stored.text
    [melding] = meldingen(core)
    assert (melding.bron, melding.theme, melding.municipality) == ("politie", "top_x", "Roermond")
    assert melding.remark_ct is not None and b"buurman" not in melding.remark_ct.encode()
    with core.db.session() as session:
        case = session.get(Case, melding.case_id)
        assert case is not None and case.reference == found.group(0)
        # The coordinator hears the reference in Telegram too (only the reference).
        [told] = session.exec(
            select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith("melding-form:"))  # type: ignore[union-attr]
        ).all()
        member = session.get(Member, world.coordinator)
        assert member is not None and told.chat_id == member.telegram_id
        assert found.group(0) in told.text and "Formulierman" not in told.text
    [(_, actor, _, details)] = audit(core, "melding.add")
    assert actor == f"member:{world.coordinator}" and details["reference"] == found.group(0)

    # A double click: the second send stores nothing and says the first one did.
    again = await post(client, token, form, **good())
    assert again.status_code == 409 and "al verstuurd" in again.text
    assert len(meldingen(core)) == 1
    assert "Formulierman" not in again.text


async def test_every_field_problem_is_shown_next_to_its_field_with_the_values_kept(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    token, form = await opened_form(client, core, world)
    wrong = good(
        bron="brandweer",
        thema="radicalisering",  # VHH does not take part in it
        achternaam="",
        voornamen="Gerrit\nJan",
        geboortedatum="31-02-1984",
        bsn="123456789",
        gemeente="Maastricht",
        datum="2026-12-24",
        opmerking="bel\x07terug",
    )
    page = await post(client, token, form, **wrong)
    assert page.status_code == 200
    assert "Nog niet opgeslagen" in page.text
    for name in (
        "bron", "thema", "achternaam", "voornamen", "geboortedatum", "bsn", "gemeente",
        "datum", "opmerking",
    ):  # fmt: skip
        block = re.search(rf'<label for="{name}">.*?</div>', page.text, flags=re.DOTALL)
        assert block, name
        assert f'id="{name}-problem"' in block.group(0), name
    assert "je organisatie neemt niet deel aan dit thema" in page.text
    # The values as sent stay in the form; the theme list offers only what VHH may enter.
    assert 'value="123456789"' in page.text and 'value="31-02-1984"' in page.text
    assert '<option value="radicalisering"' not in page.text
    assert meldingen(core) == []
    [(_, _, _, details)] = audit(core, "melding_form.problems")
    assert details["fields"] == (
        "achternaam,bron,bsn,datum,geboortedatum,gemeente,opmerking,thema,voornamen"
    )

    # Corrected, within the form's time: stored.
    stored = await post(client, token, form_of(page), **good())
    assert REFERENCE.search(stored.text) and len(meldingen(core)) == 1


async def test_a_second_melding_for_the_person_joins_the_open_case(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    token, form = await opened_form(client, core, world)
    first = REFERENCE.search((await post(client, token, form, **good())).text)
    token = issue_form(core, world.coordinator)
    page = await client.get(f"/r/{token}")
    second_form = form_of(await post(client, token, form_of(page), pin=PIN))
    joined = await post(client, token, second_form, **good(bron="ggz", datum="2026-11-22"))
    assert first and first.group(0) in joined.text and "toegevoegd" in joined.text


async def test_only_a_coordinator_gets_a_form_link(core: Core, world: World) -> None:
    with core.db.session() as session:
        refused_ = core.reveals.issue_melding_form_link(session, world.partner)
    assert refused_ == Refused(Refusal.NOT_ALLOWED)
    assert refusals(core) == ["not_allowed"]


async def test_wrong_pin_expired_link_and_expired_form(
    client: httpx.AsyncClient, core: Core, world: World, clock: FrozenClock
) -> None:
    with_pin(core, world.coordinator)
    token = issue_form(core, world.coordinator)
    page = await client.get(f"/r/{token}")
    wrong = await post(client, token, form_of(page), pin=OTHER_PIN)
    assert "Onjuiste pincode" in wrong.text and 'name="achternaam"' not in wrong.text
    assert state(core, token) is LinkState.OK

    clock.advance(timedelta(minutes=10))  # the link's ten minutes
    late = await post(client, token, form_of(wrong), pin=PIN)
    assert refused(late) and 'name="achternaam"' not in late.text

    token, form = await opened_form(client, core, world)
    clock.advance(timedelta(minutes=30))  # the form's thirty minutes after the PIN
    too_late = await post(client, token, form, **good())
    assert refused(too_late)
    assert meldingen(core) == []


async def test_a_forged_or_pin_form_token_and_a_reused_link_change_nothing(
    client: httpx.AsyncClient, core: Core, world: World, clock: FrozenClock
) -> None:
    with_pin(core, world.coordinator)
    token = issue_form(core, world.coordinator)
    pin_form = form_of(await client.get(f"/r/{token}"))
    # The PIN page's token is no melding form's token: the PIN cannot be skipped.
    skipped = await post(client, token, pin_form, **good())
    assert refused(skipped)
    # Nor can a form token be made without the key, before or after the PIN.
    forged = melding_form_token(b"k" * 32, token, until=clock.now() + timedelta(minutes=5))
    assert refused(await post(client, token, forged, **good()))
    shown = await post(client, token, pin_form, pin=PIN)
    form = form_of(shown)
    assert refused(await post(client, token, forged, **good()))
    assert refused(await post(client, token, None, **good()))
    # The link is used: its PIN form again is refused.
    reused = await post(client, token, pin_form, pin=PIN)
    assert refused(reused)
    assert meldingen(core) == []
    assert refusals(core).count("form_token") == 4
    assert REFERENCE.search((await post(client, token, form, **good())).text)


async def test_revoking_or_losing_the_role_closes_an_open_form(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    token, form = await opened_form(client, core, world)
    with core.db.session() as session:
        # The open form, and the unused link with which with_pin set the PIN.
        assert core.reveals.revoke_links(session, world.coordinator, CLI) == 2
    assert refused(await post(client, token, form, **good()))

    token, form = await opened_form(client, core, world)
    with core.db.session() as session:
        member = session.get(Member, world.coordinator)
        assert member is not None
        member.roles = Role.PARTNER.value
        session.add(member)
    assert refused(await post(client, token, form, **good()))
    assert meldingen(core) == []


@pytest.mark.parametrize("language", ["en"])
async def test_the_form_speaks_the_members_language(
    client: httpx.AsyncClient, core: Core, world: World, language: str
) -> None:
    with core.db.session() as session:
        member = session.get(Member, world.coordinator)
        assert member is not None
        member.language = language
        session.add(member)
    token, form = await opened_form(client, core, world)
    page = await post(client, token, form, **good(achternaam=""))
    assert "Not stored yet" in page.text and "Surname" in page.text
    stored = await post(client, token, form_of(page), **good())
    assert "It opened case" in stored.text


async def test_a_form_is_marked_done_once(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    """The backstop under two sends racing past the state check: the conditional update."""
    token, _form = await opened_form(client, core, world)
    links = RevealLinkRepository()
    with core.db.session() as session:
        link = links.by_token_hash(token_hash(token), session=session)
        assert link is not None and link.id is not None
        assert links.finish(link.id, core.clock.now(), session=session)
        assert not links.finish(link.id, core.clock.now(), session=session)


async def test_a_long_remark_in_another_script_fits_the_form(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    """What the remark field takes (4,000 characters) is never refused as too large,
    whatever the script: Cyrillic costs 6 bytes a character once URL-encoded."""
    token, form = await opened_form(client, core, world)
    page = await post(client, token, form, **good(opmerking="Ж" * 4000))
    assert page.status_code == 200, page.status_code
    assert len(meldingen(core)) == 1
