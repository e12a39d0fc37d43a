"""Artifacts of a run: <suite>.csv, <suite>.json, <suite>.png, <suite>.md and summary.md,
plus the table printed at the end. Column meanings are in docs/benchmarks.md.
"""
from __future__ import annotations

import csv
import json
import math
import os
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

from .runner import COLUMNS, Row, speedup

RES_SHORT = {"resident": "resident", "host_round_trip": "round trip"}


# ---- number formatting ----------------------------------------------------------------------
def fmt_ms(x: Optional[float]) -> str:
    if x is None:
        return ""
    if x >= 100:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.3f}"
    return f"{x:.4g}"


def fmt_x(x: Optional[float]) -> str:
    return "" if x is None else f"{x:.2f}x"


def fmt_pct(x: Optional[float]) -> str:
    if x is None:
        return ""
    return f"{x:.1f}%" if x < 10 else f"{x:.0f}%"


def _csv_value(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return v


def geomean(xs: Sequence[float]) -> Optional[float]:
    xs = [x for x in xs if x is not None and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


# ---- files ----------------------------------------------------------------------------------
def write_csv(path: str, rows: List[Row]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(COLUMNS))
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_value(v) for k, v in r.csv_dict().items()})


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def write_json(path: str, suite: str, rows: List[Row], meta: dict) -> None:
    doc = {"suite": suite, "columns": list(COLUMNS), **meta,
           "rows": [{**r.csv_dict(), "family": r.family, "table": r.table, "details": r.details} for r in rows]}
    with open(path, "w") as f:
        json.dump(_json_safe(doc), f, indent=1)


def chart_series(rows: List[Row]) -> Tuple[str, List[Tuple[str, float]]]:
    """(baseline name, [(label, speed-up)]): against PyTorch when any row has it, else NumPy."""
    def label(r):
        return f"{r.case} [{r.precision}, {RES_SHORT.get(r.residency, r.residency)}]"
    vs_torch = [(label(r), r.ours_best_vs_torch) for r in rows if r.ours_best_vs_torch]
    if vs_torch:
        return "PyTorch", vs_torch
    vs_numpy = [(label(r), speedup(r.numpy_ms, r.lightning_core_ms, r.integrated_api_ms)) for r in rows]
    return "NumPy", [(n, v) for n, v in vs_numpy if v]


def write_png(path: str, rows: List[Row], title: str) -> Tuple[bool, str]:
    """A bar per row of the speed-up (log scale, 1 = parity). (written?, why not)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except Exception as e:  # noqa: BLE001
        return False, f"matplotlib is not importable ({type(e).__name__}: {e}); no PNG written"
    baseline, series = chart_series(rows)
    fig_h = 1.6 + 0.2 * max(1, len(series))
    fig, ax = plt.subplots(figsize=(10, min(fig_h, 80)))
    if series:
        labels, values = zip(*series)
        ys = range(len(values))
        ax.barh(ys, values, color=["#2a9d55" if v >= 1 else "#d1495b" for v in values])
        for y, v in zip(ys, values):
            ax.text(v, y, f" {v:.2f}x", va="center", fontsize=6)
        ax.set_yticks(list(ys))
        ax.set_yticklabels(labels, fontsize=7)
        ax.invert_yaxis()
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8)
        ax.set_xlabel(f"speed-up of Lightning Core's best path over {baseline} (> 1: faster)")
    else:
        ax.text(0.5, 0.5, "no row has both a Lightning Core and a baseline time", ha="center", va="center")
        ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True, ""


MD_HEADER = ("| Case | Precision | Residency | Lightning Core ms | Integrated API ms | Torch ms | NumPy ms "
             "| Best-vs-Torch | Floor ms | % of floor | Note |\n"
             "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n")


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def _md_row(r: Row) -> str:
    return (f"| {_md_escape(r.case)} | {r.precision} | {RES_SHORT.get(r.residency, r.residency)} "
            f"| {fmt_ms(r.lightning_core_ms)} | {fmt_ms(r.integrated_api_ms)} | {fmt_ms(r.torch_ms)} "
            f"| {fmt_ms(r.numpy_ms)} | {fmt_x(r.ours_best_vs_torch)} | {fmt_ms(r.floor_ms)} "
            f"| {fmt_pct(r.pct_of_floor)} | {_md_escape(r.note)} |\n")


def _md_machine(meta: dict) -> str:
    m, c = meta.get("machine", {}), meta.get("ceilings", {})
    lines = [f"- Date: {m.get('date')}; device: **{m.get('device')}**",
             f"- CPU: {m.get('cpu')} ({m.get('cpu_count')} logical cores)"]
    if m.get("gpu"):
        lines.append(f"- GPU: {m.get('gpu')}, driver {m.get('driver')}, CUDA (PyTorch) {m.get('torch_cuda')}")
    lines.append(f"- Lightning Core {m.get('lightning_core')} (devices {m.get('lightning_core_devices')}), "
                 f"NumPy {m.get('numpy')}, PyTorch {m.get('torch') or 'not importable'}, Python {m.get('python')}")
    gemm = ", ".join(f"{p} {v:.3g}" for p, v in (c.get("gemm_TFLOPs") or {}).items())
    cl = [f"copy {c['copy_GBps']:.0f} GB/s" if c.get("copy_GBps") else "copy: not measured",
          f"GEMM TFLOP/s: {gemm or 'not measured'}"]
    if c.get("h2d_GBps"):
        cl.append(f"host->device {c['h2d_GBps']:.1f} GB/s, device->host {c['d2h_GBps']:.1f} GB/s")
    if c.get("round_trip_ms"):
        cl.append(f"smallest host round trip {c['round_trip_ms'] * 1e3:.0f} us")
    lines.append("- Ceilings measured in this run: " + "; ".join(cl))
    lines += [f"- {n}" for n in meta.get("comparison_notes", [])]
    return "\n".join(lines) + "\n"


def write_markdown(path: str, suite: str, rows: List[Row], meta: dict) -> None:
    with open(path, "w") as f:
        f.write(f"# Lightning Core benchmarks: {suite}\n\n{_md_machine(meta)}\n")
        f.write("`Best-vs-Torch` = torch_ms / min(lightning_core_ms, integrated_api_ms): "
                "> 1 means Lightning Core is faster. `% of floor` = floor_ms / our best time.\n\n")
        f.write(MD_HEADER + "".join(_md_row(r) for r in rows))


def family_averages(rows: List[Row]) -> List[Tuple[str, str, str, Optional[float], int, Optional[float], int]]:
    """(suite, family, precision, geometric-mean speed-up over PyTorch, rows compared, the same over
    NumPy, rows compared) per group."""
    groups: Dict[tuple, list] = defaultdict(list)
    for r in rows:
        groups[(r.suite, r.family, r.precision)].append(
            (r.ours_best_vs_torch, speedup(r.numpy_ms, r.lightning_core_ms, r.integrated_api_ms)))
    out = []
    for (s, fam, p), v in groups.items():
        vt, vn = [t for t, _ in v], [n for _, n in v]
        out.append((s, fam, p, geomean(vt), len([x for x in vt if x]), geomean(vn), len([x for x in vn if x])))
    return out


def write_summary(path: str, rows_by_suite: Dict[str, List[Row]], meta: dict) -> None:
    rows = [r for rs in rows_by_suite.values() for r in rs]
    shown = [r for r in rows if r.table] or rows
    with open(path, "w") as f:
        f.write(f"# Lightning Core benchmark summary\n\n{_md_machine(meta)}\n")
        f.write("Representative rows (the cases of BENCHMARKS.md when the run has them):\n\n")
        f.write("| Suite | Case | Precision | Residency | Lightning Core ms | Integrated API ms | Torch ms "
                "| Best-vs-Torch | % of floor |\n| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |\n")
        for r in shown:
            f.write(f"| {r.suite.capitalize()} | {_md_escape(r.case)} | {r.precision} "
                    f"| {RES_SHORT.get(r.residency, r.residency)} | {fmt_ms(r.lightning_core_ms)} "
                    f"| {fmt_ms(r.integrated_api_ms)} | {fmt_ms(r.torch_ms)} | {fmt_x(r.ours_best_vs_torch)} "
                    f"| {fmt_pct(r.pct_of_floor)} |\n")
        f.write("\nGeometric-mean speed-up per family (`> 1`: Lightning Core faster; NumPy rows are the "
                "CPU rows and the host round trips):\n\n"
                "| Suite | Family | Precision | Best-vs-Torch | Rows compared | Best-vs-NumPy | Rows compared |\n"
                "| --- | --- | --- | ---: | ---: | ---: | ---: |\n")
        for s, fam, p, g, n, gn, nn in family_averages(rows):
            f.write(f"| {s} | {fam} | {p} | {fmt_x(g)} | {n} | {fmt_x(gn)} | {nn} |\n")
        na = sum(1 for r in rows if "n/a" in r.note)
        err = sum(1 for r in rows if "error:" in r.note)
        chk = sum(1 for r in rows if "CHECK" in r.note)
        skipped = sum(1 for r in rows if r.note.startswith("skipped"))
        f.write(f"\n{len(rows)} rows: {na} with an n/a implementation, {err} with an error, "
                f"{chk} with a failed result check, {skipped} skipped.\n\nPer suite: "
                + ", ".join(f"[{s}]({s}.md)" for s in rows_by_suite)
                + (" (chart of the rows above: summary.png)" if len(rows_by_suite) > 1 else "") + "\n")


# ---- terminal -------------------------------------------------------------------------------
def format_table(rows: List[Row], note_width: int = 70) -> str:
    head = ("suite", "case", "prec", "residency", "lc ms", "integ ms", "torch ms", "numpy ms", "vs torch",
            "floor ms", "%floor", "note")
    body = []
    for r in rows:
        note = r.note if len(r.note) <= note_width else r.note[: note_width - 3] + "..."
        body.append((r.suite, r.case, r.precision, RES_SHORT.get(r.residency, r.residency),
                     fmt_ms(r.lightning_core_ms), fmt_ms(r.integrated_api_ms), fmt_ms(r.torch_ms),
                     fmt_ms(r.numpy_ms), fmt_x(r.ours_best_vs_torch), fmt_ms(r.floor_ms),
                     fmt_pct(r.pct_of_floor), note))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    right = {4, 5, 6, 7, 8, 9, 10}

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep] + [line(b) for b in body])


def write_all(out_dir: str, rows_by_suite: Dict[str, List[Row]], meta: dict) -> List[str]:
    """Every artifact; returns messages to show (e.g. a PNG that could not be drawn)."""
    os.makedirs(out_dir, exist_ok=True)
    messages = []
    for suite, rows in rows_by_suite.items():
        base = os.path.join(out_dir, suite)
        write_csv(base + ".csv", rows)
        write_json(base + ".json", suite, rows, meta)
        write_markdown(base + ".md", suite, rows, meta)
        ok, why = write_png(base + ".png", rows, f"Lightning Core {suite} suite on {meta['machine'].get('device')}")
        if not ok and why not in messages:
            messages.append(why)
    write_summary(os.path.join(out_dir, "summary.md"), rows_by_suite, meta)
    rows = [r for rs in rows_by_suite.values() for r in rs]
    if len(rows_by_suite) > 1:  # the representative rows of every suite in one chart
        write_png(os.path.join(out_dir, "summary.png"), [r for r in rows if r.table] or rows,
                  f"Lightning Core on {meta['machine'].get('device')}: representative rows")
    return messages
