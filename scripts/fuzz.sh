#!/usr/bin/env bash
# Fuzzes the schedules and the MNIST example's IDX reader with libFuzzer under
# AddressSanitizer and UndefinedBehaviorSanitizer.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
#
# Installs clang and its sanitizer runtimes when missing, builds the targets
# into build-fuzz/, and runs each (both at once, one core each) on its working
# corpus build-fuzz/corpus/<target>, which starts as a copy of the seeds and
# past crashes in fuzz/ and keeps growing across runs; the repository itself is
# never written. Exits non-zero if any target crashed, leaked, hung or ran out
# of memory, printing the input that did it (left in build-fuzz/artifacts/).
# To keep a crash as a regression: copy it to fuzz/regressions/<target>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds=${1:-30}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET]  (a whole number of seconds, at least 1)" >&2
  exit 2
fi

targets=(schedules idx)
out=build-fuzz
cxx=${FUZZ_CXX:-clang++}

# ---- tools: clang, libFuzzer and the sanitizer runtimes, zlib ----------------

# A trivial fuzzer links only when clang and libFuzzer's runtime are both there.
fuzzer_links() {
  command -v "$cxx" >/dev/null 2>&1 || return 1
  local probe
  probe=$(mktemp -d)
  printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
    'extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }' \
    >"$probe/probe.cpp"
  local ok=0
  "$cxx" -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" >/dev/null 2>&1 || ok=1
  rm -rf "$probe"
  return $ok
}

# setup.sh installs what the project needs (zlib among it) and clang with its
# runtimes, each only where missing.
scripts/setup.sh clang libclang-rt-dev
if ! fuzzer_links; then
  echo "fuzz.sh: $cxx cannot link a libFuzzer target (-fsanitize=fuzzer,address,undefined)" >&2
  exit 1
fi

# ---- build ------------------------------------------------------------------------

mkdir -p "$out"
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer
  "-fsanitize=fuzzer,address,undefined" -fno-sanitize-recover=all
  -Wall -Wextra -Wpedantic -Iinclude)
echo "fuzz.sh: building with $("$cxx" --version | head -n 1)"
"$cxx" "${flags[@]}" fuzz/fuzz_schedules.cpp -o "$out/fuzz_schedules" &
build_schedules=$!
"$cxx" "${flags[@]}" -Iexamples/mnist_clr fuzz/fuzz_idx.cpp -lz -o "$out/fuzz_idx"
wait "$build_schedules"
# The schedules' own words, from the library's descriptions, after the grammar's.
"$cxx" -std=c++17 -O1 -Iinclude fuzz/schedule_words.cpp -o "$out/schedule_words"
cat fuzz/schedules.dict >"$out/schedules.dict"
"./$out/schedule_words" >>"$out/schedules.dict"

# ---- fuzz -------------------------------------------------------------------------

pids=()
for t in "${targets[@]}"; do
  corpus=$out/corpus/$t
  artifacts=$out/artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  # Seeds and past crashes join the working corpus (dot files are placeholders).
  for src in "fuzz/corpus/$t" "fuzz/regressions/$t"; do
    if [[ -d $src ]]; then
      find "$src" -maxdepth 1 -type f ! -name '.*' -exec cp -f {} "$corpus/" \;
    fi
  done
  rm -f "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*
  # A target's dictionary ($out/<target>.dict, else fuzz/<target>.dict),
  # when it has one, gives the mutator the words of its input.
  dict=()
  if [[ -f $out/$t.dict ]]; then
    dict=(-dict="$out/$t.dict")
  elif [[ -f fuzz/$t.dict ]]; then
    dict=(-dict="fuzz/$t.dict")
  fi
  "./$out/fuzz_$t" "$corpus" "${dict[@]}" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" \
    >"$out/$t.log" 2>&1 &
  pids+=($!)
done

status=0
for i in "${!targets[@]}"; do
  t=${targets[$i]}
  rc=0
  wait "${pids[$i]}" || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$t.log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$t.log" | tail -n 1)
  files=$(find "$out/corpus/$t" -maxdepth 1 -type f | wc -l)
  bytes=$(find "$out/corpus/$t" -maxdepth 1 -type f -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }')
  echo "fuzz.sh: $t: ${runs:-?} executions (${rate:-?}/s), corpus $files files, $bytes bytes"
  found=$(find "$out/artifacts/$t" -maxdepth 1 -type f \
    \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | sort)
  if ((rc != 0)) || [[ -n $found ]]; then
    status=1
    echo "fuzz.sh: $t FAILED (exit code $rc); log: $out/$t.log" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z]+:|.*runtime error:)' "$out/$t.log" | head -n 20 >&2 || true
    for f in $found; do
      echo "fuzz.sh: $t: failing input: $f" >&2
    done
  fi
done
exit $status
