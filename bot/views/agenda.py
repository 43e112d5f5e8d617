"""The wording of /agenda: the next meetings, their items with answer counts, in pages.

Only case references, pseudonyms, themes, municipalities and organisation names
appear. A page's buttons carry its number and the agenda's version (a checksum
of every page's text): a button of a page that no longer shows the current
agenda says so instead of showing something else.
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
        names = [OrganisationName(printable_name(n) or "?") for n in item.missing]
        lines.append(_("  Missing: {names}", names=SafeText.joined(", ", names)))
    if item.rolled_over:
        lines.append(_("  Rolled over from an earlier meeting."))
    return lines


def agenda_pages(meetings: Sequence[MeetingShown], _: Translator, tz: ZoneInfo) -> list[Page]:
    """The agenda in pages of at most ITEMS_PER_PAGE items and MESSAGE_LIMIT characters."""
    # Blocks: a meeting's heading (no item) or an item's lines.
    blocks: list[tuple[list[SafeText], ItemShown | None]] = []
    for meeting in meetings:
        heading = [
            BLANK,
            _(
                "{meeting}: {time}",
                meeting=_(MEETING_LABELS[meeting.type]),
                time=_.datetime(meeting.starts_at, tz),
            ),
        ]
        if not meeting.items:
            heading.append(_("  No items."))
        blocks.append((heading, None))
        blocks.extend((_item_lines(item, _), item) for item in meeting.items)
    chunks: list[list[tuple[list[SafeText], ItemShown | None]]] = [[]]
    size = 0
    for block in blocks:
        length = sum(len(line) + 1 for line in block[0])
        count = sum(1 for _lines, item in chunks[-1] if item is not None)
        full = count >= ITEMS_PER_PAGE and block[1] is not None
        if chunks[-1] and (full or size + length > MESSAGE_LIMIT - 200):
            chunks.append([])
            size = 0
        chunks[-1].append(block)
        size += length
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        if len(chunks) == 1:
            header = _("Agenda")
        else:
            header = _("Agenda (page {page} of {pages})", page=number, pages=len(chunks))
        lines = [header] + [line for block, _item in chunk for line in block]
        items = tuple(item for _lines, item in chunk if item is not None)
        pages.append(Page(SafeText.joined("\n", lines), items))
    return pages


def agenda_version(pages: Sequence[Page]) -> int:
    """A checksum of the whole agenda as shown: a changed agenda has another one."""
    return zlib.crc32("\f".join(page.text for page in pages).encode())


def themes_text(_: Translator) -> SafeText:
    """An unknown theme typed: the themes there are (never what was typed)."""
    lines = [_("There is no such theme. Narrow the agenda with one of these: /agenda THEMA")]
    lines += [
        SafeText.layout("• {} - {}", Code(theme.value), _(THEME_LABELS[theme])) for theme in Theme
    ]
    return SafeText.joined("\n", lines)


def close_reason_label(_: Translator, reason: CloseReason) -> SafeText:
    return _(CLOSE_REASON_LABELS[reason])
