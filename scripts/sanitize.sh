#!/usr/bin/env bash
# Builds the tests and examples in Debug with AddressSanitizer (leak checking
# included) and UndefinedBehaviorSanitizer, and runs the ctest suite; the first
# sanitizer report aborts its test. Exits with ctest's code.
#   BUILD_DIR        build tree, relative to the repository root (default: build-asan)
#   JOBS             parallel compile and test jobs (default: 2)
#   BENCHMARKS       OFF to leave out the benchmarks (default: ON; one cheap smoke run)
#   EXCLUDE_LABELS   ctest -LE regex of tests to skip (default: slow|mpi; empty runs
#                    all). The mpirun tests are left out: Open MPI's own start-up
#                    allocations outlive MPI_Finalize, and LeakSanitizer fails
#                    every rank on them; the same training code runs here under
#                    a team of threads (test_data_parallel.cpp)
#   CXX              the compiler (default: g++)
#   CMAKE_EXTRA_ARGS extra arguments for the configure step (word-split)
#   CTEST_EXTRA_ARGS extra arguments for ctest, e.g. "-R sgd" (word-split)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build-asan}
jobs=${JOBS:-2}
benchmarks=${BENCHMARKS:-ON}
exclude_labels=${EXCLUDE_LABELS-slow|mpi}
read -r -a extra_args <<<"${CMAKE_EXTRA_ARGS:-}"
read -r -a ctest_extra_args <<<"${CTEST_EXTRA_ARGS:-}"

cxx=${CXX:-g++}
# clang needs its sanitizer runtimes and its own OpenMP runtime besides.
case $(basename "$cxx") in
  clang++*) scripts/setup.sh clang libclang-rt-dev libomp-dev ;;
  *) scripts/setup.sh ;;
esac

# cmake/clrSanitize.cmake writes this on every configure that applies the flags.
marker=$build_dir/clr-sanitize-flags.txt
rm -f "$marker"

# g++ unless CXX names another compiler (scripts/test.sh uses clang++, so
# that the suite is compiled and run by both compilers).
# Plain Debug (-O0, assertions on): -O1 would speed up the Eigen-heavy tests,
# but it makes each instrumented file two to four times slower to compile,
# and compiling is most of this run. Tests too slow for -O0 carry the label
# `slow` and are skipped here by default.
cmake -S . -B "$build_dir" \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_BUILD_TYPE=Debug \
  -DCLR_SANITIZE=ON \
  -DCLR_BUILD_TESTS=ON -DCLR_BUILD_EXAMPLES=ON -DCLR_BUILD_BENCHMARKS="$benchmarks" \
  ${extra_args[@]+"${extra_args[@]}"}

# A CMakeLists.txt that does not include(clrSanitize) ignores CLR_SANITIZE and
# builds without the sanitizers: stop there rather than report a clean run
# that checked nothing.
if [[ ! -f $marker ]]; then
  echo "sanitize.sh: CLR_SANITIZE was not taken up: the top-level CMakeLists.txt" \
       "must include(clrSanitize) (cmake/clrSanitize.cmake)" >&2
  exit 1
fi

cmake --build "$build_dir" -j "$jobs"

# detect_leaks is the default on x86_64 Linux but not everywhere; abort_on_error
# and halt_on_error make every report a failing exit that ctest records.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

ctest_args=(--test-dir "$build_dir" --output-on-failure -j "$jobs")
if [[ -n $exclude_labels ]]; then
  ctest_args+=(-LE "$exclude_labels")
fi
exec ctest "${ctest_args[@]}" ${ctest_extra_args[@]+"${ctest_extra_args[@]}"}
