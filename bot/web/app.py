"""The reveal pages: a small ASGI app (Starlette) behind the organisation's HTTPS proxy.

GET /r/{token} shows the form the link needs (a set-up code and a new PIN, or the
PIN) or a refusal that reveals nothing; POST /r/{token} checks the form token,
the set-up code or PIN through the Reveals service and shows the person or case,
or (a `/melding` link) the form for a new melding. That form posts to the same
address with `step=melding` and a form token of its own; a problem is shown next
to its field with the values kept, until the melding is stored and the page
shows its case reference.
Every database step runs in a worker thread (`core.db.run`), one transaction each.
Pages never echo what was sent; logs carry event names and safe fields only.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.config import Settings, WebPortUnavailable
from bot.core import Core
from bot.domain.dpan import Problem
from bot.domain.meldingen import MANUAL_FIELDS, Bron
from bot.domain.plan import ActionState, ZrmDomain
from bot.i18n import Translator, translator
from bot.safe import CaseReference, Code, SafeText
from bot.services.reveal import (
    MeldingForm,
    MeldingFormProblems,
    MeldingShown,
    MeldingStored,
    Refusal,
    Refused,
    RevealedCase,
    RevealedPerson,
)
from bot.views.announcements import THEME_LABELS
from bot.views.decisions import ASSIGNMENT_STATE_LABELS, decision_text
from bot.views.plan import (
    EVENT_LABELS,
    STATE_LABELS,
    action_label,
    domain_label,
    reason_label,
)
from bot.web.forms import (
    MAX_BODY,
    BadForm,
    form_token,
    form_token_ok,
    melding_form_token,
    melding_form_token_ok,
    parse_form,
)

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
STYLE = (Path(__file__).parent / "style.css").read_bytes()

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS: Mapping[str, str] = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
}

# Refusals after which the form is shown again, with a word about what was wrong.
_FORM_AGAIN = {
    Refusal.WRONG_PIN,
    Refusal.NO_PIN,
    Refusal.PIN_MALFORMED,
    Refusal.PIN_TRIVIAL,
    Refusal.SETUP_CODE_WRONG,
    Refusal.SETUP_CODE_EXPIRED,
    Refusal.SETUP_CODE_USED,
}


class _TooLarge(Exception):
    pass


@dataclass(frozen=True)
class _Form:
    """What a form page needs besides the labels."""

    setup: bool
    problem: SafeText | None = None


class SecurityHeaders:
    """Adds the security headers to every response the app sends (404s too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.decode("latin-1").lower() not in _LOWER_NAMES
                ]
                headers.extend(_RAW_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


_LOWER_NAMES = {name.lower() for name in SECURITY_HEADERS}
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class RevealPages:
    def __init__(self, core: Core) -> None:
        self._core = core
        self._form_key = core.keys.web_form_key
        self._env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            auto_reload=False,
        )

    # -- routes ------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def style(self, request: Request) -> Response:
        return Response(STYLE, media_type="text/css")

    async def show(self, request: Request) -> Response:
        token = request.path_params["token"]
        core = self._core
        check = await core.db.transact(core.reveals.open_link, token, now=core.clock.now())
        _ = self._translator(check.language)
        if not check.ok:
            log.info("web.refused", extra={"step": "open"})
            return self._refusal(_)
        return self._form(_, token, _Form(setup=check.needs_setup))

    async def submit(self, request: Request) -> Response:
        token = request.path_params["token"]
        core = self._core
        try:
            body = await _read_body(request)
            fields = parse_form(body)
        except _TooLarge:
            log.info("web.body_too_large")
            return self._error(self._translator(None), 413)
        except BadForm:
            log.info("web.body_malformed")
            return self._error(self._translator(None), 400)
        if fields.get("step") == "melding":
            return await self._submit_melding(token, fields)
        if not form_token_ok(self._form_key, token, fields.get("form"), now=core.clock.now()):
            log.info("web.form_token_refused")
            await core.db.transact(core.reveals.refuse_form, token)
            return self._refusal(self._translator(None))
        language, outcome = await core.db.transact(
            core.reveals.submit,
            token,
            pin=fields.get("pin", ""),
            setup_code=fields.get("setup_code"),
            pin_again=fields.get("pin_again"),
            now=core.clock.now(),
        )

        _ = self._translator(language)
        if isinstance(outcome, RevealedPerson):
            log.info("web.shown", extra={"kind": "announcement", "erased": outcome.erased})
            return self._page(
                _,
                "person.html",
                person=outcome,
                birth_date=_birth_date(outcome),
                melding=self._melding(_, outcome.melding),
            )
        if isinstance(outcome, RevealedCase):
            log.info("web.shown", extra={"kind": "case", "erased": outcome.erased})
            return self._page(
                _,
                "case.html",
                case=outcome,
                birth_date=_birth_date(outcome),
                opened=_.date(self._local_date(outcome.opened_at)),
                closed=_.date(self._local_date(outcome.closed_at)) if outcome.closed_at else None,
                meldingen=[self._melding(_, m) for m in outcome.meldingen],
                **self._case_steering(_, outcome),
                **self._case_plan(_, outcome),
            )
        if isinstance(outcome, MeldingForm):
            log.info("web.melding_form_opened")
            return self._melding_form(_, token, outcome)
        if outcome.reason is Refusal.PINS_DIFFER:
            return self._form(_, token, _Form(setup=True, problem=_("The two PINs differ.")))
        log.info("web.refused", extra={"step": "submit", "reason": outcome.reason.value})
        if outcome.reason in _FORM_AGAIN:
            return self._form(_, token, self._form_again(_, outcome))
        return self._refusal(_)

    async def _submit_melding(self, token: str, fields: Mapping[str, str]) -> Response:
        """The melding form sent: stored (its case reference), or shown again with
        each problem next to its field and the values as sent."""
        core = self._core
        now = core.clock.now()
        if not melding_form_token_ok(self._form_key, token, fields.get("form"), now=now):
            log.info("web.form_token_refused", extra={"step": "melding"})
            await core.db.transact(core.reveals.refuse_form, token)
            return self._refusal(self._translator(None))
        values = {name: fields.get(name, "") for name, _required in MANUAL_FIELDS}
        language, outcome = await core.db.transact(
            core.reveals.submit_melding, token, values, now=now
        )
        _ = self._translator(language)
        if isinstance(outcome, MeldingStored):
            log.info("web.melding_stored", extra={"new_case": outcome.new_case})
            ref = CaseReference.or_none(outcome.reference) or Code("?")
            return self._page(
                _,
                "melding_stored.html",
                title=_("New melding"),
                stored=_("The melding is stored. It opened case {reference}.", reference=ref)
                if outcome.new_case
                else _("The melding is stored. It joined case {reference}.", reference=ref),
            )
        if isinstance(outcome, MeldingFormProblems):
            fields_wrong = sorted({p.field for p in outcome.problems})
            log.info("web.melding_problems", extra={"fields": ",".join(fields_wrong)})
            return self._melding_form(_, token, outcome.form, values, outcome.problems)
        log.info("web.refused", extra={"step": "melding", "reason": outcome.reason.value})
        if outcome.reason is Refusal.USED:
            # A second send of a stored form (a double click): it was stored once.
            return self._page(
                _,
                "refusal.html",
                status_code=409,
                title=_("New melding"),
                why=_(
                    "This form was sent already and its melding is stored; I sent you the "
                    "case reference in Telegram."
                ),
            )
        return self._refusal(_)

    # -- pages -------------------------------------------------------------------

    def _melding_form(
        self,
        _: Translator,
        token: str,
        form: MeldingForm,
        values: Mapping[str, str] | None = None,
        problems: tuple[Problem, ...] = (),
    ) -> Response:
        """The form for a new melding: the choices the member has, what was sent (kept
        when shown again), each problem next to its field."""
        values = values or {}
        wrong: dict[str, list[SafeText]] = {}
        for problem in problems:
            wrong.setdefault(problem.field, []).append(_(problem.message, **problem.params))
        choices: dict[str, list[tuple[str, str]]] = {
            "bron": [(b.value, b.value) for b in Bron],
            "thema": [(t.value, str(_(THEME_LABELS[t]))) for t in form.themes],
            "gemeente": [(m, m) for m in form.municipalities],
        }
        kinds = {"geboortedatum": "date", "datum": "date", "opmerking": "textarea"}
        labels = _melding_labels(_)
        shown = [
            {
                "name": name,
                "label": labels[name],
                "required": required,
                "kind": "select" if name in choices else kinds.get(name, "text"),
                "options": choices.get(name, []),
                "value": values.get(name, ""),
                "problems": wrong.pop(name, []),
            }
            for name, required in MANUAL_FIELDS
        ]
        return self._page(
            _,
            "melding.html",
            title=_("New melding"),
            form_token=melding_form_token(self._form_key, token, until=form.open_until),
            fields=shown,
            # Problems of no field of the form (none expected): shown above it.
            other_problems=[p for found in wrong.values() for p in found],
            has_problems=bool(problems),
            until=_(
                "The form can be sent until {time}.",
                time=_.datetime(form.open_until, self._core.settings.tz),
            ),
        )

    def _form_again(self, _: Translator, refused: Refused) -> _Form:
        left = refused.attempts_left
        match refused.reason:
            case Refusal.WRONG_PIN:
                return _Form(False, _("Wrong PIN. Tries left: {count}.", count=left or 0))
            case Refusal.SETUP_CODE_WRONG:
                return _Form(True, _("Wrong set-up code. Tries left: {count}.", count=left or 0))
            case Refusal.PIN_MALFORMED | Refusal.PIN_TRIVIAL:
                return _Form(True, _("Choose a PIN of 6 digits that is not easy to guess."))
            case Refusal.SETUP_CODE_EXPIRED | Refusal.SETUP_CODE_USED:
                return _Form(
                    True, _("This set-up code is no longer valid. Ask a coordinator for a new one.")
                )
            case _:  # NO_PIN: no PIN chosen yet
                return _Form(True)

    def _form(self, _: Translator, token: str, form: _Form) -> Response:
        return self._page(
            _,
            "setup.html" if form.setup else "pin.html",
            form_token=form_token(self._form_key, token, now=self._core.clock.now()),
            problem=form.problem,
        )

    def _refusal(self, _: Translator) -> Response:
        return self._page(_, "refusal.html", status_code=403)

    def _error(self, _: Translator, status: int) -> Response:
        message = {
            413: _("The form you sent is too large."),
            400: _("The form you sent could not be read."),
            404: _("This page does not exist."),
            405: _("This page does not exist."),
        }.get(status, _("Something went wrong. Please try again later."))
        return self._page(_, "error.html", status_code=status, message=message)

    def _page(self, _: Translator, name: str, *, status_code: int = 200, **values: Any) -> Response:
        template = self._env.get_template(name)
        values.setdefault("title", None)
        html = template.render(t=_labels(_), lang=_.locale, **values)
        return HTMLResponse(html, status_code=status_code)

    # -- helpers -----------------------------------------------------------------

    def _translator(self, language: str | None) -> Translator:
        return translator(language or self._core.settings.locale)

    def _local_date(self, moment: datetime) -> date:
        return moment.astimezone(self._core.settings.tz).date()

    def _melding(self, _: Translator, melding: MeldingShown) -> dict[str, Any]:
        return {
            "kind": _("Release") if melding.soort == "uitstroom" else _("Admission"),
            "event_date": _.date(melding.event_date),
            "received": _.date(self._local_date(melding.received_at)),
            "municipality": melding.municipality,
            "institution": melding.institution,
            "remark": melding.remark,
            "erased": melding.erased,
            "answers": [
                {
                    "organisation": answer.organisation,
                    "answer": _("known") if answer.known else _("not known"),
                    "when": _.datetime(answer.answered_at, self._core.settings.tz),
                }
                for answer in melding.answers
            ],
        }

    def _case_steering(self, _: Translator, case: RevealedCase) -> dict[str, Any]:
        """The case's decision (with its date) and its casemanager."""
        casemanager = case.casemanager
        return {
            "decision": decision_text(_, case.decision) if case.decision else None,
            "decided": _.date(self._local_date(case.decided_at)) if case.decided_at else None,
            "casemanager": None
            if casemanager is None
            else {
                "name": casemanager.name,
                "organisation": casemanager.organisation,
                "state": _(ASSIGNMENT_STATE_LABELS[casemanager.state]),
                "since": _.date(self._local_date(casemanager.since)),
            },
        }

    def _case_plan(self, _: Translator, case: RevealedCase) -> dict[str, Any]:
        """The plan of approach with each action's history, and the ZRM over time."""
        plan = case.plan
        if plan is None:
            return {"actions": [], "zrm": None}
        actions = []
        for shown in plan.actions:
            action = shown.plan
            label = action_label(_, action.named)
            history = []
            for event in shown.events:
                when = _.date(self._local_date(event.at))
                history.append(
                    {
                        "when": when,
                        "what": _(EVENT_LABELS[event.kind]) if event.kind in EVENT_LABELS else "?",
                        "old": _.date(event.old_deadline) if event.old_deadline else None,
                        "new": _.date(event.new_deadline) if event.new_deadline else None,
                        "reason": reason_label(_, event.reason) if event.reason else None,
                        # The owner it was given to (member or organisation name), and
                        # on a reassignment the one before.
                        "from": event.old_owner,
                        "to": event.new_owner,
                    }
                )
            actions.append(
                {
                    "number": action.named.number,
                    "label": label,
                    "title": shown.title,  # typed text: on this page only
                    "owner": action.owner_member or action.owner_organisation or "?",
                    "deadline": _.date(action.deadline),
                    "state": _(STATE_LABELS[action.state]),
                    "cancelled": action.state is ActionState.CANCELLED,
                    "history": history,
                }
            )
        zrm = None
        if plan.measurements:
            zrm = {
                "dates": [_.date(self._local_date(m.measured_at)) for m in plan.measurements],
                "rows": [
                    {
                        "domain": domain_label(_, domain),
                        "scores": [m.scores.get(domain, "") for m in plan.measurements],
                    }
                    for domain in ZrmDomain
                ],
            }
        return {"actions": actions, "zrm": zrm}

    async def not_found(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        return self._error(self._translator(None), status)

    async def failed(self, request: Request, exc: Exception) -> Response:
        log.error("web.failed", extra={"error": type(exc).__name__})
        response = self._error(self._translator(None), 500)
        response.headers.update(SECURITY_HEADERS)
        return response


def _labels(_: Translator) -> dict[str, SafeText]:
    """The fixed wording of the pages."""
    return {
        "title": _("Personal details"),
        "refused": _("This link cannot be used."),
        "refused_why": _(
            "It may have expired, been used already or be meant for someone else. "
            "Ask for a new link in Telegram."
        ),
        "setup_intro": _(
            "First time here: enter the set-up code a coordinator gave you and choose a PIN "
            "of 6 digits."
        ),
        "setup_code": _("Set-up code"),
        "new_pin": _("New PIN"),
        "new_pin_again": _("New PIN again"),
        "pin_intro": _("Enter your PIN to see the details."),
        "pin": _("PIN"),
        "show": _("Show details"),
        "name": _("Name"),
        "birth_date": _("Date of birth"),
        "bsn": _("BSN"),
        "pseudonym": _("Pseudonym"),
        "case": _("Case"),
        "municipality": _("Municipality"),
        "institution": _("Institution"),
        "kind": _("Kind"),
        "date": _("Date"),
        "received": _("Received"),
        "remark": _("Remark"),
        "answers": _("Answers"),
        "no_answers": _("No answers yet."),
        "erased": _("These personal details have been erased under the retention rules."),
        "opened": _("Opened"),
        "closed": _("Closed"),
        "meldingen": _("Notifications"),
        "decision": _("Decision"),
        "no_decision": _("No decision yet (in triage)."),
        "casemanager": _("Casemanager"),
        "no_casemanager": _("No casemanager assigned."),
        "plan": _("Plan of approach"),
        "no_actions": _("No actions yet."),
        "action": _("Action"),
        "owner": _("Owner"),
        "deadline": _("Deadline"),
        "state": _("State"),
        "history": _("History"),
        "zrm": _("ZRM scores"),
        "no_zrm": _("No ZRM measurement yet."),
        "once": _("This page is shown once. Do not copy or print it."),
        "melding_intro": _(
            "Fill in the melding as it reached you. It is checked as an imported file is; "
            "a problem is shown next to its field."
        ),
        "optional": _("optional"),
        "choose": _("Choose"),
        "store": _("Store melding"),
        "check_fields": _("Not stored yet: check the fields marked below."),
        "stored_note": _("The case reference is in Telegram too. You can close this page."),
    }


def _melding_labels(_: Translator) -> dict[str, SafeText]:
    """The melding form's field labels, by column name."""
    return {
        "bron": _("Source"),
        "thema": _("Theme"),
        "achternaam": _("Surname"),
        "voornamen": _("Given names"),
        "geboortedatum": _("Date of birth"),
        "bsn": _("BSN"),
        "gemeente": _("Municipality"),
        "datum": _("Date of the melding"),
        "opmerking": _("Remark"),
    }


def _birth_date(shown: RevealedPerson | RevealedCase) -> str | None:
    """dd-mm-yyyy, the way it is typed into the partners' own systems."""
    return shown.identity.birth_date.strftime("%d-%m-%Y") if shown.identity else None


async def _read_body(request: Request) -> bytes:
    """The body, at most MAX_BODY bytes: counted as it arrives, whatever length is declared."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build_web(core: Core) -> Starlette:
    """The reveal pages as an ASGI app, every response with the security headers."""
    pages = RevealPages(core)
    app = Starlette(
        routes=[
            Route("/health", pages.health, methods=["GET"]),
            Route("/static/style.css", pages.style, methods=["GET"]),
            Route("/r/{token}", pages.show, methods=["GET"]),
            Route("/r/{token}", pages.submit, methods=["POST"]),
        ],
        exception_handlers={HTTPException: pages.not_found, Exception: pages.failed},
    )
    app.add_middleware(SecurityHeaders)
    return app


def listen_web(settings: Settings) -> socket.socket:
    """The listening socket of the pages, bound before the bot starts, so that a
    taken address is told at once (exit 75: systemd tries again) rather than later.

    Raises:
        WebPortUnavailable: the address is in use or cannot be bound here.
    """
    host, port = settings.web_host, settings.web_port
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        why = errno.errorcode.get(exc.errno or 0, "error")
        raise WebPortUnavailable(
            f"VHBOT_WEB_HOST/VHBOT_WEB_PORT: cannot listen on {host}:{port} ({why})"
        ) from None
    return sock


async def serve_web(
    core: Core,
    stop: asyncio.Event,
    *,
    ready: Callable[[], None] | None = None,
    sock: socket.socket | None = None,
) -> None:
    """Serve the pages until `stop` is set: on `sock` (see `listen_web`), or on
    settings.web_host:web_port.

    uvicorn's access log is off: a request line holds the link token.
    """
    import uvicorn

    config = uvicorn.Config(
        build_web(core),
        host=core.settings.web_host,
        port=core.settings.web_port,
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=True,
        lifespan="off",
        # A stop waits this long for requests in flight (the bot allows 7 s in all).
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock] if sock is not None else None))
    try:
        while not server.started:
            if task.done():
                await task  # it failed to start: its error
                return
            await asyncio.sleep(0.01)
        log.info("web.started", extra={"port": core.settings.web_port})
        if ready is not None:
            ready()
        stop_task = asyncio.create_task(stop.wait())
        await asyncio.wait({task, stop_task}, return_when=asyncio.FIRST_COMPLETED)
        stop_task.cancel()
    finally:
        server.should_exit = True
        await task
        log.info("web.stopped")
