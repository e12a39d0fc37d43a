#!/usr/bin/env bash
# One command on the GPU machine: build (the package with the CUDA backend, and the C++ tests),
# run every GPU test (pytest -m gpu and the C++ CUDA tests), compute-sanitizer on a small subset,
# then the GPU benchmarks against PyTorch. Log and results go to $OUT (else build/gpu_check/);
# a short table is printed last.
#
#   scripts/gpu_check.sh              # everything (well inside 10 minutes on one H100)
#   GPU_CHECK_SUITE=0 scripts/gpu_check.sh   # skip the full `lightning_core bench --quick` suite
#   GPU_CHECK_PYTEST=test_cuda_core.py ...   # only these pytest files (default: every GPU test)
#
# GoogleTest: the installed one, else the source tree in $GTEST_ROOT (default .deps/googletest;
# copy /usr/src/googletest there on a machine that has it and carry it to one that does not).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
OUT_DIR=${OUT:-$ROOT/build/gpu_check}
BUILD=$ROOT/build/gpu
mkdir -p "$OUT_DIR"
LOG=$OUT_DIR/gpu_check.log
: >"$LOG"
exec > >(tee -a "$LOG") 2>&1
export PYTHONUNBUFFERED=1
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export GTEST_ROOT=${GTEST_ROOT:-$ROOT/.deps/googletest}

SUMMARY=()
step() {  # step NAME TIMEOUT_S CMD...: runs, logs rc and seconds, never aborts the script
  local name=$1 limit=$2 t0=$SECONDS rc
  shift 2
  echo "=== $name"
  timeout "$limit" "$@"
  rc=$?
  SUMMARY+=("$(printf '%-22s rc=%-3s %4ss' "$name" "$rc" "$((SECONDS - t0))")")
  echo "=== $name: rc=$rc ($((SECONDS - t0)) s)"
  return $rc
}

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv || true

# 1. Build: one CMake build tree gives the wheel's libraries and the C++ test binary.
step build 360 "$PY" -m pip install -q --no-build-isolation --no-deps . \
  -Cbuild-dir="$BUILD" -Ccmake.define.LC_BUILD_CUDA=ON -Ccmake.define.LC_BUILD_TESTS=ON \
  -Ccmake.define.GTEST_ROOT="$GTEST_ROOT" || { printf '%s\n' "${SUMMARY[@]}"; exit 1; }
LC_TESTS=$BUILD/tests/cpp/lc_tests
"$PY" -c "import lightning_core as lc; print('cuda_available', lc.cuda_available(), lc.cuda_unavailable_reason(), lc.devices())"

# 2. GPU tests.
step cpp_gpu_tests 180 "$LC_TESTS" --gtest_filter='*Cuda*:*CUDA*:*Gpu*:*GPU*' --gtest_brief=1
step pytest_gpu 360 bash -c "cd '$ROOT/tests/python' && '$PY' -m pytest -q -m gpu -p no:cacheprovider -rs ${GPU_CHECK_PYTEST:-.}"

# 3. compute-sanitizer: memcheck over the core kernels, racecheck over the shared-memory ones.
if command -v compute-sanitizer >/dev/null; then
  step memcheck 150 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 "$LC_TESTS" \
    --gtest_filter='CudaCore.BackendGemm*:CudaCore.Elementwise*:CudaCore.Rowwise*:CudaCore.Transpose*:CudaCore.InPlace*:CudaCore.CopiesRoundTrip'
  step racecheck 120 compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 20 "$LC_TESTS" \
    --gtest_filter='CudaCore.Transpose*:CudaCore.FewLongRows*:CudaCore.InPlace*'
  # Our attention kernels (SIMT, mma.sync, wgmma; forward and backward) through Python.
  step memcheck_attn 180 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
    "$PY" scripts/attention_sanitize.py
  step racecheck_attn 200 compute-sanitizer --tool racecheck --error-exitcode 9 --print-limit 20 \
    "$PY" scripts/attention_sanitize.py --quick
else
  SUMMARY+=("compute-sanitizer      not found")
fi

# 4. Benchmarks: the focused core cases with attention per variant (bench.json / bench.csv),
#    then the project's quick suite (archived as one file).
step gpu_bench 240 "$PY" benchmarks/gpu_bench.py --out "$OUT_DIR"
if [ "${GPU_CHECK_SUITE:-1}" != 0 ]; then
  step bench_suite 120 "$PY" -m lightning_core bench --device cuda --quick --no-progress --out "$ROOT/build/gpu_suite"
  tar -czf "$OUT_DIR/bench_suite.tar.gz" -C "$ROOT/build" gpu_suite 2>/dev/null || true
fi

echo
echo "=== summary (log: $LOG)"
printf '%s\n' "${SUMMARY[@]}"
"$PY" benchmarks/gpu_bench.py --show "$OUT_DIR/bench.json"
