"""Lightning Core's CUDA core vs PyTorch on the same GPU, resident (device in, device out).

    python3 benchmarks/gpu_bench.py [--out DIR] [--reps 15] [--batch 40] [--label NAME]

Cases: gemm 1024^3 and 4096x1024x4096 (M x K x N) per precision, layer_norm and softmax
2048x1024, attention (fp32 [S,D] 4096x64 and 192x48; bf16 B4 H16 S4096 D128 forward, causal
forward, forward+backward, and D64) per attention variant (LC_CUDA_ATTN), with the longest
kernel's own time from torch.profiler beside the whole call's. Each time is the median over --reps rounds of a round's per-call time, a round being
--batch back-to-back calls bracketed by CUDA events on the legacy stream (our blocking stream
is ordered with it). Two figures per side:
  - device: the round is queued behind a GPU sleep, so the events bracket only kernel time
    (launch gaps hidden: what a CUDA graph would give);
  - eager: no sleep, so host launch overhead shows when a kernel is shorter than it.
Inputs rotate among sets totalling more than the 50 MB L2, so memory-bound cases read DRAM.
Floors use ceilings measured in the same run (device copy bandwidth, torch GEMM 8192^3).
Writes bench.json and bench.csv to --out and prints a Markdown table last.
"""
import argparse
import contextlib
import csv
import json
import os
import statistics
import sys

import numpy as np

import lightning_core as lc

try:
    import torch
except ImportError:  # the script still times our side
    torch = None


def cuda_events():
    return torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)


def sleep_cycles(ms):
    # H100 SXM boosts to ~1.98 GHz; a sleep a little long only costs idle time.
    return int(ms * 2.0e6)


def time_calls(call, n_sets, batch, reps, queued):
    """Median per-call ms of `batch` back-to-back calls (call(i) uses input set i % n_sets)."""
    for i in range(max(3, n_sets)):  # warm-up: plans, pools, module loads
        call(i)
    torch.cuda.synchronize()
    samples = []
    for r in range(reps):
        start, end = cuda_events()
        if queued:
            torch.cuda._sleep(sleep_cycles(0.03 * batch + 0.5))  # the host enqueues meanwhile
        start.record()
        for i in range(batch):
            call(r * batch + i)
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) / batch)
    return statistics.median(samples)


def measure_ceilings(reps):
    """Device copy bandwidth (GB/s, read + write) and torch GEMM 8192^3 TFLOP/s per precision."""
    out = {}
    n = 256 * 1024 * 1024  # 1 GiB of float32
    src = torch.empty(n, device="cuda").uniform_(-1, 1)
    dst = torch.empty_like(src)
    ms = time_calls(lambda i: dst.copy_(src), 1, 5, reps, queued=False)
    out["copy_GBps"] = 2 * src.numel() * 4 / (ms * 1e6)
    del src, dst
    m = 8192
    for prec, dtype in (("fp32", torch.float32), ("tf32", torch.float32), ("bf16", torch.bfloat16)):
        torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
        a = torch.empty(m, m, device="cuda", dtype=dtype).uniform_(-1, 1)
        b = torch.empty(m, m, device="cuda", dtype=dtype).uniform_(-1, 1)
        ms = time_calls(lambda i: torch.mm(a, b), 1, 3, max(3, reps // 3), queued=False)
        out[f"gemm_{prec}_TFLOPs"] = 2 * m ** 3 / (ms * 1e9)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.cuda.empty_cache()
    return out


def gemm_case(m, k, n, prec, args, ceilings):
    rng = np.random.default_rng(0)
    sets = 2 if m * n >= 1 << 24 else 4
    A = [lc.Tensor(rng.uniform(-1, 1, (m, k)).astype(np.float32)).to("cuda") for _ in range(sets)]
    B = [lc.Tensor(rng.uniform(-1, 1, (k, n)).astype(np.float32)).to("cuda") for _ in range(sets)]
    C = lc.Tensor.empty([m, n], "cuda")
    pol = lc.Policy(precision=prec, sync=False)
    ours = lambda i: lc.matmul2d_into(A[i % sets], B[i % sets], C, policy=pol)  # noqa: E731
    # Correctness first, against float64 on the host.
    ours(0)
    ref = A[0].numpy().astype(np.float64) @ B[0].numpy().astype(np.float64)
    err = float(np.linalg.norm(C.numpy() - ref) / np.linalg.norm(ref))
    row = {"case": f"gemm {m}x{k}x{n}", "precision": prec, "rel_err": err,
           "flops": 2.0 * m * k * n, "bytes": 4.0 * (m * k + k * n + m * n)}
    row["ours_device_ms"] = time_calls(ours, sets, args.batch, args.reps, queued=True)
    row["ours_eager_ms"] = time_calls(ours, sets, args.batch, args.reps, queued=False)
    if torch is not None:
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(prec, torch.float32)
        torch.backends.cuda.matmul.allow_tf32 = prec == "tf32"
        TA = [torch.from_dlpack(a).to(dtype) for a in A]
        TB = [torch.from_dlpack(b).to(dtype) for b in B]
        TC = torch.empty(m, n, device="cuda", dtype=dtype)
        theirs = lambda i: torch.mm(TA[i % sets], TB[i % sets], out=TC)  # noqa: E731
        row["torch_device_ms"] = time_calls(theirs, sets, args.batch, args.reps, queued=True)
        row["torch_eager_ms"] = time_calls(theirs, sets, args.batch, args.reps, queued=False)
        torch.backends.cuda.matmul.allow_tf32 = False
    peak = ceilings.get(f"gemm_{'bf16' if prec in ('bf16', 'fp16') else prec}_TFLOPs")
    if peak:
        row["floor_ms"] = max(row["flops"] / (peak * 1e9), row["bytes"] / (ceilings["copy_GBps"] * 1e6))
    return row


def rowwise_case(name, rows, cols, args, ceilings):
    rng = np.random.default_rng(1)
    nbytes = rows * cols * 4
    sets = max(2, int(np.ceil(3 * 50e6 / (2 * nbytes))))  # > 3x the L2 across sets
    X = [lc.Tensor(rng.uniform(-4, 4, (rows, cols)).astype(np.float32)).to("cuda") for _ in range(sets)]
    Y = [lc.Tensor.empty([rows, cols], "cuda") for _ in range(sets)]
    w = lc.Tensor(rng.uniform(-1, 1, cols).astype(np.float32)).to("cuda")
    b = lc.Tensor(rng.uniform(-1, 1, cols).astype(np.float32)).to("cuda")
    pol = lc.Policy(sync=False)
    if name == "layer_norm":
        ours = lambda i: lc.layer_norm_into(X[i % sets], w, b, Y[i % sets], 1e-5, policy=pol)  # noqa: E731
    else:
        ours = lambda i: lc.softmax_into(X[i % sets], Y[i % sets], policy=pol)  # noqa: E731
    ours(0)
    x = X[0].numpy().astype(np.float64)
    if name == "layer_norm":
        mu = x.mean(-1, keepdims=True)
        ref = (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + 1e-5) * w.numpy() + b.numpy()
    else:
        e = np.exp(x - x.max(-1, keepdims=True))
        ref = e / e.sum(-1, keepdims=True)
    err = float(np.linalg.norm(Y[0].numpy() - ref) / np.linalg.norm(ref))
    row = {"case": f"{name} {rows}x{cols}", "precision": "fp32", "rel_err": err, "flops": 0.0,
           "bytes": 2.0 * nbytes}
    row["ours_device_ms"] = time_calls(ours, sets, args.batch, args.reps, queued=True)
    row["ours_eager_ms"] = time_calls(ours, sets, args.batch, args.reps, queued=False)
    if torch is not None:
        TX = [torch.from_dlpack(t) for t in X]
        tw, tb = torch.from_dlpack(w), torch.from_dlpack(b)
        # torch writes a fresh output per call (its caching allocator makes that free).
        if name == "layer_norm":
            f = torch.nn.functional.layer_norm
            theirs = lambda i: f(TX[i % sets], (cols,), tw, tb, 1e-5)  # noqa: E731
        else:
            theirs = lambda i: torch.softmax(TX[i % sets], -1)  # noqa: E731
        row["torch_device_ms"] = time_calls(theirs, sets, args.batch, args.reps, queued=True)
        row["torch_eager_ms"] = time_calls(theirs, sets, args.batch, args.reps, queued=False)
    row["floor_ms"] = row["bytes"] / (ceilings["copy_GBps"] * 1e6)
    return row


def kernel_profile(call, n=5):
    """(name, ms per call) of the longest-running kernel over n calls, and all kernels' ms per call.

    torch.profiler (CUPTI) sees every kernel of the process, Lightning Core's included."""
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for i in range(n):
            call(i)
        torch.cuda.synchronize()
    per = {}
    for e in prof.key_averages():
        us = getattr(e, "self_device_time_total", None)
        if us is None:
            us = getattr(e, "self_cuda_time_total", 0)
        if us:
            per[e.key] = per.get(e.key, 0.0) + us
    if not per:
        return None, None, None
    name = max(per, key=per.get)
    return name, per[name] / n / 1e3, sum(per.values()) / n / 1e3


def attention_case(b, h, s, d, causal, prec, grad, args, variants):
    """Resident attention (lc.attention / attention_backward) per variant vs torch SDPA."""
    rng = np.random.default_rng(2)
    shape = (b, h, s, d)
    Q, K, V, dO = (lc.Tensor(rng.standard_normal(shape).astype(np.float32)).to("cuda") for _ in range(4))
    flops = 4.0 * b * h * s * s * d * (0.5 if causal else 1.0) * (3.5 if grad else 1.0)
    name = f"attention B{b} H{h} S{s} D{d}{' causal' if causal else ''} {'fwd+bwd' if grad else 'fwd'}"
    rows = []
    pol = lc.Policy(device="cuda", precision=prec, sync=False)
    for var in variants:
        if var == "auto":
            os.environ.pop("LC_CUDA_ATTN", None)
        else:
            os.environ["LC_CUDA_ATTN"] = var
        if grad:
            ours = lambda i: lc.attention_backward(Q, K, V, dO, causal=causal, policy=pol)  # noqa: E731
        else:
            ours = lambda i: lc.attention(Q, K, V, causal=causal, policy=pol)  # noqa: E731
        row = {"case": name, "precision": prec, "variant": var, "flops": flops, "bytes": 16.0 * b * h * s * d}
        try:
            ours(0)
            torch.cuda.synchronize()
        except Exception as e:  # noqa: BLE001 (a variant that does not apply is a row note)
            row["note"] = f"{type(e).__name__}: {str(e)[:120]}"
            rows.append(row)
            continue
        row["ours_device_ms"] = time_calls(ours, 1, args.attn_batch, args.reps, queued=True)
        row["kernel"], row["kernel_ms"], row["all_kernels_ms"] = kernel_profile(ours)
        rows.append(row)
    os.environ.pop("LC_CUDA_ATTN", None)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(prec, torch.float32)
    tq, tk, tv, tdo = (torch.from_dlpack(t).to(dtype) for t in (Q, K, V, dO))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    if grad:
        for t in (tq, tk, tv):
            t.requires_grad_(True)

        def theirs(i):
            sdpa(tq, tk, tv, is_causal=causal).backward(tdo)
    else:
        theirs = lambda i: sdpa(tq, tk, tv, is_causal=causal)  # noqa: E731
    with torch.no_grad() if not grad else contextlib.nullcontext():
        t_ms = time_calls(theirs, 1, args.attn_batch, args.reps, queued=True)
    for row in rows:
        row["torch_device_ms"] = t_ms
        for key in ("ours_device_ms", "kernel_ms", "torch_device_ms"):
            if row.get(key):
                row[key.replace("_ms", "_TFLOPs")] = flops / (row[key] * 1e9)
    return rows


def print_attention(rows):
    fmt = lambda v: "" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))  # noqa: E731
    print("\n| case | prec | variant | ours ms (TFLOP/s) | main kernel ms (TFLOP/s) | torch ms (TFLOP/s) | kernel |")
    print("| --- | --- | --- | ---: | ---: | ---: | --- |")
    for r in rows:
        tf = lambda k: f" ({r[k]:.0f})" if r.get(k) else ""  # noqa: E731
        print(f"| {r['case']} | {r['precision']} | {r['variant']} | {fmt(r.get('ours_device_ms'))}{tf('ours_device_TFLOPs')} | "
              f"{fmt(r.get('kernel_ms'))}{tf('kernel_TFLOPs')} | {fmt(r.get('torch_device_ms'))}{tf('torch_device_TFLOPs')} | "
              f"{(r.get('kernel') or r.get('note') or '')[:60]} |")


def print_table(device, ceilings, rows, mode):
    fmt = lambda v: "" if v is None else (f"{v:.4f}" if isinstance(v, float) else str(v))  # noqa: E731
    print(f"\n{device}; copy {ceilings['copy_GBps']:.0f} GB/s; torch GEMM 8192^3 fp32/tf32/bf16 "
          f"{ceilings['gemm_fp32_TFLOPs']:.1f}/{ceilings['gemm_tf32_TFLOPs']:.0f}/"
          f"{ceilings['gemm_bf16_TFLOPs']:.0f} TFLOP/s; low-precision GEMM inputs: {mode}")
    print("| case | prec | ours device ms | ours eager ms | torch device ms | torch eager ms | floor ms "
          "| floor/ours | rel err |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['case']} | {r['precision']} | {fmt(r['ours_device_ms'])} | {fmt(r['ours_eager_ms'])} | "
              f"{fmt(r.get('torch_device_ms'))} | {fmt(r.get('torch_eager_ms'))} | {fmt(r.get('floor_ms'))} | "
              f"{fmt(r.get('floor_fraction'))} | {r['rel_err']:.1e} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.environ.get("OUT") or "build/gpu_check")
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--batch", type=int, default=40)
    p.add_argument("--label", default="", help="suffix of the output file names")
    p.add_argument("--cases", default="gemm,rowwise,attention",
                   help="gemm, rowwise, attention, lowp (bf16/fp16 gemm only)")
    p.add_argument("--attn-batch", type=int, default=5, help="back-to-back attention calls per timing")
    p.add_argument("--attn-variants", default="auto,own,cudnn",
                   help="LC_CUDA_ATTN values to time (auto: the heuristic's choice)")
    p.add_argument("--show", nargs="+", metavar="JSON", help="print the tables of earlier runs and exit")
    args = p.parse_args()
    if args.show:
        for path in args.show:
            if os.path.exists(path):
                with open(path) as f:
                    d = json.load(f)
                print_table(d["device"], d["ceilings"], d["rows"], d["lowp_gemm_mode"])
                print_attention(d.get("attention", []))
        return 0
    if not lc.cuda_available():
        print(f"gpu_bench: no CUDA device ({lc.cuda_unavailable_reason()})")
        return 1
    if torch is None or not torch.cuda.is_available():
        print("gpu_bench: PyTorch with CUDA is needed for the events and the comparison")
        return 1
    os.makedirs(args.out, exist_ok=True)
    wanted = set(args.cases.split(","))
    ceilings = measure_ceilings(args.reps)
    rows = []
    if "gemm" in wanted or "lowp" in wanted:
        precs = ["bf16", "fp16"] if wanted == {"lowp"} else ["fp32", "tf32", "bf16", "fp16"]
        for m, k, n in ((1024, 1024, 1024), (4096, 1024, 4096)):
            for prec in precs:
                rows.append(gemm_case(m, k, n, prec, args, ceilings))
    if "rowwise" in wanted:
        for name in ("layer_norm", "softmax"):
            rows.append(rowwise_case(name, 2048, 1024, args, ceilings))
    attn_rows = []
    if "attention" in wanted:
        variants = args.attn_variants.split(",")
        for b, h, sq, d, causal, prec, grad in ((1, 1, 4096, 64, False, "fp32", False),
                                                (1, 1, 192, 48, False, "fp32", False),
                                                (4, 16, 4096, 128, False, "bf16", False),
                                                (4, 16, 4096, 128, True, "bf16", False),
                                                (4, 16, 4096, 64, False, "bf16", False),
                                                (4, 16, 4096, 128, False, "bf16", True)):
            vs = ["auto"] if prec == "fp32" else variants
            attn_rows += attention_case(b, h, sq, d, causal, prec, grad, args, vs)
    device = torch.cuda.get_device_name(0)
    for r in attn_rows:
        r["device"] = device
    for r in rows:
        r["device"] = device
        if r.get("floor_ms"):
            r["floor_fraction"] = r["floor_ms"] / r["ours_device_ms"]
        if r["bytes"] and not r["flops"]:
            r["ours_GBps"] = r["bytes"] / (r["ours_device_ms"] * 1e6)
    suffix = f"_{args.label}" if args.label else ""
    with open(os.path.join(args.out, f"bench{suffix}.json"), "w") as f:
        json.dump({"device": device, "ceilings": ceilings, "rows": rows, "attention": attn_rows,
                   "lowp_gemm_mode": os.environ.get("LC_CUDA_LOWP_GEMM", "convert")}, f, indent=1)
    keys = ["case", "precision", "ours_device_ms", "ours_eager_ms", "torch_device_ms", "torch_eager_ms",
            "floor_ms", "floor_fraction", "ours_GBps", "rel_err", "device"]
    with open(os.path.join(args.out, f"bench{suffix}.csv"), "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        wr.writeheader()
        wr.writerows(rows)
    print_table(device, ceilings, rows, os.environ.get("LC_CUDA_LOWP_GEMM", "convert"))
    print_attention(attn_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
