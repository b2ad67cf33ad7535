# shellcheck shell=bash
# Shared by the examples' bash tests: the program under test and a scratch
# directory, the choice of parts, counting checks, and what to do when an
# input a check needs (gnuplot, /dev/full, ...) is missing. Source it, call
# test_setup, then end the script with `finish NAME`.
#
# A missing input is never a silent pass. With CLR_TESTS_REQUIRE_ALL=1 (ctest
# sets it from the CMake option of that name) it is a failure; otherwise the
# script runs every check it can and, if none failed, exits 77, which ctest
# reports as Skipped (SKIP_RETURN_CODE), after saying what to install. A
# failure always wins over a skip: exit 1.

failures=0
checks=0
skipped=()

# test_setup EXE SCRATCH: exe becomes EXE's absolute path (the checks run
# from other directories), and the script fails at once unless it is an
# executable; tmp becomes a fresh directory SCRATCH.XXXXXX under $TMPDIR,
# removed when the script exits.
test_setup() {
  exe=$(realpath -ms -- "$1")
  [[ -x $exe ]] || { echo "FAIL: $exe is not an executable" >&2; exit 1; }
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
}

# choose_part USAGE PART NAME...: part becomes PART if it is one of the
# NAMEs or `all`; otherwise USAGE goes to stderr and the script exits 2.
# `want NAME` then says whether NAME's checks run.
choose_part() {
  local usage=$1 chosen=$2 name
  shift 2
  for name in "$@" all; do
    if [[ $chosen == "$name" ]]; then
      part=$chosen
      return
    fi
  done
  echo "$usage" >&2
  exit 2
}
want() { [[ $part == all || $part == "$1" ]]; }

# refused SHOWN STATUS PATTERN: the last run (its exit status in rc, its
# output in $tmp/out and $tmp/err) exited with STATUS, printed nothing on
# stdout and one line on stderr that names PATTERN. Reports the first thing
# that differs as a failure of SHOWN, and returns 1 then.
refused() {
  local shown=$1 want=$2 pattern=$3 status=${rc:?refused: no run recorded in rc} err
  err=$(cat "$tmp/err")
  if [[ $status != "$want" ]]; then
    fail "$shown: exit $status, expected $want (stderr: $err)"
  elif ! grep -qF -- "$pattern" "$tmp/err"; then
    fail "$shown: message does not name $pattern: '$err'"
  elif [[ $(wc -l <"$tmp/err") -ne 1 ]]; then
    fail "$shown: message is not one line: '$err'"
  elif [[ -s $tmp/out ]]; then
    fail "$shown: wrote to stdout: $(cat "$tmp/out")"
  else
    return 0
  fi
  return 1
}

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
