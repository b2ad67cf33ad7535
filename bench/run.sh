#!/usr/bin/env bash
# Reproduces bench/RESULTS.md: builds the benchmarks and the MNIST examples in
# Release, runs every Google Benchmark suite with repetitions, times PyTorch's
# schedulers, trains 10 MNIST epochs with mnist_clr, with the same model in
# PyTorch and with torch_mnist (libtorch under clr::torch::scheduler), RUNS
# rounds with the programs alternating, and writes the report with
# bench/report.py. Every program runs twice a round: as the README's commands
# run it, with no environment of its own ("default"), and with its best
# documented tuning ("tuned": OMP_WAIT_POLICY=passive, which stops idle
# OpenMP threads from spinning). Run it on an otherwise idle machine: every
# figure is a median, but the ratios only mean something when both sides saw
# the same load.
#   REPS       repetitions of each Google Benchmark (default 5)
#   MIN_TIME   seconds each repetition runs at least (default 0.2)
#   RUNS       rounds of whole 10-epoch runs (default 3)
#   THREADS    threads for the training runs and bench_mlp (default 2)
#   BUILD_DIR  build tree, relative to the repository root (default: build,
#              shared with scripts/test.sh)
#   JOBS       parallel compile jobs (default 2)
#   OUT        raw results (default: $BUILD_DIR/bench-results)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

reps=${REPS:-5}
min_time=${MIN_TIME:-0.2}
runs=${RUNS:-3}
threads=${THREADS:-2}
build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}
out=${OUT:-$build_dir/bench-results}
for v in reps runs threads jobs; do
  if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
    echo "bench/run.sh: ${v^^} must be a whole number of at least 1, got '${!v}'" >&2
    exit 2
  fi
done

# PyTorch (with numpy) is the reference the figures are set against;
# setup.sh installs libtorch-dev, which torch_mnist needs, in any case.
scripts/setup.sh python3-torch
scripts/configure.sh "$build_dir" >/dev/null
mapfile -t suites < <(cd bench && ls bench_*.cpp | sed 's/\.cpp$//')
cmake --build "$build_dir" -j "$jobs" --target mnist_clr torch_mnist "${suites[@]}"

rm -rf "$out"
mkdir -p "$out"
# The suites run as a user runs them: no environment but the thread count.
export CLR_BENCH_THREADS=$threads
unset OMP_WAIT_POLICY GOMP_SPINCOUNT OPENBLAS_THREAD_TIMEOUT OMP_NUM_THREADS OPENBLAS_NUM_THREADS

for suite in "${suites[@]}"; do
  echo "== $suite ($reps repetitions)"
  # Interleaved repetitions spread a disturbance over every benchmark rather
  # than all the repetitions of one.
  "$build_dir/bench/$suite" --benchmark_repetitions="$reps" --benchmark_min_time="$min_time" \
    --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/$suite.json" --benchmark_out_format=json
done

echo "== PyTorch scheduler.step()"
/usr/bin/python3 bench/pytorch_schedulers.py --out "$out/pytorch_schedulers.json"

# Runs one program, its output teed to NAME.log, and appends the whole
# process's wall-clock seconds to NAME.seconds.
timed() {
  local name=$1 start end
  shift
  start=$(date +%s.%N)
  "$@" | tee "$out/$name.log"
  end=$(date +%s.%N)
  python3 -c "print(f'{$end - $start:.2f}')" >"$out/$name.seconds"
}

# The README's main run: triangular CLR, Adam, batch 200, 10 epochs, seed 1.
train_args=(--schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 750
  --epochs 10 --batch 200 --seed 1 --threads "$threads")
for ((i = 1; i <= runs; ++i)); do
  for tuning in default tuned; do
    env=()
    [[ $tuning == tuned ]] && env=(OMP_WAIT_POLICY=passive)
    echo "== round $i/$runs, $tuning: mnist_clr"
    timed "mnist_clr.$tuning.$i" env "${env[@]}" "$build_dir/examples/mnist_clr/mnist_clr" "${train_args[@]}"
    echo "== round $i/$runs, $tuning: PyTorch"
    timed "pytorch_mnist.$tuning.$i" env "${env[@]}" /usr/bin/python3 bench/pytorch_mnist.py "${train_args[@]}"
    echo "== round $i/$runs, $tuning: torch_mnist"
    timed "torch_mnist.$tuning.$i" env "${env[@]}" "$build_dir/examples/torch_mnist/torch_mnist" "${train_args[@]}"
  done
done

# What the report says about the machine and the build.
{
  echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "cores=$(nproc)"
  echo "compiler=$(g++ --version | head -n 1)"
  echo "release_flags=$(sed -n 's/^CMAKE_CXX_FLAGS_RELEASE:STRING=//p' "$build_dir/CMakeCache.txt")"
  echo "blas=$(sed -n 's/^CLR_MNIST_BLAS:BOOL=//p' "$build_dir/CMakeCache.txt")"
  # The kernel a DYNAMIC_ARCH OpenBLAS chose, and Eigen's SIMD, as the example reports them.
  echo "gemm=$(sed -n 's/^CPU: .*; GEMM: //p' "$out/mnist_clr.default.1.log" | head -n 1)"
  # libtorch's GEMMs go through libblas.so.3, whichever library that is.
  echo "torch_blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || echo unknown)"
  for pkg in libeigen3-dev libopenblas0-pthread libbenchmark-dev python3-torch libtorch-dev; do
    echo "pkg_$pkg=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || echo none)"
  done
  echo "commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "date=$(date -u +%Y-%m-%d)"
  echo "reps=$reps"
  echo "runs=$runs"
  echo "threads=$threads"
} >"$out/machine.txt"

python3 bench/report.py "$out" >bench/RESULTS.md.new
mv bench/RESULTS.md.new bench/RESULTS.md
echo "bench/run.sh: wrote bench/RESULTS.md (raw results in $out)"
