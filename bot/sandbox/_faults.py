"""Faults as Telegram shows them: 5xx, dropped connections, slow answers, 429 windows, 403s.

This module only decides; the server (``fake_telegram``) acts on the decision: it answers
the status, closes the connection, sleeps or refuses. The rules, in the order the server
applies them to a call:

1. a full outage (``go_down``) answers every call its way;
2. an injected fault: ``fail_next`` first, then ``fault_rate``;
3. ``forbid``: 403 for every call to the chat;
4. ``throttle``: 429 while the window lasts;
5. then the method itself, with the normal flood gate.

``delay`` comes before all of these: the call is read, then waits, then is carried out.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final, Literal, cast, get_args

FaultMode = Literal["status", "drop_before", "drop_after"]
OutageMode = Literal["refused", "status", "drop"]

FAULT_MODES: Final[frozenset[str]] = frozenset(get_args(FaultMode))
OUTAGE_MODES: Final[frozenset[str]] = frozenset(get_args(OutageMode))
_UPDATES: Final = "getupdates"
_EPSILON = 1e-9
# The descriptions Telegram (and its front servers) give with these statuses.
_DESCRIPTIONS: Final = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def error_description(status: int) -> str:
    """Telegram's wording for an HTTP error status: "Bad Gateway" for 502, and so on."""
    if status in _DESCRIPTIONS:
        return _DESCRIPTIONS[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass(frozen=True)
class Fault:
    """What to do to one call: answer ``status`` (mode "status") or drop the connection."""

    mode: FaultMode
    status: int = 0


def _key(method: str | None) -> str | None:
    return method.lower() if method is not None else None


def fault_mode(mode: str) -> FaultMode:
    if mode not in FAULT_MODES:
        raise ValueError(f"unknown fault mode {mode!r}; one of {sorted(FAULT_MODES)}")
    return cast(FaultMode, mode)


def outage_mode(mode: str) -> OutageMode:
    if mode not in OUTAGE_MODES:
        raise ValueError(f"unknown outage mode {mode!r}; one of {sorted(OUTAGE_MODES)}")
    return cast(OutageMode, mode)


class Faults:
    """The fault settings of one fake server, and the decisions they lead to.

    Methods are matched case-insensitively, as Telegram does; "every method" never
    includes getUpdates unless it is named.
    """

    def __init__(self) -> None:
        self.outage: OutageMode | None = None
        self._next: dict[str, deque[Fault]] = {}
        self._rate = 0.0
        self._rate_methods: frozenset[str] | None = None
        self._rate_modes: tuple[FaultMode, ...] = ()
        self._random = random.Random(0)  # noqa: S311 - chance of a fault, not a secret
        self._delays: dict[str | None, float] = {}
        self._windows: dict[tuple[int | None, str | None], float] = {}
        self._forbidden: dict[int, str | None] = {}

    # ------------------------------------------------------------------ settings

    def fail_next(self, method: str, *, count: int, status: int, mode: str) -> None:
        checked = fault_mode(mode)
        if checked == "status" and not 400 <= status <= 599:
            raise ValueError(f"status {status} is not an error status")
        fault = Fault(checked, status if checked == "status" else 0)
        self._next.setdefault(method.lower(), deque()).extend([fault] * count)

    def fault_rate(
        self, rate: float, *, seed: int, methods: Iterable[str] | None, modes: Iterable[str]
    ) -> None:
        if not 0 <= rate <= 1:
            raise ValueError("a fault rate is a probability, from 0 to 1")
        chosen = tuple(fault_mode(mode) for mode in modes)
        if not chosen:
            raise ValueError("a fault rate needs at least one mode")
        self._rate = rate
        self._rate_methods = None if methods is None else frozenset(m.lower() for m in methods)
        self._rate_modes = chosen
        self._random = random.Random(seed)  # noqa: S311 - chance of a fault, not a secret

    def delay(self, seconds: float, *, method: str | None) -> None:
        if seconds < 0:
            raise ValueError("a delay cannot be negative")
        if seconds == 0:
            self._delays.pop(_key(method), None)
        else:
            self._delays[_key(method)] = seconds

    def throttle(self, until: float, *, chat_id: int | None, method: str | None) -> None:
        self._windows[(chat_id, _key(method))] = until

    def forbid(self, chat_id: int, description: str | None) -> None:
        self._forbidden[chat_id] = description

    def allow(self, chat_id: int) -> None:
        self._forbidden.pop(chat_id, None)

    # ------------------------------------------------------------------ decisions

    def delay_for(self, method: str) -> float:
        """Seconds to hold a call of ``method`` before carrying it out; the longest that applies."""
        key = method.lower()
        delays = [self._delays.get(key, 0.0)]
        if key != _UPDATES:
            delays.append(self._delays.get(None, 0.0))
        return max(delays)

    def fault_for(self, method: str) -> Fault | None:
        """The injected fault for this call, if any: a queued one first, then one by chance."""
        key = method.lower()
        queued = self._next.get(key)
        if queued:
            return queued.popleft()
        if self._rate <= 0:
            return None
        if self._rate_methods is None:
            if key == _UPDATES:
                return None
        elif key not in self._rate_methods:
            return None
        if self._random.random() >= self._rate:
            return None
        mode = self._random.choice(self._rate_modes)
        if mode == "status":
            return Fault("status", self._random.choice((500, 502)))
        return Fault(mode)

    def forbidden(self, chat_id: int | None) -> tuple[bool, str | None]:
        """Whether calls to ``chat_id`` answer 403, and the description given (None: default)."""
        if chat_id is None or chat_id not in self._forbidden:
            return False, None
        return True, self._forbidden[chat_id]

    def retry_after(self, method: str, chat_id: int | None, now: float) -> int:
        """0 when no 429 window holds this call, else the whole seconds left (at least 1)."""
        key = method.lower()
        longest = 0.0
        for (window_chat, window_method), until in list(self._windows.items()):
            if until <= now + _EPSILON:
                del self._windows[(window_chat, window_method)]
                continue
            if window_chat is None and window_method is None:
                applies = key != _UPDATES
            else:
                applies = (window_chat is None or window_chat == chat_id) and (
                    window_method is None or window_method == key
                )
            if applies:
                longest = max(longest, until - now)
        if longest <= 0:
            return 0
        return max(1, math.ceil(longest - _EPSILON))
