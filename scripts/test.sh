#!/usr/bin/env bash
# Installs what is missing, builds everything (library checks, tests, examples,
# benchmarks) in Release and runs the whole ctest suite. Exits with ctest's code.
#   BUILD_DIR  build tree, relative to the repository root (default: build)
#   JOBS       parallel compile and test jobs (default: 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}

scripts/setup.sh
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DCLR_BUILD_TESTS=ON -DCLR_BUILD_EXAMPLES=ON -DCLR_BUILD_BENCHMARKS=ON
cmake --build "$build_dir" -j "$jobs"
exec ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
