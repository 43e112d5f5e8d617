"""The wording of /agenda: the next meetings, their items with answer counts, in pages.

Only case references, pseudonyms, themes, municipalities and organisation names
appear. A page's buttons carry its number and the agenda's version (a checksum
of every page's text and items): a button of a page that no longer shows the
current agenda says so instead of showing something else. A meeting's heading is
never split from its items: a page going on with a meeting repeats it, marked
"(continued)".
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.domain.decisions import CLOSE_REASON_LABELS, CloseReason
from bot.domain.meetings import ItemShown, MeetingShown, MeetingType
from bot.domain.roles import Theme
from bot.i18n import Translator, mark
from bot.safe import (
    BLANK,
    CaseReference,
    Code,
    Municipality,
    OrganisationName,
    Pseudonym,
    SafeText,
    printable_name,
)
from bot.views.announcements import MESSAGE_LIMIT, THEME_LABELS

MEETING_LABELS: dict[MeetingType, str] = {
    MeetingType.TRIAGE: mark("Triage meeting"),
    MeetingType.NAZORG: mark("Aftercare table"),
    MeetingType.RADICALISERING: mark("Radicalisation case meeting"),
}
# At most this many items per page: each brings a row of buttons.
ITEMS_PER_PAGE = 8
# A page's text stays this far under Telegram's 4096 characters (room for its header).
PAGE_ROOM = MESSAGE_LIMIT
# The names of missing organisations of one item take at most this many characters.
MISSING_ROOM = 800


@dataclass(frozen=True)
class Page:
    text: SafeText
    items: tuple[ItemShown, ...]


def theme_code(theme: Theme | None) -> str:
    """The short form of a narrowing theme in callback data: its index, or 'a' for all."""
    return "a" if theme is None else str(list(Theme).index(theme))


def theme_from_code(code: str) -> Theme | None:
    """The inverse of `theme_code`; raises ValueError for anything else."""
    if code == "a":
        return None
    index = int(code)
    if not 0 <= index < len(Theme):
        raise ValueError("no such theme")
    return list(Theme)[index]


def _missing_line(names: Sequence[str], _: Translator) -> SafeText:
    """`  Missing: A, B, C`, and past MISSING_ROOM characters of names `… and N more`."""
    shown: list[OrganisationName] = []
    size = 0
    for name in names:
        printable = OrganisationName(printable_name(name) or "?")
        if shown and size + len(printable) + 2 > MISSING_ROOM:
            break
        shown.append(printable)
        size += len(printable) + 2
    listed = SafeText.joined(", ", shown)
    if len(shown) == len(names):
        return _("  Missing: {names}", names=listed)
    return _("  Missing: {names} and {count} more", names=listed, count=len(names) - len(shown))


def _item_lines(item: ItemShown, _: Translator) -> list[SafeText]:
    lines = [
        SafeText.layout(
            "• {}",
            SafeText.joined(
                " · ",
                [
                    CaseReference(item.reference),
                    Pseudonym(item.pseudonym),
                    _(THEME_LABELS[item.theme]),
                    Municipality(item.municipality),
                ],
            ),
        )
    ]
    if item.announced:
        lines.append(
            _(
                "  Answered {answered} of {expected} · known: {known}",
                answered=item.answered,
                expected=item.expected,
                known=item.known,
            )
        )
    else:
        lines.append(_("  Not announced yet · expected: {expected}", expected=item.expected))
    if item.missing:
        lines.append(_missing_line(item.missing, _))
    if item.rolled_over:
        lines.append(_("  Rolled over from an earlier meeting."))
    return lines


def _heading(meeting: MeetingShown, _: Translator, tz: ZoneInfo, *, continued: bool) -> SafeText:
    label, time = _(MEETING_LABELS[meeting.type]), _.datetime(meeting.starts_at, tz)
    if continued:
        return _("{meeting}: {time} (continued)", meeting=label, time=time)
    return _("{meeting}: {time}", meeting=label, time=time)


def _size(lines: Sequence[SafeText]) -> int:
    return sum(len(line) + 1 for line in lines)


def agenda_pages(meetings: Sequence[MeetingShown], _: Translator, tz: ZoneInfo) -> list[Page]:
    """The agenda in pages of at most ITEMS_PER_PAGE items and PAGE_ROOM characters.

    A meeting's heading always comes with its first item (or its "No items."); a page
    that goes on with a meeting begun on the page before repeats its heading, marked
    as continued. An item's text is bounded (MISSING_ROOM), so one always fits a page.
    """
    chunks: list[tuple[list[SafeText], list[ItemShown]]] = [([], [])]

    def place(lines: list[SafeText], item: ItemShown | None, *, continued: list[SafeText]) -> None:
        page_lines, page_items = chunks[-1]
        full = item is not None and len(page_items) >= ITEMS_PER_PAGE
        if page_lines and (full or _size(page_lines) + _size(lines) > PAGE_ROOM):
            chunks.append(([], []))
            page_lines, page_items = chunks[-1]
            lines = continued + lines
        page_lines.extend(lines)
        if item is not None:
            page_items.append(item)

    for meeting in meetings:
        heading = [BLANK, _heading(meeting, _, tz, continued=False)]
        if not meeting.items:
            place([*heading, _("  No items.")], None, continued=[])
            continue
        again = [BLANK, _heading(meeting, _, tz, continued=True)]
        for number, item in enumerate(meeting.items):
            if number == 0:
                place([*heading, *_item_lines(item, _)], item, continued=[])
            else:
                place(_item_lines(item, _), item, continued=again)
    pages = []
    for number, (lines, items) in enumerate(chunks, start=1):
        if len(chunks) == 1:
            header = _("Agenda")
        else:
            header = _("Agenda (page {page} of {pages})", page=number, pages=len(chunks))
        pages.append(Page(SafeText.joined("\n", [header, *lines]), tuple(items)))
    return pages


def agenda_version(pages: Sequence[Page]) -> int:
    """A checksum of the whole agenda as shown, with its items: a changed agenda (another
    text, or other items behind the same text) has another one."""
    shown = "\f".join(page.text for page in pages)
    items = ",".join(str(item.item_id) for page in pages for item in page.items)
    return zlib.crc32(f"{shown}\v{items}".encode())


def themes_text(_: Translator, heading: SafeText | None = None) -> SafeText:
    """An unknown theme typed: the themes there are (never what was typed), under
    `heading` (/agenda's when not given)."""
    lines = [
        heading or _("There is no such theme. Narrow the agenda with one of these: /agenda THEMA")
    ]
    lines += [
        SafeText.layout("• {} - {}", Code(theme.value), _(THEME_LABELS[theme])) for theme in Theme
    ]
    return SafeText.joined("\n", lines)


def close_reason_label(_: Translator, reason: CloseReason) -> SafeText:
    return _(CLOSE_REASON_LABELS[reason])
