"""The wording of the audit log's notices to the coordinators.

Only counts, entry and line numbers and the first 8 hex characters of a hash
appear here: nothing an audit entry is about.
"""

from __future__ import annotations

from bot.i18n import Translator
from bot.privacy.audit_chain import BreakKind
from bot.safe import Code, SafeText


def anchor_notice(_: Translator, *, count: int, short_hash: str) -> SafeText:
    """The head of the audit log, for the coordinators to keep and compare."""
    return _(
        "Audit log anchored. Entries: {count}. Fingerprint: {short_hash}.",
        count=count,
        short_hash=Code(short_hash),
    )


def break_notice(_: Translator, kind: BreakKind, *, seq: int) -> SafeText:
    """A break the audit check found, by kind and entry number only."""
    match kind:
        case BreakKind.MISSING:
            return _(
                "The audit log check failed at entry {seq}: entries are missing or out of "
                "order. Run `vhbot audit verify`.",
                seq=seq,
            )
        case BreakKind.RELINKED:
            return _(
                "The audit log check failed at entry {seq}: it no longer links to the entry "
                "before it. Run `vhbot audit verify`.",
                seq=seq,
            )
        case BreakKind.MALFORMED:
            return _(
                "The audit log check failed at entry {seq}: the entry is malformed. Run "
                "`vhbot audit verify`.",
                seq=seq,
            )
        case BreakKind.EDITED:
            return _(
                "The audit log check failed at entry {seq}: the entry was changed after it was "
                "written. Run `vhbot audit verify`.",
                seq=seq,
            )
        case BreakKind.TRUNCATED:
            return _(
                "The audit log check failed from entry {seq}: entries that were anchored are "
                "gone. Run `vhbot audit verify`.",
                seq=seq,
            )
        case BreakKind.REWRITTEN:
            return _(
                "The audit log check failed at entry {seq}: the log differs from what was "
                "anchored. Run `vhbot audit verify`.",
                seq=seq,
            )
        case BreakKind.REKEYED:
            return _(
                "The audit log check failed at entry {seq}: the point from which entries are "
                "keyed was moved. Run `vhbot audit verify`.",
                seq=seq,
            )


def anchor_line_notice(_: Translator, *, line: int, replayed: bool) -> SafeText:
    """A line of the anchor file that cannot be trusted, by line number only."""
    if replayed:
        return _(
            "Line {line} of the audit anchor file goes back to an older state of the log. Run "
            "`vhbot audit verify`.",
            line=line,
        )
    return _(
        "Line {line} of the audit anchor file does not verify: it was changed or forged. Run "
        "`vhbot audit verify`.",
        line=line,
    )
