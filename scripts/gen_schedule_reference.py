#!/usr/bin/python3
"""Reference tables for the transformers, timm, Keras and optax schedules.

Usage: /usr/bin/python3 scripts/gen_schedule_reference.py [OUTPUT_DIR]

Standard library, double precision, deterministic. The libraries are not
installed: each formula below is transcribed from the source named in the
table's first line and evaluated with Python floats. Row t is the rate for
update t + 1, the value at step t; layout as in scripts/gen_reference.py.

Formulas, as the library must implement them to match at 1e-12 relative.
Step arithmetic is on integers; "a / b" of integers is one correctly rounded
double division; lr is the base rate; operations go in the order written.

wsd(lr, warmup=W, stable=S, decay=D, warmup_shape, decay_shape, min_lr_ratio=m)
  transformers get_wsd_schedule, num_cycles=0.5; LambdaLR: rate = lr * f(t)
    t < W:          p = t / max(1, W)
                    g = p (linear) | 0.5 * (1 - cos(pi * p)) (cosine)
                        | 1 - sqrt(1 - p) (1-sqrt)
                    f = max(0, g * (1 - m) + m), so f(0) = m: this version
                    warms up from lr * min_lr_ratio (versions before
                    warmup_type existed ramped from 0, ignoring m there)
    t < W + S:      f = 1
    t < W + S + D:  p = (t - W - S) / max(1, D)
                    g = 1 - p | 0.5 * (1 + cos(pi * p)) | 1 - sqrt(p)
                    (transformers: pi * 0.5 * 2.0 * p, exactly pi * p)
                    f = max(0, g * (1 - m) + m)
    t >= W + S + D: f = m, held; the last decay step has p = (D - 1) / D.
                    W = 0: step 0 is already stable (rate lr).
inverse_sqrt(lr, warmup=W, timescale=s)  transformers get_inverse_sqrt_schedule
    s defaults to W, or 10000 when W == 0 (transformers: `W or 10_000`)
    t < W: f = t / max(1, W);  t >= W: f = 1 / sqrt((t + (s - W)) / s)
    (the sum is in integers, then one division)
inverse_time(lr, decay_steps=n, decay_rate=r, staircase) Keras InverseTimeDecay
    p = t / n, floored when staircase;  rate = lr / (1 + r * p)   (Keras
    computes in lr's dtype, float32 for a Python float; here doubles)
tanh(lr, total_steps=T, lr_min=e, lb=-7, ub=3)   timm TanhLRScheduler, one
    cycle (cycle_limit=1, cycle_mul=1, cycle_decay=1, no warmup):
    t < T:  x = t / T
            rate = e + 0.5 * (lr - e) * (1 - tanh(lb * (1 - x) + ub * x))
    t >= T: rate = e (timm: cycle t // T >= cycle_limit, lr_min held).
    Step 0 is not lr: (1 - tanh(-7)) / 2 = 1 - 8.3e-7. timm's constructor puts
    the base lr in the optimizer and first calls step_update(1), so timm runs
    update 1 at lr; the table has the closed form at step 0.
cosine_restarts(eta_max, T_0, eta_min=e, T_mult=M, m_mul=g, k_decay=k,
                cycle_limit=L)   timm CosineLRScheduler, step = update count
    cycle i, start b_i, length T_i in integers: b_0 = 0, b_{i+1} = b_i + T_i,
      T_{i+1} = M * T_i (b_i = T_0 (M^i - 1) / (M - 1)); i is the largest
      with b_i <= t, c = t - b_i.
    i < L:  rate = e + 0.5 * (eta_max * g^i - e) * (1 + cos(angle)),
            angle = (pi * pow(c, k)) / pow(T_i, k), g^i = pow(g, i)
    i >= L: rate = e; cycle_limit none: restarts for ever.
    cycle_decay scales only the peak: timm does NOT decay lr_min (older timm,
    e.g. TanhLRScheduler @ 6fc886ac, used lr_min * decay_rate^i too), nor
    clamp: once eta_max * g^i < e a cycle rises to e (not in these tables).
    timm finds i as floor(math.log(1 - t / T_0 * (1 - M), M)) when M != 1
    (t // T_0 when M == 1). The script compares that with the integer index at
    every step of every table: no difference for these cases, nor for M = 2,
    T_0 = 1..100, t < 10^5. For M = 3 there is: log(243) / log(3) rounds to
    4.999999999999999, so at t = 121 * T_0 (the start of cycle 5) timm stays
    in cycle 4 with c = T_4 (rate e) where the integer index restarts.
warmup(s, steps=n, start_lr=a, shift=false)   timm warmup_prefix=False
    t < n:  rate = a + t * ((s(0) - a) / n)   (timm: warmup_lr_init + t * step,
            step = (base lr - warmup_lr_init) / warmup_t; s(0) is the base lr;
            the library's lerp a + (s(0) - a) * (t / n) is within 1e-15)
    t >= n: rate = s(t), the schedule on its own clock (not s(t - n)).
    timm_warmup_noshift.csv: timm's CosineLRScheduler with cycle_limit=1 is
    cosine(lr, total_steps=t_initial) with eta_min = lr_min (e + 0.5 (lr - e)
    (1 + cos(pi t / T)) for t < T, e from T on), so this is the library's
    warmup(cosine(lr=0.1, total_steps=1000), steps=100, start_lr=0.001,
    shift=false). (timm's TanhLRScheduler ramps instead to its own value at
    warmup_t when warmup_prefix=False.)
piecewise(steps=[s_0..s_K], values=[v_0..v_K], interpolation)   optax
    piecewise_interpolate_schedule and piecewise_constant_schedule. Mapping:
    init_value = v_0, boundaries_and_scales = {s_0: 1.0 (only if s_0 > 0),
    s_i: v_i / v_{i-1}}; optax's running product of the scales gives v_i back
    (the script prints it) and the tables use those products. A v_{i-1} = 0
    has no such form (the product stays 0): those tables run optax's schedule
    body on bounds (0, s_1, ..) and values (v_0, v_1, ..) directly.
    linear | cosine, s_i <= t < s_{i+1}: p = (t - s_i) / max(1, s_{i+1} - s_i)
      linear: (v_{i+1} - v_i) * p + v_i
      cosine: v_{i+1} + (v_i - v_{i+1}) / 2 * (cos(pi * p) + 1)  (optax's
        'cosine'; 'cos' is rejected, though older error messages name it).
        v_i at p = 0 only to rounding; it cancels rising from 0: keep the form.
      t < s_0: v_0; t >= s_K: v_K; an empty [s_i, s_{i+1}) is skipped.
    constant: v_i for s_i <= t < s_{i+1}, changing AT the boundary step (optax
      applies a scale where sign(b - t) <= 0, i.e. t >= b).
    (optax evaluates in float32 unless jax_enable_x64; these are doubles)

Rounding. Where a cosine nears -1 its own rounding dominates: at step 999 of
timm_warmup_noshift.csv (1 + cos = 4.9e-6) the double is 9.5e-12 from the
exact value, and the cosine of an angle one ulp off can round to a neighbour
2e-11 away. Matching at 1e-12 needs each angle rounded as written above (timm:
(pi * c^k) / T_i^k; transformers, optax: pi * (a / b)) and the same libm cos.
"""
import functools
import inspect
import math
import pathlib
import sys

HOW = 'formula transcribed, python %s, double precision' % (
    sys.version.split()[0])
HF = ('transformers src/transformers/optimization.py @ '
      '005edacb6b5dabbf0843e92c6623de9e07ca6241')
KERAS = ('keras 3 keras/src/optimizers/schedules/learning_rate_schedule.py @ '
         '2534b643145262fc2c9ee638065ee14fdb623984')
TIMM_COS = ('timm timm/scheduler/cosine_lr.py @ '
            '7479d451a6dfd8af27f941b8e82a7402461fae80')
TIMM_TANH = ('timm timm/scheduler/tanh_lr.py @ '
             '0d4c04f3497fcb3987174a43ab4836564e8ecd54')
OPTAX = ('optax optax/schedules/_schedule.py @ '
         '006cebd2adddd064757543329c83eaed0890ed82')
NO_LIMIT = 10 ** 9   # timm has no "unlimited" cycle_limit; never reached here


# transformers (LambdaLR: rate = base lr * multiplier) -----------------------
def get_wsd_schedule(lr, num_warmup_steps, num_stable_steps, num_decay_steps,
                     warmup_type='linear', decay_type='cosine',
                     min_lr_ratio=0.0, num_cycles=0.5):
    w, s, d = num_warmup_steps, num_stable_steps, num_decay_steps
    m = min_lr_ratio

    def factor(t):
        if t < w:
            p = float(t) / float(max(1, w))
            g = {'linear': lambda: p,
                 'cosine': lambda: 0.5 * (1.0 - math.cos(math.pi * p)),
                 '1-sqrt': lambda: 1.0 - math.sqrt(1.0 - p)}[warmup_type]()
            return max(0.0, g * (1.0 - m) + m)
        if t < w + s:
            return 1.0
        if t < w + s + d:
            p = float(t - w - s) / float(max(1, d))
            angle = math.pi * float(num_cycles) * 2.0 * p
            g = {'linear': lambda: 1.0 - p,
                 'cosine': lambda: 0.5 * (1.0 + math.cos(angle)),
                 '1-sqrt': lambda: 1.0 - math.sqrt(p)}[decay_type]()
            return max(0.0, g * (1.0 - m) + m)
        return m
    return lambda t: lr * factor(t)


def get_inverse_sqrt_schedule(lr, num_warmup_steps, timescale=None):
    w = num_warmup_steps
    if timescale is None:
        timescale = w or 10000

    def factor(t):
        if t < w:
            return float(t) / float(max(1, w))
        return 1.0 / math.sqrt((t + (timescale - w)) / timescale)
    return lambda t: lr * factor(t)


# Keras ----------------------------------------------------------------------
def InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate,
                     staircase=False):
    def rate(t):
        p = float(t) / float(decay_steps)
        if staircase:
            p = float(math.floor(p))
        return initial_learning_rate / (1.0 + decay_rate * p)
    return rate


# timm -----------------------------------------------------------------------
def cycle_exact(t, t_initial, cycle_mul):
    """(i, t_curr, t_i) in integers: cycle i starts at b_i and lasts t_i."""
    if cycle_mul == 1:
        return t // t_initial, t % t_initial, t_initial
    assert cycle_mul == int(cycle_mul) > 1, 'whole T_mult only'
    i, start, length = 0, 0, t_initial
    while t >= start + length:
        start, length, i = start + length, length * int(cycle_mul), i + 1
    return i, t - start, length


def cycle_timm_float(t, t_initial, cycle_mul):
    """The cycle index as timm computes it, with a floating log."""
    if cycle_mul == 1:
        return t // t_initial
    return math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))


def CosineLRScheduler(lr, t_initial, lr_min=0.0, cycle_mul=1.0,
                      cycle_decay=1.0, cycle_limit=1, k_decay=1.0, warmup_t=0,
                      warmup_lr_init=0.0, warmup_prefix=False):
    warmup_step = (lr - warmup_lr_init) / warmup_t if warmup_t else 1

    def rate(t):
        if t < warmup_t:
            return warmup_lr_init + t * warmup_step
        if warmup_prefix:
            t = t - warmup_t
        i, t_curr, t_i = cycle_exact(t, t_initial, cycle_mul)
        if i >= cycle_limit:
            return lr_min
        lr_max = lr * cycle_decay ** i
        angle = math.pi * float(t_curr) ** k_decay / float(t_i) ** k_decay
        return lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(angle))
    return rate


def TanhLRScheduler(lr, t_initial, lb=-7.0, ub=3.0, lr_min=0.0,
                    cycle_limit=1):
    def rate(t):
        i, t_curr, t_i = cycle_exact(t, t_initial, 1)
        if i >= cycle_limit:
            return lr_min
        tr = t_curr / t_i
        return lr_min + 0.5 * (lr - lr_min) * (
            1 - math.tanh(lb * (1. - tr) + ub * tr))
    return rate


# optax ----------------------------------------------------------------------
def optax_args(steps, values):
    """optax's (init_value, boundaries_and_scales) for the points, or None."""
    if any(v == 0.0 for v in values[:-1]):
        return None
    scales = {steps[0]: 1.0} if steps[0] > 0 else {}
    for i in range(1, len(steps)):
        scales[steps[i]] = values[i] / values[i - 1]
    return values[0], scales


def cumulative(init_value, scales):
    """optax's bounds (0,) + boundaries and cumprod((init_value,) + scales)."""
    bounds, values = [0], [init_value]
    for b, s in sorted(scales.items()):
        bounds.append(b)
        values.append(values[-1] * s)
    return bounds, values


def optax_interpolate(kind, bounds, values):
    def interp(start, end, pct):
        if kind == 'linear':
            return (end - start) * pct + start
        return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)

    def rate(t):
        total = 0.0   # optax: indicator.dot(interp_vals), at most one term
        for i in range(len(bounds) - 1):
            if bounds[i] <= t < bounds[i + 1]:
                pct = (t - bounds[i]) / max(bounds[i + 1] - bounds[i], 1)
                total += interp(values[i], values[i + 1], pct)
        return total + (values[-1] if bounds[-1] <= t else 0.0)
    return rate


def optax_constant(init_value, scales):
    def rate(t):
        v = init_value
        for threshold, scale in sorted(scales.items()):
            sign = (threshold - t > 0) - (threshold - t < 0)
            indicator = max(0.0, float(sign))
            v = v * indicator + (1 - indicator) * scale * v
        return v
    return rate


def optax(steps, values, interpolation):
    """(rate, source, optax call) for the library's piecewise(...)."""
    args = optax_args(steps, values)
    if interpolation == 'constant':
        return optax_constant(*args), OPTAX, (
            'piecewise_constant_schedule(init_value=%r, '
            'boundaries_and_scales=%r)' % args)
    if args is None:
        bounds = [0] + list(steps[1:] if steps[0] == 0 else steps)
        vals = ([] if steps[0] == 0 else [values[0]]) + list(values)
        return optax_interpolate(interpolation, bounds, vals), OPTAX, (
            "piecewise_interpolate_schedule('%s', ...) schedule body with "
            'bounds=%r, values=%r (a zero value has no init_value/'
            'boundaries_and_scales form)' % (interpolation, bounds, vals))
    return optax_interpolate(interpolation, *cumulative(*args)), OPTAX, (
        "piecewise_interpolate_schedule(interpolate_type='%s', init_value=%r, "
        'boundaries_and_scales=%r)' % ((interpolation,) + args))


# cases ----------------------------------------------------------------------
def lib(source, fn, lr, lr_name='SGD(lr=%r)', more='', **kw):
    """(rate, source, full call) of a transcribed fn, defaults written out."""
    params = list(inspect.signature(fn).parameters.values())[1:]
    text = ''.join(', %s=%r' % (p.name, kw.get(p.name, p.default)) for p in
                   params if p.name in kw or p.default is not p.empty)
    return fn(lr, **kw), source, '%s(%s%s%s' % (
        fn.__name__, lr_name % lr, text, more or ')')


def timm(fn, lr, **kw):
    src = TIMM_COS if fn is CosineLRScheduler else TIMM_TANH
    return lib(src, fn, lr, more=', t_in_epochs=False); lr after '
               'step_update(t)', **kw)


WSD, ISQRT = get_wsd_schedule, get_inverse_sqrt_schedule
hf = functools.partial(lib, HF)
KERAS_LR = 'initial_learning_rate=%r'
CASES = [  # file, rows, (rate, source, call), timm cycle check (T_0, T_mult)
    ('wsd_default.csv', 800, hf(WSD, 0.1, num_warmup_steps=100,
     num_stable_steps=300, num_decay_steps=200), None),
    ('wsd_linear_min_ratio.csv', 800, hf(WSD, 0.1, num_warmup_steps=100,
     num_stable_steps=300, num_decay_steps=200, warmup_type='linear',
     decay_type='linear', min_lr_ratio=0.1), None),
    ('wsd_cosine_warmup_sqrt_decay.csv', 500, hf(WSD, 0.05,
     num_warmup_steps=50, num_stable_steps=150, num_decay_steps=100,
     warmup_type='cosine', decay_type='1-sqrt'), None),
    ('wsd_sqrt_warmup.csv', 700, hf(WSD, 0.1, num_warmup_steps=100,
     num_stable_steps=100, num_decay_steps=300, warmup_type='1-sqrt',
     decay_type='cosine', min_lr_ratio=0.02), None),
    ('wsd_no_warmup.csv', 700, hf(WSD, 0.1, num_warmup_steps=0,
     num_stable_steps=200, num_decay_steps=300, min_lr_ratio=0.01), None),
    ('inverse_sqrt_warmup.csv', 2000, hf(ISQRT, 0.1, num_warmup_steps=100),
     None),
    ('inverse_sqrt_no_warmup.csv', 3000, hf(ISQRT, 0.1, num_warmup_steps=0),
     None),
    ('inverse_sqrt_timescale.csv', 2000, hf(ISQRT, 0.1, num_warmup_steps=50,
     timescale=200), None),
    ('inverse_time.csv', 2000, lib(KERAS, InverseTimeDecay, 0.1, KERAS_LR,
     decay_steps=100, decay_rate=0.5, staircase=False), None),
    ('inverse_time_staircase.csv', 2000, lib(KERAS, InverseTimeDecay, 0.1,
     KERAS_LR, decay_steps=100, decay_rate=0.5, staircase=True), None),
    ('tanh_default.csv', 800, timm(TanhLRScheduler, 0.1, t_initial=500,
     lb=-7.0, ub=3.0, lr_min=0.0, cycle_limit=1), None),
    ('tanh_bounds.csv', 600, timm(TanhLRScheduler, 0.1, t_initial=300,
     lb=-6.0, ub=4.0, lr_min=0.001, cycle_limit=1), None),
    ('timm_cosine_kdecay_half.csv', 1000, timm(CosineLRScheduler, 0.1,
     t_initial=100, lr_min=0.0, cycle_mul=1.0, cycle_decay=1.0,
     cycle_limit=NO_LIMIT, k_decay=0.5), (100, 1)),
    ('timm_cosine_kdecay2_tmult2.csv', 1270, timm(CosineLRScheduler, 0.1,
     t_initial=10, lr_min=0.001, cycle_mul=2.0, cycle_decay=0.5,
     cycle_limit=NO_LIMIT, k_decay=2.0), (10, 2)),
    ('timm_cosine_limit3.csv', 600, timm(CosineLRScheduler, 0.1,
     t_initial=100, lr_min=0.001, cycle_mul=1.0, cycle_decay=0.5,
     cycle_limit=3), (100, 1)),
    ('timm_cosine_limit2_tmult2.csv', 600, timm(CosineLRScheduler, 0.1,
     t_initial=100, lr_min=0.0, cycle_mul=2.0, cycle_decay=1.0,
     cycle_limit=2), (100, 2)),
    ('timm_warmup_noshift.csv', 1300, timm(CosineLRScheduler, 0.1,
     t_initial=1000, lr_min=0.0, cycle_limit=1, warmup_t=100,
     warmup_lr_init=0.001, warmup_prefix=False), (1000, 1)),
    ('piecewise_linear.csv', 1300,
     optax([0, 100, 1000], [0.0, 0.1, 0.001], 'linear'), None),
    ('piecewise_cosine.csv', 1300,
     optax([0, 100, 1000], [0.0, 0.1, 0.001], 'cosine'), None),
    ('piecewise_constant.csv', 800,
     optax([100, 300, 600], [0.1, 0.05, 0.01], 'constant'), None),
    ('piecewise_linear_offset.csv', 1100,
     optax([200, 500, 800], [0.05, 0.2, 0.01], 'linear'), None),
]


def report_timm_cycles():
    """Where timm's floating cycle index leaves the integer one."""
    for name, rows, _, check in CASES:
        if check:
            bad = [t for t in range(rows) if cycle_timm_float(t, *check)
                   != cycle_exact(t, *check)[0]]
            print('%s: timm float cycle index differs at %d step(s) %r'
                  % (name, len(bad), bad))
    differ = []
    for t_initial in range(1, 101):
        i, end = 0, t_initial   # integer cycle i runs up to end (exclusive)
        for t in range(100000):
            if t == end:
                i, end = i + 1, end + t_initial * 2 ** (i + 1)
            if cycle_timm_float(t, t_initial, 2.0) != i:
                differ.append((t_initial, t))
    print('T_mult=2, T_0=1..100, t<100000: differs at %r' % differ)
    for t0, t in ((1, 121), (10, 1210)):   # T_mult=3: where cycle 5 starts
        print('T_mult=3, T_0=%d, t=%d: timm cycle %d, integer cycle %d' % (
            t0, t, cycle_timm_float(t, t0, 3.0), cycle_exact(t, t0, 3)[0]))


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else \
        pathlib.Path(__file__).resolve().parent.parent / 'tests' / 'data'
    for name, rows, (rate, source, call), _ in CASES:
        lines = ['# %s, %s: %s' % (source, HOW, call), '# rows=%d' % rows,
                 'step,lr']
        for t in range(rows):
            v = rate(t)
            assert isinstance(v, float) and math.isfinite(v), (name, t, v)
            lines.append('%d,%r' % (t, v))
        (out / name).write_text('\n'.join(lines) + '\n')
        print('wrote %s (%d rows), step 0: %r' % (name, rows, rate(0)))
    report_timm_cycles()
    for steps, values in (([100, 300, 600], [0.1, 0.05, 0.01]),
                          ([200, 500, 800], [0.05, 0.2, 0.01])):
        print('optax running products %r for the points %r' % (
            cumulative(*optax_args(steps, values))[1], values))


if __name__ == '__main__':
    main()
