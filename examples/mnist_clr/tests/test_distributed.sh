#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Data-parallel mnist_clr under mpirun, on a small IDX set written here:
#   - 2 and 3 ranks train the run one process trains, for the same global
#     batch: the same rates at every update (closed forms of the step), the
#     losses within 1e-4 relative (float sums in another order), the final
#     test error within 0.15 points; the epoch lines and "Test error:" once;
#     and one epoch of the real digits (MNIST_DIR) within 0.15 points too;
#   - a checkpoint written on 2 ranks resumes on 1 and on 3 ranks, and the
#     resumed epoch agrees with one process's as above;
#   - a rank that cannot read its data, a rank started with other flags, a
#     rank whose data or --resume checkpoint (of the same name, on its own
#     disk) differs from rank 0's, and a rank that dies bring the whole job
#     down, naming the rank, within a minute (no rank waits forever for
#     another);
#   - --help, and a refused command line, are printed once, by rank 0.
#   usage: test_distributed.sh path/to/mnist_clr path/to/mpiexec
set -euo pipefail
usage="usage: test_distributed.sh path/to/mnist_clr path/to/mpiexec"
mpiexec=${2:?$usage}
here=$(dirname "${BASH_SOURCE[0]}")
# test_setup, fail, pass, missing_input, finish
# shellcheck source=../../common/testing.sh
source "$here/../../common/testing.sh"
test_setup "${1:?$usage}" mnist_clr_mpi
# shellcheck source=idx_files.sh
source "$here/idx_files.sh"

# CI runs as root, which Open MPI refuses unless told twice; more ranks than
# cores need --oversubscribe, and binding ranks to cores would pile them up.
# Shared-memory copies between processes go through the kernel's CMA where
# allowed; containers often forbid it (ptrace), and then plain copies work.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMP_WAIT_POLICY=passive
launch=("$mpiexec" --oversubscribe --bind-to none)

# 1000 training images in global batches of 200 over 3 ranks: shares of 67,
# 67 and 66; 300 test images, 100 each.
make_idx "$tmp" 1000 300
flags=(--epochs 2 --batch 200 --threads 1 --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 5)
data=(--data "$tmp")
seed=(--seed 3)

# The timeouts guard against a hang, not against a slow machine: each is ten
# times the longest its run takes on a 2-core machine busy with a parallel
# build (a 2-rank MNIST epoch: 60 s; a fault ends its job in under 10 s).
run_timeout=600
fault_timeout=100

# run NAME COMMAND...: its log in $tmp/NAME.csv, stdout and stderr beside.
run() {
  local name=$1
  shift
  local rc=0
  timeout "$run_timeout" "$@" --log "$tmp/$name.csv" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  [[ $rc -eq 0 ]] || fail "$name: exited $rc: $(head -c 2000 "$tmp/$name.err")"
}

# agree NAME: the run logged in $tmp/NAME.csv and .out is one process's run
# (one.csv, one.out), from the first update NAME logged on: at every update
# the same epoch, step, rate and momentum and the loss within 1e-4 relative;
# the last epoch's line and "Test error:" printed once, the error within 0.15
# points.
agree() {
  local name=$1
  [[ -s $tmp/$name.csv ]] || { fail "$name: no log written"; return; }
  # update rows: kind,epoch,step,lr,momentum,loss,accuracy,...
  if python3 - "$tmp/one.csv" "$tmp/$name.csv" <<'PY'; then pass; else fail "$name: the log differs from one process's (above)"; fi
import csv, sys
def updates(path):
    with open(path) as f:
        return [r for r in csv.reader(f) if r and r[0] == "update"]
one, many = updates(sys.argv[1]), updates(sys.argv[2])
first = next((i for i, r in enumerate(one) if many and r[2] == many[0][2]), None)
if first is None or len(one) - first != len(many):
    sys.exit(f"{len(many)} update rows against {len(one)}")
for a, b in zip(one[first:], many):
    if a[1:5] != b[1:5]:
        sys.exit(f"update {a[2]}: epoch, step, rate or momentum {b[1:5]} against {a[1:5]}")
    la, lb = float(a[5]), float(b[5])
    if abs(la - lb) > 1e-4 * abs(la):
        sys.exit(f"update {a[2]}: loss {lb} against {la}")
PY
  local one_error many_error
  one_error=$(sed -n 's/^Test error: \([0-9.]*\)%.*/\1/p' "$tmp/one.out")
  many_error=$(sed -n 's/^Test error: \([0-9.]*\)%.*/\1/p' "$tmp/$name.out")
  if [[ $(grep -c '^Test error: ' "$tmp/$name.out") -ne 1 || $(grep -c '^Epoch 2/2' "$tmp/$name.out") -ne 1 ]]; then
    fail "$name: the epoch lines and 'Test error:' are not printed once: $(cat "$tmp/$name.out")"
  elif ! awk -v a="$one_error" -v b="$many_error" 'BEGIN { d = a - b; exit !(d <= 0.15 && d >= -0.15) }'; then
    fail "$name: test error $many_error% against one process's $one_error%"
  else
    pass
  fi
}

run one "$exe" "${flags[@]}" "${data[@]}" "${seed[@]}"
for n in 2 3; do
  run "np$n" "${launch[@]}" -np "$n" "$exe" "${flags[@]}" "${data[@]}" "${seed[@]}"
  agree "np$n"
done

# A checkpoint written on 2 ranks resumes on 1 and on 3: epoch 2 from the
# 2-rank run's checkpoint after epoch 1 is one process's epoch 2.
run save2 "${launch[@]}" -np 2 "$exe" "${flags[@]}" "${data[@]}" "${seed[@]}" --save "$tmp/np2.{epoch}.ckpt"
if [[ -s $tmp/np2.1.ckpt && -s $tmp/np2.2.ckpt ]]; then
  pass
else
  fail "2 ranks with --save: no checkpoint for each epoch: $(ls "$tmp")"
fi
run resumed1 "$exe" "${flags[@]}" "${data[@]}" "${seed[@]}" --resume "$tmp/np2.1.ckpt"
agree resumed1
run resumed3 "${launch[@]}" -np 3 "$exe" "${flags[@]}" "${data[@]}" "${seed[@]}" --resume "$tmp/np2.1.ckpt"
agree resumed3
if [[ $(grep -c '^update,1,' "$tmp/resumed3.csv") -eq 0 && $(grep -c '^update,2,' "$tmp/resumed3.csv") -gt 0 ]]; then
  pass
else
  fail "resumed on 3 ranks: the log does not start at epoch 2"
fi

# The real digits, where MNIST_DIR has them: one epoch on 1, 2 and 3 ranks
# ends within 0.15 points of test error.
if [[ -n ${MNIST_DIR:-} && -s $MNIST_DIR/train-labels-idx1-ubyte || -s ${MNIST_DIR:-/nonexistent}/train-labels-idx1-ubyte.gz ]]; then
  real=(--data "$MNIST_DIR" --epochs 1 --batch 200 --seed 1 --threads 1
    --schedule triangular --base-lr 0.001 --max-lr 0.003 --step-size 150)
  run real1 "$exe" "${real[@]}"
  for n in 2 3; do
    run "real$n" "${launch[@]}" -np "$n" "$exe" "${real[@]}"
    a=$(sed -n 's/^Test error: \([0-9.]*\)%.*/\1/p' "$tmp/real1.out")
    b=$(sed -n 's/^Test error: \([0-9.]*\)%.*/\1/p' "$tmp/real$n.out")
    if [[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(d <= 0.15 && d >= -0.15) }'; then
      pass
    else
      fail "MNIST, $n ranks: test error '$b%' against one process's '$a%'"
    fi
  done
else
  missing_input "the MNIST files" "MNIST_DIR=${MNIST_DIR:-unset}; scripts/fetch_mnist.sh fetches them"
fi

# fault NAME PATTERN COMMAND...: the job fails, within the timeout, and says
# PATTERN on stderr.
fault() {
  local name=$1 pattern=$2
  shift 2
  local rc=0
  local start=$SECONDS
  timeout "$fault_timeout" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  echo "$name: the job ended after $((SECONDS - start)) s (exit $rc)"
  if [[ $rc -eq 0 ]]; then
    fail "$name: the job succeeded"
  elif [[ $rc -eq 124 ]]; then
    fail "$name: the job hung (killed after $fault_timeout s): $(head -c 2000 "$tmp/$name.err")"
  elif ! grep -qE "$pattern" "$tmp/$name.err"; then
    fail "$name: exited $rc without /$pattern/ on stderr: $(head -c 2000 "$tmp/$name.err")"
  else
    pass
  fi
}

# The same program with other arguments for rank 1 (mpirun's colon form).
fault bad_data "rank 1 of 2: .*$tmp/missing" \
  "${launch[@]}" -np 1 "$exe" "${flags[@]}" "${data[@]}" "${seed[@]}" : \
  -np 1 "$exe" "${flags[@]}" --data "$tmp/missing" "${seed[@]}"
fault other_flags "rank [01] of 2: .*same flags" \
  "${launch[@]}" -np 1 "$exe" "${flags[@]}" "${data[@]}" "${seed[@]}" : \
  -np 1 "$exe" "${flags[@]}" "${data[@]}" --seed 4
# Each rank in its own directory, as on its own machine: the same command
# line, with relative names, reads each one's files.
on_node() { # on_node DIR COMMAND...: COMMAND run in DIR
  # shellcheck disable=SC2016 # bash -c's script, expanded by that bash
  printf '%s\n' bash -c 'cd "$1" && shift && exec "$@"' _ "$@"
}
for node in node0 node1; do
  mkdir -p "$tmp/$node/data"
  cp "$tmp"/*-ubyte "$tmp/$node/data/"
done
# A stale copy of the checkpoint on rank 1's disk (epoch 1's, where rank 0
# has epoch 2's): rank 0 would train epoch 3, rank 1 epochs 2 and 3, and the
# job would hang after rank 0's last update.
cp "$tmp/np2.2.ckpt" "$tmp/node0/run.ckpt"
cp "$tmp/np2.1.ckpt" "$tmp/node1/run.ckpt"
stale=(--epochs 3 "${flags[@]:2}" --data data "${seed[@]}" --resume run.ckpt)
mapfile -t node0 < <(on_node "$tmp/node0" "$exe" "${stale[@]}")
mapfile -t node1 < <(on_node "$tmp/node1" "$exe" "${stale[@]}")
fault stale_checkpoint "rank 1 of 2: --resume: run.ckpt is not the checkpoint rank 0 read" \
  "${launch[@]}" -np 1 "${node0[@]}" : -np 1 "${node1[@]}"
# Data of the same sizes and labels but other pixels on rank 1 (as MNIST and
# a copy with one image changed): each rank would train on its own.
cp "$tmp/np2.2.ckpt" "$tmp/node1/run.ckpt"
printf '\377' | dd of="$tmp/node1/data/train-images-idx3-ubyte" bs=1 seek=5000 conv=notrunc 2>/dev/null
other=("${flags[@]}" --data data "${seed[@]}")
mapfile -t node0 < <(on_node "$tmp/node0" "$exe" "${other[@]}")
mapfile -t node1 < <(on_node "$tmp/node1" "$exe" "${other[@]}")
fault other_data "rank 1 of 2: --data: data holds other images or labels than on rank 0" \
  "${launch[@]}" -np 1 "${node0[@]}" : -np 1 "${node1[@]}"

# --help and a refused command line: printed once, by rank 0, not once a rank.
rc=0
timeout "$fault_timeout" "${launch[@]}" -np 2 "$exe" --help >"$tmp/help.out" 2>"$tmp/help.err" || rc=$?
if [[ $rc -ne 0 || $(grep -c '^Usage: ' "$tmp/help.out") -ne 1 ]]; then
  fail "--help on 2 ranks: exit $rc, $(grep -c '^Usage: ' "$tmp/help.out") usage lines: $(head -c 500 "$tmp/help.err")"
else
  pass
fi
rc=0
timeout "$fault_timeout" "${launch[@]}" -np 2 "$exe" --epochs 0 >"$tmp/refused.out" 2>"$tmp/refused.err" || rc=$?
if [[ $rc -eq 0 || $rc -eq 124 || $(grep -c -- '--epochs' "$tmp/refused.err") -ne 1 || -s $tmp/refused.out ]]; then
  fail "--epochs 0 on 2 ranks: exit $rc, the refusal not printed once: $(head -c 1000 "$tmp/refused.err")"
else
  pass
fi

# Rank 1 killed two seconds into a long run, while rank 0 waits on its sums
# (the shell becomes mnist_clr, which its background child then kills).
long=(--epochs 500 --batch 200 --threads 1 "${data[@]}" "${seed[@]}")
# shellcheck disable=SC2016
fault dead_rank "rank 1" \
  "${launch[@]}" -np 1 "$exe" "${long[@]}" : \
  -np 1 bash -c '(sleep 2; kill -9 $$) & exec "$@"' _ "$exe" "${long[@]}"

finish test_distributed
