#!/usr/bin/python3
"""Time PyTorch's scheduler.step(), the counterpart of bench_schedules.

For each scheduler: a fresh SGD optimizer over one scalar parameter, a few
untimed steps, then N timed scheduler.step() calls; optimizer.step() is never
called, so only the scheduler is measured. The figure reported is the median
over the repetitions of (time for N steps) / N, in nanoseconds.

The schedules use the same parameters as bench_schedules.cpp, so each row can
be set against the library's lr(t) for consecutive double steps:

    CyclicLR (triangular, 0.001 to 0.006, step 2000)   schedule/triangular
      the same, with cycle_momentum=True                schedule/triangular
    OneCycleLR (max 0.1, cos, momentum cycled)         schedule/one_cycle
    CosineAnnealingWarmRestarts (T_0 1000, T_mult 2,    schedule/cosine_restarts
      eta_min 0.001, peak 0.05)

Writes JSON to stdout, or to --out; bench/report.py sets each record beside
the library's figure named in its "clr_benchmark".

Written for PyTorch 1.13 (Debian's python3-torch): run as /usr/bin/python3.
Without torch it says so on stderr, writes a "skipped" result and exits 0.
"""

import argparse
import gc
import json
import platform
import statistics
import sys
import time
import warnings

# bench_schedules' step range, and OneCycleLR's length: PyTorch raises past it.
TOTAL_STEPS = 10_000_000


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20000,
                   help="scheduler.step() calls per repetition (default 20000)")
    p.add_argument("--repetitions", type=int, default=7,
                   help="repetitions; the median is reported (default 7)")
    p.add_argument("--warmup", type=int, default=200,
                   help="untimed steps before each repetition (default 200)")
    p.add_argument("--out", help="write the JSON here instead of stdout")
    args = p.parse_args()
    if args.steps < 1 or args.repetitions < 1 or args.warmup < 0:
        p.error("--steps and --repetitions must be positive, --warmup not negative")
    if args.repetitions * (args.steps + args.warmup) >= TOTAL_STEPS:
        p.error(f"at most {TOTAL_STEPS} steps in all (OneCycleLR's total_steps)")
    return args


def write(result, out):
    text = json.dumps(result, indent=2) + "\n"
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


def schedulers(torch):
    """(name, library benchmark it corresponds to, factory) for every row."""
    sched = torch.optim.lr_scheduler

    def sgd(lr=0.1):
        # momentum > 0: CyclicLR and OneCycleLR refuse to cycle momentum
        # on an optimizer that has none.
        param = torch.zeros(1, requires_grad=True)
        return torch.optim.SGD([param], lr=lr, momentum=0.9)

    return [
        ("CyclicLR", "triangular",
         lambda: sched.CyclicLR(sgd(), base_lr=0.001, max_lr=0.006,
                                step_size_up=2000, mode="triangular",
                                cycle_momentum=False)),
        ("CyclicLR_momentum", "triangular",
         lambda: sched.CyclicLR(sgd(), base_lr=0.001, max_lr=0.006,
                                step_size_up=2000, mode="triangular",
                                cycle_momentum=True)),
        ("OneCycleLR", "one_cycle",
         lambda: sched.OneCycleLR(sgd(), max_lr=0.1, total_steps=TOTAL_STEPS,
                                  anneal_strategy="cos")),
        ("CosineAnnealingWarmRestarts", "cosine_restarts",
         lambda: sched.CosineAnnealingWarmRestarts(sgd(lr=0.05), T_0=1000,
                                                   T_mult=2, eta_min=0.001)),
    ]


def time_one(make, steps, warmup):
    """ns per scheduler.step() over `steps` calls on a fresh scheduler."""
    scheduler = make()
    step = scheduler.step
    for _ in range(warmup):
        step()
    # As timeit does: a collection in the middle of a repetition is not the
    # scheduler's cost.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(steps):
            step()
        elapsed = time.perf_counter_ns() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return elapsed / steps


def main():
    args = parse_args()
    try:
        import torch
    except ImportError as e:
        print(f"pytorch_schedulers: skipped, torch is not importable ({e})",
              file=sys.stderr)
        write({"skipped": True, "reason": f"torch not importable: {e}",
               "results": []}, args.out)
        return 0

    # These steps are timed without any optimizer.step() on purpose.
    warnings.filterwarnings(
        "ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
    # Scheduler steps are Python on scalars; a thread pool would only add noise.
    torch.set_num_threads(1)

    results = []
    for name, clr_name, make in schedulers(torch):
        per_rep = [time_one(make, args.steps, args.warmup)
                   for _ in range(args.repetitions)]
        results.append({
            "name": name,
            "ns_per_step": statistics.median(per_rep),
            "clr_benchmark": f"schedule/{clr_name}/clr/consecutive/double",
            "repetitions_ns_per_step": per_rep,
        })

    write({
        "skipped": False,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "steps": args.steps,
        "repetitions": args.repetitions,
        "statistic": "median",
        "results": results,
    }, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
