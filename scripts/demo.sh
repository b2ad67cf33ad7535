#!/usr/bin/env bash
# Installs what is missing, builds the schedule_plot example and plots the
# triangular cyclical schedule of Smith's paper (base 0.001, peak 0.006,
# half-cycle 2000 steps) over four cycles.
#   BUILD_DIR  build tree, relative to the repository root (default: build)
#   JOBS       parallel compile jobs (default: 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}

if [[ ! -f examples/schedule_plot/CMakeLists.txt ]]; then
  echo "demo.sh: examples/schedule_plot/CMakeLists.txt is missing; the demo needs the schedule_plot example" >&2
  exit 1
fi

scripts/setup.sh
# The same options as scripts/test.sh, so the two share one build tree
# without reconfiguring each other.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
  -DCLR_BUILD_TESTS=ON -DCLR_BUILD_EXAMPLES=ON -DCLR_BUILD_BENCHMARKS=ON >/dev/null
cmake --build "$build_dir" -j "$jobs" --target schedule_plot

exe=$build_dir/examples/schedule_plot/schedule_plot
if [[ ! -x $exe ]]; then
  echo "demo.sh: $exe was not built; does examples/schedule_plot define the target schedule_plot?" >&2
  exit 1
fi

mkdir -p out
"$exe" --schedule triangular --steps 8000 --base-lr 0.001 --max-lr 0.006 \
  --step-size 2000 --plot out/triangular.png
echo "demo.sh: plot written to $PWD/out/triangular.png"
