#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# "The same --seed and --threads give the same numbers", across processes:
# mnist_clr is run twice, in two processes, with the same flags, and the two
# --log files (no timing in them) must be equal byte for byte, as must the
# lines it prints once their timings are taken out. A different seed must
# change the log, or the comparison would prove nothing. The data is a small
# IDX set written here (no MNIST needed): a few hundred updates, seconds in all.
# A run saved after its first epoch and resumed in a new process must write
# the second half of the same log: from a file it reads once (a FIFO that
# hands a later checkpoint to a second reader), from the file it saves into,
# and from a checkpoint of version 1.
#   usage: test_reproducible.sh path/to/mnist_clr
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
# test_setup, fail, pass, finish
# shellcheck source=../../common/testing.sh
source "$here/../../common/testing.sh"
test_setup "${1:?usage: test_reproducible.sh path/to/mnist_clr}" mnist_clr_repro
# shellcheck source=idx_files.sh
source "$here/idx_files.sh"

# 1000 training images in batches of 64: 16 updates an epoch, the last one
# partial.
make_idx "$tmp" 1000 200
updates=32

# run NAME ARGS...: one process; its log in $tmp/NAME.csv, what it printed,
# minus the timings, in $tmp/NAME.out.
run() {
  local name=$1
  shift
  local rc=0
  # A run is a second or two, up to ten under the sanitizers on a busy
  # machine: one that waits (on a FIFO) fails, not the whole test.
  timeout 120 "$exe" --data "$tmp" --epochs 2 --batch 64 "$@" --log "$tmp/$name.csv" >"$tmp/$name.raw" 2>"$tmp/$name.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "$name: mnist_clr $* exited $rc: $(cat "$tmp/$name.err")"
  # "Epoch 1/2 - 0.1s - loss: ..." and "Train time: ..." carry timings.
  sed -E -e 's/^(Epoch [0-9]+\/[0-9]+) - [0-9.]+s - /\1 - /' -e '/^Train time: /d' "$tmp/$name.raw" >"$tmp/$name.out"
}

# same A B WHAT: the two runs agree.
same() {
  local a=$1 b=$2 what=$3
  if ! cmp -s "$tmp/$a.csv" "$tmp/$b.csv"; then
    fail "$what: the logs of two runs differ: $(diff "$tmp/$a.csv" "$tmp/$b.csv" | head -n 5)"
  elif ! cmp -s "$tmp/$a.out" "$tmp/$b.out"; then
    fail "$what: the printed results differ: $(diff "$tmp/$a.out" "$tmp/$b.out" | head -n 5)"
  elif [[ $(grep -c '^update,' "$tmp/$a.csv") -ne $updates || $(grep -c '^epoch,' "$tmp/$a.csv") -ne 2 ]]; then
    fail "$what: the log does not have $updates updates and 2 epochs: $(wc -l <"$tmp/$a.csv") lines"
  elif ! grep -q '^Test error: ' "$tmp/$a.out"; then
    fail "$what: no test error printed: $(cat "$tmp/$a.out")"
  else
    pass
  fi
}

adam=(--seed 5 --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 8)
for threads in 2 1; do
  run "adam.t$threads.a" "${adam[@]}" --threads "$threads"
  run "adam.t$threads.b" "${adam[@]}" --threads "$threads"
  same "adam.t$threads.a" "adam.t$threads.b" "adam, triangular, --seed 5 --threads $threads"
done

# SGD with momentum cycled by one-cycle: the momentum column too.
sgd=(--seed 9 --optimizer sgd --schedule one_cycle --max-lr 0.05 --base-momentum 0.85 --max-momentum 0.95 --threads 2)
run sgd.a "${sgd[@]}"
run sgd.b "${sgd[@]}"
same sgd.a sgd.b "sgd, one_cycle with momentum, --seed 9 --threads 2"
awk -F, '$1 == "update" && $5 == "" { bad = 1 } END { exit bad }' "$tmp/sgd.a.csv" ||
  fail "sgd, one_cycle with momentum: an update row has no momentum"

# Another seed gives another run: the comparisons above can fail.
run adam.seed6 --seed 6 --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 8 --threads 2
if cmp -s "$tmp/adam.t2.a.csv" "$tmp/adam.seed6.csv"; then
  fail "--seed 5 and --seed 6 wrote the same log"
else
  pass
fi

# --save and --resume: a run stopped after epoch 1 and resumed in a new
# process continues as the run that never stopped. The run saves every
# epoch's checkpoint under its own name ({epoch}); the resumed log holds the
# header, the schedule and epoch 2: the whole run's rows, to the bit.
resumed() {
  local name=$1 whole=$2
  shift 2
  local rc=0
  "$exe" --data "$tmp" --epochs 2 --batch 64 "$@" --save "$tmp/$name.{epoch}.ckpt" >/dev/null 2>"$tmp/$name.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "$name: mnist_clr $* --save exited $rc: $(cat "$tmp/$name.err")"
  [[ -s $tmp/$name.1.ckpt && -s $tmp/$name.2.ckpt ]] || fail "$name: --save did not write one file an epoch"
  run "$name" "$@" --resume "$tmp/$name.1.ckpt"
  continues "$name" "$whole"
}
# continues NAME WHOLE: the run logged in $tmp/NAME, resumed after epoch 1,
# wrote the second half of WHOLE's log and printed its results.
continues() {
  local name=$1 whole=$2
  { head -n 2 "$tmp/$whole.csv" && tail -n $((updates / 2 + 1)) "$tmp/$whole.csv"; } >"$tmp/$name.want"
  if ! cmp -s "$tmp/$name.want" "$tmp/$name.csv"; then
    fail "$name: the resumed log is not the whole run's: $(diff "$tmp/$name.want" "$tmp/$name.csv" | head -n 40 | grep "^>" | head -n 2 | tr "\n" " ")"
  elif ! diff -q <(grep -E '^(Epoch 2/2|Test error)' "$tmp/$whole.out") \
    <(grep -E '^(Epoch 2/2|Test error)' "$tmp/$name.out") >/dev/null; then
    fail "$name: the resumed run prints other results: $(grep -E '^(Epoch|Test)' "$tmp/$name.out")"
  elif ! grep -q '^Resuming after epoch 1 from ' "$tmp/$name.out"; then
    fail "$name: does not say it resumed: $(cat "$tmp/$name.out")"
  else
    pass
  fi
}
resumed adam.resumed adam.t2.a "${adam[@]}" --threads 2
resumed sgd.resumed sgd.a "${sgd[@]}"

# A checkpoint another job keeps rewriting: the run reads --resume once and
# resumes from those bytes. The FIFO hands epoch 1's checkpoint to its first
# reader; one that hangs up before the end (having read the header alone, to
# open the file again later) gets epoch 2's at every later open, so that a
# run reading the file more than once would print "Resuming after epoch 1"
# and train on from epoch 2's state (or wait for a writer, and time out).
fifo=$tmp/moving.ckpt
mkfifo "$fifo"
(
  exec 3>"$fifo" # waits for a reader
  if ! cat "$tmp/adam.resumed.1.ckpt" >&3 2>/dev/null; then
    exec 3>&-
    for _ in 1 2 3; do
      exec 3>"$fifo"
      cat "$tmp/adam.resumed.2.ckpt" >&3 2>/dev/null || true
      exec 3>&-
    done
  fi
) &
writer=$!
run moving "${adam[@]}" --threads 2 --resume "$fifo"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
continues moving adam.t2.a

# The usual way to go on with a run: --resume and --save name the same file.
# It is read before epoch 2's checkpoint replaces it, and then holds the
# checkpoint of the run that never stopped, to the bit.
cp "$tmp/adam.resumed.1.ckpt" "$tmp/self.ckpt"
run self "${adam[@]}" --threads 2 --resume "$tmp/self.ckpt" --save "$tmp/self.ckpt"
continues self adam.t2.a
if cmp -s "$tmp/self.ckpt" "$tmp/adam.resumed.2.ckpt"; then
  pass
else
  fail "--resume self.ckpt --save self.ckpt: the file does not hold the whole run's epoch 2 checkpoint"
fi

# A checkpoint of version 1, which has no checksum of the data, still resumes.
v1=$tmp/v1.ckpt
{
  printf 'mnist_clr checkpoint 1\n'
  sed -n '2{s/ data 0x[0-9a-f]*$//;p;q}' "$tmp/adam.resumed.1.ckpt"
  tail -c +$(($(head -n 2 "$tmp/adam.resumed.1.ckpt" | wc -c) + 1)) "$tmp/adam.resumed.1.ckpt"
} >"$v1"
[[ $(head -n 2 "$v1" | tail -n 1) == "epoch 1 batch 64 seed 5 train 1000 test 200" ]] ||
  fail "the version 1 checkpoint's header is '$(head -n 2 "$v1" | tail -n 1)'"
run v1 "${adam[@]}" --threads 2 --resume "$v1"
continues v1 adam.t2.a
# Another seed would replay other shuffles, and the run would continue with
# other batches than its own: refused.
if "$exe" --data "$tmp" --epochs 2 --batch 64 --seed 6 --schedule triangular --base-lr 0.001 --max-lr 0.003 \
  --step-size 8 --threads 2 --resume "$tmp/adam.resumed.1.ckpt" >/dev/null 2>&1; then
  fail "--resume with another --seed than the checkpoint's was accepted"
else
  pass
fi

finish test_reproducible
