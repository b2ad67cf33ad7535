#!/usr/bin/env bash
# Compiles every target (library checks, tests, examples, benchmarks, fuzz
# replays) for CPUs other than this one, with warnings as errors: users build
# on machines with AVX-512 and on machines with no AVX at all, and a compiler
# warns differently for each (GCC 12 inside its AVX-512 intrinsics, for one).
# Where this CPU can run the code, the tests run too (all but the slow,
# packaging and benchmark ones); elsewhere compiling is the check.
#   scripts/portability.sh [ARCH...]   (default: x86-64-v4 x86-64-v2)
#   JOBS   parallel compile jobs (default: 2)
# Build trees: build-arch-<ARCH>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

jobs=${JOBS:-2}
archs=("$@")
((${#archs[@]})) || archs=(x86-64-v4 x86-64-v2)

scripts/setup.sh

# The CPU flags each x86-64 level needs, as the psABI defines the levels.
can_run() {
  local need
  case $1 in
    x86-64-v2) need="cx16 lahf_lm popcnt sse4_1 sse4_2 ssse3" ;;
    x86-64-v3) need="avx avx2 bmi1 bmi2 f16c fma movbe xsave" ;;
    x86-64-v4) need="avx512f avx512bw avx512cd avx512dq avx512vl" ;;
    *) return 1 ;;
  esac
  local flags
  flags=" $(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
  for f in $need; do
    [[ $flags == *" $f "* ]] || return 1
  done
  # Each level includes the one below it.
  case $1 in
    x86-64-v3) can_run x86-64-v2 ;;
    x86-64-v4) can_run x86-64-v3 ;;
  esac
}

for arch in "${archs[@]}"; do
  dir=build-arch-$arch
  start=$SECONDS
  echo "portability.sh: $arch: compiling everything with -march=$arch -Werror in $dir"
  # CMAKE_CXX_FLAGS carries the target CPU to the library's tests and the fuzz
  # replays; CLR_MARCH replaces the examples' and benchmarks' -march=native.
  # libtorch is left out: its code is Debian's one generic build whatever
  # -march says, and <clr/torch.hpp> has nothing that depends on the CPU; the
  # Release and sanitizer stages compile and run the adapter (g++ and clang++).
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_FLAGS="-march=$arch" -DCLR_MARCH="$arch" -DCLR_WERROR=ON \
    -DCMAKE_DISABLE_FIND_PACKAGE_Torch=ON \
    -DCLR_BUILD_TESTS=ON -DCLR_BUILD_EXAMPLES=ON -DCLR_BUILD_BENCHMARKS=ON >/dev/null
  cmake --build "$dir" -j "$jobs"
  if can_run "$arch"; then
    # Not the packaging and README checks (their child builds do not carry
    # the target CPU), the benchmarks' smoke runs or the slow training cases.
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" -LE 'slow|package|docs|bench'
  else
    echo "portability.sh: $arch: this CPU cannot run it; compiled only"
  fi
  echo "portability.sh: $arch: done in $((SECONDS - start)) s"
done
