#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# torch_mnist's command line and a training smoke test:
#   cli    bad flags, values and data files: exit status 2, a one-line
#          message naming the flag or file on stderr, nothing on stdout,
#          before any training starts; then two epochs on small generated
#          files (no MNIST needed): the Keras-style lines and `Test error:`;
#          a diverging rate: exit status 3 and one line naming the update
#   train  one epoch on the real MNIST files in $MNIST_DIR: a test error
#          below 5% (about 3% is usual)
#   all    both
# A part whose input is missing fails with CLR_TESTS_REQUIRE_ALL=1 and is
# otherwise skipped (exit 77), never passed.
#   usage: test_torch_mnist.sh path/to/torch_mnist [cli|train|all]
set -euo pipefail
usage="usage: test_torch_mnist.sh path/to/torch_mnist [cli|train|all]"
here=$(dirname "${BASH_SOURCE[0]}")
# test_setup, choose_part, want, fail, pass, missing_input, finish
# shellcheck source=../../common/testing.sh
source "$here/../../common/testing.sh"
choose_part "$usage" "${2:-all}" cli train
test_setup "${1:?$usage}" torch_mnist_test
# make_idx
# shellcheck source=../../mnist_clr/tests/idx_files.sh
source "$here/../../mnist_clr/tests/idx_files.sh"

# libgomp's threads spin while they wait; on a machine busy with other work
# that multiplies the time (bench/pytorch_mnist.py's note).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

run() {
  rc=0
  (cd "$tmp" && "$exe" "$@" >"$tmp/out" 2>"$tmp/err") || rc=$?
}

if want cli; then
  good=$tmp/good
  bad=$tmp/bad
  mkdir "$good" "$bad"
  make_idx "$good" 1000 200
  R=(--data "$good" --epochs 2 --batch 100 --threads 1)

  expect() {  # expect STATUS PATTERN ARGS...
    local want=$1 pattern=$2
    shift 2
    run "$@"
    if refused "torch_mnist $*" "$want" "$pattern"; then pass; fi
  }
  expect 2 "fetch_mnist.sh" --data "$bad/nowhere"
  expect 2 "train-images-idx3-ubyte" --data "$bad"
  expect 2 "--bogus" "${R[@]}" --bogus 1
  expect 2 "--optimizer" "${R[@]}" --optimizer rmsprop
  expect 2 "--epochs" "${R[@]}" --epochs 0
  expect 2 "--batch" "${R[@]}" --batch 0
  expect 2 "--momentum" "${R[@]}" --momentum 1.5
  expect 2 "--weight-decay" "${R[@]}" --weight-decay -1
  expect 2 "--weight-decay: torch_mnist takes a number" "${R[@]}" --weight-decay "cosine(lr=0.04, total_steps=100%)"
  expect 2 "--schedule: torch_mnist reports no metric to a plateau" "${R[@]}" --schedule "plateau(constant(lr=0.1))"
  expect 2 "--threads" "${R[@]}" --threads -1
  expect 2 "--lr" "${R[@]}" --schedule triangular --lr 0.1
  expect 2 "--step-size" "${R[@]}" --schedule triangular --step-size 0
  expect 2 "--max-lr" "${R[@]}" --schedule triangular --base-lr 0.01 --max-lr 0.001
  expect 2 "--schedule" "${R[@]}" --schedule nonesuch
  expect 2 "--lr" "${R[@]}" --lr nan
  expect 2 "--momentum" "${R[@]}" --momentum 1e400
  expect 2 "--seed" "${R[@]}" --seed -1
  expect 2 "--schedule: clr::parse_schedule" "${R[@]}" --schedule "cosine(lr=0.1, steps=10)"
  expect 2 "--max-lr: cannot be combined" "${R[@]}" --schedule "cosine(lr=0.1, total_steps=10)" --max-lr 0.2

  # Two short runs that train: the epoch lines and the final line, for a
  # cyclical rate with cycled momentum (SGD) and for one-cycle (AdamW).
  for args in "--optimizer sgd --schedule triangular --base-lr 0.001 --max-lr 0.01 --step-size 5 --base-momentum 0.8 --max-momentum 0.9" \
              "--optimizer adamw --schedule one_cycle --max-lr 0.01" \
              "--schedule step_decay --max-lr 0.01 --step-size 5" \
              "--schedule multistep(lr=0.01,milestones=[4,8],gamma=0.5)"; do
    # shellcheck disable=SC2086
    run "${R[@]}" $args
    if [[ $rc != 0 ]]; then
      fail "torch_mnist $args: exit $rc: $(cat "$tmp/err")"
    elif [[ $(grep -cE '^Epoch [12]/2 - [0-9.]+s - loss: [0-9.]+ - acc: [0-9.]+ - val_loss: [0-9.]+ - val_acc: [0-9.]+$' "$tmp/out") != 2 ]]; then
      fail "torch_mnist $args: not two Keras-style epoch lines: $(cat "$tmp/out")"
    elif ! grep -qE '^Test error: [0-9]+\.[0-9]{2}%$' "$tmp/out"; then
      fail "torch_mnist $args: no 'Test error:' line: $(cat "$tmp/out")"
    else
      pass
    fi
  done
  # A rate that diverges: the run stops at the first non-finite loss or
  # parameter with exit status 3 and one line naming the update and its rate
  # and asking for a lower rate, as mnist_clr does; no epoch line, no test
  # error; for Adam and for SGD.
  for args in "--lr 1e30" "--optimizer sgd --lr 1e30"; do
    # shellcheck disable=SC2086
    run "${R[@]}" $args
    err=$(cat "$tmp/err")
    if [[ $rc != 3 ]]; then
      fail "torch_mnist $args: exit $rc, expected 3 (stderr: $err)"
    elif [[ $err != "torch_mnist: training diverged at update "[0-9]*" (lr 1e+30): "*"; the rate is too high, try a lower one"* ||
      $(wc -l <"$tmp/err") -ne 1 ]]; then
      fail "torch_mnist $args: message '$err'"
    elif grep -qE '^(Epoch|Test error)' "$tmp/out"; then
      fail "torch_mnist $args: trained on after diverging: $(cat "$tmp/out")"
    else
      pass
    fi
  done
  run --help
  grep -q "3 training diverged" "$tmp/out" || fail "torch_mnist --help does not document exit status 3"
  pass
  # The run header gives the schedule's text form (PyTorch's gamma 0.1 left out).
  run "${R[@]}" --schedule step_decay --max-lr 0.01 --step-size 5
  grep -qF "adam, step_decay(lr=0.01, step_size=5), batch" "$tmp/out" ||
    fail "torch_mnist --schedule step_decay: the header does not give the text form: $(cat "$tmp/out")"
  pass
fi

if want train; then
  dir=${MNIST_DIR:-}
  if [[ -z $dir || ! -e $dir/train-images-idx3-ubyte && ! -e $dir/train-images-idx3-ubyte.gz ]]; then
    missing_input "the MNIST files" "MNIST_DIR='$dir'; run scripts/fetch_mnist.sh, or configure with -DCLR_MNIST_DIR=DIR"
  else
    run --data "$dir" --epochs 1 --threads 2 --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 150
    error=$(sed -n 's/^Test error: \([0-9.]*\)%$/\1/p' "$tmp/out")
    if [[ $rc != 0 || -z $error ]]; then
      fail "one epoch on MNIST: exit $rc, output: $(cat "$tmp/out") $(cat "$tmp/err")"
    elif ! awk -v e="$error" 'BEGIN { exit !(e > 0 && e < 5) }'; then
      fail "one epoch on MNIST: test error $error%, expected below 5%"
    else
      echo "one epoch on MNIST: test error $error%"
      pass
    fi
  fi
fi

finish test_torch_mnist.sh
