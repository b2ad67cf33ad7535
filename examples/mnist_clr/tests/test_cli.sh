#!/usr/bin/env bash
# mnist_clr's command-line contract for bad input: exit status 2 and a one-line
# message naming the flag or file, before any training starts.
set -euo pipefail
exe=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

expect() {  # expect STATUS PATTERN ARGS...
  local want=$1 pattern=$2; shift 2
  local status=0
  "$exe" "$@" >"$tmp/out" 2>"$tmp/err" || status=$?
  if [[ $status != "$want" ]] || ! grep -q -- "$pattern" "$tmp/err"; then
    echo "FAIL: mnist_clr $* -> status $status (want $want), stderr: $(cat "$tmp/err")"
    failures=$((failures + 1))
  fi
}

expect 2 "fetch_mnist.sh" --data "$tmp/nowhere"
expect 2 "train-images-idx3-ubyte" --data "$tmp"
printf 'not an idx file at all' >"$tmp/train-images-idx3-ubyte"
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do cp "$tmp/train-images-idx3-ubyte" "$tmp/$f"; done
expect 2 "magic" --data "$tmp"
expect 2 "\-\-optimizer" --optimizer rmsprop --data "$tmp"
expect 2 "\-\-epochs" --epochs 0 --data "$tmp"
expect 2 "\-\-batch" --batch 0 --data "$tmp"
expect 2 "\-\-momentum" --momentum 1.5 --data "$tmp"
expect 2 "\-\-lr" --schedule triangular --lr 0.1 --data "$tmp"
expect 2 "\-\-step-size" --schedule triangular --step-size 0 --data "$tmp"
expect 2 "\-\-max-lr" --schedule triangular --base-lr 0.01 --max-lr 0.001 --data "$tmp"
expect 2 "\-\-auto-range" --auto-range --data "$tmp"
expect 2 "\-\-auto-range" --schedule triangular --auto-range --base-lr 0.001 --data "$tmp"
expect 2 "\-\-range-min" --range-test --range-min 0 --data "$tmp"
expect 2 "\-\-plot" --plot "$tmp/x.jpg" --data "$tmp"
expect 2 "\-\-compare" --compare --log "$tmp/log.csv" --data "$tmp"
expect 2 "\-\-threads" --threads -1 --data "$tmp"

if ((failures)); then
  echo "test_cli: $failures failed"
  exit 1
fi
echo "test_cli: all checks passed"
