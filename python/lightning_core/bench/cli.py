"""`python -m lightning_core bench`: runs the suites and writes the artifacts."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import List, Optional

from . import cases as case_tables
from . import ceilings as ceil
from . import report, runner, timing
from . import torch_ref as ref
from .machine import machine_info

SUITE_CHOICES = case_tables.SUITES + ("all", "smoke")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m lightning_core bench",
        description="Times Lightning Core against PyTorch and NumPy and writes CSV, JSON, PNG and "
                    "Markdown results (see docs/benchmarks.md).")
    p.add_argument("--suite", choices=SUITE_CHOICES, default="all",
                   help="kernel, pipeline, ml, dl, all of them, or smoke (a few tiny cases)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                   help="auto: CUDA when Lightning Core has a CUDA device, else the CPU")
    p.add_argument("--precision", default="auto",
                   help="comma list of fp32,tf32,bf16,fp16, or 'all'. auto (default): fp32, plus the "
                        "tf32/bf16/fp16 rows each case declares when on CUDA")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="a small subset, few repetitions (under a minute)")
    mode.add_argument("--full", action="store_true", help="every case, many repetitions (the default)")
    p.add_argument("--out", default="bench_out", help="directory for the artifacts (default: bench_out/)")
    p.add_argument("--cases", metavar="REGEX", help="only the cases whose name matches")
    p.add_argument("--residency", choices=("both", "resident", "host_round_trip"), default="both")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    p.add_argument("--no-numpy", action="store_true", help="skip the NumPy comparison")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--list", action="store_true", help="print the rows that would run and exit")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    return p


def _precisions(text: str, device: str) -> Optional[List[str]]:
    if text == "auto":
        return None
    wanted = list(case_tables.ALL_PREC) if text == "all" else [t.strip() for t in text.split(",") if t.strip()]
    bad = [w for w in wanted if w not in case_tables.ALL_PREC]
    if bad:
        raise SystemExit(f"bench: unknown precision {', '.join(bad)} (expected {', '.join(case_tables.ALL_PREC)})")
    if device == "cpu" and any(w != "fp32" for w in wanted):
        print("bench: tf32/bf16/fp16 rows run on CUDA only; the CPU runs fp32", file=sys.stderr)
    return wanted


def _comparison_notes(device, torch, torch_reason, args) -> List[str]:
    notes = []
    if args.no_torch:
        notes.append("PyTorch comparison turned off (--no-torch): the torch_ms and ours_best_vs_torch "
                     "columns are empty.")
    elif torch is None:
        notes.append(f"PyTorch is not importable ({torch_reason}): the torch_ms and ours_best_vs_torch "
                     "columns are empty; the chart compares with NumPy instead.")
    elif device == "cuda" and not torch.cuda.is_available():
        notes.append("PyTorch has no CUDA device here: the torch_ms and ours_best_vs_torch columns are empty.")
    else:
        notes.append(f"PyTorch {torch.__version__} on {'CUDA' if device == 'cuda' else 'the CPU'}; fp32 "
                     "is true fp32 (TF32 off), tf32 rows turn TF32 on, bf16/fp16 rows use tensors of that dtype.")
    if args.no_numpy:
        notes.append("NumPy comparison turned off (--no-numpy): the numpy_ms column is empty.")
    elif device == "cuda":
        notes.append("numpy_ms is filled on host round-trip fp32 rows only (NumPy computes on the host).")
    if device == "cpu":
        notes.append("On the CPU the data already lives in host memory: every row is 'resident'; there "
                     "is no separate host round trip. Only fp32 runs on the CPU.")
    return notes


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    import lightning_core as lc

    device = args.device
    if device == "auto":
        device = "cuda" if lc.cuda_available() else "cpu"
    elif device == "cuda" and not lc.cuda_available():
        print(f"bench: CUDA is not available to Lightning Core: {lc.cuda_unavailable_reason()}", file=sys.stderr)
        return 2
    precisions = _precisions(args.precision, device)
    quick = args.quick
    suites = list(case_tables.SUITES) if args.suite == "all" else [args.suite]
    selected = {s: case_tables.suite_cases(s, quick, args.cases) for s in suites}
    torch, torch_reason = (None, "turned off") if args.no_torch else ref.load_torch()
    residencies = {"both": (case_tables.RESIDENT, case_tables.ROUND_TRIP), "resident": (case_tables.RESIDENT,),
                   "host_round_trip": (case_tables.ROUND_TRIP,)}[args.residency]
    settings = timing.QUICK if quick else timing.FULL

    env = runner.Env(lc=lc, device=device, settings=settings, ceilings=None, host_ceilings=None,
                     torch=torch, torch_reason=torch_reason, use_numpy=not args.no_numpy,
                     residencies=residencies, seed=args.seed)
    plans = {s: runner.plan(c, env, precisions) for s, c in selected.items()}
    total = sum(len(p) for p in plans.values())
    if args.list:
        for s, p in plans.items():
            for case, prec, res in p:
                print(f"{s:9s} {case.name} [{prec}, {res}]")
        print(f"{total} rows")
        return 0
    if total == 0:
        print("bench: no case matches the selection", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    sys.stderr.write(f"bench: measuring the ceilings of {device} ...\n")
    env.host_ceilings = ceil.measure_cpu(quick, lc, torch)
    env.ceilings = env.host_ceilings if device == "cpu" else ceil.measure_cuda(quick, lc, torch)
    host, dev_ceil = env.host_ceilings, env.ceilings

    progress = runner.Progress(total, enabled=not args.no_progress)
    notes = _comparison_notes(device, torch, torch_reason, args)
    meta = {
        "machine": machine_info(lc, torch, torch_reason, device),
        "ceilings": dev_ceil.as_dict(), "host_ceilings": host.as_dict(),
        "settings": {"mode": "quick" if quick else "full", **settings.__dict__,
                     "cpu_limit_s": runner.CPU_LIMIT_S, "precision": args.precision,
                     "residency": args.residency, "cases": args.cases, "seed": args.seed},
        "comparison_notes": notes,
    }
    rows_by_suite = {}
    for s, cs in selected.items():
        rows_by_suite[s] = runner.run(cs, env, precisions, progress)
        # Artifacts after every suite: an interrupted `--suite all` keeps what it measured.
        meta["elapsed_s"] = round(time.perf_counter() - t0, 2)
        messages = report.write_all(args.out, rows_by_suite, meta)
    progress.close()
    for s, rows in rows_by_suite.items():
        print(f"\n== {s} ({device}, {'quick' if quick else 'full'})")
        print(report.format_table(rows))
    print()
    for n in notes + messages:
        print("note: " + n)
    written = [f"{s}.{ext}" for s in rows_by_suite for ext in ("csv", "json", "md", "png")
               if os.path.exists(os.path.join(args.out, f"{s}.{ext}"))] + [
        f for f in ("summary.md", "summary.png") if os.path.exists(os.path.join(args.out, f))]
    print(f"wrote {', '.join(written)} to {args.out}/ in {meta['elapsed_s']:.1f} s")
    return 0
