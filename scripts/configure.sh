#!/usr/bin/env bash
# Configures the Release build tree that scripts/test.sh, scripts/demo.sh and
# bench/run.sh share: one set of options, so that none of them reconfigures
# (and rebuilds) the tree another has just built. Extra arguments go to cmake
# and stay in the tree's cache (scripts/test.sh adds its CI switches so).
#   scripts/configure.sh BUILD_DIR [CMAKE_ARG...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if (($# < 1)); then
  echo "usage: scripts/configure.sh BUILD_DIR [CMAKE_ARG...]" >&2
  exit 2
fi
build_dir=$1
shift
exec cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DCLR_BUILD_TESTS=ON -DCLR_BUILD_EXAMPLES=ON -DCLR_BUILD_BENCHMARKS=ON "$@"
