#!/usr/bin/env bash
# Runs the examples' tests of a built tree as a user without the MNIST files
# would: CLR_MNIST_DIR points at an empty directory and missing inputs may
# skip. Every test must pass or report itself skipped, and the cases that read
# MNIST must be among the skipped ones: a case that passes there ran on data
# it did not ask for. The tree's own two settings are put back afterwards,
# whatever happens; only ctest's files are rewritten, nothing is recompiled.
#   scripts/test_data_free.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if (($# != 1)) || [[ ! -f $1/CMakeCache.txt ]]; then
  echo "usage: scripts/test_data_free.sh BUILD_DIR  (a configured and built tree)" >&2
  exit 2
fi
build_dir=$1

cached() { sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt"; }
mnist_dir=$(cached CLR_MNIST_DIR)
require_all=$(cached CLR_TESTS_REQUIRE_ALL)
if [[ -z $mnist_dir ]]; then
  echo "test_data_free.sh: $build_dir has no CLR_MNIST_DIR: configure it with the examples on" >&2
  exit 2
fi

empty=$(mktemp -d)
log=$(mktemp)
restore() {
  cmake -S . -B "$build_dir" -DCLR_MNIST_DIR="$mnist_dir" -DCLR_TESTS_REQUIRE_ALL="${require_all:-OFF}" >/dev/null
  rm -rf "$empty" "$log"
}
trap restore EXIT

cmake -S . -B "$build_dir" -DCLR_MNIST_DIR="$empty" -DCLR_TESTS_REQUIRE_ALL=OFF >/dev/null
ctest --test-dir "$build_dir" --output-on-failure -j "${JOBS:-2}" -L 'example|slow' | tee "$log"

# Every case tagged [mnist] reads the real files; each must have skipped.
tests_exe=$build_dir/examples/mnist_clr/mnist_clr_tests
mapfile -t needs_data < <("$tests_exe" --list-test-names-only "[mnist]" | sed '/^$/d')
if ((${#needs_data[@]} == 0)); then
  echo "test_data_free.sh: $tests_exe lists no case tagged [mnist]" >&2
  exit 1
fi
for name in "${needs_data[@]}"; do
  # ctest shows the case as "mnist:<name> ....": the prefix's blank is lost.
  if ! grep -F ":$name " "$log" | grep -q '\*\*\*Skipped'; then
    echo "test_data_free.sh: '$name' needs the MNIST files but did not report itself skipped" >&2
    exit 1
  fi
done
# torch_mnist's training case, where libtorch was found and it is built.
if [[ -x $build_dir/examples/torch_mnist/torch_mnist ]]; then
  if ! grep -F "torch_mnist.train " "$log" | grep -q '\*\*\*Skipped'; then
    echo "test_data_free.sh: 'torch_mnist.train' needs the MNIST files but did not report itself skipped" >&2
    exit 1
  fi
  needs_data+=(torch_mnist.train)
fi
echo "test_data_free.sh: the ${#needs_data[@]} cases that read MNIST skipped; everything else passed"
