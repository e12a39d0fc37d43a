#!/usr/bin/env bash
# Installs Lightning Core with its test dependencies and runs every test (C++ and Python).
# GPU tests run when a CUDA device is present and are skipped, with the reason, otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

"$PY" -m pip install -q --upgrade pip >/dev/null
"$PY" -m pip install -q "numpy>=2.0" "nanobind>=2.4" "scikit-build-core>=0.10" ninja cmake \
  pytest hypothesis matplotlib

# One build: the Python extension, the C++ tests and the native benchmarks (CUDA when nvcc is found).
"$PY" -m pip install -q --no-build-isolation --no-deps . \
  -Cbuild-dir=build/pip \
  -Ccmake.define.LC_BUILD_TESTS=ON \
  -Ccmake.define.LC_BUILD_BENCHMARKS=${LC_BUILD_BENCHMARKS:-ON}

echo "== C++ tests"
ctest --test-dir build/pip --output-on-failure -j2
echo "== Python tests"
cd tests/python && "$PY" -m pytest -q -p no:cacheprovider "$@" .
