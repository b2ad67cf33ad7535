#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The command-line contract of schedule_plot, in three parts:
#   cli        CSV layout and values for every schedule, every rejected input
#              (exit 2, a one-line message naming the flag, no file left
#              behind), all-or-nothing output, signals halfway
#   plots      the images (needs gnuplot)
#   full_disk  a write error on standard output (needs /dev/full)
#   all        all three
# A part whose input is missing fails with CLR_TESTS_REQUIRE_ALL=1 and is
# otherwise skipped (exit 77), never passed.
#   usage: test_schedule_plot.sh path/to/schedule_plot [cli|plots|full_disk|all]
set -euo pipefail

usage="usage: test_schedule_plot.sh path/to/schedule_plot [cli|plots|full_disk|all]"
# test_setup, choose_part, want, fail, pass, missing_input, finish
# shellcheck source=../../common/testing.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../common/testing.sh"
choose_part "$usage" "${2:-all}" cli plots full_disk
test_setup "${1:?$usage}" schedule_plot_test
umask 022

# A fresh empty directory per case, so leftovers are easy to see.
fresh_dir() {
  local d
  d=$(mktemp -d "$tmp/case.XXXXXX")
  echo "$d"
}

# Runs the program in directory $1 with the remaining arguments; sets out,
# err and rc without letting set -e stop the script.
run_in() {
  local dir=$1
  shift
  rc=0
  (cd "$dir" && "$exe" "$@" >"$tmp/out" 2>"$tmp/err") || rc=$?
  out=$(cat "$tmp/out")
  err=$(cat "$tmp/err")
}

# |value - expected| <= tol, in double precision.
near() {
  awk -v a="$1" -v b="$2" -v tol="${3:-1e-15}" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= tol) }'
}

# The field of CSV row `step` (0-based) in column `col` (1-based).
cell() { awk -F, -v s="$2" -v c="$3" 'NR == s + 2 { print $c; exit }' "$1"; }

declare -A params=(
  [range_sweep]="--base-lr 1e-5 --max-lr 1"
  [constant]="--base-lr 0.01"
  [triangular]=""
  [triangular2]="--step-size 100"
  [exp_range]="--gamma 0.999 --step-size 100"
  [welch]="--base-lr 0.1 --max-lr 1 --step-size 50"
  [hann]="--base-lr 0.1 --max-lr 1 --step-size 50 --step-size-down 150"
  [cosine_restarts]="--max-lr 0.05 --base-lr 0.001 --step-size 100 --t-mult 2"
  [one_cycle]="--max-lr 0.1"
  [cosine]="--max-lr 0.1 --base-lr 0.001 --total-steps 1000"
  [linear]="--start-lr 0.1 --end-lr 0.01"
  [polynomial]="--max-lr 0.1 --power 2"
  [exponential]="--max-lr 0.1 --gamma 0.999"
  [step_decay]="--max-lr 0.1 --step-size 300 --gamma 0.5"
  [multistep]="--max-lr 0.1 --milestones 300,600,900"
  [cyclic]="--window hann --scale halving --step-size 100"
  [wsd]="--max-lr 0.1 --warmup 5% --stable 75% --decay 20%"
  [inverse_sqrt]="--max-lr 0.1 --warmup 100"
  [inverse_time]="--max-lr 0.1 --decay-steps 100 --decay-rate 0.5"
  [tanh]="--max-lr 0.1"
  [piecewise]="--piecewise-steps 0,10%,100% --piecewise-values 0,0.1,0.001 --interpolation cosine"
)
# Every schedule the program offers, as its --help lists them (from the
# library's catalog): a new schedule is tested here by its name alone, and
# fails until it has a row above if it needs flags.
mapfile -t names < <("$exe" --help | awk '/^Parameter flags per schedule/ { on = 1; next } /^Or give/ { on = 0 } on { print $1 }')
((${#names[@]} >= 21)) || fail "--help lists ${#names[@]} schedules: ${names[*]}"
T=(--schedule triangular --steps 100)

# ==== part cli (not indented: most of the file) ===================================
if want cli; then

# ---- every schedule: header, row count, step column, finite values -----------

for name in "${names[@]}"; do
  d=$(fresh_dir)
  # shellcheck disable=SC2086  # the parameters are words on purpose
  run_in "$d" --schedule "$name" --steps 1234 ${params[$name]} --csv out.csv
  if [[ $rc -ne 0 ]]; then fail "$name: exit $rc: $err"; continue; fi
  [[ $(head -n 1 "$d/out.csv") == "step,lr" ]] || fail "$name: header is '$(head -n 1 "$d/out.csv")'"
  [[ $(wc -l <"$d/out.csv") -eq 1235 ]] || fail "$name: $(wc -l <"$d/out.csv") lines, expected 1235"
  awk -F, 'NR > 1 && ($1 != NR - 2 || NF != 2 || $2 !~ /^[0-9.e+-]+$/ || $2 < 0) { bad = 1 } END { exit bad }' \
    "$d/out.csv" || fail "$name: a row is not 'step,lr' with steps 0..N-1 and lr >= 0"
  [[ -z $out ]] || fail "$name: --csv FILE also wrote to stdout"
  [[ $(ls -A "$d") == out.csv ]] || fail "$name: stray files: $(ls -A "$d")"
  pass
done

# ---- exact values --------------------------------------------------------------

# Smith's example (base 0.001, max 0.006, step 2000, the defaults): the
# doubles nearest 0.001, 0.0035 and 0.006, printed with %.17g.
d=$(fresh_dir)
run_in "$d" --schedule triangular --steps 4001 --csv out.csv
[[ $(cell "$d/out.csv" 0 2) == 0.001 ]] || fail "triangular(0) = $(cell "$d/out.csv" 0 2)"
[[ $(cell "$d/out.csv" 1000 2) == 0.0035000000000000001 ]] || fail "triangular(1000) = $(cell "$d/out.csv" 1000 2)"
[[ $(cell "$d/out.csv" 2000 2) == 0.0060000000000000001 ]] || fail "triangular(2000) = $(cell "$d/out.csv" 2000 2)"
[[ $(cell "$d/out.csv" 4000 2) == 0.001 ]] || fail "triangular(4000) = $(cell "$d/out.csv" 4000 2)"
# The lower and upper bounds hold over every row.
awk -F, 'NR > 1 && ($2 < 0.001 || $2 > 0.006) { bad = 1 } END { exit bad }' "$d/out.csv" ||
  fail "triangular leaves [0.001, 0.006]"
pass

# The explicit flags give the same table as the defaults they restate.
d2=$(fresh_dir)
run_in "$d2" --schedule triangular --steps 4001 --base-lr 0.001 --max-lr 0.006 --step-size 2000 --csv out.csv
cmp -s "$d/out.csv" "$d2/out.csv" || fail "explicit Keras defaults differ from the defaults"
pass

# OneCycleLR(max_lr=0.1, total_steps=1000): 0.1 / 25 in cos-annealing arithmetic.
d=$(fresh_dir)
run_in "$d" --schedule one_cycle --max-lr 0.1 --steps 1000 --csv out.csv
[[ $(cell "$d/out.csv" 0 2) == 0.0040000000000000001 ]] || fail "one_cycle(0) = $(cell "$d/out.csv" 0 2)"
near "$(cell "$d/out.csv" 299 2)" 0.1 || fail "one_cycle(299) = $(cell "$d/out.csv" 299 2), expected the peak 0.1"
near "$(cell "$d/out.csv" 999 2)" 4e-7 1e-20 || fail "one_cycle(999) = $(cell "$d/out.csv" 999 2), expected 0.004 / 1e4"
pass

# --total-steps overrides --steps: past its end the final value holds.
d=$(fresh_dir)
run_in "$d" --schedule one_cycle --max-lr 0.1 --total-steps 100 --steps 150 --csv out.csv
[[ $(cell "$d/out.csv" 99 2) == "$(cell "$d/out.csv" 149 2)" ]] || fail "one_cycle does not hold past --total-steps"
near "$(cell "$d/out.csv" 29 2)" 0.1 || fail "one_cycle --total-steps 100: peak not at step 29"
pass

# SGDR with T_0 10, T_mult 2: restarts at 10 and 30, halfway point 0.001 + 0.049 / 2.
d=$(fresh_dir)
run_in "$d" --schedule cosine_restarts --max-lr 0.05 --base-lr 0.001 --step-size 10 --t-mult 2 --steps 40 --csv out.csv
for t in 0 10 30; do near "$(cell "$d/out.csv" $t 2)" 0.05 || fail "cosine_restarts($t) = $(cell "$d/out.csv" $t 2)"; done
near "$(cell "$d/out.csv" 5 2)" 0.0255 || fail "cosine_restarts(5) = $(cell "$d/out.csv" 5 2)"
near "$(cell "$d/out.csv" 20 2)" 0.0255 || fail "cosine_restarts(20) = $(cell "$d/out.csv" 20 2)"
pass

# triangular2 halves each peak: 0.006, then 0.0035, at steps 2000 and 6000.
d=$(fresh_dir)
run_in "$d" --schedule triangular2 --steps 6001 --csv out.csv
near "$(cell "$d/out.csv" 6000 2)" 0.0035 || fail "triangular2(6000) = $(cell "$d/out.csv" 6000 2)"
pass

# exp_range: base + (max - base) * gamma^t at a peak.
d=$(fresh_dir)
run_in "$d" --schedule exp_range --gamma 0.999 --step-size 100 --steps 101 --csv out.csv
near "$(cell "$d/out.csv" 100 2)" "$(awk 'BEGIN { printf "%.17g", 0.001 + 0.005 * exp(100 * log(0.999)) }')" 1e-17 ||
  fail "exp_range(100) = $(cell "$d/out.csv" 100 2)"
pass

# A subnormal rate is a valid double, as the library takes it; one below the
# smallest subnormal is refused.
d=$(fresh_dir)
run_in "$d" --schedule constant --base-lr 1e-310 --steps 2 --csv out.csv
[[ $rc -eq 0 && $(cell "$d/out.csv" 1 2) == 9.9999999999999694e-311 ]] ||
  fail "--base-lr 1e-310: exit $rc, '$err', lr $(cell "$d/out.csv" 1 2 2>/dev/null)"
pass

# constant is constant.
d=$(fresh_dir)
run_in "$d" --schedule constant --base-lr 0.25 --steps 10 --csv out.csv
[[ $(cut -d, -f2 "$d/out.csv" | sort -u | tr '\n' ' ') == "0.25 lr " ]] || fail "constant: $(cut -d, -f2 "$d/out.csv" | sort -u | tr '\n' ' ')"
pass

# The decays, each against its formula.
# cosine: 0.001 + 0.099 (1 + cos(pi t / 100)) / 2 up to step 100, then held.
d=$(fresh_dir)
run_in "$d" --schedule cosine --max-lr 0.1 --base-lr 0.001 --total-steps 100 --steps 151 --csv out.csv
[[ $(cell "$d/out.csv" 0 2) == 0.10000000000000001 ]] || fail "cosine(0) = $(cell "$d/out.csv" 0 2)"
near "$(cell "$d/out.csv" 50 2)" 0.0505 || fail "cosine(50) = $(cell "$d/out.csv" 50 2)"
near "$(cell "$d/out.csv" 25 2)" "$(awk 'BEGIN { printf "%.17g", 0.001 + 0.099 * (1 + sqrt(0.5)) / 2 }')" 1e-17 ||
  fail "cosine(25) = $(cell "$d/out.csv" 25 2)"
for t in 100 101 150; do
  [[ $(cell "$d/out.csv" "$t" 2) == 0.001 ]] || fail "cosine($t) = $(cell "$d/out.csv" "$t" 2), expected eta_min held"
done
pass

# linear: 0.1 to 0.01 over 90 steps; without --total-steps it spans --steps.
d=$(fresh_dir)
run_in "$d" --schedule linear --start-lr 0.1 --end-lr 0.01 --total-steps 90 --steps 100 --csv out.csv
near "$(cell "$d/out.csv" 30 2)" 0.07 || fail "linear(30) = $(cell "$d/out.csv" 30 2)"
for t in 90 99; do [[ $(cell "$d/out.csv" "$t" 2) == 0.01 ]] || fail "linear($t) = $(cell "$d/out.csv" "$t" 2)"; done
run_in "$d" --schedule linear --start-lr 0 --end-lr 0.1 --steps 5 --csv out.csv
[[ $(wc -l <"$d/out.csv") -eq 6 && $(cell "$d/out.csv" 0 2) == 0 ]] || fail "linear ramp over --steps 5: $(cat "$d/out.csv")"
for t in 1 2 3 4; do
  near "$(cell "$d/out.csv" "$t" 2)" "$(awk -v t="$t" 'BEGIN { printf "%.17g", 0.02 * t }')" 1e-16 ||
    fail "linear ramp($t) = $(cell "$d/out.csv" "$t" 2)"
done
pass

# polynomial, power 2: 0.1 (1 - t / 100)^2.
d=$(fresh_dir)
run_in "$d" --schedule polynomial --max-lr 0.1 --power 2 --total-steps 100 --steps 120 --csv out.csv
near "$(cell "$d/out.csv" 50 2)" 0.025 || fail "polynomial(50) = $(cell "$d/out.csv" 50 2)"
near "$(cell "$d/out.csv" 90 2)" 0.001 1e-16 || fail "polynomial(90) = $(cell "$d/out.csv" 90 2)"
for t in 100 119; do [[ $(cell "$d/out.csv" "$t" 2) == 0 ]] || fail "polynomial($t) = $(cell "$d/out.csv" "$t" 2)"; done
pass

# exponential, gamma 0.5: halving every step.
d=$(fresh_dir)
run_in "$d" --schedule exponential --max-lr 0.1 --gamma 0.5 --steps 4 --csv out.csv
for t in 0 1 2 3; do
  near "$(cell "$d/out.csv" "$t" 2)" "$(awk -v t="$t" 'BEGIN { printf "%.17g", 0.1 / 2 ^ t }')" 1e-18 ||
    fail "exponential($t) = $(cell "$d/out.csv" "$t" 2)"
done
pass

# step_decay: halved every 30 steps; StepLR's gamma 0.1 by default.
d=$(fresh_dir)
run_in "$d" --schedule step_decay --max-lr 0.1 --step-size 30 --gamma 0.5 --steps 96 --csv out.csv
[[ $(cell "$d/out.csv" 29 2) == "$(cell "$d/out.csv" 0 2)" ]] || fail "step_decay(29) = $(cell "$d/out.csv" 29 2)"
near "$(cell "$d/out.csv" 30 2)" 0.05 || fail "step_decay(30) = $(cell "$d/out.csv" 30 2)"
near "$(cell "$d/out.csv" 95 2)" 0.0125 || fail "step_decay(95) = $(cell "$d/out.csv" 95 2)"
run_in "$d" --schedule step_decay --max-lr 0.1 --step-size 10 --steps 11 --csv out.csv
near "$(cell "$d/out.csv" 10 2)" 0.01 || fail "step_decay with the default gamma: $(cell "$d/out.csv" 10 2)"
pass

# multistep: times 0.1 at 30 and at 80 (the default gamma).
d=$(fresh_dir)
run_in "$d" --schedule multistep --max-lr 0.1 --milestones 30,80 --steps 100 --csv out.csv
near "$(cell "$d/out.csv" 29 2)" 0.1 || fail "multistep(29) = $(cell "$d/out.csv" 29 2)"
near "$(cell "$d/out.csv" 30 2)" 0.01 || fail "multistep(30) = $(cell "$d/out.csv" 30 2)"
near "$(cell "$d/out.csv" 79 2)" 0.01 || fail "multistep(79) = $(cell "$d/out.csv" 79 2)"
near "$(cell "$d/out.csv" 80 2)" 0.001 1e-18 || fail "multistep(80) = $(cell "$d/out.csv" 80 2)"
pass

# range_sweep, the LR range test's rates: min_lr to max_lr, evenly in log
# space, over the run unless --total-steps says otherwise.
d=$(fresh_dir)
run_in "$d" --schedule range_sweep --base-lr 1e-5 --max-lr 1 --steps 6 --csv out.csv
[[ $rc -eq 0 ]] || fail "range_sweep: exit $rc: $err"
near "$(cell "$d/out.csv" 0 2)" 1e-5 1e-20 || fail "range_sweep(0) = $(cell "$d/out.csv" 0 2)"
near "$(cell "$d/out.csv" 1 2)" 1e-4 1e-18 || fail "range_sweep(1) = $(cell "$d/out.csv" 1 2)"
[[ $(cell "$d/out.csv" 5 2) == 1 ]] || fail "range_sweep(5) = $(cell "$d/out.csv" 5 2)"
pass

# ---- the text form: --schedule takes what the library's to_string writes -------

# Every schedule given by flags and by its text form prints the same table.
declare -A text_of=(
  [constant]="constant(lr=0.25)"
  [triangular]="triangular(base_lr=0.001, max_lr=0.006, step_size=20, base_momentum=0.85, max_momentum=0.95)"
  [exp_range]="exp_range(base_lr=0.001, max_lr=0.006, step_size=20, gamma=0.99)"
  [one_cycle]="one_cycle(max_lr=0.1, total_steps=100, anneal=linear, three_phase=true)"
  [cosine]="cosine(lr=0.1, total_steps=100, eta_min=0.001)"
  [step_decay]="step_decay(lr=0.1, step_size=30, gamma=0.5)"
  [multistep]="multistep(lr=0.1, milestones=[30, 80], gamma=0.1)"
)
declare -A flags_of=(
  [constant]="--base-lr 0.25"
  [triangular]="--step-size 20 --base-momentum 0.85 --max-momentum 0.95"
  [exp_range]="--step-size 20 --gamma 0.99"
  [one_cycle]="--max-lr 0.1 --anneal linear --three-phase"
  [cosine]="--max-lr 0.1 --base-lr 0.001"
  [step_decay]="--max-lr 0.1 --step-size 30 --gamma 0.5"
  [multistep]="--max-lr 0.1 --milestones 30,80"
)
for name in "${!text_of[@]}"; do
  d=$(fresh_dir)
  # shellcheck disable=SC2086
  run_in "$d" --schedule "$name" ${flags_of[$name]} --steps 100 --csv flags.csv
  [[ $rc -eq 0 ]] || fail "$name by flags: exit $rc: $err"
  run_in "$d" --schedule "${text_of[$name]}" --steps 100 --csv text.csv
  if [[ $rc -ne 0 ]]; then
    fail "--schedule '${text_of[$name]}': exit $rc: $err"
  else
    cmp -s "$d/flags.csv" "$d/text.csv" || fail "--schedule '${text_of[$name]}' differs from its flags: $(diff "$d/flags.csv" "$d/text.csv" | head -n 4)"
  fi
  pass
done
# Composed schedules have no flags, only their text form.
d=$(fresh_dir)
run_in "$d" --schedule "warmup(cosine(lr=0.1, total_steps=90), steps=10, start_lr=0)" --steps 100 --csv out.csv
[[ $rc -eq 0 && $(cell "$d/out.csv" 0 2) == 0 ]] || fail "warmup text form: exit $rc, '$err', lr(0) $(cell "$d/out.csv" 0 2 2>/dev/null)"
near "$(cell "$d/out.csv" 10 2)" 0.1 || fail "warmup text form: lr(10) = $(cell "$d/out.csv" 10 2)"
pass

# ---- --metrics: a plateau follows one metric per epoch ---------------------------

# Warmup over epoch 0, then a plateau with patience 1 and factor 0.5: epochs
# 1 to 3 report 1.0 (best), 1.0 (bad 1), 1.0 (bad 2 > 1: halved), nan (bad 1),
# then -inf (best), 2.0 (bad 1), 2.0 (bad 2: halved again).
d=$(fresh_dir)
printf '1.0\n1.0\n1.0\nnan\n-inf\n2.0\n2.0\n' >"$d/metrics.txt"
plateau="sequence(linear(start_lr=0, end_lr=0.1, total_steps=10), 10, plateau(constant(lr=0.1), patience=1, factor=0.5))"
run_in "$d" --schedule "$plateau" --steps 90 --steps-per-epoch 10 --metrics metrics.txt --csv out.csv
[[ $rc -eq 0 ]] || fail "--metrics: exit $rc: $err"
for row in "5 0.05" "10 0.1" "29 0.1" "30 0.05" "59 0.05" "70 0.025" "89 0.025"; do
  read -r step want <<<"$row"
  near "$(cell "$d/out.csv" "$step" 2)" "$want" || fail "--metrics: lr($step) = $(cell "$d/out.csv" "$step" 2), expected $want"
done
pass
for bad in "--metrics metrics.txt|needs --steps-per-epoch" \
  "--metrics absent.txt --steps-per-epoch 10|cannot open" \
  "--metrics bad.txt --steps-per-epoch 10|bad.txt line 2: 'x1' is not a number" \
  "--metrics empty.txt --steps-per-epoch 10|holds no metric"; do
  d=$(fresh_dir)
  printf '1.0\n1.0\n' >"$d/metrics.txt"
  printf '0.5\nx1\n' >"$d/bad.txt"
  : >"$d/empty.txt"
  # shellcheck disable=SC2086  # the flags are words on purpose
  run_in "$d" --schedule "$plateau" --steps 90 ${bad%%|*} --csv out.csv
  [[ $rc -eq 2 && $err == *"--metrics"*"${bad#*|}"* && ! -e $d/out.csv ]] ||
    fail "${bad%%|*}: exit $rc, '$err'"
  pass
done
d=$(fresh_dir)
printf '1.0\n' >"$d/metrics.txt"
run_in "$d" --schedule triangular --steps 90 --steps-per-epoch 10 --metrics metrics.txt --csv out.csv
[[ $rc -eq 2 && $err == *"--metrics"*"no plateau"* ]] || fail "--metrics without a plateau: exit $rc, '$err'"
pass

# ---- momentum column iff both momentum flags ------------------------------------

for name in triangular one_cycle; do
  extra=""
  [[ $name == one_cycle ]] && extra="--max-lr 0.1"
  d=$(fresh_dir)
  # shellcheck disable=SC2086
  run_in "$d" --schedule $name $extra --steps 4001 --base-momentum 0.8 --max-momentum 0.9 --csv out.csv
  [[ $rc -eq 0 ]] || { fail "$name with momentum: exit $rc: $err"; continue; }
  [[ $(head -n 1 "$d/out.csv") == "step,lr,momentum" ]] || fail "$name: momentum header is '$(head -n 1 "$d/out.csv")'"
  awk -F, 'NR > 1 && (NF != 3 || $3 < 0.8 || $3 > 0.9) { bad = 1 } END { exit bad }' "$d/out.csv" ||
    fail "$name: momentum outside [0.8, 0.9] or missing"
  near "$(cell "$d/out.csv" 0 3)" 0.9 || fail "$name: momentum(0) = $(cell "$d/out.csv" 0 3), expected max_momentum"
  pass
  d=$(fresh_dir)
  # shellcheck disable=SC2086
  run_in "$d" --schedule $name $extra --steps 10 --csv out.csv
  [[ $(head -n 1 "$d/out.csv") == "step,lr" ]] || fail "$name without momentum flags: header '$(head -n 1 "$d/out.csv")'"
  pass
done
# At the triangular peak momentum is at its lowest.
d=$(fresh_dir)
run_in "$d" --schedule triangular --steps 2001 --base-momentum 0.8 --max-momentum 0.9 --csv out.csv
near "$(cell "$d/out.csv" 2000 3)" 0.8 || fail "triangular momentum(2000) = $(cell "$d/out.csv" 2000 3)"
pass

# ---- standard output --------------------------------------------------------------

d=$(fresh_dir)
run_in "$d" --schedule triangular --steps 5
[[ $(printf '%s\n' "$out" | head -n 1) == step,lr && $(printf '%s\n' "$out" | wc -l) -eq 6 ]] ||
  fail "without --csv or --plot the table should go to stdout; got: $out"
run_in "$d" --schedule triangular --steps 5 --csv -
[[ $(printf '%s\n' "$out" | wc -l) -eq 6 && -z $(ls -A "$d") ]] || fail "--csv - should write to stdout only"
pass

# ---- help -------------------------------------------------------------------------

run_in "$tmp" --help
[[ $rc -eq 0 ]] || fail "--help exits $rc"
for name in "${names[@]}"; do
  grep -q "$name" <<<"$out" || fail "--help does not mention $name"
done
pass

# ---- bad input: exit 2, one line naming the flag, nothing written -----------------

# expect_usage_error FLAG ARGS...: every case also asks for both outputs, which
# must not appear (nor any temporary file).
expect_usage_error() {
  local flag=$1
  shift
  local d
  d=$(fresh_dir)
  run_in "$d" "$@"
  local shown="schedule_plot $*"
  if ! refused "$shown" 2 "$flag"; then
    return
  elif [[ $err != "schedule_plot: "* ]]; then
    fail "$shown: message does not start with the program's name: '$err'"
  elif [[ -n $(ls -A "$d") ]]; then
    fail "$shown: left files behind: $(ls -A "$d")"
  else
    pass
  fi
}

o=(--csv out.csv --plot out.png)

# Flags and values CLI11 sees.
expect_usage_error --schedule --steps 10 "${o[@]}"
expect_usage_error --schedule --schedule nope --steps 10 "${o[@]}"
expect_usage_error --schedule --schedule "" --steps 10 "${o[@]}"
expect_usage_error --steps --schedule triangular "${o[@]}"
expect_usage_error --steps --schedule triangular --steps 0 "${o[@]}"
expect_usage_error --steps --schedule triangular --steps -5 "${o[@]}"
expect_usage_error --steps --schedule triangular --steps 10000001 "${o[@]}"
expect_usage_error --steps --schedule triangular --steps 99999999999999999999999 "${o[@]}"
expect_usage_error --steps --schedule triangular --steps 1.5 "${o[@]}"
expect_usage_error --steps --schedule triangular --steps 1e3 "${o[@]}"
expect_usage_error --steps --schedule triangular --steps " 10" "${o[@]}"
expect_usage_error --bogus "${T[@]}" --bogus 1 "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr 0.001 --base-lr 0.002 "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr abc "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr 0.001x "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr nan "${o[@]}"
expect_usage_error "--base-lr: '1e-400' is outside the range" "${T[@]}" --base-lr 1e-400 "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr inf "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr 1e999 "${o[@]}"
expect_usage_error --base-lr "${T[@]}" --base-lr 1e-400 "${o[@]}"
expect_usage_error --step-size "${T[@]}" --step-size 0 "${o[@]}"
expect_usage_error --step-size "${T[@]}" --step-size -1 "${o[@]}"
expect_usage_error --step-size "${T[@]}" --step-size 2.5 "${o[@]}"
expect_usage_error --step-size "${T[@]}" --step-size 0x10 "${o[@]}"
expect_usage_error --step-size "${T[@]}" --step-size 9223372036854775808 "${o[@]}"
expect_usage_error --step-size-down "${T[@]}" --step-size-down 0 "${o[@]}"
expect_usage_error --anneal --schedule one_cycle --max-lr 0.1 --steps 10 --anneal cosine "${o[@]}"

# Values the library refuses, traced back to the flag.
expect_usage_error --base-lr "${T[@]}" --base-lr -0.001 "${o[@]}"
expect_usage_error --max-lr "${T[@]}" --base-lr 0.01 --max-lr 0.001 "${o[@]}"
expect_usage_error "--max-lr (default)" "${T[@]}" --base-lr 0.01 "${o[@]}"
expect_usage_error --gamma --schedule exp_range --steps 10 --gamma 0 "${o[@]}"
expect_usage_error --gamma --schedule exp_range --steps 10 --gamma 1.01 "${o[@]}"
expect_usage_error --max-lr --schedule one_cycle --steps 10 --max-lr 0 "${o[@]}"
expect_usage_error --pct-start --schedule one_cycle --steps 10 --max-lr 0.1 --pct-start 0 "${o[@]}"
expect_usage_error --pct-start --schedule one_cycle --steps 10 --max-lr 0.1 --pct-start 1 "${o[@]}"
expect_usage_error --pct-start --schedule one_cycle --steps 10 --max-lr 0.1 --three-phase --pct-start 0.5 "${o[@]}"
expect_usage_error --div-factor --schedule one_cycle --steps 10 --max-lr 0.1 --div-factor 0 "${o[@]}"
expect_usage_error --final-div-factor --schedule one_cycle --steps 10 --max-lr 0.1 --final-div-factor -1 "${o[@]}"
expect_usage_error --total-steps --schedule one_cycle --steps 10 --max-lr 0.1 --total-steps 0 "${o[@]}"
expect_usage_error --t-mult --schedule cosine_restarts --steps 10 --max-lr 0.1 --step-size 5 --t-mult 0.5 "${o[@]}"
expect_usage_error --m-mul --schedule cosine_restarts --steps 10 --max-lr 0.1 --step-size 5 --m-mul 1.5 "${o[@]}"
expect_usage_error --max-lr --schedule cosine_restarts --steps 10 --max-lr 0.1 --step-size 5 --base-lr 0.2 "${o[@]}"
expect_usage_error --base-momentum "${T[@]}" --base-momentum -0.1 --max-momentum 0.9 "${o[@]}"
expect_usage_error --max-momentum "${T[@]}" --base-momentum 0.8 --max-momentum 1 "${o[@]}"
expect_usage_error --max-momentum "${T[@]}" --base-momentum 0.9 --max-momentum 0.8 "${o[@]}"

# The decays' values and flags.
expect_usage_error --max-lr --schedule cosine --steps 10 --max-lr 0.1 --base-lr 0.2 "${o[@]}"
expect_usage_error --base-lr --schedule cosine --steps 10 --max-lr 0.1 --base-lr -1 "${o[@]}"
expect_usage_error --total-steps --schedule cosine --steps 10 --max-lr 0.1 --total-steps 0 "${o[@]}"
expect_usage_error --start-lr --schedule linear --steps 10 --start-lr -0.1 --end-lr 0.1 "${o[@]}"
expect_usage_error --end-lr --schedule linear --steps 10 --start-lr 0.1 --end-lr -0.5 "${o[@]}"
expect_usage_error --power --schedule polynomial --steps 10 --max-lr 0.1 --power 0 "${o[@]}"
expect_usage_error --end-lr --schedule polynomial --steps 10 --max-lr 0.1 --end-lr -1 "${o[@]}"
expect_usage_error --gamma --schedule exponential --steps 10 --max-lr 0.1 --gamma 1.5 "${o[@]}"
expect_usage_error --max-lr --schedule exponential --steps 10 --max-lr -0.1 --gamma 0.5 "${o[@]}"
expect_usage_error --gamma --schedule step_decay --steps 10 --max-lr 0.1 --step-size 5 --gamma 0 "${o[@]}"
expect_usage_error --gamma --schedule multistep --steps 10 --max-lr 0.1 --milestones 5 --gamma 2 "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 --milestones 80,30 "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 --milestones 30,30 "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 --milestones 30,,80 "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 --milestones 30, "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 --milestones -5 "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 --milestones 1.5 "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 \
  --milestones 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17 "${o[@]}"

# Required flags.
expect_usage_error --base-lr --schedule constant --steps 10 "${o[@]}"
expect_usage_error --max-lr --schedule one_cycle --steps 10 "${o[@]}"
expect_usage_error --max-lr --schedule cosine_restarts --steps 10 --step-size 5 "${o[@]}"
expect_usage_error --step-size --schedule cosine_restarts --steps 10 --max-lr 0.1 "${o[@]}"
expect_usage_error --max-momentum "${T[@]}" --base-momentum 0.8 "${o[@]}"
expect_usage_error --base-momentum "${T[@]}" --max-momentum 0.9 "${o[@]}"
expect_usage_error --max-lr --schedule cosine --steps 10 "${o[@]}"
expect_usage_error --start-lr --schedule linear --steps 10 --end-lr 0.1 "${o[@]}"
expect_usage_error --end-lr --schedule linear --steps 10 --start-lr 0.1 "${o[@]}"
expect_usage_error --max-lr --schedule polynomial --steps 10 "${o[@]}"
expect_usage_error --gamma --schedule exponential --steps 10 --max-lr 0.1 "${o[@]}"
expect_usage_error --step-size --schedule step_decay --steps 10 --max-lr 0.1 "${o[@]}"
expect_usage_error --milestones --schedule multistep --steps 10 --max-lr 0.1 "${o[@]}"

# A text form the library refuses, or one given with parameter flags.
expect_usage_error "--schedule: clr::parse_schedule: stepsize" --schedule "triangular(base_lr=0.001, max_lr=0.006, stepsize=2000)" --steps 10 "${o[@]}"
expect_usage_error "--schedule: clr::triangular: step_size = 0 must be at least 1 (column 51)" \
  --schedule "triangular(base_lr=0.001, max_lr=0.006, step_size=0)" --steps 10 "${o[@]}"
expect_usage_error --schedule --schedule "cosine(lr=0.1" --steps 10 "${o[@]}"
expect_usage_error "--schedule: clr::parse_schedule: max_lr = (missing) is required by one_cycle" --schedule "one_cycle(total_steps=10)" --steps 10 "${o[@]}"
expect_usage_error "--schedule: clr::parse_schedule: T_0 = 2ep is in epochs, but the steps per epoch were not given" --schedule "cosine_restarts(eta_max=0.1, T_0=2ep)" --steps 10 "${o[@]}"
expect_usage_error "--max-lr: cannot be combined with a text-form --schedule" --schedule "cosine(lr=0.1, total_steps=10)" --max-lr 0.2 --steps 10 "${o[@]}"
expect_usage_error "--three-phase: cannot be combined" --schedule "one_cycle(max_lr=0.1, total_steps=10)" --three-phase --steps 10 "${o[@]}"

# A flag the schedule does not take names the flag and the schedule.
not_for() {
  local flag=$1 schedule=$2
  shift 2
  local d
  d=$(fresh_dir)
  run_in "$d" --schedule "$schedule" --steps 10 "$@" "${o[@]}"
  if [[ $rc -ne 2 || $err != *"$flag"*"$schedule"* || -n $(ls -A "$d") ]]; then
    fail "$flag with --schedule $schedule: exit $rc, '$err', files: $(ls -A "$d")"
  else
    pass
  fi
}
not_for --max-lr constant --base-lr 0.1 --max-lr 0.2
not_for --step-size constant --base-lr 0.1 --step-size 5
not_for --gamma triangular --gamma 0.9
not_for --gamma hann --gamma 0.9
not_for --t-mult triangular2 --t-mult 2
not_for --m-mul welch --m-mul 0.5
not_for --pct-start triangular --pct-start 0.3
not_for --total-steps exp_range --total-steps 10
not_for --anneal cosine_restarts --max-lr 0.1 --step-size 5 --anneal linear
not_for --three-phase triangular --three-phase
not_for --three-phase triangular --three-phase=false
not_for --base-lr one_cycle --max-lr 0.1 --base-lr 0.01
not_for --step-size one_cycle --max-lr 0.1 --step-size 5
not_for --step-size-down cosine_restarts --max-lr 0.1 --step-size 5 --step-size-down 5
not_for --base-momentum constant --base-lr 0.1 --base-momentum 0.8 --max-momentum 0.9
not_for --base-momentum cosine_restarts --max-lr 0.1 --step-size 5 --base-momentum 0.8 --max-momentum 0.9
not_for --milestones step_decay --max-lr 0.1 --step-size 5 --milestones 3
not_for --power linear --start-lr 0.1 --end-lr 0 --power 2
not_for --end-lr cosine --max-lr 0.1 --end-lr 0.01
not_for --start-lr polynomial --max-lr 0.1 --start-lr 0.01
not_for --step-size exponential --max-lr 0.1 --gamma 0.9 --step-size 5
not_for --base-lr exponential --max-lr 0.1 --gamma 0.9 --base-lr 0.01
not_for --base-momentum multistep --max-lr 0.1 --milestones 3 --base-momentum 0.8 --max-momentum 0.9
not_for --max-lr linear --start-lr 0.1 --end-lr 0 --max-lr 0.2
not_for --total-steps step_decay --max-lr 0.1 --step-size 5 --total-steps 10
not_for --end-lr triangular --end-lr 0.1

# Output paths, refused before any work.
expect_usage_error --plot "${T[@]}" --plot out.jpg
expect_usage_error --plot "${T[@]}" --plot out
expect_usage_error --plot "${T[@]}" --plot -
expect_usage_error --plot "${T[@]}" --csv same.png --plot same.png
expect_usage_error --csv "${T[@]}" --csv no/such/dir/out.csv
expect_usage_error --plot "${T[@]}" --plot no/such/dir/out.png
expect_usage_error --csv "${T[@]}" --csv ""
d=$(fresh_dir)
mkdir "$d/sub"
run_in "$d" "${T[@]}" --csv sub
[[ $rc -eq 2 && $err == *--csv* && -z $(ls -A "$d/sub") ]] || fail "--csv naming a directory: exit $rc, '$err'"
pass

# ---- all or nothing ---------------------------------------------------------------

# A gnuplot that fails: the CSV beside the plot must not be replaced either,
# and no temporary file may remain.
fake=$(fresh_dir)
printf '#!/bin/sh\necho "fake gnuplot failing" >&2\nexit 3\n' >"$fake/gnuplot"
chmod +x "$fake/gnuplot"
d=$(fresh_dir)
echo old >"$d/out.csv"
echo old >"$d/out.png"
rc=0
(cd "$d" && PATH="$fake:$PATH" "$exe" "${T[@]}" --csv out.csv --plot out.png >/dev/null 2>"$tmp/err") || rc=$?
[[ $rc -eq 1 ]] || fail "failing gnuplot: exit $rc, expected 1"
grep -q "gnuplot failed" "$tmp/err" || fail "failing gnuplot: message '$(cat "$tmp/err")'"
[[ $(cat "$d/out.csv") == old && $(cat "$d/out.png") == old ]] || fail "failing gnuplot replaced an existing output"
[[ $(ls -A "$d" | tr '\n' ' ') == "out.csv out.png " ]] || fail "failing gnuplot left: $(ls -A "$d")"
pass

# No gnuplot at all: a clear message and exit 1, nothing written.
d=$(fresh_dir)
empty=$(fresh_dir)
rc=0
(cd "$d" && PATH="$empty" "$exe" "${T[@]}" --csv out.csv --plot out.png >/dev/null 2>"$tmp/err") || rc=$?
[[ $rc -eq 1 ]] || fail "missing gnuplot: exit $rc, expected 1"
grep -q "gnuplot not found" "$tmp/err" || fail "missing gnuplot: message '$(cat "$tmp/err")'"
grep -q "gnuplot-nox" "$tmp/err" || fail "missing gnuplot: message does not say what to install"
[[ -z $(ls -A "$d") ]] || fail "missing gnuplot left: $(ls -A "$d")"
pass

# Killed halfway: no output, no temporary file, an earlier file untouched.
# The signal must reach a run that is certainly unfinished, so the run is made
# to stop at a known point and wait there: --plot runs a stand-in gnuplot that
# reports its pid through a FIFO and sleeps. By then the CSV is written to its
# temporary file, the image's temporary file exists, the gnuplot script sits
# in TMPDIR, and nothing has been renamed into place. (SIGINT is not tried: a
# background job of a non-interactive shell ignores it, and so does the
# program then.)
blocker=$(fresh_dir)
mkfifo "$blocker/ready"
printf '#!/bin/sh\necho $$ >"$CLR_TEST_READY"\nexec sleep 300\n' >"$blocker/gnuplot"
chmod +x "$blocker/gnuplot"
for sig in TERM HUP; do
  d=$(fresh_dir)
  scratch=$(fresh_dir)
  echo old >"$d/out.csv"
  exec {ready}<>"$blocker/ready" # read-write: opening never blocks, reading waits for the stand-in
  (cd "$d" && CLR_TEST_READY="$blocker/ready" TMPDIR="$scratch" PATH="$blocker:$PATH" \
    exec "$exe" --schedule hann --steps 100000 --csv out.csv --plot out.png 2>"$tmp/err") &
  pid=$!
  gp_pid=""
  if read -r -t 120 -u "$ready" gp_pid; then
    # Caught in the middle: everything is in temporary files.
    compgen -G "$d/.out.csv.*" >/dev/null || fail "SIG$sig: no temporary CSV while gnuplot runs: $(ls -A "$d")"
    compgen -G "$d/.out.png.*" >/dev/null || fail "SIG$sig: no temporary image while gnuplot runs: $(ls -A "$d")"
    [[ -n $(ls -A "$scratch") ]] || fail "SIG$sig: no gnuplot script in TMPDIR while gnuplot runs"
    [[ $(cat "$d/out.csv") == old ]] || fail "SIG$sig: out.csv replaced before gnuplot finished"
    kill -"$sig" "$pid"
    rc=0
    wait "$pid" 2>/dev/null || rc=$?  # no "Hangup" notice from the shell
    kill "$gp_pid" 2>/dev/null || true
    want_rc=$((128 + $(kill -l "$sig")))
    [[ $rc -eq $want_rc ]] || fail "SIG$sig: exit $rc, expected $want_rc ($(cat "$tmp/err"))"
    [[ $(ls -A "$d") == out.csv && $(cat "$d/out.csv") == old ]] ||
      fail "SIG$sig: left $(ls -A "$d" | tr '\n' ' ')with out.csv '$(cat "$d/out.csv")'"
    [[ -z $(ls -A "$scratch") ]] || fail "SIG$sig: left in TMPDIR: $(ls -A "$scratch")"
  else
    kill "$pid" 2>/dev/null || true
    wait "$pid" || true
    fail "SIG$sig: the stand-in gnuplot never ran (stderr: $(cat "$tmp/err"))"
  fi
  exec {ready}>&-
  pass
done

# ---- what the output name points at ----------------------------------------------

# A FIFO is written into, not replaced by a regular file.
d=$(fresh_dir)
mkfifo "$d/pipe"
timeout 60 cat "$d/pipe" >"$d/got" &
reader=$!
run_in "$d" "${T[@]}" --csv pipe
wait "$reader" || true
[[ $rc -eq 0 && -p $d/pipe && $(wc -l <"$d/got") -eq 101 ]] ||
  fail "--csv FIFO: exit $rc, '$err', pipe is $(stat -c %F "$d/pipe"), reader got $(wc -l <"$d/got") lines"
pass

# A symlink is followed: the file it points at gets the data, the link stays.
d=$(fresh_dir)
echo old >"$d/real.csv"
ln -s real.csv "$d/link.csv"
ln -s /dev/null "$d/null.csv"
ln -s not-yet.csv "$d/dangling.csv"
run_in "$d" "${T[@]}" --csv link.csv
[[ $rc -eq 0 && -L $d/link.csv && $(head -n 1 "$d/real.csv") == step,lr ]] ||
  fail "--csv through a symlink: exit $rc, '$err', link.csv is $(stat -c %F "$d/link.csv"), real.csv starts '$(head -n 1 "$d/real.csv")'"
run_in "$d" "${T[@]}" --csv null.csv
[[ $rc -eq 0 && -L $d/null.csv && -c /dev/null ]] || fail "--csv through a symlink to /dev/null: exit $rc, '$err'"
run_in "$d" "${T[@]}" --csv dangling.csv
[[ $rc -eq 0 && -L $d/dangling.csv && $(wc -l <"$d/not-yet.csv") -eq 101 ]] ||
  fail "--csv through a dangling symlink: exit $rc, '$err', left $(ls -A "$d" | tr '\n' ' ')"
[[ $(ls -A "$d" | tr '\n' ' ') == "dangling.csv link.csv not-yet.csv null.csv real.csv " ]] ||
  fail "symlinks: left $(ls -A "$d" | tr '\n' ' ')"
pass

# A character device is written into (here a copy of /dev/full, made where
# the tests may make one): the write fails, and the device stays a device.
d=$(fresh_dir)
# A copy of /dev/full, so that a regression replacing devices cannot replace
# the real one when the tests run as root.
if mknod "$d/full" c 1 7 2>/dev/null; then
  run_in "$d" "${T[@]}" --csv full
  [[ $rc -eq 1 && $err == *full*"write failed"* && -c $d/full ]] ||
    fail "--csv on a full device: exit $rc, '$err', full is now $(stat -c %F "$d/full")"
  pass
else
  echo "note: mknod is not allowed here, so writing to a full device is not checked" >&2
fi

# A hard-linked file is written into, so that every link sees the new data.
d=$(fresh_dir)
echo old >"$d/a.csv"
ln "$d/a.csv" "$d/b.csv"
run_in "$d" "${T[@]}" --csv a.csv
[[ $rc -eq 0 && $(stat -c %h "$d/a.csv") -eq 2 && $(head -n 1 "$d/b.csv") == step,lr ]] ||
  fail "--csv on a hard link: exit $rc, '$err', links $(stat -c %h "$d/a.csv"), b.csv starts '$(head -n 1 "$d/b.csv")'"
pass

# A read-only file is refused before any work (by its mode bits, also for
# root); a writable one keeps its mode when replaced.
d=$(fresh_dir)
echo old >"$d/ro.csv"
chmod 444 "$d/ro.csv"
run_in "$d" "${T[@]}" --csv ro.csv
[[ $rc -eq 2 && $err == *--csv*read-only* && $(cat "$d/ro.csv") == old && $(stat -c %a "$d/ro.csv") == 444 ]] ||
  fail "--csv on a read-only file: exit $rc, '$err', now mode $(stat -c %a "$d/ro.csv")"
echo old >"$d/private.csv"
chmod 600 "$d/private.csv"
run_in "$d" "${T[@]}" --csv private.csv
[[ $rc -eq 0 && $(head -n 1 "$d/private.csv") == step,lr && $(stat -c %a "$d/private.csv") == 600 ]] ||
  fail "--csv over a mode 600 file: exit $rc, '$err', now mode $(stat -c %a "$d/private.csv")"
pass

# Two outputs naming one file, however spelt, are refused before any work.
d=$(fresh_dir)
mkdir "$d/sub"
ln -s same.png "$d/alias.png"
echo old >"$d/old.png"
ln "$d/old.png" "$d/hard.png"
for csv in sub/../same.png "$d/same.png" alias.png; do
  run_in "$d" "${T[@]}" --csv "$csv" --plot same.png
  [[ $rc -eq 2 && $err == *--plot*"same file"* && ! -e $d/same.png ]] ||
    fail "--csv $csv --plot same.png: exit $rc, '$err'"
done
run_in "$d" "${T[@]}" --csv hard.png --plot old.png
[[ $rc -eq 2 && $err == *--plot*"same file"* && $(cat "$d/old.png") == old ]] ||
  fail "--csv and --plot on two hard links of one file: exit $rc, '$err'"
pass

# A file name of 250 characters: the temporary file's name must still fit.
d=$(fresh_dir)
long=$(printf 'x%.0s' $(seq 1 246)).csv
run_in "$d" "${T[@]}" --csv "$long"
[[ $rc -eq 0 && $(wc -l <"$d/$long") -eq 101 ]] || fail "--csv with a 250-character name: exit $rc, '$err'"
pass

# A gnuplot that exits 0 but leaves a cut-off image (a full disk) or none:
# refused, nothing replaced. The stand-in writes the image gnuplot was asked
# for, found in the script's `set output` line.
cut=$(fresh_dir)
cat >"$cut/gnuplot" <<'GP'
#!/bin/sh
out=$(sed -n "s/^set output '\(.*\)'\$/\1/p" "$2")
case $GNUPLOT_FAKE in
  cut) printf '\211PNG\r\n\032\n\0\0\0\rIHDR' >"$out" ;;
  svg) printf '<svg>\n<g>\n' >"$out" ;;
  whole) printf '\211PNG\r\n\032\n\0\0\0\0IEND\256B`\202' >"$out"
    [ -z "$GNUPLOT_FAKE_DIR" ] || { rm -f "$GNUPLOT_FAKE_DIR"; mkdir "$GNUPLOT_FAKE_DIR"; } ;;
esac
exit 0
GP
chmod +x "$cut/gnuplot"
for mode in cut empty svg; do
  d=$(fresh_dir)
  echo old >"$d/out.csv"
  echo old >"$d/out.png"
  echo old >"$d/out.svg"
  image=out.png
  [[ $mode == svg ]] && image=out.svg
  rc=0
  (cd "$d" && GNUPLOT_FAKE=$mode PATH="$cut:$PATH" "$exe" "${T[@]}" --csv out.csv --plot $image >/dev/null 2>"$tmp/err") || rc=$?
  err=$(cat "$tmp/err")
  [[ $rc -eq 1 && $err == *$image*"nothing written"* ]] || fail "gnuplot leaving a $mode image: exit $rc, '$err'"
  [[ $(cat "$d/out.csv") == old && $(cat "$d/out.png") == old && $(cat "$d/out.svg") == old ]] ||
    fail "gnuplot leaving a $mode image: an earlier output was replaced"
  [[ $(ls -A "$d" | tr '\n' ' ') == "out.csv out.png out.svg " ]] || fail "gnuplot leaving a $mode image: left $(ls -A "$d")"
  pass
done

# When the second output cannot be put in place, the message says the first
# was: here the stand-in turns the image's name into a directory meanwhile.
d=$(fresh_dir)
echo old >"$d/out.png"
rc=0
(cd "$d" && GNUPLOT_FAKE=whole GNUPLOT_FAKE_DIR="$d/out.png" PATH="$cut:$PATH" "$exe" "${T[@]}" --csv out.csv \
  --plot out.png >/dev/null 2>"$tmp/err") || rc=$?
err=$(cat "$tmp/err")
[[ $rc -eq 1 && $err == *out.png*"the --csv file out.csv was written"* && $(head -n 1 "$d/out.csv") == step,lr ]] ||
  fail "image not put in place after the CSV: exit $rc, '$err'"
pass

# Files come out with the usual permissions, not mkstemp's private 0600.
d=$(fresh_dir)
run_in "$d" "${T[@]}" --csv out.csv
[[ $(stat -c %a "$d/out.csv") == 644 ]] || fail "out.csv has mode $(stat -c %a "$d/out.csv") under umask 022"
pass

# Replacing an existing file works.
echo old >"$d/out.csv"
run_in "$d" "${T[@]}" --csv out.csv
[[ $(head -n 1 "$d/out.csv") == step,lr ]] || fail "an existing --csv file was not replaced"
pass

fi  # part cli

# ==== part full_disk ==================================================================
if want full_disk; then

# A write error on stdout is an error, not a silent truncation. (CLR_TEST_DEV_FULL
# names another device, to see this part skip or fail without one.)
full=${CLR_TEST_DEV_FULL:-/dev/full}
if [[ -c $full && -w $full ]]; then
  rc=0
  "$exe" --schedule triangular --steps 100000 >"$full" 2>"$tmp/err" || rc=$?
  [[ $rc -eq 1 ]] || fail "writing to /dev/full: exit $rc, expected 1"
  grep -q "standard output" "$tmp/err" || fail "writing to /dev/full: message '$(cat "$tmp/err")'"
  pass
else
  missing_input "$full" "a writable /dev/full device, as Linux has"
fi

fi  # part full_disk

# ==== part plots ========================================================================
if want plots; then

# ---- plots --------------------------------------------------------------------------

is_png() { [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]]; }
png_size() { od -An -j16 -N8 -tu1 "$1" | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 "x" $5 * 16777216 + $6 * 65536 + $7 * 256 + $8 }'; }

if command -v gnuplot >/dev/null 2>&1; then
  for name in "${names[@]}"; do
    d=$(fresh_dir)
    # shellcheck disable=SC2086
    run_in "$d" --schedule "$name" --steps 1234 ${params[$name]} --plot "$name.png"
    if [[ $rc -ne 0 ]]; then fail "$name --plot: exit $rc: $err"; continue; fi
    is_png "$d/$name.png" || fail "$name.png is not a PNG"
    [[ $(png_size "$d/$name.png") == 640x360 ]] || fail "$name.png is $(png_size "$d/$name.png")"
    [[ -z $err ]] || fail "$name --plot: gnuplot complained: $err"
    [[ -z $out ]] || fail "$name --plot wrote to stdout: $out"
    [[ $(ls -A "$d") == "$name.png" ]] || fail "$name --plot left: $(ls -A "$d")"
    pass
  done

  # Momentum on a second axis, CSV and SVG together, upper-case extension.
  d=$(fresh_dir)
  run_in "$d" --schedule one_cycle --max-lr 0.1 --steps 1000 --base-momentum 0.85 --max-momentum 0.95 \
    --csv out.csv --plot out.SVG
  [[ $rc -eq 0 ]] || fail "one_cycle --plot out.SVG: exit $rc: $err"
  head -c 400 "$d/out.SVG" | grep -q "<svg" || fail "out.SVG does not start an SVG document"
  tail -c 100 "$d/out.SVG" | grep -q "</svg>" || fail "out.SVG is not a complete SVG document"
  grep -q momentum "$d/out.SVG" || fail "out.SVG has no momentum axis"
  grep -q "one_cycle" "$d/out.SVG" || fail "out.SVG has no title naming the schedule"
  [[ $(wc -l <"$d/out.csv") -eq 1001 ]] || fail "the CSV beside the SVG has $(wc -l <"$d/out.csv") lines"
  pass

  # The title is the schedule's text form, from which the plot can be redrawn.
  d=$(fresh_dir)
  run_in "$d" --schedule step_decay --max-lr 0.1 --step-size 30 --steps 100 --plot out.svg
  [[ $rc -eq 0 ]] || fail "step_decay --plot out.svg: exit $rc: $err"
  grep -qF "step_decay(lr=0.1, step_size=30)" "$d/out.svg" || fail "out.svg's title is not the text form"
  pass

  # One step and a million narrow cycles still draw.
  d=$(fresh_dir)
  run_in "$d" --schedule triangular --steps 1 --plot one.png
  [[ $rc -eq 0 ]] && is_png "$d/one.png" || fail "--steps 1 --plot: exit $rc: $err"
  run_in "$d" --schedule triangular2 --step-size 1 --steps 2000000 --plot dense.png
  [[ $rc -eq 0 ]] && is_png "$d/dense.png" || fail "2e6 steps --plot: exit $rc: $err"
  pass
else
  missing_input gnuplot "install gnuplot-nox"
fi

fi  # part plots

finish "test_schedule_plot $part"
