"""The wording and the chart of /stand: today's state, one screen and one picture.

Only themes, meeting types, organisation and professional names, dates and
counts appear; every count of cases, meldingen, persons or actions goes through
the small-cell rule (bot.domain.small_cells): 1 to 4 is shown as "<5". The chart
draws the bars bot.domain.stand.chart_data prepared (small cells at a fixed
height, hatched, labelled "<5"). Lists that can grow (organisations, casemanagers)
take a bounded room, so the whole text always fits one Telegram message.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.domain.meetings import MeetingType
from bot.domain.roles import Theme
from bot.domain.small_cells import LESS_THAN_SMALL, SMALL_CELL, is_small, suppressed
from bot.domain.stand import ANSWER_RATE_DAYS, Bar, ChartData, Quarter, ThemeCounts
from bot.i18n import Translator
from bot.safe import BLANK, MemberName, OrganisationName, SafeText
from bot.views.agenda import MEETING_LABELS
from bot.views.announcements import THEME_LABELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Telegram's limits: a message's text, and a photo's caption.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
# The lists that grow with the house: at most this many entries, and this many characters.
MOST_BEHIND = 5
BEHIND_ROOM = 700
MOST_CASEMANAGERS = 12
OVERDUE_ROOM = 900


@dataclass(frozen=True)
class OpenCases:
    """One theme's open cases; `doorgeleid`: decided so this quarter (it closes a case)."""

    theme: Theme
    triage: int
    procesregie: int
    doorgeleid: int


@dataclass(frozen=True)
class MeetingWaiting:
    """The current meeting of a type: its items, and those still missing answers."""

    type: MeetingType
    starts_at: datetime
    items: int
    waiting: int


@dataclass(frozen=True)
class Behind:
    """An organisation's answers to what it was asked in the last ANSWER_RATE_DAYS days."""

    name: OrganisationName
    asked: int
    answered: int

    @property
    def percent(self) -> int:
        """Rounded down: 99.6% is not shown as everything."""
        return 100 * min(self.answered, self.asked) // self.asked if self.asked else 100


@dataclass(frozen=True)
class Overdue:
    """Overdue open actions of the cases of one casemanager (None: no accepted one)."""

    casemanager: MemberName | None
    actions: int


@dataclass(frozen=True)
class StandFacts:
    """Everything /stand shows, counted by bot.services.stand (exact: rules apply here)."""

    now: datetime
    narrowed: Theme | None
    themes: tuple[Theme, ...]
    quarter: Quarter
    open_cases: tuple[OpenCases, ...]
    meetings: tuple[MeetingWaiting, ...]
    behind: tuple[Behind, ...]
    overdue: tuple[Overdue, ...]
    stagnating: Mapping[Theme, int]
    stagnant_after_days: int
    without_casemanager: Mapping[Theme, int]
    # Releases from detention from today through `releases_until`; None: nazorg not shown.
    releases: int | None
    releases_until: date
    this_quarter: Mapping[Theme, ThemeCounts]
    chart: ChartData


def shown(_: Translator, count: int) -> SafeText | int:
    """A count as /stand may show it: "<5" for 1 to 4 (bot.domain.small_cells)."""
    value = suppressed(count)
    return value if isinstance(value, int) else _("<{limit}", limit=SMALL_CELL)


def quarter_label(_: Translator, quarter: Quarter) -> SafeText:
    return _("Q{number} {year}", number=quarter.number, year=quarter.year)


def _theme(_: Translator, theme: Theme) -> SafeText:
    return _(THEME_LABELS[theme])


def _bounded(
    lines: Sequence[SafeText], room: int, more: Callable[[int], SafeText], *, most: int
) -> list[SafeText]:
    """At most `most` of `lines` and as many as `room` characters take; `more(left)` for
    the rest."""
    kept: list[SafeText] = []
    size = 0
    for line in lines[:most]:
        if size + len(line) + 1 > room:
            break
        kept.append(line)
        size += len(line) + 1
    if len(kept) < len(lines):
        kept.append(more(len(lines) - len(kept)))
    return kept


def _per_theme(
    _: Translator, themes: Sequence[Theme], counts: Mapping[Theme, int]
) -> list[SafeText]:
    lines = [
        _("• {theme}: {count}", theme=_theme(_, t), count=shown(_, counts[t]))
        for t in themes
        if counts.get(t, 0)
    ]
    return lines or [_("  None.")]


def _open_cases(facts: StandFacts, _: Translator, tz: ZoneInfo) -> list[SafeText]:
    lines = [_("Open cases per theme: in triage · in procesregie · doorgeleid this quarter")]
    lines += [
        _(
            "• {theme}: {triage} · {procesregie} · {doorgeleid}",
            theme=_theme(_, row.theme),
            triage=shown(_, row.triage),
            procesregie=shown(_, row.procesregie),
            doorgeleid=shown(_, row.doorgeleid),
        )
        for row in facts.open_cases
    ]
    lines.append(
        _(
            "  Doorgeleid closes a case: counted are the cases doorgeleid since {date}.",
            date=_.date(facts.quarter.start),
        )
    )
    return lines


def _meetings(facts: StandFacts, _: Translator, tz: ZoneInfo) -> list[SafeText]:
    lines = [_("Agenda items still waiting for answers (details: /agenda)")]
    lines += [
        _(
            "• {meeting}, {time}: {waiting} of {items}",
            meeting=_(MEETING_LABELS[m.type]),
            time=_.datetime(m.starts_at, tz),
            waiting=shown(_, m.waiting),
            items=shown(_, m.items),
        )
        for m in facts.meetings
    ]
    if not facts.meetings:
        lines.append(_("  None."))
    return lines


def _behind(facts: StandFacts, _: Translator) -> list[SafeText]:
    lines = [
        _("Organisations furthest behind with answers (last {days} days)", days=ANSWER_RATE_DAYS)
    ]
    entries = [
        _(
            "• {organisation}: {asked} asked, {percent}% answered",
            organisation=b.name,
            percent=b.percent,
            asked=shown(_, b.asked),
        )
        if not is_small(b.asked)
        # A percentage of fewer than 5 would tell how many (33%: 3 asked).
        else _(
            "• {organisation}: {asked} asked, {answered} answered",
            organisation=b.name,
            asked=shown(_, b.asked),
            answered=shown(_, b.answered),
        )
        for b in facts.behind
    ]
    entries = _bounded(
        entries,
        BEHIND_ROOM,
        lambda left: _("  and {count} more organisations", count=left),
        most=MOST_BEHIND,
    )
    return lines + (entries or [_("  Every organisation answered everything it was asked.")])


def _overdue(facts: StandFacts, _: Translator) -> list[SafeText]:
    lines = [_("Overdue actions per casemanager")]
    entries = [
        _("• {name}: {count}", name=o.casemanager, count=shown(_, o.actions))
        if o.casemanager is not None
        else _("• without an accepted casemanager: {count}", count=shown(_, o.actions))
        for o in facts.overdue
    ]
    entries = _bounded(
        entries,
        OVERDUE_ROOM,
        lambda left: _("  and {count} more casemanagers", count=left),
        most=MOST_CASEMANAGERS,
    )
    return lines + (entries or [_("  None.")])


def stand_text(facts: StandFacts, _: Translator, tz: ZoneInfo) -> SafeText:
    """The whole screen; at most TEXT_LIMIT characters whatever the data."""
    if facts.narrowed is None:
        heading = _("State of affairs, {time}", time=_.datetime(facts.now, tz))
    else:
        heading = _(
            "State of affairs, {time}: {theme}",
            time=_.datetime(facts.now, tz),
            theme=_theme(_, facts.narrowed),
        )
    lines = [heading, _("Figures from 1 to 4 are shown as <5.")]
    lines += [BLANK, *_open_cases(facts, _, tz)]
    lines += [BLANK, *_meetings(facts, _, tz)]
    lines += [BLANK, *_behind(facts, _)]
    lines += [BLANK, *_overdue(facts, _)]
    lines += [
        BLANK,
        _(
            "Stagnating cases (no action added, completed or postponed for {days} days)",
            days=facts.stagnant_after_days,
        ),
        *_per_theme(_, facts.themes, facts.stagnating),
    ]
    lines += [
        BLANK,
        _("Cases waiting more than 2 working days for an accepted casemanager"),
        *_per_theme(_, facts.themes, facts.without_casemanager),
    ]
    if facts.releases is not None:
        lines += [
            BLANK,
            _(
                "Releases from detention from today through {date}: {count}",
                date=_.date(facts.releases_until),
                count=shown(_, facts.releases),
            ),
        ]
    lines += [
        BLANK,
        _(
            "This quarter so far ({quarter}): meldingen · cases · unique persons",
            quarter=quarter_label(_, facts.quarter),
        ),
    ]
    for theme in facts.themes:
        counts = facts.this_quarter.get(theme, ThemeCounts(0, 0, 0))
        lines.append(
            _(
                "• {theme}: {meldingen} · {cases} · {persons}",
                theme=_theme(_, theme),
                meldingen=shown(_, counts.meldingen),
                cases=shown(_, counts.cases),
                persons=shown(_, counts.persons),
            )
        )
    return SafeText.joined("\n", lines)


def chart_caption(facts: StandFacts, _: Translator, tz: ZoneInfo) -> SafeText:
    """The photo's own caption when the text goes as a message of its own."""
    lines = [
        _(
            "State of affairs, {time}: meldingen and cases per theme, last {count} quarters.",
            time=_.datetime(facts.now, tz),
            count=len(facts.chart.quarters),
        )
    ]
    if facts.chart.has_small:
        lines.append(_("Hatched bars stand for 1 to 4 (<5)."))
    return SafeText.joined("\n", lines)


def stand_messages(
    facts: StandFacts, _: Translator, tz: ZoneInfo
) -> tuple[SafeText, SafeText | None]:
    """The photo's caption and the text to send after it (None: the caption is the text)."""
    text = stand_text(facts, _, tz)
    if len(text) <= CAPTION_LIMIT:
        return text, None
    return chart_caption(facts, _, tz), text


# -- the chart -----------------------------------------------------------------------

# Colours per theme (matplotlib's tab10, colour-blind friendlier than the default cycle).
_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
)  # fmt: skip


def stand_chart(data: ChartData, _: Translator) -> bytes:
    """The chart as a PNG: meldingen above, cases below, a group of bars per quarter.

    Drawn with matplotlib's Agg canvas on a Figure of its own (no pyplot, no global
    state), so it is safe in a worker thread. matplotlib is imported here, not at the
    top: only /stand needs it, and the `vhbot` command line starts without it.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=(12, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    labels = [str(quarter_label(_, q)) for q in data.quarters]
    positions = list(range(len(data.quarters)))
    for axes, series, title in (
        (top, data.meldingen, _("Meldingen per theme")),
        (bottom, data.cases, _("Cases per theme")),
    ):
        axes.set_title(str(title), loc="left", fontsize=11)
        axes.grid(axis="y", alpha=0.3)
        axes.set_axisbelow(True)
        if not data.themes:
            axes.text(0.5, 0.5, str(_("Nothing to show.")), ha="center", transform=axes.transAxes)
            continue
        width = 0.8 / len(data.themes)
        for index, theme in enumerate(data.themes):
            offsets = [p - 0.4 + width * (index + 0.5) for p in positions]
            _draw(axes, offsets, series[theme], width, _colour(theme))
    bottom.set_xticks(positions, labels)
    if data.themes:
        # Plain patches: a theme's first bar may be a hatched small cell.
        handles = [Patch(color=_colour(t)) for t in data.themes]
        names = [str(_(THEME_LABELS[t])) for t in data.themes]
        figure.legend(handles, names, loc="outside right upper", fontsize=8)
    if data.has_small:
        figure.supxlabel(str(_("Hatched bars stand for 1 to 4 (<5).")), fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _colour(theme: Theme) -> str:
    return _COLOURS[list(Theme).index(theme) % len(_COLOURS)]


def _draw(axes: Axes, offsets: list[float], bars: Sequence[Bar], width: float, colour: str) -> None:
    heights = [b.height for b in bars]
    drawn = axes.bar(offsets, heights, width, color=colour)
    for patch, bar in zip(drawn.patches, bars, strict=True):
        if bar.small:
            patch.set_facecolor("white")
            patch.set_edgecolor(colour)
            patch.set_hatch("////")
            axes.annotate(
                LESS_THAN_SMALL,
                (patch.get_x() + patch.get_width() / 2, patch.get_height()),
                ha="center", va="bottom", fontsize=6, color=colour,
            )  # fmt: skip
