#!/usr/bin/python3
"""Generate the ReduceLROnPlateau reference tables tests/data/plateau_*.csv.

Usage: /usr/bin/python3 scripts/gen_plateau_reference.py [OUTPUT_DIR]

Each case builds torch.optim.SGD on one parameter with a constant rate LR and
torch.optim.lr_scheduler.ReduceLROnPlateau over it with the case's options,
then calls scheduler.step(metric) once per metric of the case's sequence and
records, after each call, the optimizer's rate and the scheduler's state.
Metric sequences come from closed formulas (some with NaN and infinities,
which PyTorch counts as bad reports or as the best possible); nothing is
random, so the tables are the same on every run.

File layout (tests/test_plateau.cpp refuses anything else):
    # torch <version>: ReduceLROnPlateau(SGD(lr=...), <options>)
    # rows=N
    report,metric,lr,best,bad_reports,cooldown_left
    N rows, report = 1 .. N in order
`metric` and `best` may be nan, inf or -inf; every other cell is finite.
"""
import math
import pathlib
import sys

import torch


def rel_min(n):
    """A loss that falls, then flattens with noise far below the threshold."""
    return [1.0 / (1.0 + 0.3 * i) + 0.02 * math.sin(3.1 * i) if i < 20
            else 0.05 + 1e-6 * math.sin(i) for i in range(n)]


def accuracy(n):
    """An accuracy that rises in noisy steps and saturates at 0.97."""
    return [min(0.97, 0.5 + 0.04 * i + 0.015 * math.cos(2.3 * i)) for i in range(n)]


def flat(n):
    return [2.0] * n


def with_nonfinite(n):
    out = []
    for i in range(n):
        m = 1.0 - 0.01 * i
        if i % 7 == 3:
            m = math.nan
        elif i % 11 == 5:
            m = math.inf
        out.append(m)
    out[n - 8] = -math.inf  # nothing is better after it
    return out


def negative_max(n):
    """Negative metrics in mode max with a relative threshold: best * 1.1 lies
    below best, so a slightly worse metric still counts as better."""
    out = [-1.0 + 0.05 * math.sin(1.7 * i) - (0.2 if i % 9 == 4 else 0.0) for i in range(n)]
    out[12] = math.nan
    out[20] = math.inf
    return out


def staircase(n, last=None):
    """Improves by 1% every fifth report, else repeats, up to report `last`;
    then flat."""
    return [0.99 ** min(i // 5, last if last is not None else n) for i in range(n)]


CASES = {
    "plateau_min_rel": (0.1, dict(mode="min", factor=0.5, patience=2), rel_min(60)),
    "plateau_max_abs_cooldown": (0.2, dict(mode="max", factor=0.3, patience=1, threshold=0.01,
                                           threshold_mode="abs", cooldown=2), accuracy(60)),
    "plateau_min_lr": (0.1, dict(factor=0.1, patience=0, min_lr=0.003), flat(12)),
    "plateau_eps_skip": (0.05, dict(factor=0.9, patience=0, eps=0.004), flat(12)),
    "plateau_nonfinite": (0.1, dict(factor=0.5, patience=1, cooldown=1), with_nonfinite(60)),
    "plateau_max_rel_negative": (0.1, dict(mode="max", factor=0.7, patience=2, threshold=0.1),
                                 negative_max(50)),
    "plateau_abs_staircase": (0.1, dict(factor=0.5, patience=3, threshold=0.02, threshold_mode="abs",
                                        cooldown=3, min_lr=0.001), staircase(80)),
    "plateau_defaults": (0.1, dict(), staircase(80, last=6)),
}


def cell(v):
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def options_text(kw):
    return ", ".join(f"{k}={v!r}" for k, v in kw.items())


def run(lr, kw, metrics):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    rows = []
    for i, m in enumerate(metrics):
        sched.step(m)
        rows.append((i + 1, m, opt.param_groups[0]["lr"], float(sched.best),
                     sched.num_bad_epochs, sched.cooldown_counter))
    return rows


def main():
    out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data")
    for name, (lr, kw, metrics) in CASES.items():
        rows = run(lr, kw, metrics)
        lines = [f"# torch {torch.__version__}: ReduceLROnPlateau(SGD(lr={lr!r}), {options_text(kw)})",
                 f"# rows={len(rows)}",
                 "report,metric,lr,best,bad_reports,cooldown_left"]
        lines += [f"{r},{cell(m)},{cell(l)},{cell(b)},{n},{c}" for r, m, l, b, n, c in rows]
        (out / f"{name}.csv").write_text("\n".join(lines) + "\n")
        print(f"{name}: {len(rows)} reports, final lr {rows[-1][2]!r}")


if __name__ == "__main__":
    main()
