"""Flood control as Telegram applies it: token buckets, overall, per private chat, per group."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# Refilling by float steps leaves 0.9999999 tokens where 1 is due; forgive that much.
_EPSILON = 1e-9


@dataclass(frozen=True)
class FloodLimits:
    """Token buckets: a steady rate plus a burst. Defaults are Telegram's published limits."""

    global_per_second: float = 30
    global_burst: int = 30
    private_per_second: float = 1
    private_burst: int = 3
    group_per_minute: float = 20
    group_burst: int = 20

    @classmethod
    def unlimited(cls) -> FloodLimits:
        """Limits no test will reach; for tests that are not about flood control."""
        return cls(
            global_per_second=1e9,
            global_burst=10**9,
            private_per_second=1e9,
            private_burst=10**9,
            group_per_minute=1e9,
            group_burst=10**9,
        )


class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; one message costs one token."""

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        if rate <= 0 or capacity < 1:
            raise ValueError("a token bucket needs a positive rate and a capacity of at least 1")
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self._stamp = now

    def _refill(self, now: float) -> None:
        if now > self._stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self._stamp) * self.rate)
            self._stamp = now

    def wait(self, now: float) -> float:
        """Seconds until a token is free; 0 when one is free now."""
        self._refill(now)
        if self.tokens >= 1 - _EPSILON:
            return 0.0
        return (1 - self.tokens) / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens = max(self.tokens - 1, 0.0)


class FloodControl:
    """All buckets of one bot. ``check`` and ``spend`` are split so a refused call costs nothing."""

    def __init__(self, limits: FloodLimits, monotonic: Callable[[], float]) -> None:
        self.limits = limits
        self._monotonic = monotonic
        self._global: TokenBucket | None = None
        self._private: dict[int, TokenBucket] = {}
        self._groups: dict[int, TokenBucket] = {}

    def _buckets(self, chat_id: int | None, is_private: bool) -> list[TokenBucket]:
        now = self._monotonic()
        limits = self.limits
        if self._global is None:
            self._global = TokenBucket(limits.global_per_second, limits.global_burst, now)
        buckets = [self._global]
        if chat_id is not None:
            if is_private:
                bucket = self._private.get(chat_id)
                if bucket is None:
                    bucket = TokenBucket(limits.private_per_second, limits.private_burst, now)
                    self._private[chat_id] = bucket
            else:
                bucket = self._groups.get(chat_id)
                if bucket is None:
                    bucket = TokenBucket(limits.group_per_minute / 60, limits.group_burst, now)
                    self._groups[chat_id] = bucket
            buckets.append(bucket)
        return buckets

    def retry_after(self, chat_id: int | None, *, is_private: bool) -> int:
        """0 when a message may go now, else whole seconds to wait (at least 1), rounded up."""
        now = self._monotonic()
        wait = max(bucket.wait(now) for bucket in self._buckets(chat_id, is_private))
        if wait <= _EPSILON:
            return 0
        return max(1, math.ceil(wait - _EPSILON))

    def spend(self, chat_id: int | None, *, is_private: bool) -> None:
        now = self._monotonic()
        for bucket in self._buckets(chat_id, is_private):
            bucket.take(now)
