"""The reveal pages over real HTTP (in-process ASGI): forms, refusals, headers, bad input.

The world (organisations, members, two imported persons) is the service tests';
the clock starts at 2026-11-23 09:00 (Amsterdam) and moves only when told.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape

import httpx
import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.reveal import LinkKind, LinkState
from bot.privacy.pii_guard import PiiGuard
from bot.services.plan import ActionOutcome, Turn
from bot.storage.models import Case, Melding, Member, Organisation, Person, WebAccess
from bot.web import build_web, serve_web
from bot.web.forms import MAX_BODY, form_token
from tests.conftest import People
from tests.services.test_reveal import (
    OTHER_PIN,
    PIN,
    World,
    _person_of,
    audit,
    issue,
    refusals,
    setup_code,
    state,
    with_pin,
    world,
)

__all__ = ["world"]  # the service tests' fixture, used here too

HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'none'; style-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
}
REFUSED_NL = "Deze link kan niet worden gebruikt."
_FORM = re.compile(r'name="form" value="([^"]+)"')


@pytest.fixture
async def client(core: Core) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_web(core))
    async with httpx.AsyncClient(transport=transport, base_url="http://vhbot.test") as client:
        yield client


def form_of(page: httpx.Response) -> str:
    found = _FORM.search(page.text)
    assert found, "the page has no form"
    return found.group(1)


async def post(
    client: httpx.AsyncClient, token: str, form: str | None, **fields: str
) -> httpx.Response:
    data = dict(fields) if form is None else {"form": form, **fields}
    return await client.post(f"/r/{token}", data=data)


def refused(page: httpx.Response) -> bool:
    return page.status_code == 403 and REFUSED_NL in page.text and "<form" not in page.text


def no_identity(page: httpx.Response, people: People) -> bool:
    return not PiiGuard(people.made).scan(page.text)


async def test_first_visit_sets_a_pin_shows_the_person_once(
    client: httpx.AsyncClient,
    core: Core,
    world: World,
    people: People,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    token = issue(core, world.partner, world.announcements[0])
    first = await client.get(f"/r/{token}")
    assert first.status_code == 200
    assert 'name="setup_code"' in first.text and 'name="pin_again"' in first.text
    assert first.headers["content-type"].startswith("text/html")
    assert no_identity(first, people)

    code = setup_code(core, world.partner)
    shown = await post(
        client, token, form_of(first), setup_code=code.lower(), pin=PIN, pin_again=PIN
    )
    assert shown.status_code == 200
    person = world.identities[0]
    for part in (person.surname, person.bsn or "", person.birth_date.strftime("%d-%m-%Y")):
        assert part in shown.text
    assert "Verblijft bij een vriend" in shown.text and "PI Roermond" in shown.text
    assert "Politie: bekend" in shown.text  # the police's answer
    assert "Persoonsgegevens" in shown.text  # Dutch: the member chose no language
    assert world.identities[1].surname not in shown.text
    assert state(core, token) is LinkState.USED

    again = await client.get(f"/r/{token}")
    assert refused(again) and no_identity(again, people)
    posted_again = await post(client, token, form_of(first), pin=PIN)
    assert refused(posted_again) and no_identity(posted_again, people)

    assert [a for a, *_ in audit(core, "reveal.pin_set", "reveal.view")] == [
        "reveal.pin_set",
        "reveal.view",
    ]
    logged = " ".join(
        f"{r.getMessage()} {vars(r)}" for r in caplog.records if r.name.startswith("bot")
    )
    assert "web.shown" in logged
    assert not PiiGuard(people.made).scan(logged)
    assert token not in logged


async def test_the_pin_form_counts_wrong_pins_and_the_fifth_locks(
    client: httpx.AsyncClient, core: Core, world: World, people: People
) -> None:
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    page = await client.get(f"/r/{token}")
    assert 'name="pin"' in page.text and 'name="setup_code"' not in page.text
    for left in (4, 3, 2, 1):
        page = await post(client, token, form_of(page), pin=OTHER_PIN)
        assert page.status_code == 200 and no_identity(page, people)
        assert f"Onjuiste pincode. Nog {left} pogingen over." in page.text
    locked = await post(client, token, form_of(page), pin=OTHER_PIN)
    assert refused(locked)
    right = await post(client, token, form_of(page), pin=PIN)
    assert refused(right) and no_identity(right, people)
    assert [a for a, *_ in audit(core, "reveal.lock", "reveal.view")] == ["reveal.lock"]


async def test_another_members_pin_does_not_open_a_link(
    client: httpx.AsyncClient, core: Core, world: World, people: People
) -> None:
    with_pin(core, world.partner, PIN)
    with_pin(core, world.colleague, OTHER_PIN)
    token = issue(core, world.partner, world.announcements[0])  # the partner's link
    page = await client.get(f"/r/{token}")
    tried = await post(client, token, form_of(page), pin=OTHER_PIN)  # the colleague's PIN
    assert "Onjuiste pincode" in tried.text and no_identity(tried, people)
    assert state(core, token) is LinkState.OK


async def test_an_expired_link_is_refused(
    client: httpx.AsyncClient, core: Core, world: World, clock: FrozenClock, people: People
) -> None:
    with_pin(core, world.partner)
    token = issue(core, world.partner, world.announcements[0])
    form = form_of(await client.get(f"/r/{token}"))
    clock.advance(timedelta(minutes=10))
    assert refused(await client.get(f"/r/{token}"))
    late = await post(client, token, form, pin=PIN)
    assert refused(late) and no_identity(late, people)
    assert audit(core, "reveal.view") == []
    assert refusals(core) == ["expired", "expired"]  # one entry per request


async def test_a_trivial_or_mistyped_new_pin_is_refused_and_the_code_stays_usable(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    token = issue(core, world.partner, world.announcements[0])
    code = setup_code(core, world.partner)
    page = await client.get(f"/r/{token}")
    trivial = await post(
        client, token, form_of(page), setup_code=code, pin="123456", pin_again="123456"
    )
    assert "niet makkelijk te raden" in trivial.text and 'name="setup_code"' in trivial.text
    differ = await post(
        client, token, form_of(trivial), setup_code=code, pin=PIN, pin_again=OTHER_PIN
    )
    assert "De twee pincodes zijn niet gelijk." in differ.text
    assert audit(core, "reveal.pin_set") == []
    shown = await post(client, token, form_of(differ), setup_code=code, pin=PIN, pin_again=PIN)
    assert world.identities[0].surname in shown.text


async def test_a_form_without_a_valid_form_token_changes_nothing(
    client: httpx.AsyncClient, core: Core, world: World, clock: FrozenClock, people: People
) -> None:
    token = issue(core, world.partner, world.announcements[0])
    other = issue(core, world.partner, world.announcements[1])
    code = setup_code(core, world.partner)
    fields = {"setup_code": code, "pin": PIN, "pin_again": PIN}
    key = core.keys.web_form_key
    stale = form_token(key, token, now=clock.now() - timedelta(minutes=15))
    forged = form_token(b"\x00" * 32, token, now=clock.now())
    for form in (None, "", stale, forged, form_of(await client.get(f"/r/{other}")), "9" * 12):
        page = await post(client, token, form, **fields)
        assert refused(page) and no_identity(page, people), form
    assert audit(core, "reveal.pin_set", "reveal.view", "reveal.pin_failed") == []
    # Each refused form is in the audit log, against its link.
    forms_refused = [
        (subject, details["step"])
        for _, _, subject, details in audit(core, "reveal.refused")
        if details["reason"] == "form_token"
    ]
    assert len(forms_refused) == 6 and len(set(forms_refused)) == 1
    assert forms_refused[0][0].startswith("reveal_link:") and forms_refused[0][1] == "form"
    with core.db.session() as session:
        member = session.get(WebAccess, world.partner)
        assert member is None or member.pin_hash is None
    assert state(core, token) is LinkState.OK
    fresh = form_token(key, token, now=clock.now())
    assert world.identities[0].surname in (await post(client, token, fresh, **fields)).text


async def test_every_response_has_the_security_headers(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    token = issue(core, world.partner, world.announcements[0])
    form = form_of(await client.get(f"/r/{token}"))
    responses = [
        await client.get("/health"),
        await client.get("/static/style.css"),
        await client.get(f"/r/{token}"),
        await client.get("/r/not-a-token"),
        await client.get("/elsewhere"),
        await client.put(f"/r/{token}"),
        await post(client, token, form, pin=PIN),
        await post(client, token, None, pin=PIN),
        await client.post(f"/r/{token}", content=b"x" * (MAX_BODY + 1)),
        await client.post(f"/r/{token}", content=b"pin=\xff"),
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 403, 404, 405, 200, 403, 413, 400]
    for response in responses:
        assert {name: response.headers.get(name) for name in HEADERS} == HEADERS, response.url
    assert responses[0].text == "ok"
    assert responses[1].headers["content-type"].startswith("text/css")


async def test_bad_bodies_and_tokens_get_a_plain_page_that_echoes_nothing(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    token = issue(core, world.partner, world.announcements[0])
    form = form_of(await client.get(f"/r/{token}"))
    marker = "ZZMARKERZZ"
    large = await client.post(
        f"/r/{token}", data={"form": form, "pin": marker * (MAX_BODY // len(marker) + 1)}
    )
    assert large.status_code == 413 and marker not in large.text
    assert "te groot" in large.text

    async def chunks() -> AsyncIterator[bytes]:
        yield b"pin=1&"
        yield marker.encode() * (MAX_BODY // len(marker) + 1)

    streamed = await client.post(f"/r/{token}", content=chunks())  # no declared length
    assert streamed.status_code == 413
    for body in (b"\xff\xfe" + marker.encode(), f"pin=%ff{marker}".encode()):
        bad = await client.post(
            f"/r/{token}",
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert bad.status_code == 400 and marker not in bad.text
    too_many = await client.post(f"/r/{token}", content="&".join(["a=1"] * 50).encode())
    assert too_many.status_code == 400
    for path in (f"/r/<b>{marker}<b>", f"/r/{marker}%00", f"/r/{token}x", f"/r/{token[:-1]}"):
        page = await client.get(path)
        assert refused(page) and marker not in page.text, path
    elsewhere = await client.get(f"/r/<b>{marker}</b>")
    assert elsewhere.status_code == 404 and marker not in elsewhere.text
    assert state(core, token) is LinkState.OK
    assert audit(core, "reveal.pin_failed") == []


async def test_the_case_page_and_an_erased_person(
    client: httpx.AsyncClient, core: Core, world: World, clock: FrozenClock, people: People
) -> None:
    with_pin(core, world.coordinator)
    case = issue(core, world.coordinator, world.case_id, LinkKind.CASE)
    page = await post(client, case, form_of(await client.get(f"/r/{case}")), pin=PIN)
    assert world.identities[0].surname in page.text and "Meldingen" in page.text
    assert "VH-" in page.text

    announcement = issue(core, world.coordinator, world.announcements[0])
    with core.db.session() as session:
        person = session.get(Person, _person_of(core, world.announcements[0]))
        assert person is not None
        person.identity_ct, person.erased_at = None, clock.now()
        session.add(person)
        for melding in session.exec(select(Melding).where(Melding.person_id == person.id)):
            melding.remark_ct, melding.erased_at = None, clock.now()
            session.add(melding)
    erased = await post(
        client, announcement, form_of(await client.get(f"/r/{announcement}")), pin=PIN
    )
    assert erased.status_code == 200
    assert "verwijderd volgens de bewaartermijnen" in erased.text
    assert no_identity(erased, people) and "Verblijft" not in erased.text


def _plan_turns(core: Core, member_id: int, start: Turn, *steps: tuple[str, str]) -> Turn:
    """A conversation of the plan service, button by button (or typed: code "typed")."""
    turn = start
    with core.db.session() as session:
        for code, value in steps:
            if code == "typed":
                typed = core.plan.typed(session, member_id=member_id, text=value)
                assert typed is not None
                turn = typed
            else:
                turn = core.plan.press(
                    session, member_id=member_id, kind=turn.kind, version=turn.version,
                    code=code, value=value,
                )  # fmt: skip
            assert turn.problem is None, (code, value, turn.problem)
    return turn


def _plan_of_the_case(core: Core, world: World, clock: FrozenClock) -> str:
    """Through the service, as in Telegram: three actions (one an own title), postponed,
    given to another owner, done, cancelled; two ZRM measurements. Returns the reference."""
    plan, coordinator = core.plan, world.coordinator
    with core.db.session() as session:
        reference = session.exec(select(Case.reference).where(Case.id == world.case_id)).one()
        ggz = session.exec(select(Organisation.id).where(Organisation.code == "GGZ")).one()

    def new_action(domain: int, action: str, owner: str, deadline: tuple[str, str]) -> int:
        with core.db.session() as session:
            start = plan.start_action(session, member_id=coordinator, reference=reference)
        steps = [("d", str(domain)), ("a", action)]
        if action == "own":
            steps.append(("typed", "Budgetplan maken met de bewindvoerder"))
        done = _plan_turns(core, coordinator, start, *steps, ("o", owner), deadline)
        assert done.stored is not None
        return done.stored.action_id

    housing = new_action(2, "huis_woning", f"m{world.partner}", ("w", "1w"))
    new_action(0, "own", f"o{ggz}", ("typed", "15-01-2027"))
    probation = new_action(10, "just_reclassering", f"m{world.partner}", ("w", "2w"))
    clock.advance(timedelta(days=1))
    with core.db.session() as session:
        postpone = plan.start_postpone(
            session, member_id=world.partner, action_id=housing, version=1
        )
    assert isinstance(postpone, Turn)
    _plan_turns(core, world.partner, postpone, ("w", "2w"), ("r", "partner"))
    clock.advance(timedelta(days=1))
    with core.db.session() as session:
        change = plan.start_change(session, member_id=coordinator, action_id=housing, version=2)
    _plan_turns(core, coordinator, change, ("c", "o"), ("o", f"m{world.colleague}"))
    with core.db.session() as session:
        done = plan.complete(session, member_id=world.colleague, action_id=housing, version=3)
        assert done.outcome is ActionOutcome.DONE
        change = plan.start_change(session, member_id=coordinator, action_id=probation, version=1)
    _plan_turns(core, coordinator, change, ("c", "x"), ("x", "y"))
    for scores in ([2] * 11, [4] * 11):
        with core.db.session() as session:
            start = plan.start_zrm(session, member_id=coordinator, reference=reference)
        _plan_turns(core, coordinator, start, *(("s", str(score)) for score in scores))
        clock.advance(timedelta(days=30))
    return reference


def _visible(html: str) -> str:
    """The page's text as a reader sees it: tags out, entities read, spaces collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


async def test_the_case_pages_plan_per_domain_with_its_history_and_the_zrm(
    client: httpx.AsyncClient, core: Core, world: World, clock: FrozenClock, people: People
) -> None:
    reference = _plan_of_the_case(core, world, clock)
    with_pin(core, world.coordinator)
    token = issue(core, world.coordinator, world.case_id, LinkKind.CASE)
    page = await post(client, token, form_of(await client.get(f"/r/{token}")), pin=PIN)
    assert page.status_code == 200 and reference in page.text
    plan_html = page.text[page.text.index("<h2>Plan van aanpak</h2>") :]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", plan_html, flags=re.DOTALL)
    actions = [_visible(row) for row in rows if "<td>" in row and "<ul>" in row]
    # Per domain in the ZRM's order (finances, housing, ..., justice), each with its history.
    assert actions == [
        "2 financiën: eigen actie #2 Budgetplan maken met de bewindvoerder GGZ "
        "vrijdag 15 januari 2027 open "
        "maandag 23 november 2026: toegevoegd vrijdag 15 januari 2027 · GGZ",
        "1 huisvesting: woonruimte zoeken Medewerker 102 maandag 14 december 2026 afgerond "
        "maandag 23 november 2026: toegevoegd maandag 30 november 2026 · Medewerker 101 "
        "dinsdag 24 november 2026: uitgesteld maandag 30 november 2026 → maandag 14 december "
        "2026 (wacht op een andere organisatie) "
        "woensdag 25 november 2026: overgedragen · Medewerker 101 → Medewerker 102 "
        "woensdag 25 november 2026: afgerond",
        "3 justitie: melden bij de reclassering Medewerker 101 maandag 7 december 2026 vervallen "
        "maandag 23 november 2026: toegevoegd maandag 7 december 2026 · Medewerker 101 "
        "woensdag 25 november 2026: vervallen",
    ]
    cancelled = next(row for row in rows if "melden bij de reclassering" in row)
    assert 'class="cancelled"' in cancelled and "<del>" in cancelled
    assert "<del>" not in "".join(row for row in rows if row is not cancelled)
    zrm = _visible(plan_html[plan_html.index("ZRM-scores") :])
    assert "woensdag 25 november 2026 vrijdag 25 december 2026" in zrm
    assert "financiën 2 4" in zrm and "justitie 2 4" in zrm
    # Nothing personal in the plan and ZRM beyond the own title (this page's to show):
    # the person's identity only above it, in its own section; nobody else's anywhere.
    assert no_identity(page, people) is False  # the case's own person, above the plan
    assert not PiiGuard(people.made).scan(plan_html)
    assert not PiiGuard([world.identities[1]]).scan(page.text)


async def test_the_page_speaks_the_members_language(
    client: httpx.AsyncClient, core: Core, world: World
) -> None:
    with core.db.session() as session:
        member = session.get(Member, world.partner)
        assert member is not None
        member.language = "en"
        session.add(member)
    token = issue(core, world.partner, world.announcements[0])
    page = await client.get(f"/r/{token}")
    assert '<html lang="en">' in page.text and "Set-up code" in page.text
    refused_page = await client.get("/r/unknown")
    assert '<html lang="nl">' in refused_page.text  # no member: the default language


async def test_serve_web_answers_until_stopped(core: Core) -> None:
    port = core.settings.web_port  # a free one (tests/conftest.py)
    stop = asyncio.Event()
    started = asyncio.Event()
    task = asyncio.create_task(serve_web(core, stop, ready=started.set))
    await asyncio.wait_for(started.wait(), 5)
    async with httpx.AsyncClient() as http:
        health = await http.get(f"http://127.0.0.1:{port}/health")
    assert (health.status_code, health.text) == (200, "ok")
    assert health.headers["x-frame-options"] == "DENY"
    stop.set()
    await asyncio.wait_for(task, 5)
    with socket.socket() as after, pytest.raises(ConnectionRefusedError):
        after.connect(("127.0.0.1", port))
