"""Turn a benchmark output folder into the committed docs page and chart.

    python3 scripts/bench_docs.py RUN_DIR TAG    # e.g. bench_out h100 (lightning_core importable)

Writes docs/bench_TAG.md (the run's summary.md, then every suite's full table) and
docs/bench_TAG.png (the chart of the representative rows), from RUN_DIR/<suite>.json.
"""
import json
import os
import sys

from lightning_core.bench import report, runner
from lightning_core.bench.cases import SUITES


def load_rows(path):
    with open(path) as f:
        data = json.load(f)
    return data, [runner.Row(**r) for r in data["rows"]]


def main(run_dir, tag):
    docs = os.path.join(os.path.dirname(__file__), "..", "docs")
    suites = [s for s in SUITES if os.path.exists(os.path.join(run_dir, f"{s}.json"))]
    if not suites:
        sys.exit(f"[bench_docs] expected <suite>.json files in {run_dir}, got none")
    rows_by_suite, meta = {}, None
    for s in suites:
        meta, rows_by_suite[s] = load_rows(os.path.join(run_dir, f"{s}.json"))
    with open(os.path.join(run_dir, "summary.md")) as f:
        summary = f.read().split("\nPer suite:")[0]
    with open(os.path.join(docs, f"bench_{tag}.md"), "w") as f:
        f.write(summary.rstrip() + "\n\nChart of the representative rows: "
                f"[bench_{tag}.png](bench_{tag}.png). Total run time {meta['elapsed_s']:.0f} s.\n")
        for s in suites:
            f.write(f"\n## Suite `{s}`\n\n" + report.MD_HEADER
                    + "".join(report._md_row(r) for r in rows_by_suite[s]))
    rows = [r for s in suites for r in rows_by_suite[s]]
    ok, why = report.write_png(os.path.join(docs, f"bench_{tag}.png"), [r for r in rows if r.table] or rows,
                               f"Lightning Core on {meta['machine'].get('gpu') or meta['machine'].get('device')}: "
                               "representative rows")
    if not ok:
        sys.exit(f"[bench_docs] {why}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
