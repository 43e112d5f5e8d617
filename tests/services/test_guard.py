"""The outgoing guard: the values in a text, each by its kind, against every identity held."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, date, datetime, timedelta

from telegram import PhotoSize
from telegram._utils.files import parse_file_input
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.clock import FrozenClock
from bot.core import Core
from bot.domain.identity import Identity
from bot.i18n import translator
from bot.safe import Code, MemberName, Municipality, OrganisationName, SafeText
from bot.services.audit import CLI
from bot.services.guard import OutgoingGuard, Verdict
from bot.storage.models import Person
from bot.storage.repositories import AuditRepository
from tests.app.conftest import EVENT_TIMEOUT, until


def _guard(core: Core) -> OutgoingGuard:
    return OutgoingGuard(
        core.db, core.vault, core.clock, allowed_words=core.settings.municipalities
    )


async def test_values_are_scanned_by_kind_and_template_words_never(core: Core) -> None:
    person = Identity(
        surname="Maandag", given_names="Mei April", birth_date=date(1984, 3, 7), bsn="111222333"
    )
    with core.db.session() as session:
        core.vault.register(session, person, actor=CLI)
        core.memberships.add_organisation(session, name="MEE", code="MEE", themes=None, actor=CLI)
    guard = _guard(core)
    _ = translator("nl")
    deadline = _.datetime(core.clock.now() + timedelta(days=7), core.settings.tz)
    assert "maandag" in deadline  # the week day the person is called
    clean = [
        _("Please answer before {time}", time=deadline),
        _("Known: {names}", names=OrganisationName("MEE")),
        _("Municipality {municipality}", municipality=Municipality("Weert")),
        # A professional who shares a surname with someone held is not them.
        _("You cannot deactivate yourself."),
        SafeText.layout("{} · {}", Code("POL"), MemberName("Jan Maandag")),
    ]
    for text in clean:
        assert await guard.check({"text": text}) is None, text
    leaks = [
        SafeText.layout("{}", MemberName("Mei Maandag")),
        SafeText.layout("{}", Code("07-03-1984")),
        SafeText.layout("{}", Code("111/222/333")),
        _("Known: {names}", names=OrganisationName("April Maandag")),
    ]
    for text in leaks:
        verdict = await guard.check({"text": text})
        assert verdict is not None and verdict.reason == "personal_data", text
    assert guard.identities == 1


async def test_a_text_not_built_from_safe_values_is_refused(core: Core) -> None:
    guard = _guard(core)
    verdict = await guard.check({"chat_id": 1, "text": "Nieuwe melding P-7KQ4M2XZ"})
    assert verdict is not None and verdict.reason == "unchecked"
    plain_join = translator("nl")("Your commands:") + " extra"  # str + str is a plain str
    verdict = await guard.check({"text": plain_join})
    assert verdict is not None and verdict.reason == "unchecked"


async def test_button_labels_are_fixed_wording_or_scanned(core: Core) -> None:
    person = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:
        core.vault.register(session, person, actor=CLI)
    guard = _guard(core)
    _ = translator("nl")
    keyboard = {"inline_keyboard": [[{"text": str(_("Known")), "callback_data": "ans:1:y"}]]}
    assert await guard.check({"text": _("Known"), "reply_markup": keyboard}) is None
    keyboard["inline_keyboard"][0][0]["text"] = "Sjoerd Brinkhuis"
    assert await guard.check({"text": _("Known"), "reply_markup": keyboard}) is not None


async def test_guard_learns_persons_added_later_by_another_process(core: Core) -> None:
    guard = _guard(core)
    text = SafeText.layout("{}", MemberName("Sjoerd Brinkhuis"))
    assert await guard.check({"text": text}) is None
    later = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:  # as `vhbot import dpan` would, elsewhere
        core.vault.register(session, later, actor=CLI)
    verdict = await guard.check({"text": text})
    assert verdict is not None and set(verdict.kinds) == {"surname", "given_name"}


async def test_guard_sees_a_person_held_again_after_erasure(core: Core, clock: FrozenClock) -> None:
    """Erased by retention, then detained again while the bot ran: guarded again."""
    person = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:
        registered = core.vault.register(session, person, actor=CLI)
    clock.advance(timedelta(days=200))
    with core.db.session() as session:
        stored = session.get(Person, registered.person_id)
        assert stored is not None
        stored.identity_ct = None  # as retention leaves it, months later
        session.add(stored)
    guard = _guard(core)  # a bot started while the person was erased
    text = SafeText.layout("{}", MemberName("Sjoerd Brinkhuis"))
    assert await guard.check({"text": text}) is None
    clock.advance(timedelta(days=3))
    with core.db.session() as session:
        again = core.vault.register(session, person, actor=CLI)
    assert again.person_id == registered.person_id  # the same person, the same pseudonym
    assert await guard.check({"text": text}) is not None


async def test_a_check_decrypts_only_what_is_new(core: Core) -> None:
    """Each identity is read once: no audit entry per outgoing message."""
    with core.db.session() as session:
        core.vault.register(
            session,
            Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2)),
            actor=CLI,
        )
    guard = _guard(core)
    for _round in range(3):
        await guard.check({"text": SafeText.layout("{}", Code("P-7KQ4M2XZ"))})
    with core.db.session() as session:
        reads = AuditRepository().actions("person.read_bulk", session=session)
    assert len(reads) == 1


async def test_a_time_is_no_two_digit_birth_year(core: Core) -> None:
    """ "maandag 30 november 12:00" is no date of 2012: the bot's own times pass."""
    held = Identity(surname="Bakker", given_names="Sem", birth_date=date(2012, 11, 30))
    with core.db.session() as session:
        core.vault.register(session, held, actor=CLI)
    guard = _guard(core)
    _ = translator("nl")
    moment = datetime(2026, 11, 30, 11, 0, tzinfo=UTC)
    for text in (
        _("Please answer before {time}", time=_.datetime(moment, core.settings.tz)),
        _("last active {time}", time=_.datetime(moment, core.settings.tz)),
    ):
        assert await guard.check({"text": text}) is None, text
    assert await guard.check({"text": SafeText.layout("{}", Code("30-11-2012"))}) is not None


async def test_every_shown_parameter_is_checked_not_only_text(core: Core) -> None:
    held = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:
        core.vault.register(session, held, actor=CLI)
    guard = _guard(core)
    _ = translator("nl")
    for name in ("title", "name", "question", "input_field_placeholder"):
        verdict = await guard.check({"chat_id": 1, name: "Sjoerd Brinkhuis"})
        assert verdict is not None and verdict.reason == "unchecked", name
    quoted = {
        "text": _("Known"),
        "reply_parameters": {"message_id": 1, "quote": "Sjoerd Brinkhuis"},
    }
    assert await guard.check(quoted) is not None
    assert await guard.check({"chat_id": 1, "callback_query_id": "123", "text": _("Known")}) is None


async def test_a_photo_goes_through_and_its_caption_is_checked(core: Core) -> None:
    """sendPhoto as PTB asks it (bot.handlers.stand): the uploaded file is no parameter
    the guard sees; the caption is a shown text like any other."""
    person = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:
        core.vault.register(session, person, actor=CLI)
    guard = _guard(core)
    _ = translator("nl")

    def photo(caption: object) -> dict[str, object]:
        upload = parse_file_input(b"\x89PNG\r\n\x1a\n" + b"\0" * 64, PhotoSize, filename="s.png")
        request = RequestData(
            [
                RequestParameter.from_input("chat_id", 42),
                RequestParameter.from_input("photo", upload),
                RequestParameter.from_input("caption", caption),
            ]
        )
        assert request.contains_files
        return dict(request.parameters)

    assert await guard.check(photo(_("Figures from 1 to 4 are shown as <5."))) is None
    unchecked = await guard.check(photo("Stand van zaken"))
    assert unchecked is not None and unchecked.reason == "unchecked"
    leak = await guard.check(photo(SafeText.layout("{}", MemberName("Sjoerd Brinkhuis"))))
    assert leak is not None and leak.reason == "personal_data"


async def test_checks_that_come_together_share_one_look_begun_after_them(core: Core) -> None:
    """The outbox sends side by side: their checks share one look for new persons, not
    one each in a row; yet a look that had already read when they came is no use to
    them, since a person may have been written after it read."""
    guard = _guard(core)
    text = SafeText.layout("{}", MemberName("Sjoerd Brinkhuis"))
    assert await guard.check({"text": text}) is None
    looks: list[int] = []
    read, release = threading.Event(), threading.Event()
    load_new = guard._load_new

    def slow_look() -> None:  # the first look reads, then takes its time to finish
        load_new()
        looks.append(1)
        if len(looks) == 1:
            read.set()
            release.wait(EVENT_TIMEOUT)

    guard._load_new = slow_look  # type: ignore[method-assign]
    first = asyncio.create_task(guard.check({"text": text}))
    await until(read.is_set, "the first look read")
    later = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:  # another process, while that look is under way
        core.vault.register(session, later, actor=CLI)
    checks = [asyncio.create_task(guard.check({"text": text})) for _ in range(10)]
    await asyncio.sleep(0)  # they have all come
    release.set()
    await first  # its look read before the person was written (its scan may come later)
    verdicts = await asyncio.gather(*checks)
    assert all(v is not None and v.reason == "personal_data" for v in verdicts), verdicts
    assert len(looks) == 2  # the first, and one for the ten


async def test_a_send_the_guards_look_covers_uses_that_look(core: Core) -> None:
    """`looked`: a sender that had the guard look after its texts were made (the outbox,
    right after claiming them) sends them without a look each; anything else still
    looks for itself."""
    held = Identity(surname="Brinkhuis", given_names="Sjoerd", birth_date=date(1990, 1, 2))
    with core.db.session() as session:
        core.vault.register(session, held, actor=CLI)
    guard = _guard(core)
    looks: list[int] = []
    load_new = guard._load_new

    def counted() -> None:
        looks.append(1)
        load_new()

    guard._load_new = counted  # type: ignore[method-assign]
    look = await guard.looked()
    assert looks == [1]
    text = SafeText.layout("{}", MemberName("Sjoerd Brinkhuis"))

    async def covered_send() -> Verdict | None:
        with look.covering():
            return await guard.check({"text": text})

    verdicts = await asyncio.gather(*(covered_send() for _ in range(5)))
    assert looks == [1]  # no look of their own ...
    assert all(v is not None for v in verdicts)  # ... and what that look read is held
    assert await guard.check({"text": text}) is not None  # outside it: a look of its own
    assert looks == [1, 1]
