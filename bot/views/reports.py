"""The report as people read it: markdown tables like the annual reports, or the tidy CSV.

Both show the same figures (`bot.domain.reports.Report`); the CSV has one row per
figure group (shared/formats.md, "Report CSV"), the markdown pivots them into
the tables of the annual reports (seed 001 tables 1 to 6), headed in the
reader's language. Small cells are suppressed by `bot.domain.reports` rules only.
Every text cell of the CSV is neutralised against formula injection.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from bot.domain.decisions import Decision
from bot.domain.dpan import csv_safe
from bot.domain.reports import (
    ALL_BUT_NAZORG,
    CSV_HEADER,
    TOTAL,
    Figure,
    Report,
    Table,
    shown_count,
    shown_median,
)
from bot.domain.roles import Theme
from bot.i18n import Translator
from bot.views.announcements import THEME_LABELS
from bot.views.decisions import DECISION_LABELS

UTF8_BOM = "\ufeff"


def report_csv(report: Report, *, suppress: bool, excel: bool) -> str:
    """The tidy CSV: `CSV_HEADER`, then one row per figure.

    Args:
        report: the figures.
        suppress: show figures from 1 to 4 as "<5" (and no median over so few cases).
        excel: the variant Dutch Excel opens as it is: `;`-separated, a UTF-8 byte
            order mark, decimal comma.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if excel else ",", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for figure in report.figures:
        writer.writerow(
            [
                csv_safe(figure.table.value),
                csv_safe(figure.period),
                csv_safe(figure.theme),
                csv_safe(figure.municipality),
                shown_count(figure.meldingen, suppress=suppress),
                shown_count(figure.cases, suppress=suppress),
                shown_count(figure.persons, suppress=suppress),
                csv_safe(figure.decision),
                shown_median(
                    figure.median_days,
                    figure.cases,
                    suppress=suppress,
                    decimal="," if excel else ".",
                ),
            ]
        )
    return (UTF8_BOM if excel else "") + buffer.getvalue()


def report_markdown(_: Translator, report: Report, *, suppress: bool) -> str:
    """The report's tables in markdown, numbered and laid out as in the annual reports."""
    period = report.period
    title = (
        _("Report {year}", year=period.year)
        if period.quarter is None
        else _("Report {year}, quarter {quarter}", year=period.year, quarter=period.quarter)
    )
    lines = [f"# {title}", ""]
    if suppress:
        lines += [str(_("Figures from 1 to 4 are shown as <5.")), ""]
    number = 1
    lines += _triage(_, report, number, suppress)
    number += 1
    lines += _procesregie(_, report, number, suppress)
    for theme in Theme:
        number += 1
        lines += _theme(_, report, number, theme, suppress)
    number += 1
    lines += _decisions(_, report, number, suppress)
    return "\n".join(lines)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric_from: int) -> list[str]:
    align = ["---" if i < numeric_from else "---:" for i in range(len(header))]
    lines = [_row(header), _row(align)]
    lines += [_row(row) for row in rows]
    return [*lines, ""]


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _counts(figure: Figure, suppress: bool) -> list[str]:
    return [
        shown_count(figure.meldingen, suppress=suppress),
        shown_count(figure.cases, suppress=suppress),
        shown_count(figure.persons, suppress=suppress),
    ]


def _municipality(_: Translator, municipality: str) -> str:
    return str(_("Total")) if municipality == TOTAL else municipality


def _periods(report: Report) -> list[str]:
    return [p.label for p in report.period.with_quarters()]


def _triage(_: Translator, report: Report, number: int, suppress: bool) -> list[str]:
    header = [
        str(_("Municipality")),
        str(_("Period")),
        str(_("Meldingen")),
        str(_("Cases")),
        str(_("Unique persons")),
    ]
    rows = []
    for municipality in (*report.municipalities, TOTAL):
        for index, label in enumerate(_periods(report)):
            figure = report.find(Table.TRIAGE, label, ALL_BUT_NAZORG, municipality)
            name = _municipality(_, municipality) if index == 0 else ""
            rows.append([name, label, *_counts(figure, suppress)])
    heading = _("Table {number}: meldingen and triage (every theme but aftercare)", number=number)
    return [f"## {heading}", "", *_table(header, rows, numeric_from=2)]


def _procesregie(_: Translator, report: Report, number: int, suppress: bool) -> list[str]:
    header = [
        str(_("Municipality")),
        str(_("Period")),
        *(str(_(THEME_LABELS[t])) for t in Theme),
    ]
    rows = []
    for municipality in (*report.municipalities, TOTAL):
        for index, label in enumerate(_periods(report)):
            name = _municipality(_, municipality) if index == 0 else ""
            counts = [
                shown_count(
                    report.find(Table.PROCESREGIE, label, t.value, municipality).cases,
                    suppress=suppress,
                )
                for t in Theme
            ]
            rows.append([name, label, *counts])
    heading = _("Table {number}: cases in procesregie per theme", number=number)
    return [f"## {heading}", "", *_table(header, rows, numeric_from=2)]


def _theme(_: Translator, report: Report, number: int, theme: Theme, suppress: bool) -> list[str]:
    header = [
        str(_("Municipality")),
        str(_("Meldingen")),
        str(_("Cases")),
        str(_("Unique persons")),
    ]
    label = report.period.label
    rows = [
        [
            _municipality(_, municipality),
            *_counts(report.find(Table.THEME, label, theme.value, municipality), suppress),
        ]
        for municipality in (*report.municipalities, TOTAL)
    ]
    heading = _("Table {number}: {theme}", number=number, theme=_(THEME_LABELS[theme]))
    return [f"## {heading}", "", *_table(header, rows, numeric_from=1)]


def _decisions(_: Translator, report: Report, number: int, suppress: bool) -> list[str]:
    label = report.period.label
    header = [
        str(_("Theme")),
        *(str(_(DECISION_LABELS[d])) for d in Decision),
        str(_("Median days from melding to decision")),
    ]
    rows = []
    for theme in Theme:
        counts = [
            shown_count(
                report.find(Table.DECISIONS, label, theme.value, TOTAL, d.value).cases,
                suppress=suppress,
            )
            for d in Decision
        ]
        days = report.find(Table.DAYS_TO_DECISION, label, theme.value, TOTAL)
        shown = shown_median(days.median_days, days.cases, suppress=suppress) or "-"
        rows.append([str(_(THEME_LABELS[theme])), *counts, shown])
    heading = _("Table {number}: triage decisions per theme", number=number)
    lines = [f"## {heading}", "", *_table(header, rows, numeric_from=1)]
    to_casemanager = report.find(Table.DAYS_TO_CASEMANAGER, label, Theme.NAZORG.value, TOTAL)
    header = [
        str(_("Theme")),
        str(_("Median days from the release notification to an accepted casemanager")),
        str(_("Cases")),
    ]
    row = [
        str(_(THEME_LABELS[Theme.NAZORG])),
        shown_median(to_casemanager.median_days, to_casemanager.cases, suppress=suppress) or "-",
        shown_count(to_casemanager.cases, suppress=suppress),
    ]
    return [*lines, *_table(header, [row], numeric_from=1)]
