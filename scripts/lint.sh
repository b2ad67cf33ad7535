#!/usr/bin/env bash
# Static analysis of the project's own code; exits non-zero on any finding.
#   clang-tidy  checks in .clang-tidy, over every translation unit of
#               examples/, bench/ and fuzz/ (and through them every header in
#               include/clr/), with the compile commands of a Debug configure
#               in $BUILD_DIR; TIDY_TESTS=1 adds tests/, which only uses the
#               library and takes as long again; TIDY_TORCH=1 adds the units
#               that include libtorch (examples/torch_mnist, and tests/torch
#               with TIDY_TESTS=1), four to five minutes each on two cores,
#               all but a second of it spent in libtorch's own headers
#   clang-format  every tracked .hpp and .cpp against .clang-format
#               (scripts/format.sh rewrites them)
#   cppcheck    over include/, examples/, tests/, bench/ and fuzz/; third-party
#               suppressions in .cppcheck-suppressions, Catch2 macros in
#               cmake/cppcheck.cfg
#   BUILD_DIR   configure-only tree for compile_commands.json (default: build-lint)
#   JOBS        parallel clang-tidy and cppcheck jobs (default: 2)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

build_dir=${BUILD_DIR:-build-lint}
jobs=${JOBS:-2}

# The build's own packages (Eigen, Catch2, CLI11, benchmark), then the two tools.
scripts/setup.sh
missing=()
command -v clang-tidy-14 >/dev/null 2>&1 || missing+=(clang-tidy-14)
command -v clang-format-14 >/dev/null 2>&1 || missing+=(clang-format-14)
command -v cppcheck >/dev/null 2>&1 || missing+=(cppcheck)
if ((${#missing[@]})); then
  sudo=()
  ((EUID == 0)) || sudo=(sudo)
  echo "lint.sh: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -q
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Configure only: clang-tidy needs the compile commands, not the objects.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
  -DCLR_BUILD_TESTS=ON -DCLR_BUILD_EXAMPLES=ON -DCLR_BUILD_BENCHMARKS=ON >/dev/null

status=0

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== clang-tidy"
# Our translation units from the compile commands. The tests/main.cpp files are
# left out: they hold only Catch2's runner, the slowest thing there is to parse.
mapfile -t tidy_files < <(python3 - "$build_dir/compile_commands.json" "$root" "${TIDY_TESTS:-0}" "${TIDY_TORCH:-0}" <<'PY'
import json, os, re, sys
commands, root = sys.argv[1], sys.argv[2]
with_tests, with_torch = sys.argv[3] == "1", sys.argv[4] == "1"
dirs = r"examples/.+|bench/[^/]+|fuzz/[^/]+" + (r"|tests/[^/]+|tests/torch/[^/]+" if with_tests else "")
ours = re.compile(re.escape(root) + r"/(" + dirs + r")\.cpp$")
torch = re.compile(re.escape(root) + r"/(examples/torch_mnist|tests/torch)/")
files = {os.path.normpath(os.path.join(e["directory"], e["file"])) for e in json.load(open(commands))}
for f in sorted(files):
    runner = f.endswith(("/tests/main.cpp", "/tests/torch/main.cpp"))
    if ours.match(f) and not runner and (with_torch or not torch.match(f)):
        print(f)
PY
)
if ((${#tidy_files[@]} == 0)); then
  echo "lint.sh: no translation units of ours in $build_dir/compile_commands.json" >&2
  exit 1
fi
# GCC 12 defaults to C++17, so CMake writes no -std flag into the compile
# commands; clang defaults to C++14 and needs telling. Each file's report goes
# to its own log, printed in order once all are done, so that parallel runs do
# not interleave.
export build_dir tmp
printf '%s\n' "${tidy_files[@]}" | xargs -d '\n' -P "$jobs" -I{} bash -c '
  log="$tmp/tidy.$(printf %s "$1" | tr / _).log"
  clang-tidy-14 -p "$build_dir" --quiet --extra-arg=-std=c++17 "$1" >"$log" 2>&1 \
    || touch "$log.failed"' _ {} || true
for f in "${tidy_files[@]}"; do
  log="$tmp/tidy.$(printf %s "$f" | tr / _).log"
  if [[ -e $log.failed ]]; then
    status=1
    echo "-- ${f#"$root"/}"
    grep -v -E '^[0-9]+ (warning|error)s? generated\.$' "$log" || true
  fi
done
echo "clang-tidy: ${#tidy_files[@]} translation units"

echo "== clang-format"
mapfile -t format_files < <(git ls-files '*.hpp' '*.cpp')
if ! clang-format-14 --dry-run --Werror "${format_files[@]}" 2>"$tmp/format.log"; then
  status=1
  grep -E '^[^ ].*: (error|warning):' "$tmp/format.log" | cut -d: -f1 | sort -u | sed 's/^/-- not formatted: /'
  echo "clang-format: run scripts/format.sh"
fi
echo "clang-format: ${#format_files[@]} files"

echo "== cppcheck"
# Headers are named one by one: cppcheck only picks .cpp files out of a
# directory, and a header no .cpp includes would go unchecked.
# Each example directory is an include path too, as its CMakeLists makes it
# for its tests/ (#include "idx.hpp" from examples/mnist_clr/tests/).
cppcheck_dirs=()
for dir in include examples tests bench fuzz; do
  [[ -d $dir ]] && cppcheck_dirs+=("$dir")
done
mapfile -t cppcheck_files < <(find "${cppcheck_dirs[@]}" \( -name '*.hpp' -o -name '*.cpp' \) | sort)
cppcheck_includes=(-I include)
for dir in examples/*/; do
  cppcheck_includes+=(-I "${dir%/}")
done
cppcheck --enable=warning,performance,portability --std=c++17 --language=c++ \
    --inline-suppr --error-exitcode=1 --quiet -j "$jobs" \
    --library=cmake/cppcheck.cfg --suppressions-list=.cppcheck-suppressions \
    "${cppcheck_includes[@]}" "${cppcheck_files[@]}" || status=1

if ((status)); then
  echo "lint.sh: findings above" >&2
else
  echo "lint.sh: clean"
fi
exit "$status"
