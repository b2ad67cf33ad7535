#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script). Each stage
# installs what it needs through scripts/setup.sh; the first failure stops the
# run with its exit code. Warnings are errors in every build here
# (CLR_WERROR), and a test whose inputs are missing fails rather than skips
# (CLR_TESTS_REQUIRE_ALL); neither is the default of a user's own build.
#   1. Release build of everything with g++ -march=native (library checks,
#      tests, examples, benchmarks; the libtorch adapter's tests and
#      examples/torch_mnist included) and the ctest suite
#   2. the same suite with no MNIST files, where the tests that need them
#      must report themselves skipped
#   3. every target compiled for other CPUs: -march=x86-64-v4 (AVX-512) and
#      -march=x86-64-v2 (no AVX), unit tests run where this CPU can
#      (portability.sh); libtorch left out
#   4. the suite again, built by clang++ in Debug under AddressSanitizer and
#      UBSan (sanitize.sh), the libtorch adapter's tests included
#   5. 30 seconds of libFuzzer per target (fuzz.sh)
#   6. clang-tidy and cppcheck (lint.sh)
#   QUICK      1 to run only the first stage (default 0)
#   BUILD_DIR  Release build tree, relative to the repository root (default: build)
#   JOBS       parallel compile and test jobs (default: 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}
quick=${QUICK:-0}
ci_switches=(-DCLR_WERROR=ON -DCLR_TESTS_REQUIRE_ALL=ON)

stage() {
  local name=$1
  shift
  local start=$SECONDS
  echo "::: $name"
  "$@"
  echo "::: $name passed in $((SECONDS - start)) s"
}

release_suite() {
  scripts/setup.sh
  scripts/configure.sh "$build_dir" "${ci_switches[@]}"
  cmake --build "$build_dir" -j "$jobs"
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
}

stage "tests (Release)" release_suite
[[ $quick == 1 ]] && exit 0
stage "tests without the MNIST files" scripts/test_data_free.sh "$build_dir"
stage "compiling for x86-64-v4 and x86-64-v2" env JOBS="$jobs" scripts/portability.sh
stage "tests built by clang++, under ASan and UBSan (Debug)" \
  env BUILD_DIR= JOBS="$jobs" CXX=clang++ CMAKE_EXTRA_ARGS="${ci_switches[*]}" scripts/sanitize.sh
stage "fuzzing, 30 s per target" scripts/fuzz.sh 30
stage "clang-tidy and cppcheck" env BUILD_DIR= JOBS="$jobs" scripts/lint.sh
