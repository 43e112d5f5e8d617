"""Timing helpers: repeated samples with time.perf_counter, median and minimum.

`paired` alternates ours and the baseline sample by sample, so a slow moment of
the machine (another process, a CPU frequency change) hits both alike.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass


@dataclass(frozen=True)
class Stats:
    """Samples of one measurement, each in seconds per unit (per row, per scan, ...)."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def rate(self) -> float:
        """Units per second at the median."""
        return 1.0 / self.median if self.median > 0 else float("inf")

    @property
    def best_rate(self) -> float:
        """Units per second at the minimum."""
        return 1.0 / self.min if self.min > 0 else float("inf")


@contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Keep the cyclic garbage collector out of a timed section (as timeit does)."""
    enabled = gc.isenabled()
    if pause:
        gc.collect()
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def time_once(work: Callable[[], object], *, number: int = 1, pause_gc: bool = True) -> float:
    """Seconds per call of `work`, over `number` calls in a row."""
    with gc_paused(pause_gc):
        start = time.perf_counter()
        for _ in range(number):
            work()
        elapsed = time.perf_counter() - start
    return elapsed / number


def calibrate(work: Callable[[], object], *, target_seconds: float) -> int:
    """How many calls in a row take at least `target_seconds` (1, 2, 5, 10, 20, ...)."""
    number = 1
    while True:
        for factor in (1, 2, 5):
            calls = number * factor
            if time_once(work, number=calls) * calls >= target_seconds:
                return calls
        number *= 10


def paired(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    *,
    repeat: int,
    target_seconds: float,
    per_call: int = 1,
) -> tuple[Stats, Stats]:
    """Alternating samples of `ours` and `baseline`, in seconds per unit.

    Each function is called once untimed first (warm-up), then `repeat` samples
    of each are taken; a sample calls the function as often as needed to last
    about `target_seconds`. `per_call` is the number of units (rows, ...) one call
    handles, so the figures come out per unit.
    """
    ours()
    baseline()
    ours_number = calibrate(ours, target_seconds=target_seconds)
    baseline_number = calibrate(baseline, target_seconds=target_seconds)
    ours_samples: list[float] = []
    baseline_samples: list[float] = []
    for _ in range(repeat):
        baseline_samples.append(time_once(baseline, number=baseline_number) / per_call)
        ours_samples.append(time_once(ours, number=ours_number) / per_call)
    return Stats(tuple(ours_samples)), Stats(tuple(baseline_samples))
