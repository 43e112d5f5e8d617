"""`vhbot` command line. Every failure is one line on stderr and a non-zero exit.

Exit codes: 0 done; 1 the work failed (e.g. a broken audit chain); 2 wrong
configuration or input (missing setting, key file, unreachable database).
"""

from __future__ import annotations

import argparse
import errno
import os
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings, SettingsError, TryAgainLater, load_settings
from bot.domain.roles import Role, Theme
from bot.logs import configure_logging
from bot.privacy.anchor_file import AnchorFileError
from bot.privacy.keys import KeyFileError

if TYPE_CHECKING:
    from bot.core import Core
    from bot.domain.meldingen import MeldingRow
    from bot.i18n import Translator
    from bot.safe import SafeText
    from bot.services.imports import Importer

EXIT_FAILED = 1
EXIT_USAGE = 2
# sysexits' EX_TEMPFAIL: the database cannot be reached now; starting again later may work.
EXIT_TRY_AGAIN = 75


class CommandFailed(Exception):
    """The command ran but could not do its work; the message is the one line to show."""


@contextmanager
def _opened(settings: Settings) -> Iterator[Core]:
    """Keys, database and services for one command; closed after, refusals as one line."""
    from bot.app import open_core
    from bot.services.members import MembershipError

    core = open_core(settings)
    try:
        yield core
    except MembershipError as exc:
        raise CommandFailed(str(exc)) from None
    finally:
        core.db.dispose()


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_core
    from bot.runner import run_forever

    token, _chat = settings.require_telegram()
    configure_logging(settings.log_level, secrets=[token])
    run_forever(open_core(settings))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.sandbox.demo import run_demo

    return run_demo()


def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import open_database
    from bot.storage import migrate
    from bot.storage.engine import safe_url

    db = open_database(settings, require_current=False)
    try:
        before, after = migrate.upgrade(db.engine)
    finally:
        db.dispose()
    where = safe_url(settings.database_url)
    if before == after:
        print(f"{where}: schema already at {after}")
    else:
        print(f"{where}: schema upgraded from {before or 'empty'} to {after}")
    return 0


def _keys_init(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.keys import create_key_file

    ring = create_key_file(settings.key_file)
    print(
        f"created {settings.key_file} (mode 0600) with data key {ring.primary.key_id} and a "
        "pseudonym key. Back it up apart from the database: without it the data is unreadable."
    )
    return 0


def _keys_rotate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.keys import add_data_key, load_key_file
    from bot.services.audit import CLI
    from bot.services.keys import reencrypt_all

    if not args.resume:
        load_key_file(settings.key_file)  # refuse early on a bad file, before adding a key
        ring = add_data_key(settings.key_file)
        print(f"added data key {ring.primary.key_id}; re-encrypting")
    with _opened(settings) as core:
        report = reencrypt_all(core.db, core.cipher, core.audit, actor=CLI, batch=args.batch)
    fields = ", ".join(f"{name} {count}" for name, count in report.counts.items())
    print(
        f"re-encrypted {report.total} fields under key {report.primary_key_id} ({fields}); "
        "every encrypted field now uses it"
    )
    return 0


def _keys_retire(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.keys import retire_data_key
    from bot.services.audit import CLI
    from bot.services.keys import reencrypt_all

    with _opened(settings) as core:
        # Never drop a key a row still needs: finish any interrupted rotation first.
        reencrypt_all(core.db, core.cipher, core.audit, actor=CLI)
        ring = retire_data_key(settings.key_file, args.key_id)
        with core.db.session() as session:
            core.audit.record(
                session, actor=CLI, action="keys.retire", subject=f"key:{args.key_id}"
            )
    print(f"retired key {args.key_id}; keys left: {', '.join(k.key_id for k in ring.data_keys)}")
    return 0


def _audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from bot.privacy.audit_chain import BreakKind

    with _opened(settings) as core:
        check = core.audit.check(core.db)
    problems: list[str] = []
    if check.chain_break is not None:
        seq, reason = check.chain_break.seq, check.chain_break.reason
        problems.append(f"audit chain broken at entry {seq}: {reason}")
    else:
        print(f"audit chain intact: {check.entries} entries")
    reading, anchor, path = check.anchor_file, check.anchor, settings.anchor_file
    if reading is None or not reading.exists:
        print(f"no anchor file yet ({path}): checked the chain alone")
    for line in check.line_problems:
        what = (
            "goes back to an older state than a line before it (replayed or reordered)"
            if line.replayed
            else "does not verify (changed, forged or cut off)"
        )
        problems.append(f"anchor file {path}: line {line.line} {what}")
    if anchor is not None:
        when = anchor.at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z")
        broken = check.anchor_break
        if broken is None and check.chain_break is None:
            print(f"matches the anchor of {when}: {anchor.count} entries, head {anchor.short_hash}")
        elif broken is not None and broken.kind is BreakKind.TRUNCATED:
            problems.append(
                f"audit log truncated from entry {broken.seq}: the anchor of {when} holds "
                f"{anchor.count} entries, the database {check.entries}"
            )
        elif broken is not None and broken.kind is BreakKind.REKEYED:
            problems.append(
                f"audit log keying moved at entry {broken.seq}: the anchor of {when} has entries "
                f"keyed from {anchor.keyed_from}, the database from {check.keyed_from}"
            )
        elif broken is not None:
            problems.append(
                f"audit log rewritten: entry {broken.seq} differs from the anchor of {when}"
            )
    elif reading is not None and reading.exists:
        print(f"no valid anchor in {path}: checked the chain alone")
    for problem in problems:
        print(f"vhbot: {problem}", file=sys.stderr)
    return EXIT_FAILED if problems else 0


def _org_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.audit import CLI

    with _opened(settings) as core, core.db.session() as session:
        organisation = core.memberships.add_organisation(
            session,
            name=args.name,
            code=args.short,
            themes=[Theme(t) for t in args.theme] if args.theme else None,
            actor=CLI,
        )
        print(f"added {organisation.code}: {organisation.name} (themes: {organisation.themes})")
    return 0


def _org_list(args: argparse.Namespace, settings: Settings) -> int:

    with _opened(settings) as core, core.db.session() as session:
        organisations = core.memberships.organisations(session)
        if not organisations:
            print("no organisations yet; add one with `vhbot org add NAME`")
        for organisation in organisations:
            print(f"{organisation.code:<10} {organisation.name}  [{organisation.themes}]")
    return 0


def _member_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.audit import CLI

    with _opened(settings) as core, core.db.session() as session:
        member = core.memberships.add_member(
            session,
            telegram_id=args.telegram_id,
            name=args.name,
            organisation_code=args.org,
            roles=[Role(r) for r in args.role or ["partner"]],
            actor=CLI,
        )
        print(f"added member {member.id} to {args.org.upper()} as {member.roles}")
    return 0


def _invite(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.audit import CLI

    with _opened(settings) as core, core.db.session() as session:
        issued = core.memberships.create_invite(
            session,
            organisation_code=args.org,
            roles=[Role(r) for r in args.role or ["partner"]],
            actor=CLI,
        )
    expires = issued.expires_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M %Z")
    print(issued.code)
    print(
        f"one-time invite for {issued.organisation_code} "
        f"({', '.join(sorted(r.value for r in issued.roles))}), valid until {expires}; "
        f"the professional sends `/start {issued.code}` to the bot in a private chat",
        file=sys.stderr,
    )
    return 0


def _member_remove(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.audit import CLI

    with _opened(settings) as core, core.db.session() as session:
        if args.id is not None:
            member_id = args.id
        else:
            view = core.memberships.view_for_telegram(session, args.telegram_id)
            if view is None:
                raise CommandFailed("no member with that Telegram id")
            member_id = view.member_id
        core.memberships.deactivate(session, member_id=member_id, actor=CLI)
    print(
        f"member {member_id} is deactivated; the running bot removes them from the partner "
        "group within a minute"
    )
    return 0


def _import_dpan(args: argparse.Namespace, settings: Settings) -> int:
    return _import_file(args, settings, lambda core: core.detention)


def _import_meldingen(args: argparse.Namespace, settings: Settings) -> int:
    if args.history:
        return _import_file(args, settings, lambda core: core.history)
    return _import_file(args, settings, lambda core: core.meldingen)


def _import_file(
    args: argparse.Namespace, settings: Settings, importer: Callable[[Core], Importer[Any]]
) -> int:
    from bot.scheduling.inbox import is_safe_name, write_errors
    from bot.services.audit import CLI
    from bot.services.imports import ImportInterrupted

    path = Path(args.file)
    # A name with a line break, a control character or bytes that are not UTF-8 is
    # never printed: it could forge output (or fail to print at all).
    shown = path.name if is_safe_name(path.name) else None
    if not path.is_file():
        raise SettingsError(f"{path if shown else 'the file given'}: no such file")
    with _opened(settings) as core:
        try:
            report = importer(core).import_path(
                path,
                actor=CLI,
                on_error=lambda line, reasons: write_errors(sys.stderr, line, reasons),
            )
        except ImportInterrupted as exc:
            raise CommandFailed(
                f"import {exc.import_id} stopped part-way ({exc.cause}); what was imported "
                "is kept: run the same command again to finish it"
            ) from None
    shown = shown or (f"import {report.import_id}" if report.import_id else "the file given")
    if report.unreadable:
        print(f"vhbot: {shown}: {report.unreadable}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{shown}: {report.new} new, {report.duplicate} duplicate, "
        f"{report.rejected} rejected; {len(report.cases_opened)} cases opened "
        f"(import {report.import_id})"
    )
    return 0


def ask_melding(
    ask: Callable[[str], str],
    say: Callable[[str], None],
    *,
    settings: Settings,
    today: date,
    bron_id: str,
) -> MeldingRow | None:
    """Ask for one melding's fields, checking each as the import does; None: aborted.

    A problem is shown next to its field (by column name and reason, never the
    value) and that field is asked again. An empty answer to a required field,
    or the end of input, aborts.
    """
    from bot.domain.dpan import MSG_FIRST_NAME_NO_LETTERS, MSG_NO_LETTERS
    from bot.domain.meldingen import MANUAL_FIELDS, Bron, MeldingRow, check_one
    from bot.i18n import translator

    _ = translator(settings.locale)
    dates = str(_("YYYY-MM-DD or DD-MM-YYYY"))
    hints = {
        "bron": ", ".join(b.value for b in Bron),
        "thema": ", ".join(t.value for t in Theme),
        "geboortedatum": dates,
        "gemeente": ", ".join(settings.municipalities),
        "datum": dates,
    }
    optional = str(_("optional, Enter to skip"))
    # Names need letters only when there is no BSN: not a problem before the BSN is asked.
    needs_bsn = {MSG_NO_LETTERS, MSG_FIRST_NAME_NO_LETTERS}
    values: dict[str, str] = {"bron_id": bron_id}
    index = 0
    while index < len(MANUAL_FIELDS):
        name, required = MANUAL_FIELDS[index]
        hint = hints.get(name) or ("" if required else optional)
        try:
            answer = ask(f"{name}{f' ({hint})' if hint else ''}: ").strip()
        except EOFError:
            return None
        if required and not answer:
            return None
        values[name] = answer
        result = check_one(values, municipalities=settings.municipalities, today=today)
        if isinstance(result, MeldingRow):
            if index == len(MANUAL_FIELDS) - 1:
                return result
            index += 1
            continue
        asked = [field for field, _required in MANUAL_FIELDS[: index + 1]]
        problems = [
            p
            for p in result.problems
            if p.field in asked and ("bsn" in asked or p.message not in needs_bsn)
        ]
        if not problems:
            index += 1
            continue
        for problem in problems:
            say(f"  {problem.field}: {_(problem.message, **problem.params)}")
        index = asked.index(problems[0].field)
    return None  # pragma: no cover - the loop returns once every field passed


def _melding_add(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services.audit import CLI
    from bot.services.meldingen import new_bron_id

    with _opened(settings) as core:
        today = core.clock.now().astimezone(settings.tz).date()
        row = ask_melding(input, print, settings=settings, today=today, bron_id=new_bron_id())
        if row is None:
            print("vhbot: aborted; nothing stored", file=sys.stderr)
            return EXIT_FAILED
        added = core.meldingen.add(row, actor=CLI)
    state = "opened" if added.new_case else "joined"
    print(f"melding stored: case {added.reference} ({state})")
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    """`vhbot report`: the report tables of a year or quarter, as markdown or CSV."""
    from bot.domain.reports import BadPeriod, parse_period
    from bot.i18n import translator
    from bot.services.audit import CLI
    from bot.services.reports import NoData
    from bot.views.reports import report_csv, report_markdown

    _ = translator(settings.locale)
    if args.year is None:
        raise SettingsError(str(_("--year is missing, e.g. --year 2026")))
    try:
        period = parse_period(args.year, args.quarter)
    except BadPeriod as exc:
        raise SettingsError(str(_(exc.message_id))) from None
    shape = args.format or ("csv" if args.excel else "md")
    if shape not in ("md", "csv"):
        raise SettingsError(str(_("--format must be md or csv")))
    if args.excel and shape != "csv":
        raise SettingsError(str(_("--excel is a kind of CSV: leave out --format md")))
    out = Path(args.out) if args.out is not None else None
    if out is not None:
        # Before counting: a report that cannot be written is not made (nor audited).
        if _is_own_file(out, settings):
            raise SettingsError(
                str(
                    _(
                        "--out names a file of vhbot itself (keys, audit anchors or "
                        "database); give another file name"
                    )
                )
            )
        refused = _not_writable(out)
        if refused is not None:
            raise SettingsError(str(_unwritable(_, OSError(refused, os.strerror(refused)))))
    with _opened(settings) as core:
        try:
            report = core.reports.report(period, actor=CLI)
        except NoData:
            if period.quarter is None:
                message = _("no meldingen or cases in {year}", year=period.year)
            else:
                message = _(
                    "no meldingen or cases in quarter {quarter} of {year}",
                    year=period.year,
                    quarter=period.quarter,
                )
            raise SettingsError(str(message)) from None
    if shape == "csv":
        text = report_csv(report, suppress=args.suppress_small, excel=args.excel)
    else:
        text = report_markdown(_, report, suppress=args.suppress_small) + "\n"
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        _write_private(out, text)
    except OSError as exc:
        raise SettingsError(str(_unwritable(_, exc))) from None
    from bot.scheduling.inbox import is_safe_name

    shown = out.name if is_safe_name(out.name) else "--out"
    print(f"report {period.label} written to {shown}")
    return 0


def _write_private(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path`; the file is readable by its owner only (an existing
    one too: the report's figures are exact, small cells included)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            os.fchmod(fd, 0o600)  # not a device or pipe (/dev/stdout): those are not ours
        handle.write(text)


def _is_own_file(path: Path, settings: Settings) -> bool:
    """Whether `path` is (or links to) the key file, the audit anchors or the SQLite
    database: a report written there would destroy them."""
    own = [settings.key_file, settings.anchor_file]
    if settings.database_url.startswith("sqlite:///"):
        own.append(Path(settings.database_url.removeprefix("sqlite:///").partition("?")[0]))
    try:
        return path.exists() and any(p.exists() and path.samefile(p) for p in own)
    except OSError:
        return False


def _not_writable(path: Path) -> int | None:
    """Why `path` cannot be written, as an errno (None: it looks writable)."""
    if path.is_dir():
        return errno.EISDIR
    folder = path.parent
    if not folder.is_dir():
        return errno.ENOENT
    if path.exists() and not os.access(path, os.W_OK):
        return errno.EACCES
    if not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        return errno.EACCES
    return None


def _unwritable(_: Translator, error: OSError) -> SafeText:
    if error.errno == errno.ENOENT:
        return _("--out: the folder does not exist")
    if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return _("--out: no permission to write there")
    if error.errno == errno.EISDIR:
        return _("--out names a folder; give a file name")
    return _("--out: the file cannot be written")


def _sweep(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runner import sweep_once

    with _opened(settings) as core:
        report = sweep_once(core)
    for name, count in report.duties.items():
        print(f"{name}: {count}")
    if report.sent is None:
        print("outbox: not sent (VHBOT_TELEGRAM_TOKEN or VHBOT_PARTNER_CHAT_ID not set)")
    else:
        print(f"outbox: {report.sent} sent")
    return 0


def _outbox(args: argparse.Namespace, settings: Settings) -> int:
    from bot.services import outbox

    with _opened(settings) as core:
        counts = outbox.counts(core.db, core.clock.now())
    age = counts.oldest_pending_age
    print(f"pending: {counts.pending}")
    print(f"sent: {counts.sent}")
    print(f"failed: {counts.failed}")
    print(f"oldest pending age: {'-' if age is None else _age(age.total_seconds())}")
    print(f"chats on hold (403): {counts.held_chats}")
    return 0


def _age(seconds: float) -> str:
    """`42 s`, `3 min 5 s`, `2 h 10 min`, `3 d 4 h`."""
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"


Handler = Callable[[argparse.Namespace, Settings], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vhbot",
        description="Partner bot of a Zorg- en Veiligheidshuis (pseudonymised messages only).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        handler: Handler,
        help_text: str,
    ) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    add(commands, "run", _run, "run the bot (long polling) with its scheduler until SIGTERM")
    add(commands, "demo", _demo, "run the bot against a local simulated Telegram; no token needed")

    db = commands.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="COMMAND"
    )
    add(db, "upgrade", _db_upgrade, "create or migrate the database to the newest schema")

    keys = commands.add_parser("keys", help="encryption and pseudonym keys").add_subparsers(
        dest="keys_command", required=True, metavar="COMMAND"
    )
    add(keys, "init", _keys_init, "create the key file (mode 0600); never overwrites one")
    rotate = add(keys, "rotate", _keys_rotate, "add a data key and re-encrypt every field with it")
    rotate.add_argument(
        "--resume", action="store_true", help="only finish re-encrypting (no new key)"
    )
    rotate.add_argument("--batch", type=int, default=500, help="rows per transaction")
    retire = add(keys, "retire", _keys_retire, "remove an old data key no row uses any more")
    retire.add_argument("key_id")

    audit = commands.add_parser("audit", help="the audit log").add_subparsers(
        dest="audit_command", required=True, metavar="COMMAND"
    )
    add(
        audit,
        "verify",
        _audit_verify,
        "check the keyed hash chain and compare it with the last anchor; reports every break",
    )

    org = commands.add_parser("org", help="partner organisations").add_subparsers(
        dest="org_command", required=True, metavar="COMMAND"
    )
    org_add = add(org, "add", _org_add, "register a partner organisation")
    org_add.add_argument("name")
    org_add.add_argument("--short", help="short code, e.g. POL (default: from the name)")
    org_add.add_argument(
        "--theme",
        action="append",
        choices=[t.value for t in Theme],
        help="a theme it may see (repeatable; default: all but restricted ones)",
    )
    add(org, "list", _org_list, "list organisations")

    member = commands.add_parser("member", help="members").add_subparsers(
        dest="member_command", required=True, metavar="COMMAND"
    )
    member_add = add(member, "add", _member_add, "register a member directly")
    member_add.add_argument("--telegram-id", type=int, required=True)
    member_add.add_argument("--name", required=True)
    member_add.add_argument("--org", required=True, help="organisation short code")
    member_add.add_argument(
        "--role", action="append", choices=[r.value for r in Role], help="repeatable"
    )
    member_remove = add(
        member, "remove", _member_remove, "deactivate a member and remove them from the group"
    )
    which = member_remove.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, help="member number (see /leden)")
    which.add_argument("--telegram-id", type=int)

    importer = commands.add_parser("import", help="import files").add_subparsers(
        dest="import_command", required=True, metavar="COMMAND"
    )
    dpan = add(importer, "dpan", _import_dpan, "import a detention-notification file (CSV)")
    dpan.add_argument("file")
    meldingen = add(
        importer, "meldingen", _import_meldingen, "import a file of meldingen from any source (CSV)"
    )
    meldingen.add_argument("file")
    meldingen.add_argument(
        "--history",
        action="store_true",
        help="a history moved in: records each row's decision (besluit, besluit_datum) and "
        "closing (gesloten_op) on their dates; announces nothing",
    )
    melding = commands.add_parser("melding", help="meldingen").add_subparsers(
        dest="melding_command", required=True, metavar="COMMAND"
    )
    add(melding, "add", _melding_add, "type in one melding (asks for each field)")
    add(commands, "sweep", _sweep, "run every due scheduled duty once now, then exit")
    add(
        commands,
        "outbox",
        _outbox,
        "pending, sent and failed message counts, and the oldest pending age",
    )

    report = add(
        commands,
        "report",
        _report,
        "the report tables of a year or quarter: meldingen, cases and unique persons per "
        "theme and municipality, triage, procesregie, decisions",
    )
    # Checked by _report, not argparse: a wrong value is one line on stderr (exit 2).
    report.add_argument("--year", help="e.g. 2026")
    report.add_argument("--quarter", help="1 to 4 (default: the whole year)")
    report.add_argument("--format", help="md (default) or csv")
    report.add_argument("--out", help="write to this file instead of standard output")
    report.add_argument(
        "--suppress-small", action="store_true", help="show figures from 1 to 4 as <5"
    )
    report.add_argument(
        "--excel", action="store_true", help="CSV for Dutch Excel: ';', UTF-8 with BOM"
    )

    invite = add(commands, "invite", _invite, "print a one-time invite code (valid 72 hours)")
    invite.add_argument("--org", required=True, help="organisation short code")
    invite.add_argument(
        "--role", action="append", choices=[r.value for r in Role], help="repeatable"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        configure_logging(settings.log_level)
        handler: Handler = args.handler
        return handler(args, settings)
    except TryAgainLater as exc:
        print(f"vhbot: {exc}", file=sys.stderr)
        return EXIT_TRY_AGAIN
    except (SettingsError, KeyFileError, AnchorFileError) as exc:
        print(f"vhbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"vhbot: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
