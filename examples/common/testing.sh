# shellcheck shell=bash
# Shared by the examples' bash tests: counting checks, and what to do when an
# input a check needs (gnuplot, /dev/full, ...) is missing. Source it, then
# end the script with `finish NAME`.
#
# A missing input is never a silent pass. With CLR_TESTS_REQUIRE_ALL=1 (ctest
# sets it from the CMake option of that name) it is a failure; otherwise the
# script runs every check it can and, if none failed, exits 77, which ctest
# reports as Skipped (SKIP_RETURN_CODE), after saying what to install. A
# failure always wins over a skip: exit 1.

failures=0
checks=0
skipped=()

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
pass() { checks=$((checks + 1)); }

# missing_input WHAT HINT: the checks that need WHAT cannot run.
missing_input() {
  if [[ ${CLR_TESTS_REQUIRE_ALL:-0} == 1 ]]; then
    fail "$1 is missing ($2), and CLR_TESTS_REQUIRE_ALL is on"
  else
    echo "note: $1 is missing; its checks are skipped ($2)" >&2
    skipped+=("$1 ($2)")
  fi
}

finish() {
  local name=$1
  if ((failures)); then
    echo "$name: $failures check(s) FAILED ($checks passed)" >&2
    exit 1
  fi
  if ((${#skipped[@]})); then
    echo "$name: SKIPPED (missing input): ${skipped[*]}; $checks other checks passed" >&2
    exit 77
  fi
  echo "$name: all $checks checks passed"
}
