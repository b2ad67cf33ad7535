#!/usr/bin/env python3
"""Write bench/RESULTS.md from the raw results bench/run.sh collects.

    python3 bench/report.py RESULTS_DIR > bench/RESULTS.md

Reads RESULTS_DIR/bench_*.json (Google Benchmark, repetitions aggregated),
pytorch_schedulers.json, PROGRAM.TUNING.N.log and .seconds (PROGRAM mnist_clr,
pytorch_mnist or torch_mnist, TUNING default or tuned) and machine.txt; every figure is the median over repetitions, and every target is
checked against a ratio measured in the same run. bench/limits.md, the
analysis of what limits the missed targets, is appended as it is.
Standard library only.
"""

import glob
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def fail(problem):
    sys.exit(f"report.py: {problem}")


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        fail(f"{path}: cannot read ({e.strerror})")
    except json.JSONDecodeError as e:
        fail(f"{path}: not JSON ({e})")


def medians(path):
    """Benchmark name -> its median aggregate (the run itself if not repeated)."""
    found = {}
    for b in load_json(path).get("benchmarks", []):
        name = b.get("run_name", b["name"])
        kind = b.get("aggregate_name")
        if kind == "median" or (kind is None and name not in found):
            found[name] = b
    return found


def ns(b):
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
    return b["real_time"] * scale


def mark(ok):
    return "yes" if ok else "**no**"


def fmt(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}"


class Report:
    def __init__(self, results):
        self.dir = results
        self.lines = []
        self.targets = []  # (what, target, measured, met)
        self.gemm_pair = {}  # batch -> GFLOP/s of bench_mlp's gemm/pair

    def out(self, line=""):
        self.lines.append(line)

    def target(self, what, goal, measured, met):
        self.targets.append((what, goal, measured, met))

    # ---- machine ------------------------------------------------------------
    def machine(self):
        info = {}
        path = os.path.join(self.dir, "machine.txt")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    key, _, value = line.rstrip("\n").partition("=")
                    info[key] = value
        self.info = info
        self.out("# Benchmark results")
        self.out()
        self.out("Written by `bench/run.sh` (which calls `bench/report.py`); do not edit by hand. "
                 "Every figure is the median of repeated measurements, and every target is "
                 "checked against a ratio measured in the same run, on the same machine.")
        self.out()
        self.out("| | |")
        self.out("|---|---|")
        rows = [
            ("CPU", info.get("cpu")),
            ("cores", info.get("cores")),
            ("compiler", info.get("compiler")),
            ("flags", f"`{info.get('release_flags', '?')} -O3 -march=native` (benchmarks and examples)"),
            ("Eigen", info.get("pkg_libeigen3-dev")),
            ("OpenBLAS (Eigen's GEMM backend in the example)",
             f"{info.get('pkg_libopenblas0-pthread')} (used: {info.get('blas', '?')})"),
            ("GEMM kernel and SIMD, as mnist_clr reports them", info.get("gemm")),
            ("Google Benchmark", info.get("pkg_libbenchmark-dev")),
            ("PyTorch", info.get("pkg_python3-torch")),
            ("repetitions / whole runs / threads",
             f"{info.get('reps', '?')} / {info.get('runs', '?')} / {info.get('threads', '?')}"),
            ("commit, date", f"{info.get('commit', '?')}, {info.get('date', '?')}"),
        ]
        for k, v in rows:
            self.out(f"| {k} | {v if v else '?'} |")
        self.out()
        self.out("Reproduce: `bench/run.sh` from a clean clone (about 20 minutes; "
                 "`REPS`, `RUNS` and `THREADS` change the counts).")
        self.out()

    # ---- 1. schedules ---------------------------------------------------------
    def schedules(self):
        path = os.path.join(self.dir, "bench_schedules.json")
        if not os.path.exists(path):
            return
        m = medians(path)
        table = {}
        text = {}
        for name, b in m.items():
            parts = name.split("/")
            if len(parts) == 4 and parts[0] == "text":
                _, op, sched, type_ = parts
                text.setdefault((sched, type_), {})[op] = ns(b) / 1e3
                continue
            if len(parts) != 5 or parts[0] != "schedule":
                continue
            _, sched, variant, steps, type_ = parts
            table.setdefault((steps, type_), {}).setdefault(sched, {})[variant] = ns(b)
        self.out("## 1. Schedule evaluation: ns per `lr(t)` call")
        self.out()
        self.out("Each schedule through the library (`clr`, the CRTP interface), the same formula "
                 "written by hand as an inline function (`hand`), that twin with the library's exact, "
                 "clamped interpolation in place of `a + (b - a) * w` (`hand_exact`: the gap left to "
                 "`clr` is the cost of the library's layers), the library's schedule behind a "
                 "virtual interface, behind `std::function` and in a `clr::any_schedule<T>` "
                 "(`any_schedule`). One call per iteration; random "
                 "steps come from a fixed table of 4096 steps in [0, 10^7). Targets: at most "
                 "5 ns per call, and within 10% of the hand-written twin.")
        worst = {}
        for (steps, type_) in sorted(table):
            rows = table[(steps, type_)]
            self.out()
            self.out(f"### {steps} steps, `{type_}`")
            self.out()
            self.out("| schedule | clr | hand | hand_exact | virtual | std::function | any_schedule "
                     "| clr / hand | clr / hand_exact | <= 5 ns | within 10% of hand |")
            self.out("|---|---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|")
            for sched in sorted(rows):
                v = rows[sched]
                c, h, e = v.get("clr"), v.get("hand"), v.get("hand_exact")
                ratio = c / h if c and h else None
                exact = c / e if c and e else None
                self.out(f"| {sched} | {fmt(c)} | {fmt(h)} | {fmt(e)} | {fmt(v.get('virtual'))} | "
                         f"{fmt(v.get('function'))} | {fmt(v.get('any'))} | {fmt(ratio)} | {fmt(exact)} | "
                         f"{mark(c is not None and c <= 5.0)} | {mark(ratio is not None and ratio <= 1.10)} |")
                w = worst.setdefault(sched, ([], [], []))
                for seen, x in zip(w, (c, ratio, exact)):
                    if x is not None:
                        seen.append(x)
        self.out()
        # A call of 2 to 3 ns moves by a few tenths of a nanosecond from one run
        # to the next, so the ratio is judged on the median of the four streams
        # (consecutive and random steps, float and double), its worst beside it.
        for sched in sorted(worst):
            c, r, e = worst[sched]
            if not (c and r and e):
                continue
            ratio = statistics.median(r)
            self.target(f"`{sched}` lr(t)", "<= 5 ns in every stream; clr / hand <= 1.10",
                        f"{max(c):.2f} ns at worst; clr / hand {ratio:.2f} (worst {max(r):.2f}), "
                        f"clr / hand_exact {statistics.median(e):.2f}",
                        max(c) <= 5.0 and ratio <= 1.10)
        self.any_schedule(table, text)
        self.pytorch_schedulers(table)

    def any_schedule(self, table, text):
        """The schedule chosen at run time: any_schedule and parse_schedule's result."""
        nested = sorted((sched, steps, type_) for (steps, type_), rows in table.items()
                        for sched in rows if "parsed" in rows[sched])
        if not nested and not text:
            return
        self.out("### The schedule chosen at run time: `clr::any_schedule<T>` and text")
        self.out()
        self.out("Every call through an `any_schedule` is one indirect call the compiler cannot "
                 "inline. `sequence3` (a linear warmup over 1,000 steps, the peak held to step "
                 "4,000,000, a cosine decay to step 10^7) read back by `parse_schedule` "
                 "(`parsed`) is an `any_schedule` of a sequence whose pieces are `any_schedule`s "
                 "too, so it pays one such call per level.")
        self.out()
        if nested:
            self.out("| schedule | steps | type | clr | any_schedule | parsed | any_schedule - clr "
                     "| parsed - clr |")
            self.out("|---|---|---|---:|---:|---:|---:|---:|")
            for sched, steps, type_ in nested:
                v = table[(steps, type_)][sched]
                c, a, p = v.get("clr"), v.get("any"), v.get("parsed")
                self.out(f"| {sched} | {steps} | `{type_}` | {fmt(c)} | {fmt(a)} | {fmt(p)} | "
                         f"{fmt(a - c if a and c else None)} | {fmt(p - c if p and c else None)} |")
            self.out()
        if text:
            self.out("Once per run: `to_string(s)` and `parse_schedule<T>` of that text, in µs.")
            self.out()
            self.out("| schedule | type | to_string µs | parse_schedule µs |")
            self.out("|---|---|---:|---:|")
            for (sched, type_) in sorted(text):
                v = text[(sched, type_)]
                self.out(f"| {sched} | `{type_}` | {fmt(v.get('to_string'))} | "
                         f"{fmt(v.get('parse_schedule'))} |")
            self.out()

    def pytorch_schedulers(self, table):
        path = os.path.join(self.dir, "pytorch_schedulers.json")
        if not os.path.exists(path):
            return
        r = load_json(path)
        self.out("### PyTorch's `scheduler.step()`")
        self.out()
        if r.get("skipped"):
            self.out(f"Not measured: {r.get('reason', 'PyTorch is not installed')}.")
            self.out()
            return
        self.out(f"PyTorch {r.get('torch_version')}, median of {r.get('repetitions')} repetitions of "
                 f"{r.get('steps')} steps, set against the library's `lr(t)` for consecutive "
                 "`double` steps of the same schedule.")
        self.out()
        self.out("| PyTorch scheduler | ns per step() | clr benchmark | clr ns per call | ratio |")
        self.out("|---|---:|---|---:|---:|")
        consecutive = table.get(("consecutive", "double"), {})
        for rec in r.get("results", []):
            sched = rec["clr_benchmark"].split("/")[1]
            c = consecutive.get(sched, {}).get("clr")
            ratio = rec["ns_per_step"] / c if c else None
            self.out(f"| {rec['name']} | {rec['ns_per_step']:.0f} | `{rec['clr_benchmark']}` | "
                     f"{fmt(c)} | {fmt(ratio, 0)}x |")
        self.out()

    # ---- 2. optimizers ----------------------------------------------------------
    def optimizers(self):
        path = os.path.join(self.dir, "bench_optim.json")
        if not os.path.exists(path):
            return
        m = medians(path)
        gbps = {}
        for name, b in m.items():
            parts = name.split("/")
            if len(parts) != 3 or parts[0] != "optim":
                continue
            _, kind, n = parts
            rate = b.get("bytes_per_second")
            if rate is None and "GBps" in b:
                rate = b["GBps"] * 1e9
            if rate is not None:
                gbps.setdefault(int(n), {})[kind] = rate / 1e9
        kinds = [k for k in ("triad", "sgd_momentum", "adam", "adamw")
                 if any(k in v for v in gbps.values())]
        self.out("## 2. Optimizer update throughput, GB/s of memory moved")
        self.out()
        self.out("One update of one parameter block of n floats, single-threaded, next to a "
                 "STREAM-style triad `a = b + s * c` in the same binary. Bytes moved count each "
                 "array read or written once (triad 12 n, SGD with momentum 20 n, Adam 28 n). "
                 "Target: Adam at least 70% of the triad once the block no longer fits in cache.")
        self.out()
        self.out("| n | " + " | ".join(kinds) + " | adam / triad | sgd / triad |")
        self.out("|---:|" + "---:|" * len(kinds) + "---:|---:|")
        llc = self.last_level_cache(path)
        for n in sorted(gbps):
            v = gbps[n]
            a = v.get("adam", 0) / v["triad"] if v.get("triad") else None
            s = v.get("sgd_momentum", 0) / v["triad"] if v.get("triad") else None
            self.out(f"| {n:,} | " + " | ".join(fmt(v.get(k)) for k in kinds) +
                     f" | {fmt(a)} | {fmt(s)} |")
            if a is not None and llc and 28 * n > llc:
                self.target(f"Adam, {n:,} floats (beyond the {llc // 2**20} MiB cache)",
                            ">= 0.70 of triad", f"{a:.2f}", a >= 0.70)
        self.out()
        self.threaded_optimizers(m)

    def threaded_optimizers(self, m):
        # optim_mnist/<kind>/<threads>/real_time: the MNIST model's 623,290
        # parameters; "threads" is what the optimizer was allowed (1 without OpenMP).
        rows = {}
        for name, b in m.items():
            parts = name.split("/")
            if len(parts) != 4 or parts[0] != "optim_mnist":
                continue
            rows.setdefault(parts[1], {})[int(parts[2])] = b
        if not rows:
            return
        self.out("### The MNIST model's update on 1 and 2 threads")
        self.out()
        self.out("All four blocks of the 784-784-10 MLP (623,290 floats) per `step()`, "
                 "`set_threads(1)` (the default) and `set_threads(2)`; bytes as above; no "
                 "environment. Alone, two threads pay; beside a BLAS's own pool they cost more "
                 "than they save (`docs/THREADS.md`).")
        self.out()
        self.out("| optimizer | 1 thread, µs | GB/s | 2 threads, µs | GB/s | speed-up |")
        self.out("|---|---:|---:|---:|---:|---:|")
        for kind in ("sgd_momentum", "adam", "adamw"):
            r = rows.get(kind, {})
            one, two = r.get(1), r.get(2)
            t1 = ns(one) / 1e3 if one else None
            t2 = ns(two) / 1e3 if two else None
            g1 = one.get("GBps") if one else None
            g2 = two.get("GBps") if two else None
            if two and two.get("threads", 2) < 2:
                t2 = g2 = None
            up = t1 / t2 if t1 and t2 else None
            self.out(f"| {kind} | {fmt(t1, 0)} | {fmt(g1, 1)} | {fmt(t2, 0)} | {fmt(g2, 1)} | {fmt(up)}x |")
        self.out()

    @staticmethod
    def last_level_cache(path):
        ctx = load_json(path).get("context", {})
        sizes = [c.get("size", 0) for c in ctx.get("caches", []) if c.get("type") != "Instruction"]
        return max(sizes) if sizes else None

    # ---- 3. training step -------------------------------------------------------
    def mlp(self):
        path = os.path.join(self.dir, "bench_mlp.json")
        if not os.path.exists(path):
            return
        m = medians(path)
        ctx = load_json(path).get("context", {})
        flops = {}
        for name, b in m.items():
            parts = name.split("/")
            if len(parts) != 3 or parts[0] not in ("mlp", "gemm", "user"):
                continue
            g = b.get("GFLOPs")
            if g is None and "FLOPs" in b:
                g = b["FLOPs"] / 1e9
            if g is not None:
                flops.setdefault(int(parts[2]), {})[f"{parts[0]}/{parts[1]}"] = g
        self.out("## 3. Training step of the 784-784-10 MLP, GFLOP/s")
        self.out()
        backend = ctx.get("gemm_backend", "Eigen")
        self.out(f"Forward and backward of one batch (`mlp/step`; `mlp/step_adam` adds the Adam "
                 f"update of all four parameter blocks) next to the float GEMMs of the same shapes "
                 f"(`gemm/forward`: W1 X, `gemm/dW1`: dH X^T, `gemm/pair`: both), through the "
                 f"product the example uses ({backend}), {self.info.get('threads', '?')} threads, "
                 f"no environment. `user/pair_adam` is a library user's step: the GEMM pair, then "
                 f"`clr::optim::adam` over the model's parameters (its GFLOP/s count the GEMMs only). "
                 f"Target: a whole step at least 60% of the GEMM pair.")
        self.out()
        cols = ["mlp/step", "mlp/step_adam", "gemm/forward", "gemm/dW1", "gemm/pair", "user/pair_adam"]
        self.out("| batch | " + " | ".join(cols) + " | step / pair | step_adam / pair | user / pair |")
        self.out("|---:|" + "---:|" * len(cols) + "---:|---:|---:|")
        for batch in sorted(flops):
            v = flops[batch]
            pair = v.get("gemm/pair")
            r1 = v["mlp/step"] / pair if pair and "mlp/step" in v else None
            r2 = v["mlp/step_adam"] / pair if pair and "mlp/step_adam" in v else None
            r3 = v["user/pair_adam"] / pair if pair and "user/pair_adam" in v else None
            self.out(f"| {batch} | " + " | ".join(fmt(v.get(c), 1) for c in cols) +
                     f" | {fmt(r1)} | {fmt(r2)} | {fmt(r3)} |")
            if pair:
                self.gemm_pair[batch] = pair
            ratio = r2 if r2 is not None else r1
            if ratio is not None:
                self.target(f"training step at batch {batch}", ">= 0.60 of GEMM", f"{ratio:.2f}",
                            ratio >= 0.60)
        self.out()

    # ---- 4. whole run -----------------------------------------------------------
    def runs(self, program, tuning):
        """(training s, test error %, GFLOP/s or None, whole process s) of each round."""
        rows = []
        for path in sorted(glob.glob(os.path.join(self.dir, f"{program}.{tuning}.*.log"))):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            t = re.search(r"^Train time: ([0-9.]+) s(?: \(([0-9.]+) GFLOP/s\))?", text, re.M)
            e = re.search(r"^Test error: ([0-9.]+)%", text, re.M)
            if not t or not e:
                fail(f"{path}: no 'Train time' and 'Test error' lines")
            whole = None
            seconds = path[:-len(".log")] + ".seconds"
            if os.path.exists(seconds):
                with open(seconds, encoding="utf-8") as f:
                    whole = float(f.read())
            rows.append((float(t.group(1)), float(e.group(1)),
                         float(t.group(2)) if t.group(2) else None, whole))
        return rows

    def whole_run(self):
        programs = [("mnist_clr", "mnist_clr (Eigen, OpenBLAS, `clr::optim`)"),
                    ("pytorch_mnist", "PyTorch (`bench/pytorch_mnist.py`)"),
                    ("torch_mnist", "torch_mnist (libtorch C++, `clr::torch`)")]
        runs = {(p, k): self.runs(p, k) for p, _ in programs for k in ("default", "tuned")}
        if not runs[("mnist_clr", "default")]:
            return
        med = lambda rows, i: statistics.median(r[i] for r in rows) if rows and rows[0][i] is not None else None
        self.out("## 4. Whole run: 10 MNIST epochs, as users run it and tuned")
        self.out()
        self.out("The README's main run (triangular, base 0.001, max 0.003, step size 750, Adam, "
                 f"batch 200, seed 1, {self.info.get('threads', '?')} threads), three programs "
                 "alternating. `bench/pytorch_mnist.py` mirrors the example (same model, "
                 "initialisation, batches, schedule and threads) and torch_mnist follows it in C++. "
                 "*Default* is each program as the README's command runs it, with no environment; "
                 "*tuned* adds `OMP_WAIT_POLICY=passive`, the best tuning each documents. "
                 "Training is the epochs' time as the program reports it; whole is the process, "
                 "start to exit. Medians of the rounds, in seconds.")
        self.out()
        self.out("| program | default: training | whole | tuned: training | whole | test error |")
        self.out("|---|---:|---:|---:|---:|---:|")
        for p, label in programs:
            d, t = runs[(p, "default")], runs[(p, "tuned")]
            if not d and not t:
                continue
            self.out(f"| {label} | {fmt(med(d, 0), 1)} | {fmt(med(d, 3), 1)} | {fmt(med(t, 0), 1)} | "
                     f"{fmt(med(t, 3), 1)} | {fmt(med(d or t, 1))}% |")
        self.out()
        ours_d, ours_t = med(runs[("mnist_clr", "default")], 0), med(runs[("mnist_clr", "tuned")], 0)
        if ours_t:
            slower = ours_d / ours_t - 1
            self.out(f"mnist_clr as users run it takes {100 * slower:+.1f}% of its tuned time.")
            self.target("mnist_clr with no environment against tuned", "within 5%", f"{100 * slower:+.1f}%",
                        slower <= 0.05)
        for tuning, ours in (("default", ours_d), ("tuned", ours_t)):
            theirs = med(runs[("pytorch_mnist", tuning)], 0)
            if ours and theirs:
                self.out(f"{tuning.capitalize()} against {tuning}: mnist_clr is **{theirs / ours:.2f}x** as fast "
                         "as PyTorch.")
                self.target(f"10 epochs against PyTorch, {tuning} against {tuning}", ">= 2x faster",
                            f"{theirs / ours:.2f}x", theirs / ours >= 2.0)
        gflops = med(runs[("mnist_clr", "default")], 2)
        pair = self.gemm_pair.get(200)
        if gflops and pair:
            ratio = gflops / pair
            self.out(f"Over the whole run mnist_clr reaches {gflops:.1f} GFLOP/s, **{ratio:.2f}** of the GEMM "
                     f"pair of section 3 ({pair:.1f} GFLOP/s).")
            self.target("whole run, default, against the GEMM pair", ">= 0.80", f"{ratio:.2f}", ratio >= 0.8)
        self.out()

    def summary(self):
        self.out("## Targets")
        self.out()
        self.out("| what | target | measured | met |")
        self.out("|---|---|---|:-:|")
        for what, goal, measured, met in self.targets:
            self.out(f"| {what} | {goal} | {measured} | {mark(met)} |")
        self.out()

    def limits(self):
        path = os.path.join(HERE, "limits.md")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self.out(f.read().rstrip("\n"))
            self.out()


def main():
    if len(sys.argv) != 2:
        fail("usage: report.py RESULTS_DIR")
    results = sys.argv[1]
    if not os.path.isdir(results):
        fail(f"{results}: no such directory (run bench/run.sh)")
    r = Report(results)
    r.machine()
    body_start = len(r.lines)
    r.schedules()
    r.optimizers()
    r.mlp()
    r.whole_run()
    body = r.lines[body_start:]
    r.lines = r.lines[:body_start]
    r.summary()  # targets first: the tables behind them follow
    r.lines += body
    r.limits()
    sys.stdout.write("\n".join(r.lines) + "\n")


if __name__ == "__main__":
    main()
