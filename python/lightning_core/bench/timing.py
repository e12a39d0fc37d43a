"""How a time is taken: warm-up, batches of back-to-back calls, the median of many.

A measurement calls ``call(i, last)`` where ``i`` picks the input set (rotated so that data
that fits in the cache is not always hot) and ``last`` marks the final call of a batch, the
one that must leave the device idle (Lightning Core's policy syncs on it). The clock brackets
each batch: host wall clock (with a sync for asynchronous devices) or CUDA events.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional


@dataclass(frozen=True)
class Settings:
    """Effort of one measurement; ``quick`` and ``full`` are the two presets."""
    warmup: int
    min_reps: int
    max_reps: int
    budget_s: float        # time spent on the repetitions of one measurement, roughly
    min_batch_ms: float    # batch back-to-back calls until a batch lasts this long
    max_batch: int
    max_sets: int          # input sets rotated through, at most
    min_warmup_s: float = 0.0  # keep warming up this long: other libraries' idle thread pools
    #                            (BLAS, OpenMP) spin for a while after their last call
    slow_call_s: float = 4.0   # a first call slower than this is timed once, not repeated


QUICK = Settings(warmup=1, min_reps=3, max_reps=30, budget_s=0.12, min_batch_ms=0.5,
                 max_batch=100, max_sets=4, min_warmup_s=0.02)
# Full: ~400 rows on a GPU within 10 minutes (BENCHMARKS.md); 0.25 s of repetitions still gives
# 50-100 batches of >= 2 ms for a resident kernel, whose spread is then a few percent.
FULL = Settings(warmup=5, min_reps=10, max_reps=100, budget_s=0.25, min_batch_ms=2.0,
                max_batch=200, max_sets=8, min_warmup_s=0.05)


@dataclass
class Timing:
    """Per-call milliseconds of each batch and how they were taken."""
    samples_ms: List[float]
    batch: int
    method: str
    sets: int = 1
    extra: dict = field(default_factory=dict)

    @property
    def median_ms(self) -> float:
        return median(self.samples_ms)

    @property
    def reps(self) -> int:
        return len(self.samples_ms)

    def spread(self) -> float:
        """(p90 - p10) / median: how noisy the samples were."""
        s = sorted(self.samples_ms)
        if len(s) < 3 or self.median_ms <= 0:
            return 0.0
        lo = s[int(0.1 * (len(s) - 1))]
        hi = s[int(math.ceil(0.9 * (len(s) - 1)))]
        return (hi - lo) / self.median_ms


def median(xs) -> float:
    xs = list(xs)
    if not xs:
        raise ValueError("[bench] expected at least one sample, got none")
    return float(statistics.median(xs))


def choose_batch(estimate_ms: float, min_batch_ms: float, max_batch: int) -> int:
    """Calls per batch so that a batch lasts at least ``min_batch_ms`` (1 for slow calls)."""
    if estimate_ms <= 0 or not math.isfinite(estimate_ms):
        return max_batch
    return int(max(1, min(max_batch, math.ceil(min_batch_ms / estimate_ms))))


def choose_reps(batch_ms: float, budget_s: float, min_reps: int, max_reps: int) -> int:
    """Batches to time so that they take about ``budget_s``, within [min_reps, max_reps]."""
    if batch_ms <= 0 or not math.isfinite(batch_ms):
        return max_reps
    return int(max(min_reps, min(max_reps, (budget_s * 1e3) // batch_ms)))


def rotation_count(set_bytes: float, cache_bytes: Optional[float], max_sets: int) -> int:
    """Input sets to rotate among: enough to overflow the cache when one set fits in it."""
    if not cache_bytes or set_bytes <= 0 or set_bytes >= cache_bytes:
        return 1
    return int(max(2, min(max_sets, math.ceil(2 * cache_bytes / set_bytes))))


class WallClock:
    """Host wall clock around a batch; ``sync`` (if any) runs before reading the stop time."""
    name = "wall"

    def __init__(self, sync: Optional[Callable[[], None]] = None):
        self._sync = sync
        self._t0 = 0.0

    def start(self) -> None:
        self._t0 = time.perf_counter()

    def stop(self) -> float:
        if self._sync is not None:
            self._sync()
        return (time.perf_counter() - self._t0) * 1e3


class CudaEventClock:
    """torch.cuda.Event pair on the current stream around a batch (device time)."""
    name = "cuda-event"

    def __init__(self, torch):
        self._start = torch.cuda.Event(enable_timing=True)
        self._end = torch.cuda.Event(enable_timing=True)

    def start(self) -> None:
        self._start.record()

    def stop(self) -> float:
        self._end.record()
        self._end.synchronize()
        return float(self._start.elapsed_time(self._end))


def _run_batch(call, clock, first: int, n: int) -> float:
    clock.start()
    for j in range(n):
        call(first + j, j == n - 1)
    return clock.stop() / n


def measure(call: Callable[[int, bool], object], clock, settings: Settings, *,
            batching: bool = True, sets: int = 1) -> Timing:
    """Warm up, pick the batch and the repetitions from the warm-up time, then time.

    ``batching=False`` times every call on its own (host round trips: each is one-shot).
    A slow call (over ``slow_call_s``) is timed once; calls over a tenth of the budget get
    fewer repetitions (at least 3) so that no measurement takes much longer than 4 budgets.
    """
    estimate, w, t0 = math.inf, 0, time.perf_counter()
    while w < max(1, settings.warmup) or time.perf_counter() - t0 < settings.min_warmup_s:
        ms = _run_batch(call, clock, w, 1)
        estimate = min(estimate, ms)
        w += 1
        if ms > settings.slow_call_s * 1e3:
            return Timing(samples_ms=[ms], batch=1, method=clock.name + ", once (slow call)", sets=sets)
    batch = choose_batch(estimate, settings.min_batch_ms, settings.max_batch) if batching else 1
    min_reps = settings.min_reps if estimate * batch * settings.min_reps <= 4e3 * settings.budget_s else 3
    reps = choose_reps(estimate * batch, settings.budget_s, min_reps, settings.max_reps)
    samples = [_run_batch(call, clock, r * batch, batch) for r in range(reps)]
    return Timing(samples_ms=samples, batch=batch, method=clock.name, sets=sets)
