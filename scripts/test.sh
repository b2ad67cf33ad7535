#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls this script). Each stage
# installs what it needs through scripts/setup.sh; the first failure stops the
# run with its exit code.
#   1. Release build of everything (library checks, tests, examples,
#      benchmarks) and the ctest suite
#   2. the suite again in Debug under AddressSanitizer and UBSan (sanitize.sh)
#   3. 30 seconds of libFuzzer per target (fuzz.sh)
#   4. clang-tidy and cppcheck (lint.sh)
#   QUICK      1 to run only the first stage (default 0)
#   BUILD_DIR  Release build tree, relative to the repository root (default: build)
#   JOBS       parallel compile and test jobs (default: 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir=${BUILD_DIR:-build}
jobs=${JOBS:-2}
quick=${QUICK:-0}

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
  scripts/configure.sh "$build_dir"
  cmake --build "$build_dir" -j "$jobs"
  ctest --test-dir "$build_dir" --output-on-failure -j "$jobs"
}

stage "tests (Release)" release_suite
[[ $quick == 1 ]] && exit 0
stage "tests under ASan and UBSan (Debug)" env BUILD_DIR= JOBS="$jobs" scripts/sanitize.sh
stage "fuzzing, 30 s per target" scripts/fuzz.sh 30
stage "clang-tidy and cppcheck" env BUILD_DIR= JOBS="$jobs" scripts/lint.sh
