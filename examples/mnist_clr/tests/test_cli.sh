#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# mnist_clr's command line, on small IDX files written here (no MNIST needed):
#   cli   bad flags, values and data files: exit status 2, a one-line message
#         naming the flag or file on stderr, nothing on stdout, no file
#         created or changed, before any training starts. --log and --plot
#         appear whole or not at all: a failed or interrupted run leaves
#         earlier files untouched and no temporary file, a successful one
#         replaces them whole.
#   plot  a successful --plot (needs gnuplot)
#   all   both
# A part whose input is missing fails with CLR_TESTS_REQUIRE_ALL=1 and is
# otherwise skipped (exit 77), never passed.
#   usage: test_cli.sh path/to/mnist_clr [cli|plot|all]
set -euo pipefail
usage="usage: test_cli.sh path/to/mnist_clr [cli|plot|all]"
here=$(dirname "${BASH_SOURCE[0]}")
# test_setup, choose_part, want, fail, pass, missing_input, finish
# shellcheck source=../../common/testing.sh
source "$here/../../common/testing.sh"
choose_part "$usage" "${2:-all}" cli plot
test_setup "${1:?$usage}" mnist_clr_test
umask 022
# make_idx
# shellcheck source=idx_files.sh
source "$here/idx_files.sh"

fresh_dir() { mktemp -d "$tmp/case.XXXXXX"; }

# Every file under a directory with its checksum, and every name: equal
# before and after only if nothing was created, removed or changed.
snapshot() { (cd "$1" && find . -type f -exec md5sum {} + | sort && find . | sort); }

# Runs the program in directory $1 with the remaining arguments; sets rc, and
# leaves stdout and stderr in $tmp/out and $tmp/err.
run_in() {
  local dir=$1
  shift
  rc=0
  (cd "$dir" && "$exe" "$@" >"$tmp/out" 2>"$tmp/err") || rc=$?
}

# A data set mnist_clr trains on: 1000 training and 200 test images, so an
# epoch at batch 100 is 10 updates.
good=$tmp/good
mkdir "$good"
make_idx "$good" 1000 200
R=(--data "$good" --epochs 2 --batch 100 --threads 1)
updates=20

# Stand-in gnuplots: one that fails, one that reports its pid through the FIFO
# $CLR_TEST_READY and sleeps, so a signal reaches a run at a known point.
fake=$tmp/fake
mkdir -p "$fake/failing" "$fake/blocking"
printf '#!/bin/sh\necho "fake gnuplot failing" >&2\nexit 3\n' >"$fake/failing/gnuplot"
printf '#!/bin/sh\necho $$ >"$CLR_TEST_READY"\nexec sleep 300\n' >"$fake/blocking/gnuplot"
chmod +x "$fake/failing/gnuplot" "$fake/blocking/gnuplot"

# The log of a run of R with no earlier content: the header, the schedule's
# text form, one row per update and one per epoch.
check_log() {  # check_log FILE WHAT
  local file=$1 what=$2
  [[ $(head -n 1 "$file") == kind,epoch,step,lr,momentum,loss,accuracy,test_loss,test_accuracy ]] ||
    fail "$what: log header is '$(head -n 1 "$file")'"
  [[ $(grep -c '^schedule,' "$file") -eq 1 && $(grep -c '^update,' "$file") -eq $updates &&
    $(grep -c '^epoch,' "$file") -eq 2 && $(wc -l <"$file") -eq $((1 + 1 + updates + 2)) ]] ||
    fail "$what: log has $(wc -l <"$file") lines, expected the header, the schedule, $updates updates and 2 epochs"
  ! grep -q old "$file" || fail "$what: the earlier log's lines are still in it"
}

is_png() { [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; }

# ==== part cli ========================================================================
if want cli; then

# ---- bad input: exit 2, one line naming the culprit, nothing else ---------------

bad=$tmp/bad
mkdir "$bad"
# expect STATUS PATTERN ARGS...: run in a fresh directory; nothing may appear
# there, on stdout, or in (or under) the data directories.
expect() {
  local want=$1 pattern=$2
  shift 2
  local d before_bad before_good
  d=$(fresh_dir)
  before_bad=$(snapshot "$bad")
  before_good=$(snapshot "$good")
  run_in "$d" "$@"
  local shown="mnist_clr $*"
  if ! refused "$shown" "$want" "$pattern"; then
    return
  elif [[ -n $(ls -A "$d") ]]; then
    fail "$shown: created in the working directory: $(ls -A "$d")"
  elif [[ $(snapshot "$bad") != "$before_bad" || $(snapshot "$good") != "$before_good" ]]; then
    fail "$shown: created or changed files beside the data"
  else
    pass
  fi
}

expect 2 "fetch_mnist.sh" --data "$bad/nowhere"
expect 2 "train-images-idx3-ubyte" --data "$bad"
printf 'not an idx file at all' >"$bad/train-images-idx3-ubyte"
for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do cp "$bad/train-images-idx3-ubyte" "$bad/$f"; done
expect 2 "magic" --data "$bad"
expect 2 "--optimizer" --optimizer rmsprop --data "$bad"
expect 2 "--epochs" --epochs 0 --data "$bad"
expect 2 "--batch" --batch 0 --data "$bad"
expect 2 "--momentum" --momentum 1.5 --data "$bad"
expect 2 "--lr" --schedule triangular --lr 0.1 --data "$bad"
expect 2 "--step-size" --schedule triangular --step-size 0 --data "$bad"
expect 2 "--max-lr" --schedule triangular --base-lr 0.01 --max-lr 0.001 --data "$bad"
expect 2 "--auto-range" --auto-range --data "$bad"
expect 2 "--schedule: clr::parse_schedule: lr = (missing) is required by cosine" --schedule "cosine(total_steps=50%)" --data "$bad"
expect 2 "--schedule" --schedule "triangular(base_lr=0.001, max_lr=0.006, step_size=0)" --data "$bad"
expect 2 "--base-lr: cannot be combined with a text-form --schedule" --schedule "constant(lr=0.1)" --base-lr 0.2 --data "$bad"
expect 2 "--lr" --schedule "constant(lr=0.1)" --lr 0.2 --data "$bad"
expect 2 "--auto-range" --schedule "triangular(base_lr=0.001, max_lr=0.006, step_size=100)" --auto-range --data "$bad"
expect 2 "--milestones" --schedule multistep --max-lr 0.1 --milestones 80,30 --data "$bad"
expect 2 "--gamma" --schedule exponential --max-lr 0.1 --data "$bad"
expect 2 "--auto-range" --schedule triangular --auto-range --base-lr 0.001 --data "$bad"
expect 2 "--range-min" --range-test --range-min 0 --data "$bad"
expect 2 "--plot" --plot "$bad/x.jpg" --data "$bad"
expect 2 "--compare" --compare --log "$bad/log.csv" --data "$bad"
expect 2 "--threads" --threads -1 --data "$bad"
expect 2 "--weight-decay" --weight-decay -0.5 --data "$bad"
expect 2 "--weight-decay: clr::parse_schedule: total_steps = -1" --weight-decay "cosine(lr=0.04, total_steps=-1)" --data "$bad"
expect 2 "--threads" --threads 0 --data "$bad"
# --compare sets the schedule, the optimizer and the batch of its own runs:
# flags that would be ignored beside it are refused, named.
for f in "--schedule triangular" "--max-lr 0.01" "--base-lr 0.001" "--step-size 100" "--optimizer sgd" \
  "--lr 0.01" "--batch 50" "--momentum 0.8" "--weight-decay 0.1"; do
  # shellcheck disable=SC2086 # each entry is a flag and its value
  expect 2 "${f%% *}" --compare $f --data "$bad"
  grep -qF -- "--compare" "$tmp/err" || fail "--compare $f: the message does not name --compare: $(cat "$tmp/err")"
done
# Numbers are refused naming their own flag, with what is wrong with them.
expect 2 "--lr: 'nan' is not a number" --lr nan --data "$bad"
expect 2 "--lr: '1e400' is outside the range of a double" --lr 1e400 --data "$bad"
# A refusal is one short line whatever it quotes: a newline escaped, a long
# argument cut with its length (a megabyte was echoed whole; one argument
# can hold 128 KiB).
expect 2 "--schedule: 'trian\\ngular' is not a schedule" --schedule "$(printf 'trian\ngular')" --data "$bad"
expect 2 "--schedule: clr::parse_schedule: text = \\n) where , or ) belongs" --schedule "$(printf 'constant(lr=1, x=1\n)')" --data "$bad"
huge=$(head -c 100000 /dev/zero | tr '\0' 7)
for flag in --lr --seed --optimizer --schedule; do
  expect 2 " bytes)" "$flag" "$huge" --data "$bad"
  [[ $(wc -c <"$tmp/err") -lt 600 ]] || fail "$flag with 100000 bytes: a message of $(wc -c <"$tmp/err") bytes"
done
expect 2 "bytes) (see --help)" "$huge" --data "$bad"
expect 2 "--momentum: 'inf' must be finite" --momentum inf --data "$bad"
expect 2 "--range-min: 'nan' is not a number" --range-test --range-min nan --data "$bad"
# The schedules here are float: a double below the smallest float says so.
expect 2 "--base-lr: 1e-310 does not fit in a float (smallest positive" --base-lr 1e-310 --data "$bad"
# The same with data that would train: the flags are refused before it is read.
expect 2 "--epochs" "${R[@]}" --epochs 0 --log log.csv
expect 2 "--weight-decay" "${R[@]}" --weight-decay -1 --log log.csv
expect 2 "--plot" "${R[@]}" --plot "$good/no/such/dir/x.png"
expect 2 "--bogus" "${R[@]}" --bogus 1
# A seed is a whole number in [0, 2^64 - 1]: nothing wraps or clamps into it.
expect 2 "--seed: '-1' is not a whole number" "${R[@]}" --seed -1 --log log.csv
expect 2 "--seed: 18446744073709551616 must be at most 18446744073709551615" "${R[@]}" --seed 18446744073709551616 --log log.csv
# Every output is checked before training: one that cannot be written, and
# two naming the same file, however spelt.
expect 2 "--log: $good: is a directory" "${R[@]}" --log "$good"
expect 2 "--plot" "${R[@]}" --log same.png --plot same.png
expect 2 "--plot" "${R[@]}" --log "$good/../good/same.png" --plot "$good/same.png"
# A path component that is a file is named as such, not as a missing directory.
expect 2 "Not a directory" --epochs 2 --data "$good/train-images-idx3-ubyte/mnist"
# A data set with a flaw in one file, named in the message.
flawed=$tmp/flawed
mkdir "$flawed"
make_idx "$flawed" 30 10
printf '\0\0\10\1\0\0\0\12\0\1\2\3\4\5\6\7\10\12' >"$flawed/t10k-labels-idx1-ubyte"  # a label 10
expect 2 "t10k-labels-idx1-ubyte" --data "$flawed" --log log.csv

# --save and --resume refuse what they cannot use, before any training. The
# checkpoint: one epoch of R's run (adam, constant rate).
ck=$tmp/ck
mkdir "$ck"
run_in "$ck" --data "$good" --epochs 1 --batch 100 --threads 1 --save run.ckpt
[[ $rc -eq 0 && -s $ck/run.ckpt ]] || fail "--save run.ckpt: exit $rc: $(cat "$tmp/err")"
cp "$ck/run.ckpt" "$ck/flipped.ckpt"
printf 'X' | dd of="$ck/flipped.ckpt" bs=1 seek=5000 conv=notrunc 2>/dev/null
head -c 3000 "$ck/run.ckpt" >"$ck/short.ckpt"
printf 'step,lr\n0,0.1\n' >"$ck/other.csv"
mkdir "$ck/fewer"
make_idx "$ck/fewer" 900 200
expect 2 "--resume: $ck/none.ckpt: cannot open" "${R[@]}" --resume "$ck/none.ckpt"
expect 2 "--resume: $ck/other.csv: it is not a mnist_clr checkpoint" "${R[@]}" --resume "$ck/other.csv"
expect 2 "--resume: $ck/flipped.ckpt: clr::optim::load_blocks: checksum mismatch" "${R[@]}" --resume "$ck/flipped.ckpt"
expect 2 "--resume: $ck/short.ckpt: clr::optim::load_blocks: checkpoint is truncated" "${R[@]}" --resume "$ck/short.ckpt"
expect 2 "--epochs: 1 is not more than the 1 epochs done" --data "$good" --epochs 1 --batch 100 --resume "$ck/run.ckpt"
expect 2 "--batch: 50 is not the 100" --data "$good" --epochs 2 --batch 50 --resume "$ck/run.ckpt"
expect 2 "--seed: 3 is not the 1" "${R[@]}" --seed 3 --resume "$ck/run.ckpt"
expect 2 "--data: $ck/fewer holds 900 training and 200 test images" --data "$ck/fewer" --epochs 2 --batch 100 --resume "$ck/run.ckpt"
expect 2 "the schedule differs" "${R[@]}" --schedule triangular --resume "$ck/run.ckpt"
expect 2 "written by clr::optim::adam, not clr::optim::sgd" "${R[@]}" --optimizer sgd --resume "$ck/run.ckpt"
expect 2 "beta1 differs" "${R[@]}" --momentum 0.8 --resume "$ck/run.ckpt"
expect 2 "--save: writes a binary file" "${R[@]}" --save -
expect 2 "--save: $ck/nowhere/run.ckpt" "${R[@]}" --save "$ck/nowhere/run.ckpt"
expect 2 "--save" "${R[@]}" --log same.csv --save same.csv
expect 2 "--save" --compare --save run.ckpt --data "$bad"
expect 2 "--resume" --range-test --resume "$ck/run.ckpt" --data "$bad"
expect 2 "--resume" --schedule triangular --auto-range --resume "$ck/run.ckpt" --data "$bad"
# A checkpoint with anything after its end is not one this program wrote.
{ cat "$ck/run.ckpt" && printf 'x'; } >"$ck/trailing.ckpt"
expect 2 "--resume: $ck/trailing.ckpt: 1 byte follows the optimizer's state" "${R[@]}" --resume "$ck/trailing.ckpt"
# Data of the same sizes (as Fashion-MNIST has MNIST's) but other pixels: the
# checkpoint's checksum of the data tells them apart.
mkdir "$ck/other"
cp "$good"/* "$ck/other/"
printf '\377' | dd of="$ck/other/t10k-images-idx3-ubyte" bs=1 seek=1000 conv=notrunc 2>/dev/null
expect 2 "--data: $ck/other is not the data the run in $ck/run.ckpt trained on" --data "$ck/other" --epochs 2 --batch 100 --resume "$ck/run.ckpt"
# --save writes a binary file by renaming it into place: never onto a device, a FIFO or standard output.
mkfifo "$ck/fifo"
expect 2 "--save: writes a binary file: '/dev/null' is a device" "${R[@]}" --save /dev/null
expect 2 "--save: writes a binary file: '$ck/fifo' is a FIFO" "${R[@]}" --save "$ck/fifo"
expect 2 "--save: writes a binary file: '/dev/stdout' is standard output" "${R[@]}" --save /dev/stdout
mkfifo "$ck/f3"
expect 2 "--save: writes a binary file: '$ck/f3' is a FIFO" --data "$good" --epochs 3 --save "$ck/f{epoch}"
# Every name the run writes or reads is checked before training, --resume's
# and every epoch's --save name among them; nothing is replaced.
collide() {  # collide PATTERN ARGS...: refused naming PATTERN; run.ckpt unchanged, nothing new in $ck
  local before
  before=$(snapshot "$ck")
  expect 2 "$@"
  [[ $(snapshot "$ck") == "$before" ]] || fail "mnist_clr ${*:2}: changed or created files beside the checkpoint"
}
collide "--log: '$ck/run.ckpt' is the same file as --resume '$ck/run.ckpt'" "${R[@]}" --resume "$ck/run.ckpt" --log "$ck/run.ckpt"
cp "$ck/run.ckpt" "$ck/run.png"
collide "--plot: '$ck/../ck/run.png' is the same file as --resume '$ck/run.png'" "${R[@]}" --resume "$ck/run.png" --plot "$ck/../ck/run.png"
collide "--save: '$ck/r-2.ck' (epoch 2) is the same file as --log '$ck/r-2.ck'" "${R[@]}" --save "$ck/r-{epoch}.ck" --log "$ck/r-2.ck"
collide "--save: '$ck/p-2.png' (epoch 2) is the same file as --plot '$ck/p-2.png'" "${R[@]}" --save "$ck/p-{epoch}.png" --plot "$ck/p-2.png"
collide "--save: '$ck/r-3.ck' (epoch 3) is the same file as --log '$ck/r-3.ck'" --data "$good" --epochs 3 --batch 100 --resume "$ck/run.ckpt" --save "$ck/r-{epoch}.ck" --log "$ck/r-3.ck"
# The data files are read: no output may be one of them, gzipped or not.
collide "--log: '$ck/other/train-labels-idx1-ubyte' is the same file as --data '$ck/other/train-labels-idx1-ubyte'" --data "$ck/other" --epochs 1 --log "$ck/other/train-labels-idx1-ubyte"
ln -s other/t10k-images-idx3-ubyte "$ck/images-link"
collide "--save: '$ck/images-link' (epoch 1) is the same file as --data '$ck/other/t10k-images-idx3-ubyte'" --data "$ck/other" --epochs 1 --save "$ck/images-link"
rm "$ck/images-link"
# Each epoch's name is checked where it leads: {epoch} in a directory's name.
mkdir "$ck/d1"
collide "--save: $ck/d2/x: directory '$ck/d2' does not exist" "${R[@]}" --save "$ck/d{epoch}/x"
rm -r "$ck/d1"

# ---- lengths in epochs and shares of the run ---------------------------------------

# A text form with lengths in % and epochs trains as written: the header shows
# them resolved against the run (2 epochs of the small data set).
run_in "$(fresh_dir)" "${R[@]}" --schedule 'wsd(lr=0.003, warmup=5%, stable=1ep, decay=20%)'
if [[ $rc -ne 0 ]]; then
  fail "wsd with % lengths: exit $rc: $(cat "$tmp/err")"
else
  grep -q '^Test error: [0-9.]*%$' "$tmp/out" || fail "wsd with % lengths: no 'Test error' line: $(cat "$tmp/out")"
  grep -Eq 'wsd\(lr=0.003, warmup=[0-9]+, stable=[0-9]+, decay=[0-9]+\)' "$tmp/out" ||
    fail "wsd with % lengths: the header does not give the lengths in steps: $(cat "$tmp/out")"
fi
pass

# ---- --log: whole or not at all ---------------------------------------------------

# A successful run replaces an earlier log whole, and says what it ran on.
d=$(fresh_dir)
for i in $(seq 1 500); do echo "old line $i"; done >"$d/run.csv"
run_in "$d" "${R[@]}" --log run.csv
if [[ $rc -ne 0 ]]; then
  fail "--log run.csv: exit $rc: $(cat "$tmp/err")"
else
  check_log "$d/run.csv" "--log over an earlier file"
  [[ $(ls -A "$d") == run.csv ]] || fail "--log: left $(ls -A "$d" | tr '\n' ' ')"
  [[ ! -s $tmp/err ]] || fail "--log: wrote to stderr: $(cat "$tmp/err")"
  grep -q '^Test error: [0-9.]*%$' "$tmp/out" || fail "--log: no 'Test error' line: $(cat "$tmp/out")"
  grep -q '^CPU: .*; GEMM: .* SIMD: ' "$tmp/out" || fail "no CPU and GEMM line in the run header: $(cat "$tmp/out")"
  grep -qF "The same seed and threads give the same numbers on the same CPU and BLAS." "$tmp/out" ||
    fail "the run does not say what its numbers depend on: $(cat "$tmp/out")"
fi
pass

# The decays train too: a cosine from 0.01 spans the run's 20 updates by
# default, through 0.005 halfway, never rising.
d=$(fresh_dir)
run_in "$d" "${R[@]}" --schedule cosine --max-lr 0.01 --log cos.csv
if [[ $rc -ne 0 ]]; then
  fail "--schedule cosine: exit $rc: $(cat "$tmp/err")"
else
  check_log "$d/cos.csv" "--schedule cosine"
  awk -F, '$1 == "update" {
      if (n > 0 && $4 > prev) bad = 1
      if (n == 0 && ($4 < 0.0099999 || $4 > 0.0100001)) bad = 1
      if (n == 10 && ($4 < 0.0049999 || $4 > 0.0050001)) bad = 1
      prev = $4; n++
    } END { exit bad || n != 20 }' "$d/cos.csv" || fail "--schedule cosine: the logged rates are not the cosine: $(cut -d, -f1,4 "$d/cos.csv" | tr '\n' ' ')"
fi
pass

# The run header and the log carry the schedule's text form, and that text
# given back to --schedule repeats the run: the same log, byte for byte.
text="cosine(lr=0.01, total_steps=20)"
if [[ -f $d/cos.csv ]]; then
  grep -qF "adam, $text, batch 100" "$tmp/out" || fail "--schedule cosine: the run header does not give '$text': $(cat "$tmp/out")"
  [[ $(grep '^schedule,' "$d/cos.csv") == "schedule,,,\"$text\",,,,," ]] ||
    fail "--schedule cosine: the log's schedule row is '$(grep '^schedule,' "$d/cos.csv")'"
  logged=$(grep '^schedule,' "$d/cos.csv" | cut -d'"' -f2)
  run_in "$d" "${R[@]}" --schedule "$logged" --log again.csv
  if [[ $rc -ne 0 ]]; then
    fail "--schedule '$logged': exit $rc: $(cat "$tmp/err")"
  else
    cmp -s "$d/cos.csv" "$d/again.csv" || fail "--schedule '$logged' does not repeat the run: $(diff "$d/cos.csv" "$d/again.csv" | head -n 4)"
  fi
fi
pass

# A decay built by flags trains as its text form says: step_decay halves the
# rate every 5 updates.
d=$(fresh_dir)
run_in "$d" "${R[@]}" --schedule step_decay --max-lr 0.01 --step-size 5 --gamma 0.5 --log step.csv
if [[ $rc -ne 0 ]]; then
  fail "--schedule step_decay: exit $rc: $(cat "$tmp/err")"
else
  check_log "$d/step.csv" "--schedule step_decay"
  grep -qF "step_decay(lr=0.01, step_size=5, gamma=0.5)" "$tmp/out" || fail "--schedule step_decay: header $(cat "$tmp/out")"
  awk -F, '$1 == "update" && $3 == 5 && ($4 < 0.0049999 || $4 > 0.0050001) { bad = 1 } END { exit bad }' "$d/step.csv" ||
    fail "--schedule step_decay: update 6 is not at half the rate"
fi
pass

# range_sweep, added to the examples as one entry of schedule_flags.hpp, trains
# too: the range test's rates from 1e-4 to 1e-2 over the run's 20 updates.
d=$(fresh_dir)
run_in "$d" "${R[@]}" --schedule range_sweep --base-lr 1e-4 --max-lr 1e-2 --log sweep.csv
if [[ $rc -ne 0 ]]; then
  fail "--schedule range_sweep: exit $rc: $(cat "$tmp/err")"
else
  check_log "$d/sweep.csv" "--schedule range_sweep"
  grep -qF "range_sweep(min_lr=1e-04, max_lr=0.01, steps=20)" "$tmp/out" || fail "--schedule range_sweep: header $(cat "$tmp/out")"
fi
pass

# --compare: its table, then what the numbers depend on (one epoch on the
# small set: a fraction of a second).
d=$(fresh_dir)
run_in "$d" --data "$good" --epochs 1 --threads 1 --seed 3 --compare
if [[ $rc -ne 0 ]]; then
  fail "--compare: exit $rc: $(cat "$tmp/err")"
else
  [[ $(grep -c '^| .* | [0-9.]*% |$' "$tmp/out") -eq 4 ]] || fail "--compare: not a table of 4 runs: $(cat "$tmp/out")"
  grep -q '^| warmup, then plateau | adam, sequence(.*plateau(' "$tmp/out" || fail "--compare: no warmup-then-plateau row"
  [[ $(tail -n 1 "$tmp/out") == "Seed 3, threads 1. The same seed and threads give the same numbers on the same CPU and BLAS." ]] ||
    fail "--compare: the table is not followed by what its numbers depend on: '$(tail -n 1 "$tmp/out")'"
  [[ -z $(ls -A "$d") ]] || fail "--compare: left $(ls -A "$d" | tr '\n' ' ')"
fi
pass

# A rate that diverges: the run stops at the first non-finite loss or
# parameter with exit status 3 and one line naming the update, its rate and
# --range-test; the log up to that update is kept, and no plot is drawn.
d=$(fresh_dir)
echo old >"$d/run.png"
rc=0
(cd "$d" && PATH="$fake/failing:$PATH" "$exe" "${R[@]}" --lr 1e30 --log run.csv >"$tmp/out" 2>"$tmp/err") || rc=$?
err=$(cat "$tmp/err")
if [[ $rc -ne 3 ]]; then
  fail "--lr 1e30: exit $rc, expected 3 (stderr: $err)"
else
  [[ $err == *"diverged at update "*"(lr 1e+30)"*"--range-test"*"run.csv"* && $(wc -l <"$tmp/err") -eq 1 ]] ||
    fail "--lr 1e30: message '$err'"
  ! grep -q '^Test error' "$tmp/out" || fail "--lr 1e30: reported a test error: $(cat "$tmp/out")"
  [[ $(head -n 1 "$d/run.csv") == kind,epoch,step,lr,momentum,loss,accuracy,test_loss,test_accuracy ]] ||
    fail "--lr 1e30: the log was not kept: $(ls -A "$d")"
  last=$(tail -n 1 "$d/run.csv")
  [[ $last == update,1,*,1.00000002e+30,*,nan,* || $last == update,1,*,1.00000002e+30,*,-nan,* ||
    $last == update,1,*,1.00000002e+30,*,inf,* ]] ||
    fail "--lr 1e30: the log does not end at the diverging update: '$last'"
  [[ $(ls -A "$d" | tr '\n' ' ') == "run.csv run.png " ]] || fail "--lr 1e30: left $(ls -A "$d" | tr '\n' ' ')"
fi
pass
d=$(fresh_dir)
rc=0
(cd "$d" && PATH="$fake/failing:$PATH" "$exe" "${R[@]}" --lr 1e30 --plot run.png >"$tmp/out" 2>"$tmp/err") || rc=$?
[[ $rc -eq 3 && $(cat "$tmp/err") == *"no plot drawn"* && -z $(ls -A "$d") ]] ||
  fail "--lr 1e30 --plot: exit $rc, '$(cat "$tmp/err")', left $(ls -A "$d" | tr '\n' ' ')"
pass
run_in "$d" --help
grep -q "3 training diverged" "$tmp/out" || fail "--help does not document exit status 3"
pass

# Bad data with --log: the earlier log stays as it was.
d=$(fresh_dir)
echo old >"$d/run.csv"
run_in "$d" --data "$flawed" --log run.csv
[[ $rc -eq 2 && $(cat "$d/run.csv") == old && $(ls -A "$d") == run.csv ]] ||
  fail "bad data with --log: exit $rc, left $(ls -A "$d" | tr '\n' ' ')with run.csv '$(head -c 100 "$d/run.csv")'"
pass

# gnuplot fails after training: neither the log nor the plot replaces its
# earlier file, and no temporary file remains.
for mode in train range; do
  d=$(fresh_dir)
  scratch=$(fresh_dir)
  echo old >"$d/run.csv"
  echo old >"$d/run.png"
  args=("${R[@]}")
  [[ $mode == range ]] && args+=(--range-test --range-steps 20)
  rc=0
  (cd "$d" && PATH="$fake/failing:$PATH" TMPDIR="$scratch" "$exe" "${args[@]}" --log run.csv --plot run.png \
    >"$tmp/out" 2>"$tmp/err") || rc=$?
  [[ $rc -eq 1 ]] || fail "$mode: failing gnuplot: exit $rc, expected 1 ($(cat "$tmp/err"))"
  grep -q "gnuplot failed" "$tmp/err" || fail "$mode: failing gnuplot: message '$(cat "$tmp/err")'"
  [[ $(cat "$d/run.csv") == old && $(cat "$d/run.png") == old ]] ||
    fail "$mode: failing gnuplot: an earlier output was replaced"
  [[ $(ls -A "$d" | tr '\n' ' ') == "run.csv run.png " ]] || fail "$mode: failing gnuplot left: $(ls -A "$d")"
  [[ -z $(ls -A "$scratch") ]] || fail "$mode: failing gnuplot left in TMPDIR: $(ls -A "$scratch")"
  pass
done

# A gnuplot that exits 0 but writes no image, or a cut-off one (a full
# disk): refused, and neither output replaces its earlier file. The stand-in
# writes the image named in the script's `set output` line.
mkdir -p "$fake/lying"
cat >"$fake/lying/gnuplot" <<'GP'
#!/bin/sh
out=$(sed -n "s/^set output '\(.*\)'\$/\1/p" "$2")
case $GNUPLOT_FAKE in
  cut) printf '\211PNG\r\n\032\n\0\0\0\rIHDR' >"$out" ;;
  whole) printf '\211PNG\r\n\032\n\0\0\0\0IEND\256B`\202' >"$out"
    [ -z "$GNUPLOT_FAKE_DIR" ] || { rm -f "$GNUPLOT_FAKE_DIR"; mkdir "$GNUPLOT_FAKE_DIR"; } ;;
esac
exit 0
GP
chmod +x "$fake/lying/gnuplot"
for mode in empty cut; do
  d=$(fresh_dir)
  echo old >"$d/run.csv"
  echo old >"$d/run.png"
  rc=0
  (cd "$d" && GNUPLOT_FAKE=$mode PATH="$fake/lying:$PATH" "$exe" "${R[@]}" --log run.csv --plot run.png \
    >"$tmp/out" 2>"$tmp/err") || rc=$?
  [[ $rc -eq 1 && $(cat "$tmp/err") == *run.png*"nothing written"* ]] ||
    fail "gnuplot leaving a $mode image: exit $rc, '$(cat "$tmp/err")'"
  [[ $(cat "$d/run.csv") == old && $(cat "$d/run.png") == old && $(ls -A "$d" | tr '\n' ' ') == "run.csv run.png " ]] ||
    fail "gnuplot leaving a $mode image: left $(ls -A "$d" | tr '\n' ' ')or replaced an earlier output"
  pass
done
# The image is in place but the log cannot follow (its name became a
# directory meanwhile): the message says which of the two was written.
d=$(fresh_dir)
echo old >"$d/run.csv"
rc=0
(cd "$d" && GNUPLOT_FAKE=whole GNUPLOT_FAKE_DIR="$d/run.csv" PATH="$fake/lying:$PATH" "$exe" "${R[@]}" \
  --log run.csv --plot run.png >"$tmp/out" 2>"$tmp/err") || rc=$?
[[ $rc -eq 1 && $(cat "$tmp/err") == *run.csv*"the --plot image run.png was written, the --log file was not"* ]] ||
  fail "log not put in place after the plot: exit $rc, '$(cat "$tmp/err")'"
pass

# A log name of 250 characters: the temporary file's name must still fit.
d=$(fresh_dir)
long=$(printf 'x%.0s' $(seq 1 246)).csv
run_in "$d" "${R[@]}" --log "$long"
[[ $rc -eq 0 ]] && check_log "$d/$long" "--log with a 250-character name" ||
  fail "--log with a 250-character name: exit $rc, '$(cat "$tmp/err")'"
pass

# A successful range test replaces an earlier log whole.
d=$(fresh_dir)
for i in $(seq 1 500); do echo "old line $i"; done >"$d/range.csv"
run_in "$d" "${R[@]}" --range-test --range-steps 20 --log range.csv
if [[ $rc -ne 0 ]]; then
  fail "--range-test --log: exit $rc: $(cat "$tmp/err")"
else
  [[ $(head -n 1 "$d/range.csv") == step,lr,loss,smoothed_loss,accuracy ]] ||
    fail "--range-test --log: header '$(head -n 1 "$d/range.csv")'"
  rows=$(($(wc -l <"$d/range.csv") - 1))
  ((rows >= 1 && rows <= 20)) || fail "--range-test --log: $rows rows for a sweep of 20 steps"
  ! grep -q old "$d/range.csv" || fail "--range-test --log: the earlier log's lines are still in it"
  [[ $(ls -A "$d") == range.csv ]] || fail "--range-test --log: left $(ls -A "$d" | tr '\n' ' ')"
fi
pass

# Killed while the plot is drawn, at a known point (the stand-in gnuplot runs):
# the log and the image are still temporary files, and the signal removes
# them, leaving the earlier ones.
mkfifo "$fake/ready"
for sig in TERM HUP; do
  d=$(fresh_dir)
  scratch=$(fresh_dir)
  echo old >"$d/run.csv"
  echo old >"$d/run.png"
  exec {ready}<>"$fake/ready" # read-write: opening never blocks, reading waits for the stand-in
  (cd "$d" && CLR_TEST_READY="$fake/ready" TMPDIR="$scratch" PATH="$fake/blocking:$PATH" \
    exec "$exe" "${R[@]}" --log run.csv --plot run.png >"$tmp/out" 2>"$tmp/err") &
  pid=$!
  gp_pid=""
  if read -r -t 120 -u "$ready" gp_pid; then
    compgen -G "$d/.run.csv.*" >/dev/null || fail "SIG$sig: no temporary log while gnuplot runs: $(ls -A "$d")"
    compgen -G "$d/.run.png.*" >/dev/null || fail "SIG$sig: no temporary image while gnuplot runs: $(ls -A "$d")"
    [[ -n $(ls -A "$scratch") ]] || fail "SIG$sig: no gnuplot script in TMPDIR while gnuplot runs"
    kill -"$sig" "$pid"
    rc=0
    wait "$pid" 2>/dev/null || rc=$?  # no "Hangup" notice from the shell
    kill "$gp_pid" 2>/dev/null || true
    want_rc=$((128 + $(kill -l "$sig")))
    [[ $rc -eq $want_rc ]] || fail "SIG$sig: exit $rc, expected $want_rc ($(cat "$tmp/err"))"
    [[ $(ls -A "$d" | tr '\n' ' ') == "run.csv run.png " ]] || fail "SIG$sig: left $(ls -A "$d" | tr '\n' ' ')"
    [[ $(cat "$d/run.csv") == old && $(cat "$d/run.png") == old ]] || fail "SIG$sig: an earlier output was replaced"
    [[ -z $(ls -A "$scratch") ]] || fail "SIG$sig: left in TMPDIR: $(ls -A "$scratch")"
  else
    kill "$pid" 2>/dev/null || true
    wait "$pid" || true
    fail "SIG$sig: the stand-in gnuplot never ran (stderr: $(cat "$tmp/err"))"
  fi
  exec {ready}>&-
  pass
done

fi # part cli

# ==== part plot =======================================================================
if want plot; then

if command -v gnuplot >/dev/null 2>&1; then
  # A successful run replaces an earlier log and image whole.
  d=$(fresh_dir)
  scratch=$(fresh_dir)
  for i in $(seq 1 500); do echo "old line $i"; done >"$d/run.csv"
  echo old >"$d/run.png"
  rc=0
  # A cycling rate: a constant one makes gnuplot warn of an empty y2 range.
  (cd "$d" && TMPDIR="$scratch" "$exe" "${R[@]}" --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 5 \
    --log run.csv --plot run.png >"$tmp/out" 2>"$tmp/err") || rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "--log --plot: exit $rc: $(cat "$tmp/err")"
  else
    check_log "$d/run.csv" "--log beside --plot"
    is_png "$d/run.png" || fail "--plot run.png: not a PNG"
    [[ -z $(cat "$tmp/err") ]] || fail "--plot: gnuplot complained: $(cat "$tmp/err")"
    [[ $(ls -A "$d" | tr '\n' ' ') == "run.csv run.png " ]] || fail "--plot: left $(ls -A "$d" | tr '\n' ' ')"
    [[ -z $(ls -A "$scratch") ]] || fail "--plot: left in TMPDIR: $(ls -A "$scratch")"
  fi
  pass
  # The range test's picture, as SVG.
  d=$(fresh_dir)
  run_in "$d" "${R[@]}" --range-test --range-steps 20 --plot range.svg
  [[ $rc -eq 0 ]] || fail "--range-test --plot range.svg: exit $rc: $(cat "$tmp/err")"
  tail -c 100 "$d/range.svg" 2>/dev/null | grep -q "</svg>" || fail "range.svg is not a complete SVG document"
  [[ $(ls -A "$d") == range.svg ]] || fail "--range-test --plot: left $(ls -A "$d" | tr '\n' ' ')"
  pass
else
  missing_input gnuplot "install gnuplot-nox"
fi

fi # part plot

# ==== part cli: --save and temporary files ===========================================
if want cli; then

one=(--data "$good" --batch 100 --threads 1)

# A run killed outright (kill -9) leaves its temporary files behind: here
# while its plot is drawn (the stand-in gnuplot holds it at a known point),
# its log's and its image's. The next run that writes into that directory
# removes them, as nothing holds them locked any more, once they have not
# changed for 10 seconds (dated back here). A file still locked (a writer at
# work), a fresh one (dated ahead, so that however slowly the run goes it
# counts as just changed), one of another host and the user's own stay.
if command -v flock >/dev/null 2>&1; then
  d=$(fresh_dir)
  scratch=$(fresh_dir)
  mkfifo "$fake/killed"
  exec {ready}<>"$fake/killed"
  (cd "$d" && CLR_TEST_READY="$fake/killed" TMPDIR="$scratch" PATH="$fake/blocking:$PATH" \
    exec "$exe" "${R[@]}" --log run.csv --plot run.png >"$tmp/out" 2>"$tmp/err") &
  pid=$!
  gp_pid=""
  read -r -t 120 -u "$ready" gp_pid || fail "kill -9: the stand-in gnuplot never ran (stderr: $(cat "$tmp/err"))"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
  [[ -z $gp_pid ]] || kill "$gp_pid" 2>/dev/null || true
  exec {ready}>&-
  mapfile -t left < <(cd "$d" && LC_ALL=C compgen -G '.run.*' | LC_ALL=C sort)
  [[ ${#left[@]} -eq 2 ]] || fail "kill -9 while plotting: left '${left[*]}', expected a temporary log and image"
  # The stand-in's descriptors, inherited, hold the locks until it is gone.
  for f in "${left[@]}"; do
    for _ in $(seq 1 100); do
      if flock -n "$d/$f" true; then break; fi
      sleep 0.1
    done
  done
  marker=$(sed -n 's/^\.run\.csv\(\.clr-tmp-[0-9a-f]\{8\}\.\)[^.]*$/\1/p' <<<"${left[0]:-}")
  [[ -n $marker ]] || fail "kill -9 while plotting: '${left[0]:-}' is not named .run.csv.clr-tmp-<host>.XXXXXX"
  marker=${marker:-.clr-tmp-00000000.}
  for f in ".run.ckpt${marker}Live01" ".run.ckpt${marker}Fresh1" .run.ckpt.clr-tmp-zzzzzzzz.Other1 .run.ckpt.keep; do
    head -c 100000 /dev/zero >"$d/$f"
  done
  touch -d '1 hour ago' "${left[@]/#/$d/}" "$d/.run.ckpt${marker}Live01" "$d/.run.ckpt.clr-tmp-zzzzzzzz.Other1" \
    "$d/.run.ckpt.keep"
  touch -d '+1 hour' "$d/.run.ckpt${marker}Fresh1"
  exec {held}<"$d/.run.ckpt${marker}Live01" # a writer still at work: the shell holds its lock
  flock -n "$held" || fail "could not lock $d/.run.ckpt${marker}Live01"
  run_in "$d" "${one[@]}" --epochs 1 --save run.ckpt
  exec {held}<&-
  want_left=$(printf '%s\n' ".run.ckpt${marker}Live01" ".run.ckpt${marker}Fresh1" .run.ckpt.clr-tmp-zzzzzzzz.Other1 \
    .run.ckpt.keep run.ckpt | LC_ALL=C sort | tr '\n' ' ')
  [[ $rc -eq 0 ]] || fail "--save beside a killed run's temporary files: exit $rc: $(cat "$tmp/err")"
  [[ $(LC_ALL=C ls -A "$d" | tr '\n' ' ') == "$want_left" ]] ||
    fail "--save beside a killed run's temporary files: left $(LC_ALL=C ls -A "$d" | tr '\n' ' '), expected $want_left"
  pass
else
  missing_input flock "install util-linux"
fi

# A checkpoint with another hard link (a backup made with ln) is replaced by
# a new file renamed over its name: the backup keeps the old bytes, the name
# gets the new ones, and a run resumes from it.
d=$(fresh_dir)
run_in "$d" "${one[@]}" --epochs 1 --save run.ckpt
[[ $rc -eq 0 ]] || fail "--save run.ckpt: exit $rc: $(cat "$tmp/err")"
cp "$d/run.ckpt" "$d/old.copy" 2>/dev/null || true
ln "$d/run.ckpt" "$d/backup.ckpt" 2>/dev/null || true
run_in "$d" "${one[@]}" --epochs 2 --save run.ckpt
if [[ $rc -ne 0 ]]; then
  fail "--save over a hard-linked checkpoint: exit $rc: $(cat "$tmp/err")"
elif ! cmp -s "$d/backup.ckpt" "$d/old.copy"; then
  fail "--save over a hard-linked checkpoint: the other link's content changed"
elif cmp -s "$d/run.ckpt" "$d/old.copy"; then
  fail "--save over a hard-linked checkpoint: run.ckpt still holds the old checkpoint"
elif [[ $(stat -c %h "$d/run.ckpt") -ne 1 || $(stat -c %h "$d/backup.ckpt") -ne 1 ]]; then
  fail "--save over a hard-linked checkpoint: links $(stat -c %h "$d/run.ckpt") and $(stat -c %h "$d/backup.ckpt"), expected 1 and 1"
elif [[ $(LC_ALL=C ls -A "$d" | tr '\n' ' ') != "backup.ckpt old.copy run.ckpt " ]]; then
  fail "--save over a hard-linked checkpoint: left $(LC_ALL=C ls -A "$d" | tr '\n' ' ')"
else
  run_in "$d" "${one[@]}" --epochs 3 --resume run.ckpt
  if [[ $rc -eq 0 ]]; then pass; else fail "--resume from the checkpoint saved beside a hard link: exit $rc: $(cat "$tmp/err")"; fi
fi

fi # part cli: --save and temporary files

finish "test_cli $part"
