"""Ceilings measured in the same run, and the floor of a case computed from them.

floor = max(flops / peak, bytes / bandwidth): the time no implementation can beat on this
machine, with the peak the fastest large GEMM any library here reached at that precision and
the bandwidth a large device-memory copy (read + write). A host round trip adds the transfers
and the latency of the smallest round trip. The pure functions at the top are unit-tested.
"""
from __future__ import annotations

import glob
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

import numpy as np

from . import torch_ref

ELEMENT_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2, "fp64": 8}
PRECISIONS = ("fp32", "tf32", "bf16", "fp16")


def bytes_at(precision: str, fp32_bytes: float) -> float:
    """Bytes of the same elements stored at the precision's width (tf32 is stored as fp32)."""
    return fp32_bytes * ELEMENT_BYTES[precision] / 4.0


def floor_ms(flops: float, nbytes: float, peak_tflops: Optional[float],
             bandwidth_gbps: Optional[float]) -> Optional[float]:
    """max(flops / peak, bytes / bandwidth) in ms; a missing ceiling drops its term."""
    terms = []
    if peak_tflops and flops > 0:
        terms.append(flops / (peak_tflops * 1e12))
    if bandwidth_gbps and nbytes > 0:
        terms.append(nbytes / (bandwidth_gbps * 1e9))
    return max(terms) * 1e3 if terms else None


def round_trip_floor_ms(resident_floor: Optional[float], in_bytes: float, out_bytes: float,
                        h2d_gbps: Optional[float], d2h_gbps: Optional[float],
                        latency_ms: Optional[float]) -> Optional[float]:
    """Upload, compute, download in sequence: the sum of their floors."""
    if resident_floor is None or not h2d_gbps or not d2h_gbps:
        return None
    return (resident_floor + in_bytes / (h2d_gbps * 1e9) * 1e3
            + out_bytes / (d2h_gbps * 1e9) * 1e3 + (latency_ms or 0.0))


def bandwidth_for(working_bytes: float, tiers, memory_gbps: Optional[float]) -> Optional[float]:
    """Copy bandwidth of the smallest measured tier (bytes touched, GB/s) holding the working
    set; the memory bandwidth past the last tier. Data that stays in a cache moves faster."""
    for size, gbps in sorted(tiers or ()):
        if working_bytes <= size:
            return max(gbps, memory_gbps or 0.0)
    return memory_gbps


def pct_of_floor(floor: Optional[float], t_ms: Optional[float]) -> Optional[float]:
    """How close a time came to the floor: 100 means at the floor."""
    if floor is None or not t_ms or t_ms <= 0:
        return None
    return 100.0 * floor / t_ms


@dataclass
class Ceilings:
    device: str
    copy_gbps: Optional[float] = None       # device memory copy, bytes read + written
    gemm_tflops: Dict[str, float] = field(default_factory=dict)
    h2d_gbps: Optional[float] = None        # pageable host -> device
    d2h_gbps: Optional[float] = None
    round_trip_ms: Optional[float] = None   # 64 B up, a tiny op, 64 B down
    cache_bytes: Optional[int] = None       # L2 (GPU) or last-level cache (CPU)
    copy_tiers: list = field(default_factory=list)  # [(bytes touched, GB/s)] of cache-sized copies
    sources: Dict[str, str] = field(default_factory=dict)

    def peak_tflops(self, precision: str) -> Optional[float]:
        return self.gemm_tflops.get(precision) or self.gemm_tflops.get("fp32")

    def floor(self, precision: str, flops: float, fp32_bytes: float,
              working_bytes: Optional[float] = None) -> Optional[float]:
        """The floor of a call moving fp32_bytes; working_bytes (all rotated input sets) picks
        the bandwidth tier."""
        nbytes = bytes_at(precision, fp32_bytes)
        bw = bandwidth_for(bytes_at(precision, working_bytes or fp32_bytes), self.copy_tiers, self.copy_gbps)
        return floor_ms(flops, nbytes, self.peak_tflops(precision), bw)

    def as_dict(self) -> dict:
        return {
            "device": self.device, "copy_GBps": self.copy_gbps,
            "gemm_TFLOPs": dict(self.gemm_tflops), "h2d_GBps": self.h2d_gbps,
            "d2h_GBps": self.d2h_gbps, "round_trip_ms": self.round_trip_ms,
            "cache_bytes": self.cache_bytes, "copy_tiers_GBps": [list(t) for t in self.copy_tiers],
            "sources": dict(self.sources),
        }


SETTLE_S = 0.15  # longer than OpenBLAS's idle spin (2^28 cycles) and OpenMP's default


def settle() -> None:
    """Waits until thread pools that spin when idle (BLAS, OpenMP) have gone to sleep."""
    time.sleep(SETTLE_S)


def _best_ms(fn: Callable[[], object], reps: int, sync=None, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    if sync:
        sync()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        best = min(best, (time.perf_counter() - t0) * 1e3)
    return best


def _keep_max(c: Ceilings, key: str, value: Optional[float], source: str) -> None:
    """A ceiling is the best any library reached: keep the larger value and say who set it."""
    if value and value > 0 and (getattr(c, key) is None or value > getattr(c, key)):
        setattr(c, key, value)
        c.sources[key] = source


def _keep_gemm(c: Ceilings, precision: str, tflops: float, source: str) -> None:
    if tflops > c.gemm_tflops.get(precision, 0.0):
        c.gemm_tflops[precision] = tflops
        c.sources[f"gemm_{precision}"] = source


def cpu_cache_bytes() -> Optional[int]:
    """The largest cache level of CPU 0 (sysfs), or None."""
    best = None
    for path in glob.glob("/sys/devices/system/cpu/cpu0/cache/index*/size"):
        try:
            text = open(path).read().strip().upper()
            mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1], 1)
            size = int(text.rstrip("KMG")) * mult
            best = size if best is None else max(best, size)
        except (OSError, ValueError):
            continue
    return best


def _cpu_copy_rate(rng, n: int, reps: int, lc_api=None, torch=None):
    """(GB/s, who) of the fastest streaming copy of n floats: NumPy copies on one thread,
    PyTorch and Lightning Core on all of them. add_into moves 3 arrays' bytes."""
    src = rng.standard_normal(n, dtype=np.float32)
    dst = np.empty_like(src)
    best = (2 * src.nbytes / (_best_ms(lambda: np.copyto(dst, src), reps) * 1e6), "numpy.copyto")
    if torch is not None:
        ts, td = torch.from_numpy(src), torch.from_numpy(dst)
        best = max(best, (2 * src.nbytes / (_best_ms(lambda: td.copy_(ts), reps) * 1e6), "torch copy_"))
    add_into = getattr(getattr(lc_api, "api", None), "add_into", None)
    if add_into is not None:
        try:
            pol = lc_api.Policy(device="cpu")
            other = src[::-1].copy()
            ms = _best_ms(lambda: add_into(src, other, dst, policy=pol), reps)
            best = max(best, (3 * src.nbytes / (ms * 1e6), "lightning_core add_into"))
        except Exception:  # noqa: BLE001 (the op is not there yet)
            pass
    return best


def measure_cpu(quick: bool, lc_api=None, torch=None) -> Ceilings:
    """Streaming-copy bandwidth (memory and cache-sized) and the best large fp32 GEMM, each the
    fastest of NumPy, PyTorch and Lightning Core."""
    c = Ceilings(device="cpu", cache_bytes=cpu_cache_bytes())
    rng = np.random.default_rng(0)
    n = (64 if quick else 256) << 18  # float32 elements: 64 MiB or 256 MiB, past any cache
    rate, source = _cpu_copy_rate(rng, n, 3 if quick else 8, lc_api, torch)
    _keep_max(c, "copy_gbps", rate, source)
    for touched in sorted({512 << 10, min((c.cache_bytes or 8 << 20) // 2, 32 << 20)}):
        rate, _ = _cpu_copy_rate(rng, touched // 8, 200 if touched < (1 << 20) else 20, lc_api, torch)
        c.copy_tiers.append((touched, rate))
    c.sources["copy_tiers"] = "the fastest of numpy.copyto, torch copy_, lightning_core add_into on cache-sized buffers"

    size = 1024 if quick else 2048
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flops = 2.0 * size ** 3
    reps = 6 if quick else 8  # the best of several: a busy machine slows single calls
    # Lightning Core's pool sleeps when idle; BLAS and OpenMP pools spin for a while after a
    # call and slow whatever runs next, so they go last, each after a pause.
    if lc_api is not None:
        try:
            pol = lc_api.Policy(device="cpu")
            ms = _best_ms(lambda: lc_api.matmul2d(a, b, policy=pol), reps)
            _keep_gemm(c, "fp32", flops / (ms * 1e9), f"lightning_core matmul2d {size}^3")
        except Exception:  # noqa: BLE001 (an op not there yet: the other libraries set the ceiling)
            pass
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        _keep_gemm(c, "fp32", flops / (_best_ms(lambda: ta @ tb, reps) * 1e9), f"torch matmul {size}^3")
        settle()
    _keep_gemm(c, "fp32", flops / (_best_ms(lambda: a @ b, reps) * 1e9), f"numpy matmul {size}^3")
    settle()
    return c


def measure_cuda(quick: bool, lc_api=None, torch=None) -> Ceilings:
    """Device copy, transfers, tiny round trip and a large GEMM per precision, on CUDA."""
    c = Ceilings(device="cuda")
    rng = np.random.default_rng(0)
    host = rng.standard_normal((64 if quick else 256) << 18, dtype=np.float32)
    size = 4096 if quick else 8192
    flops = 2.0 * size ** 3
    reps = 3 if quick else 5
    tiny = rng.standard_normal(16, dtype=np.float32)

    if torch is not None and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        c.cache_bytes = getattr(props, "L2_cache_size", None) or None
        sync = torch.cuda.synchronize
        n = (256 if quick else 1024) << 18
        src = torch.randn(n, device="cuda")
        dst = torch.empty_like(src)
        ms = _best_ms(lambda: dst.copy_(src), 5, sync, warmup=2)
        _keep_max(c, "copy_gbps", 2 * src.nbytes / (ms * 1e6), "torch copy_")
        del src, dst
        _torch_transfers(c, torch, host, reps, sync)
        lat = _best_ms(lambda: (torch.from_numpy(tiny).to("cuda") + 1).cpu(), 50, None, warmup=5)
        c.round_trip_ms = lat
        c.sources["round_trip_ms"] = "torch 64 B up + add + down"
        for p in PRECISIONS:
            with torch_ref.precision_scope(torch, p):
                dt = torch_ref.torch_dtype(torch, p)
                a = torch.randn(size, size, device="cuda").to(dt)
                b = torch.randn(size, size, device="cuda").to(dt)
                ms = _best_ms(lambda: a @ b, reps, sync, warmup=2)
                _keep_gemm(c, p, flops / (ms * 1e9), f"torch matmul {size}^3")
                del a, b

    if lc_api is not None:
        _measure_cuda_lc(c, lc_api, host, tiny, size, flops, reps, rng)
    if c.cache_bytes is None:
        c.cache_bytes = 50 << 20  # H100's L2, when no library reports it
        c.sources["cache_bytes"] = "assumed (H100 L2)"
    return c


def _transfer_sizes(host):
    """Views of 4 MiB, 32 MiB and the whole buffer: small copies may run faster per byte."""
    return [host[: n >> 2] for n in sorted({4 << 20, 32 << 20, host.nbytes}) if n <= host.nbytes]


def _torch_transfers(c, torch, host, reps, sync):
    """Pageable copies both ways, into fresh and into preallocated memory; the best rate wins."""
    for h in _transfer_sizes(host):
        src = torch.from_numpy(h)
        dev = torch.empty(h.shape, device="cuda")
        back = torch.empty(h.shape)
        for what, fn in (("h2d_gbps", lambda: src.to("cuda")), ("h2d_gbps", lambda: dev.copy_(src)),
                         ("d2h_gbps", lambda: dev.cpu()), ("d2h_gbps", lambda: back.copy_(dev))):
            ms = _best_ms(fn, reps, sync)
            _keep_max(c, what, h.nbytes / (ms * 1e6), f"torch pageable copy of {h.nbytes >> 20} MiB")


def _measure_cuda_lc(c, L, host, tiny, size, flops, reps, rng):
    """Lightning Core's own transfers and GEMM; each part is skipped when not there yet."""
    for h in _transfer_sizes(host):
        try:
            ms = _best_ms(lambda: L.Tensor(h, "cuda"), reps)
            _keep_max(c, "h2d_gbps", h.nbytes / (ms * 1e6), f"lightning_core Tensor(host, 'cuda') {h.nbytes >> 20} MiB")
            dev = L.Tensor(h, "cuda")
            ms = _best_ms(lambda: dev.numpy(), reps)
            _keep_max(c, "d2h_gbps", h.nbytes / (ms * 1e6), f"lightning_core Tensor.numpy() {h.nbytes >> 20} MiB")
        except Exception:  # noqa: BLE001 (transfers not there: the other library's numbers stand)
            break
    try:
        pol = L.Policy(device="cuda")
        t4 = tiny.reshape(4, 4)
        lat = _best_ms(lambda: L.matmul2d(t4, t4, policy=pol), 50, None, warmup=5)
        if c.round_trip_ms is None or lat < c.round_trip_ms:
            c.round_trip_ms = lat
            c.sources["round_trip_ms"] = "lightning_core 4x4 matmul2d host round trip"
    except Exception:
        pass
    try:
        a = L.Tensor(rng.standard_normal((size, size), dtype=np.float32), "cuda")
        b = L.Tensor(rng.standard_normal((size, size), dtype=np.float32), "cuda")
        for p in PRECISIONS:
            pol = L.Policy(device="cuda", precision=p)
            try:
                ms = _best_ms(lambda: L.matmul2d(a, b, policy=pol), reps, warmup=2)
            except Exception:
                continue
            _keep_gemm(c, p, flops / (ms * 1e9), f"lightning_core matmul2d {size}^3")
    except Exception:
        pass
