"""Lightning Core vs NumPy on this machine's CPU, through the Python API.

    PYTHONPATH=build/<dir>/pkg python3 benchmarks/cpu_bench.py [--json out.json] [--repeat 31]

Each case is timed as the median over `--repeat` rounds of the per-call time; a round runs
enough calls to last at least `--min-round-ms`, after a warm-up. The two sides alternate in
blocks of rounds, with a pause before ours (OpenBLAS's threads spin for a while after a call). Every case first checks that both sides agree
(relative Frobenius error); a case whose op is not in lightning_core.api yet is skipped with
a note. Prints a Markdown table: case, lightning_core_us, numpy_us, speedup (numpy / ours).
"""
import argparse
import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np

import lightning_core as lc

api = lc.api


# ---- NumPy references ------------------------------------------------------------------------
def np_attention(q, k, v):
    s = (q @ k.T) * np.float32(1.0 / math.sqrt(q.shape[-1]))
    s = np.exp(s - s.max(axis=-1, keepdims=True))
    return (s / s.sum(axis=-1, keepdims=True)) @ v


def np_layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + np.float32(eps)) * w + b


def np_conv2d_nchw(x, w, b):
    # Valid cross-correlation, stride 1: windows (N, C, OH, OW, KH, KW) contracted with w.
    win = np.lib.stride_tricks.sliding_window_view(x, w.shape[2:], axis=(2, 3))
    return np.einsum("nchwij,ocij->nohw", win, w, optimize=True) + b[None, :, None, None]


# ---- cases -----------------------------------------------------------------------------------
def matmul_case(n):
    def make(rng):
        a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
        return (lambda: lc.matmul2d(a, b)), (lambda: a @ b)
    return (f"matmul {n}x{n}x{n}", "matmul2d", make)


def attention_case(seq, dim):
    def make(rng):
        q, k, v = (rng.uniform(-1, 1, (seq, dim)).astype(np.float32) for _ in range(3))
        return (lambda: api.attention2d(q, k, v)), (lambda: np_attention(q, k, v))
    return (f"attention2d seq={seq} dim={dim}", "attention2d", make)


def layer_norm_case(rows, cols):
    def make(rng):
        x = rng.uniform(-1, 1, (rows, cols)).astype(np.float32)
        w = rng.uniform(0.5, 1.5, cols).astype(np.float32)
        b = rng.uniform(-1, 1, cols).astype(np.float32)
        return (lambda: api.layer_norm(x, w, b, eps=1e-5)), (lambda: np_layer_norm(x, w, b))
    return (f"layer_norm {rows}x{cols}", "layer_norm", make)


def conv_case(n, c, hw, o, k):
    def make(rng):
        x = rng.uniform(-1, 1, (n, c, hw, hw)).astype(np.float32)
        w = rng.uniform(-1, 1, (o, c, k, k)).astype(np.float32)
        b = rng.uniform(-1, 1, o).astype(np.float32)
        return (lambda: api.conv2d_nchw(x, w, b)), (lambda: np_conv2d_nchw(x, w, b))
    return (f"conv2d_nchw {n}x{c}x{hw}x{hw}->{o} k{k}", "conv2d_nchw", make)


CASES = [
    matmul_case(8),
    matmul_case(64),
    matmul_case(256),
    matmul_case(1024),
    attention_case(8, 16),
    layer_norm_case(2048, 1024),
    conv_case(1, 3, 16, 16, 3),
]


# ---- timing ----------------------------------------------------------------------------------
def calls_per_round(fn, min_round_s):
    """Calls per round so one round lasts at least min_round_s (after a warm-up)."""
    for _ in range(3):
        fn()
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_round_s or number >= 1 << 20:
            return number
        number = max(number * 2, int(number * min_round_s / max(dt, 1e-9) * 1.2))


def time_round(fn, number):
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def measure(ours, theirs, repeat, min_round_s, settle_s):
    """Median per-call time of each side. The sides alternate in blocks of rounds rather than
    round by round: OpenBLAS's idle threads spin for ~0.1 s after a call and would take a core
    from whatever runs next, so each block of ours starts after a `settle_s` pause."""
    n_ours = calls_per_round(ours, min_round_s)
    n_theirs = calls_per_round(theirs, min_round_s)
    t_ours, t_theirs = [], []
    blocks = 2
    for b in range(blocks):
        rounds = repeat // blocks + (1 if b < repeat % blocks else 0)
        time.sleep(settle_s)
        time_round(ours, n_ours)  # warm again after the pause
        t_ours += [time_round(ours, n_ours) for _ in range(rounds)]
        t_theirs += [time_round(theirs, n_theirs) for _ in range(rounds)]
    return statistics.median(t_ours) * 1e6, statistics.median(t_theirs) * 1e6


def rel_err(out, ref):
    out, ref = np.asarray(out, np.float64), np.asarray(ref, np.float64)
    den = np.linalg.norm(ref)
    return np.linalg.norm(out - ref) / den if den > 0 else np.linalg.norm(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", metavar="PATH", help="also write the rows as JSON")
    ap.add_argument("--repeat", type=int, default=31, help="timed rounds per side (median)")
    ap.add_argument("--min-round-ms", type=float, default=20.0, help="shortest round")
    ap.add_argument("--filter", default="", help="only cases whose name contains this")
    ap.add_argument("--settle-s", type=float, default=0.3, help="pause before each block of ours")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(0)
    rows, notes = [], []
    for name, op, make in CASES:
        if args.filter and args.filter not in name:
            continue
        if not hasattr(api, op):
            notes.append(f"skipped {name}: lightning_core.api.{op} is not available yet")
            continue
        ours, theirs = make(rng)
        try:
            err = rel_err(ours(), theirs())
        except (NotImplementedError, lc.Error) as e:  # declared but not built in this tree
            notes.append(f"skipped {name}: {type(e).__name__}: {e}")
            continue
        if not err <= 1e-4:
            notes.append(f"{name}: results differ from NumPy (relative error {err:.2e})")
        t_ours, t_theirs = measure(ours, theirs, args.repeat, args.min_round_ms / 1e3, args.settle_s)
        rows.append({"case": name, "lightning_core_us": t_ours, "numpy_us": t_theirs,
                     "speedup": t_theirs / t_ours, "rel_err": float(err)})

    print("| case | lightning_core_us | numpy_us | speedup |")
    print("| --- | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['case']} | {r['lightning_core_us']:.2f} | {r['numpy_us']:.2f} | "
              f"{r['speedup']:.2f}x |")
    for note in notes:
        print(f"\nNote: {note}")
    if args.json:
        meta = {"machine": platform.machine(), "processor": platform.processor(),
                "cpus": os.cpu_count(), "numpy": np.__version__, "python": sys.version.split()[0],
                "repeat": args.repeat, "notes": notes}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
