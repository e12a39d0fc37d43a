#!/usr/bin/env bash
# Installs Lightning Core and runs the benchmark suites (the main job) on the best device
# present: the full suite on a GPU, the quick one on a CPU-only machine. Extra arguments go
# to `python -m lightning_core bench` (e.g. --suite kernel --out DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

"$PY" -m pip install -q "numpy>=2.0" "nanobind>=2.4" "scikit-build-core>=0.10" ninja cmake matplotlib
"$PY" -m pip install -q --no-build-isolation --no-deps . -Cbuild-dir=build/pip

cd /tmp  # import the installed package, not the source tree
if "$PY" -c "import lightning_core as lc, sys; sys.exit(0 if lc.cuda_available() else 1)"; then
  exec "$PY" -m lightning_core bench --suite all --out "${LC_BENCH_OUT:-$OLDPWD/bench_out}" "$@"
fi
exec "$PY" -m lightning_core bench --suite all --quick --out "${LC_BENCH_OUT:-$OLDPWD/bench_out}" "$@"
