"""/agenda's pages: a meeting's heading stays with its items, and no page is too long.

Pure: the pages are made from shown meetings, as the service hands them over.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.meetings import ItemShown, MeetingShown, MeetingType
from bot.domain.roles import Theme
from bot.i18n import translator
from bot.views.agenda import ITEMS_PER_PAGE, agenda_pages, agenda_version

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
TELEGRAM_LIMIT = 4096
NL = translator("nl")
HEADINGS = {
    MeetingType.TRIAGE: "Triageoverleg: ",
    MeetingType.NAZORG: "Nazorgtafel: ",
    MeetingType.RADICALISERING: "Casusoverleg radicalisering: ",
}
_ids = iter(range(1, 1_000_000))


def org_name(number: int, length: int) -> str:
    return f"Organisatie {number} " + "x" * max(0, length - 14)


def item(missing: int = 2, name_length: int = 20) -> ItemShown:
    number = next(_ids)
    names = tuple(org_name(n, name_length) for n in range(missing))
    return ItemShown(
        item_id=number, case_id=number, reference=f"VH-2026-{number:04d}",
        pseudonym=f"P-{number:08d}", theme=Theme.JEUGD, municipality="Sittard-Geleen",
        rolled_over=number % 2 == 0, announced=number % 3 != 0, answered=0,
        expected=missing, missing=names, known=0,
    )  # fmt: skip


def meeting(kind: MeetingType, items: list[ItemShown]) -> MeetingShown:
    starts = {
        MeetingType.TRIAGE: datetime(2026, 12, 1, 10, tzinfo=AMSTERDAM),
        MeetingType.NAZORG: datetime(2026, 11, 26, 10, tzinfo=AMSTERDAM),
        MeetingType.RADICALISERING: datetime(2026, 12, 2, 14, tzinfo=AMSTERDAM),
    }
    return MeetingShown(kind, starts[kind], tuple(items))


def check(meetings: list[MeetingShown]) -> list[str]:
    """Every rule of the pages; returns their texts."""
    pages = agenda_pages(meetings, NL, AMSTERDAM)
    texts = [str(page.text) for page in pages]
    # Each item once, in order, on the page whose buttons carry it.
    assert [i for page in pages for i in page.items] == [i for m in meetings for i in m.items]
    for page in pages:
        assert len(page.items) <= ITEMS_PER_PAGE
        assert len(page.text) <= TELEGRAM_LIMIT
        for shown in page.items:
            assert f"• {shown.reference} ·" in page.text
    previous_kind: MeetingType | None = None
    for number, text in enumerate(texts, start=1):
        header, blank, *lines = text.split("\n")
        assert header == (
            "Agenda" if len(texts) == 1 else f"Agenda (pagina {number} van {len(texts)})"
        )
        assert blank == ""
        current: MeetingType | None = None
        expecting_first = False
        for index, line in enumerate(lines):
            kind = next((k for k, h in HEADINGS.items() if line.startswith(h)), None)
            if kind is not None:
                assert not expecting_first, f"a heading without its items: {text}"
                continued = line.endswith(" (vervolg)")
                # A continued heading only at the top of a page, for the meeting before.
                assert continued == (index == 0 and number > 1 and kind == previous_kind)
                current, expecting_first = kind, True
            elif line.startswith("• "):
                assert current is not None, f"an item without its meeting's heading: {text}"
                expecting_first = False
            elif line == "  Geen agendapunten.":
                expecting_first = False
        assert not expecting_first, f"a page ends with a heading: {text}"
        previous_kind = current
    return texts


def test_a_page_going_on_with_a_meeting_repeats_its_heading() -> None:
    triage = meeting(MeetingType.TRIAGE, [item() for _ in range(ITEMS_PER_PAGE)])
    nazorg = meeting(MeetingType.NAZORG, [item() for _ in range(3)])
    first, second = check([triage, nazorg])
    # The nazorg heading does not end page 1 alone: it goes with its items.
    assert "Nazorgtafel" not in first
    assert second.split("\n")[2].startswith("Nazorgtafel: donderdag 26 november 10:00")
    long_triage = meeting(MeetingType.TRIAGE, [item() for _ in range(ITEMS_PER_PAGE + 2)])
    first, second = check([long_triage, nazorg])
    assert second.split("\n")[2] == "Triageoverleg: dinsdag 1 december 10:00 (vervolg)"
    assert "Nazorgtafel: donderdag 26 november 10:00" in second


def test_long_organisation_names_keep_every_page_within_telegrams_limit() -> None:
    many = [item(missing=40, name_length=200) for _ in range(12)]
    texts = check([meeting(MeetingType.TRIAGE, many), meeting(MeetingType.NAZORG, [])])
    assert len(texts) > 2  # the items take more room: fewer per page
    assert "  Geen agendapunten." in texts[-1]
    missing = [line for text in texts for line in text.split("\n") if "Ontbreekt" in line]
    assert len(missing) == 12
    assert all(line.endswith(" meer") or "en nog " in line for line in missing), missing[0]


def test_the_version_changes_with_the_items_behind_the_same_text() -> None:
    shown = item()
    same_text = ItemShown(**{**shown.__dict__, "item_id": shown.item_id + 1})
    one = agenda_pages([meeting(MeetingType.TRIAGE, [shown])], NL, AMSTERDAM)
    other = agenda_pages([meeting(MeetingType.TRIAGE, [same_text])], NL, AMSTERDAM)
    assert [p.text for p in one] == [p.text for p in other]
    assert agenda_version(one) != agenda_version(other)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(MeetingType)),
            st.lists(st.tuples(st.integers(0, 45), st.integers(1, 200)), max_size=20),
        ),
        min_size=1,
        max_size=3,
        unique_by=lambda m: m[0],
    )
)
def test_any_agenda_pages_by_the_rules(
    shape: list[tuple[MeetingType, list[tuple[int, int]]]],
) -> None:
    check([meeting(kind, [item(m, n) for m, n in items]) for kind, items in shape])
