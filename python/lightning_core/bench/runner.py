"""Runs the cases: one row per (case, precision, residency), each implementation timed by the
method of timing.py, its result checked against a reference, its floor computed from the
ceilings measured in this run. An op that is missing or unsupported makes its cell n/a; no
failure of one implementation stops the run.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

import numpy as np

from . import ceilings as ceil
from . import timing
from . import torch_ref as ref
from .cases import RESIDENT, ROUND_TRIP, Case

COLUMNS = ("suite", "case", "device", "precision", "residency", "lightning_core_ms", "integrated_api_ms",
           "torch_ms", "numpy_ms", "ours_best_vs_torch", "floor_ms", "pct_of_floor", "note")
CPU_LIMIT_S = 4.0   # skip a CPU row whose call is predicted to take longer than this
CPU_SLACK = 4.0     # predicted = floor * slack: simple kernels run well below the GEMM peak
CHECK_TOL = {"fp32": 1e-3, "tf32": 1e-2, "bf16": 5e-2, "fp16": 5e-2}


@dataclass
class Row:
    suite: str
    case: str
    device: str
    precision: str
    residency: str
    lightning_core_ms: Optional[float] = None
    integrated_api_ms: Optional[float] = None
    torch_ms: Optional[float] = None
    numpy_ms: Optional[float] = None
    ours_best_vs_torch: Optional[float] = None
    floor_ms: Optional[float] = None
    pct_of_floor: Optional[float] = None
    note: str = ""
    family: str = ""
    table: bool = False
    details: Dict[str, object] = field(default_factory=dict)

    def ours_best_ms(self) -> Optional[float]:
        return best(self.lightning_core_ms, self.integrated_api_ms)

    def csv_dict(self) -> dict:
        return {k: getattr(self, k) for k in COLUMNS}


def best(*times) -> Optional[float]:
    ts = [t for t in times if t is not None and t > 0]
    return min(ts) if ts else None


def speedup(baseline_ms: Optional[float], *ours_ms) -> Optional[float]:
    """baseline / best of ours: > 1 means ours is faster."""
    b = best(*ours_ms)
    if baseline_ms is None or b is None or baseline_ms <= 0:
        return None
    return baseline_ms / b


def rel_err(out, ref_) -> float:
    """Relative Frobenius error over all outputs (tuples concatenated), in float64."""
    a = np.concatenate([np.asarray(o, dtype=np.float64).ravel() for o in _flat(out)])
    b = np.concatenate([np.asarray(o, dtype=np.float64).ravel() for o in _flat(ref_)])
    if a.shape != b.shape:
        return math.inf
    den = np.linalg.norm(b)
    num = np.linalg.norm(a - b)
    return float(num / den) if den > 0 else float(num)


def _flat(x):
    return list(x) if isinstance(x, (tuple, list)) else [x]


def describe_failure(exc: BaseException) -> str:
    """'n/a: why' for a missing or unsupported op, 'error: Type: why' for anything else."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = msg if len(msg) <= 110 else msg[:107] + "..."
    if isinstance(exc, (NotImplementedError, AttributeError)):
        return f"n/a: {msg}"
    if isinstance(exc, MemoryError):
        return f"n/a: out of memory: {msg}"
    return f"error: {type(exc).__name__}: {msg}"


class LcCtx:
    """What a Lightning Core implementation sees (c.L, c.policy, c.buf, c.scratch)."""

    def __init__(self, lc, device: str, precision: str, residency: str):
        self.L = lc.api
        self._lc = lc
        self.device = device
        self.resident_on_gpu = device != "cpu" and residency == RESIDENT
        self._sync = lc.Policy(device=device, precision=precision)
        # Back-to-back resident calls: no host sync except on the last call of a batch.
        self._async = lc.Policy(device=device, precision=precision, sync=False) if self.resident_on_gpu else self._sync
        self.last = True
        self._bufs: dict = {}

    @property
    def policy(self):
        return self._sync if self.last else self._async

    def buf(self, name, shape):
        key = (name, tuple(shape))
        b = self._bufs.get(key)
        if b is None:
            b = (self._lc.Tensor.empty(list(shape), self.device) if self.resident_on_gpu
                 else np.empty(shape, dtype=np.float32))
            self._bufs[key] = b
        return b

    def scratch(self, name, shape):
        """A pipeline's intermediate: on the device whenever the device is a GPU (also in a host
        round trip, where only the inputs and the final output cross)."""
        if self.device == "cpu" or self.resident_on_gpu:
            return self.buf(name, shape)
        key = ("scratch", name, tuple(shape))
        b = self._bufs.get(key)
        if b is None:
            b = self._bufs[key] = self._lc.Tensor.empty(list(shape), self.device)
        return b

    def to_device(self, host: Dict[str, np.ndarray]):
        if not self.resident_on_gpu:
            return host
        return {k: self._lc.Tensor(v, self.device) for k, v in host.items()}


def to_numpy(x):
    if isinstance(x, (tuple, list)):
        return tuple(to_numpy(v) for v in x)
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach"):  # torch
        return x.detach().float().cpu().numpy()
    if hasattr(x, "numpy"):   # lc.Tensor
        return np.asarray(x.numpy())
    return np.asarray(x)


def snapshot(x):
    """A host copy of a result (tuples kept as tuples)."""
    x = to_numpy(x)
    return tuple(np.array(v, copy=True) for v in x) if isinstance(x, tuple) else np.array(x, copy=True)


class Progress:
    """A one-line progress bar on stderr (a line per row when stderr is not a terminal)."""

    def __init__(self, total: int, enabled: bool = True, stream=None):
        self.total, self.done, self.enabled = total, 0, enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0 = time.perf_counter()

    def step(self, label: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        width = 24
        fill = int(width * self.done / max(1, self.total))
        line = (f"[{'#' * fill}{'.' * (width - fill)}] {self.done}/{self.total} "
                f"{time.perf_counter() - self.t0:6.1f}s  {label}")
        if self.tty:
            self.stream.write("\r" + line[:150].ljust(150))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class Env:
    lc: object
    device: str
    settings: timing.Settings
    ceilings: Optional[ceil.Ceilings]       # measured after the plan (--list needs none)
    host_ceilings: Optional[ceil.Ceilings]
    torch: Optional[object] = None
    torch_reason: str = ""
    use_numpy: bool = True
    residencies: tuple = (RESIDENT, ROUND_TRIP)
    seed: int = 0

    @property
    def torch_device(self) -> Optional[str]:
        if self.torch is None:
            return None
        if self.device == "cpu":
            return "cpu"
        return "cuda" if self.torch.cuda.is_available() else None

    def lc_sync(self):
        return lambda: self.lc.synchronize(self.device)


def plan(cases: List[Case], env: Env, precisions: Optional[List[str]]):
    """(case, precision, residency) triples this device runs, in order."""
    out = []
    for case in cases:
        if case.cuda_only and env.device == "cpu":
            continue
        for p in case.precisions:
            if (precisions is not None and p not in precisions) or (env.device == "cpu" and p != "fp32"):
                continue
            for r in case.residencies:
                if r in env.residencies and not (env.device == "cpu" and r == ROUND_TRIP):
                    out.append((case, p, r))
    return out


def predicted_host_s(case: Case, c: ceil.Ceilings) -> Optional[float]:
    f = c.floor("fp32", case.flops, case.in_bytes + case.out_bytes)
    return None if f is None else f * CPU_SLACK / 1e3


def run(cases: List[Case], env: Env, precisions=None, progress: Optional[Progress] = None) -> List[Row]:
    triples = plan(cases, env, precisions)
    progress = progress or Progress(len(triples), enabled=False)
    rows: List[Row] = []
    by_case: Dict[int, list] = {}
    for t in triples:
        by_case.setdefault(id(t[0]), []).append(t)
    for group in by_case.values():
        rows += _run_case(group[0][0], [(p, r) for _, p, r in group], env, progress)
    return rows


def _run_case(case: Case, pr, env: Env, progress: Progress) -> List[Row]:
    rows = []
    pred = predicted_host_s(case, env.host_ceilings)
    cpu_skip = env.device == "cpu" and pred is not None and pred > CPU_LIMIT_S
    host_sets = None
    if not cpu_skip:
        cache = env.ceilings.cache_bytes
        n = timing.rotation_count(case.in_bytes, cache, env.settings.max_sets)
        rng = np.random.default_rng(env.seed)
        host_sets = [case.make_inputs(rng) for _ in range(n)]
    refs: Dict[str, object] = {}
    for precision, residency in pr:
        row = Row(case.suite, case.name, env.device, precision, residency, family=case.family,
                  table=case.table, details={"flops": case.flops, "in_bytes": case.in_bytes,
                                              "out_bytes": case.out_bytes, "description": case.note})
        if cpu_skip:
            row.note = (f"skipped on cpu: about {pred:.0f} s a call at the measured ceilings "
                        f"(limit {CPU_LIMIT_S:.0f} s)")
        else:
            t0 = time.perf_counter()
            _fill_row(row, case, host_sets, precision, residency, env, refs)
            row.details["elapsed_s"] = round(time.perf_counter() - t0, 3)
        rows.append(row)
        progress.step(f"{case.suite}: {case.name} [{precision}, {residency}]")
    return rows


def _fill_row(row: Row, case: Case, host_sets, precision, residency, env: Env, refs) -> None:
    notes, results = [], {}
    lc_sets = [case.lc_inputs(s) for s in host_sets] if case.lc_inputs else host_sets
    for key, impl, sets in (("lightning_core", case.lc, lc_sets), ("integrated", case.integrated, host_sets)):
        if impl is None:
            continue
        t, res, why = _time_lc(impl, sets, precision, residency, env)
        if why:
            notes.append(f"{'lc' if key == 'lightning_core' else key} {why}")
        if t is not None:
            setattr(row, "lightning_core_ms" if key == "lightning_core" else "integrated_api_ms", t.median_ms)
            row.details[key] = _timing_details(t)
            results[key] = res
    if case.torch is not None and env.torch_device is not None:
        t, res, why = _time_torch(case, host_sets, precision, residency, env)
        if env.torch_device == "cpu":
            ceil.settle()  # PyTorch's OpenMP threads spin after the last call
        if why:
            notes.append(f"torch {why}")
        if t is not None:
            row.torch_ms = t.median_ms
            row.details["torch"] = _timing_details(t)
            results["torch"] = res
            refs.setdefault("torch_" + precision, res)
    if case.numpy is not None and env.use_numpy and precision == "fp32" and (
            env.device == "cpu" or residency == ROUND_TRIP):
        pred = predicted_host_s(case, env.host_ceilings)
        if env.device != "cpu" and pred is not None and pred > CPU_LIMIT_S:
            notes.append(f"numpy skipped: about {pred:.0f} s a call on the host")
        else:
            t, res, why = _time_simple(lambda i, last: case.numpy(host_sets[i % len(host_sets)]), env, False)
            ceil.settle()  # NumPy's BLAS threads spin after the last call
            if why:
                notes.append(f"numpy {why}")
            if t is not None:
                row.numpy_ms = t.median_ms
                row.details["numpy"] = _timing_details(t)
                refs.setdefault("numpy", res)
    _check(row, results, refs, precision, notes)
    row.ours_best_vs_torch = speedup(row.torch_ms, row.lightning_core_ms, row.integrated_api_ms)
    moved = case.in_bytes + case.out_bytes
    resident_floor = env.ceilings.floor(precision, case.flops, moved, moved * len(host_sets))
    if residency == ROUND_TRIP:
        c = env.ceilings
        row.floor_ms = ceil.round_trip_floor_ms(resident_floor, case.in_bytes, case.out_bytes,
                                                c.h2d_gbps, c.d2h_gbps, c.round_trip_ms)
    else:
        row.floor_ms = resident_floor
    row.pct_of_floor = ceil.pct_of_floor(row.floor_ms, row.ours_best_ms())
    row.note = "; ".join(notes)


def _check(row, results, refs, precision, notes) -> None:
    reference = refs.get("numpy")
    name = "numpy"
    if reference is None:
        reference, name = refs.get("torch_fp32", refs.get("torch_" + precision)), "torch"
    if reference is None:
        return
    tol = CHECK_TOL.get(precision, 1e-3)
    for key in ("lightning_core", "integrated", "torch"):
        if key not in results or (key == "torch" and name == "torch"):
            continue
        try:
            err = rel_err(to_numpy(results[key]), reference)
        except Exception:  # noqa: BLE001 (a result of the wrong structure fails the check)
            err = math.inf
        row.details.setdefault("rel_err", {})[key] = err
        if not err <= tol:
            notes.append(f"CHECK {key} differs from {name}: rel err {err:.1e} > {tol:.0e}")


def _timing_details(t: timing.Timing) -> dict:
    return {"median_ms": t.median_ms, "min_ms": min(t.samples_ms), "reps": t.reps, "batch": t.batch,
            "method": t.method, "input_sets": t.sets, "spread": round(t.spread(), 4)}


def _time_simple(call, env: Env, batching: bool, clock=None, sets: int = 1):
    """(Timing, first result, None) or (None, None, 'n/a: ...')."""
    try:
        t0 = time.perf_counter()
        result = snapshot(call(0, True))  # a copy: outputs written "into" get overwritten later
        first_s = time.perf_counter() - t0
        if first_s > env.settings.slow_call_s * 2:
            return (timing.Timing([first_s * 1e3], 1, "wall, first call only (slow call)", sets), result,
                    f"timed once: the first call took {first_s:.0f} s")
        t = timing.measure(call, clock or timing.WallClock(), env.settings, batching=batching, sets=sets)
        return t, result, None
    except Exception as e:  # noqa: BLE001 (any failure becomes the row's note)
        return None, None, describe_failure(e)


def _time_lc(impl, host_sets, precision, residency, env: Env):
    try:
        ctx = LcCtx(env.lc, env.device, precision, residency)
        sets = [ctx.to_device(s) for s in host_sets]
    except Exception as e:  # noqa: BLE001
        return None, None, describe_failure(e)

    came_home = []
    # Resident GPU rows: CUDA events on the legacy stream, which our (blocking) stream is ordered
    # with, so no call of a batch waits on the host; else wall clock ending in lc.synchronize.
    events = ctx.resident_on_gpu and env.torch_device == "cuda"

    def call(i, last):
        ctx.last = last and not events
        r = impl(ctx, sets[i % len(sets)])
        if not came_home:
            came_home.append(_on_host(r))
        return r
    if events:
        clock = timing.CudaEventClock(env.torch)
    else:
        clock = timing.WallClock(env.lc_sync() if ctx.resident_on_gpu else None)
    t, res, why = _time_simple(call, env, residency == RESIDENT, clock, len(sets))
    if t is not None and ctx.resident_on_gpu and came_home[0]:
        why = "result came back as a host array: the time includes a download"
    return t, res, why


def _on_host(r) -> bool:
    return any(isinstance(v, np.ndarray) for v in (r if isinstance(r, (tuple, list)) else (r,)))


def _time_torch(case: Case, host_sets, precision, residency, env: Env):
    torch, dev = env.torch, env.torch_device
    try:
        T = ref.TorchCtx(torch, dev, precision)

        def upload(s):
            return {k: torch.from_numpy(v).to(dev).to(T.dtype) for k, v in s.items()}
        with ref.precision_scope(torch, precision), torch.no_grad():
            if residency == RESIDENT:
                sets = [upload(s) for s in host_sets]
                clock = timing.CudaEventClock(torch) if dev == "cuda" else timing.WallClock()
                return _time_simple(lambda i, last: case.torch(T, sets[i % len(sets)]), env, True, clock, len(sets))
            return _time_simple(lambda i, last: to_numpy(case.torch(T, upload(host_sets[i % len(host_sets)]))),
                                env, False, timing.WallClock(), len(host_sets))
    except Exception as e:  # noqa: BLE001
        return None, None, describe_failure(e)
