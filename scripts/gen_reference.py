#!/usr/bin/python3
"""Generate the PyTorch reference tables in tests/data/.

Usage: /usr/bin/python3 scripts/gen_reference.py [OUTPUT_DIR]

Row t holds the learning rate (and momentum, when cycled) in the optimizer
before its (t+1)-th step: construct, record, optimizer.step(),
scheduler.step().  The tests never need PyTorch; the tables are committed.

CosineAnnealingLR tables stop at T_max, where the library and PyTorch part
ways on purpose: PyTorch's rate rises again past T_max, the library's holds
eta_min; cosine_annealing_past_tmax.csv runs on, to show where.

The sequence_*.csv tables come from SequentialLR, which starts each later
scheduler with step(0), its closed form at epoch 0, and steps it on from
there: each piece runs from its own step 0, as clr::sequence does. The script
checks that against the pieces run on their own (see generate_sequence).

Keras is not installable beside PyTorch 1.13 on Debian 12, so the keras_*.csv
tables come from line-for-line transcriptions of the published algorithms
(below), evaluated in double precision; their provenance line says so.

File layout (tests/reference.hpp refuses anything else):
    # <provenance: library version and the full constructor call>
    # rows=N
    step,lr[,momentum]
    N rows, steps 0 .. N-1 in order, every value written with repr()
"""
import math
import inspect
import pathlib
import sys
import warnings

import torch
from torch.optim import SGD
from torch.optim.lr_scheduler import (CosineAnnealingLR,
                                      CosineAnnealingWarmRestarts, CyclicLR,
                                      ExponentialLR, LinearLR, MultiStepLR,
                                      OneCycleLR, PolynomialLR, SequentialLR,
                                      StepLR)

CYCLIC, SGDR, ONE_CYCLE = CyclicLR, CosineAnnealingWarmRestarts, OneCycleLR
MOM = dict(cycle_momentum=True)
NO_MOM = dict(cycle_momentum=False)

# file, scheduler, optimizer lr, rows, scheduler arguments.
CASES = [
    dict(file='cyclic_triangular.csv', sched=CYCLIC, lr=0.001, rows=10000,
         args=dict(base_lr=0.001, max_lr=0.006, step_size_up=2000,
                   mode='triangular', **NO_MOM)),
    dict(file='cyclic_triangular_asym_momentum.csv', sched=CYCLIC, lr=0.001,
         rows=3000,
         args=dict(base_lr=0.001, max_lr=0.006, step_size_up=300,
                   step_size_down=200, mode='triangular', **MOM,
                   base_momentum=0.8, max_momentum=0.9)),
    dict(file='cyclic_triangular2_asym_momentum.csv', sched=CYCLIC, lr=0.01,
         rows=4000,
         args=dict(base_lr=0.01, max_lr=0.1, step_size_up=250,
                   step_size_down=150, mode='triangular2', **MOM,
                   base_momentum=0.85, max_momentum=0.95)),
    dict(file='cyclic_exp_range_momentum.csv', sched=CYCLIC, lr=0.001,
         rows=3000,
         args=dict(base_lr=0.001, max_lr=0.01, step_size_up=100,
                   step_size_down=150, mode='exp_range', gamma=0.9995, **MOM,
                   base_momentum=0.8, max_momentum=0.9)),
    dict(file='cyclic_exp_range_sym.csv', sched=CYCLIC, lr=0.001, rows=200,
         args=dict(base_lr=0.001, max_lr=0.006, step_size_up=7,
                   step_size_down=7, mode='exp_range', gamma=0.99, **NO_MOM)),
    dict(file='cosine_restarts_tmult1.csv', sched=SGDR, lr=0.1, rows=1000,
         args=dict(T_0=100, T_mult=1, eta_min=1e-4)),
    dict(file='cosine_restarts_tmult2.csv', sched=SGDR, lr=0.05, rows=5000,
         args=dict(T_0=10, T_mult=2, eta_min=0.001)),
    dict(file='cosine_restarts_tmult3.csv', sched=SGDR, lr=0.1, rows=6000,
         args=dict(T_0=7, T_mult=3, eta_min=0.0)),
    dict(file='one_cycle_cos_momentum.csv', sched=ONE_CYCLE, lr=0.1,
         rows=1000,
         args=dict(max_lr=0.1, total_steps=1000, pct_start=0.3,
                   div_factor=25.0, final_div_factor=1e4,
                   anneal_strategy='cos', **MOM,
                   base_momentum=0.85, max_momentum=0.95)),
    dict(file='one_cycle_linear_momentum.csv', sched=ONE_CYCLE, lr=0.01,
         rows=777,
         args=dict(max_lr=0.01, total_steps=777, pct_start=0.25,
                   div_factor=10.0, final_div_factor=100.0,
                   anneal_strategy='linear', **MOM,
                   base_momentum=0.8, max_momentum=0.9)),
    dict(file='one_cycle_cos_three_phase_momentum.csv', sched=ONE_CYCLE,
         lr=0.5, rows=1200,
         args=dict(max_lr=0.5, total_steps=1200, pct_start=0.3,
                   div_factor=25.0, final_div_factor=1e4,
                   anneal_strategy='cos', three_phase=True, **MOM,
                   base_momentum=0.85, max_momentum=0.95)),
    dict(file='one_cycle_linear_three_phase.csv', sched=ONE_CYCLE, lr=0.02,
         rows=999,
         args=dict(max_lr=0.02, total_steps=999, pct_start=0.4,
                   div_factor=20.0, final_div_factor=1000.0,
                   anneal_strategy='linear', three_phase=True, **NO_MOM)),
    # The everyday decays (clr/decay.hpp).
    dict(file='cosine_annealing.csv', sched=CosineAnnealingLR, lr=0.1,
         rows=501, args=dict(T_max=500, eta_min=1e-4)),
    dict(file='cosine_annealing_eta0.csv', sched=CosineAnnealingLR, lr=0.05,
         rows=78, args=dict(T_max=77, eta_min=0.0)),
    dict(file='cosine_annealing_past_tmax.csv', sched=CosineAnnealingLR,
         lr=0.01, rows=151, args=dict(T_max=50, eta_min=0.001)),
    dict(file='linear_decay.csv', sched=LinearLR, lr=0.1, rows=300,
         args=dict(start_factor=1.0, end_factor=0.05, total_iters=200)),
    dict(file='linear_warmup.csv', sched=LinearLR, lr=0.01, rows=120,
         args=dict(start_factor=0.25, end_factor=1.0, total_iters=80)),
    dict(file='polynomial_power1.csv', sched=PolynomialLR, lr=0.1, rows=260,
         args=dict(total_iters=250, power=1.0)),
    dict(file='polynomial_power2.csv', sched=PolynomialLR, lr=0.1, rows=400,
         args=dict(total_iters=300, power=2.0)),
    dict(file='polynomial_power_half.csv', sched=PolynomialLR, lr=0.02,
         rows=120, args=dict(total_iters=97, power=0.5)),
    dict(file='exponential.csv', sched=ExponentialLR, lr=0.1, rows=1000,
         args=dict(gamma=0.99)),
    dict(file='exponential_slow.csv', sched=ExponentialLR, lr=0.01,
         rows=3000, args=dict(gamma=0.9995)),
    dict(file='step.csv', sched=StepLR, lr=0.1, rows=200,
         args=dict(step_size=30, gamma=0.1)),
    dict(file='step_half.csv', sched=StepLR, lr=0.05, rows=400,
         args=dict(step_size=7, gamma=0.5)),
    dict(file='multistep.csv', sched=MultiStepLR, lr=0.1, rows=200,
         args=dict(milestones=[30, 80, 120], gamma=0.1)),
    dict(file='multistep_from_zero.csv', sched=MultiStepLR, lr=1.0, rows=100,
         args=dict(milestones=[0, 1, 2, 50], gamma=0.5)),
]

# SequentialLR over schedulers of one optimizer: file, optimizer lr, rows,
# the pieces (scheduler, arguments) and the milestones (absolute steps).
SEQUENCE_CASES = [
    dict(file='sequence_3way.csv', lr=0.1, rows=451,
         pieces=[(LinearLR, dict(start_factor=0.1, end_factor=1.0,
                                 total_iters=50)),
                 (StepLR, dict(step_size=25, gamma=0.5)),
                 (CosineAnnealingLR, dict(T_max=300, eta_min=1e-4))],
         milestones=[50, 150]),
]


# Keras's CosineDecayRestarts.__call__ (keras/optimizers/schedules/
# learning_rate_schedule.py, TF 2.x), transcribed with math for tf.math.
def keras_cosine_decay_restarts(initial_learning_rate, first_decay_steps,
                                t_mul=2.0, m_mul=1.0, alpha=0.0):
    def call(step):
        completed_fraction = step / first_decay_steps

        def compute_step(completed_fraction, geometric=False):
            if geometric:
                i_restart = math.floor(
                    math.log(1.0 - completed_fraction * (1.0 - t_mul)) /
                    math.log(t_mul))
                sum_r = (1.0 - t_mul ** i_restart) / (1.0 - t_mul)
                completed_fraction = ((completed_fraction - sum_r) /
                                      t_mul ** i_restart)
            else:
                i_restart = math.floor(completed_fraction)
                completed_fraction -= i_restart
            return i_restart, completed_fraction

        i_restart, completed_fraction = compute_step(
            completed_fraction, geometric=t_mul != 1.0)
        m_fac = m_mul ** i_restart
        cosine_decayed = 0.5 * m_fac * (
            1.0 + math.cos(math.pi * completed_fraction))
        decayed = (1 - alpha) * cosine_decayed + alpha
        return initial_learning_rate * decayed
    return call


# bckenstler's CyclicLR callback (github.com/bckenstler/CLR, clr_callback.py),
# the Keras implementation of Smith's paper: CyclicLR.clr(), with numpy's
# floor / abs / maximum as math's. The rate for batch t + 1 is clr() with
# clr_iterations = t (on_train_begin sets base_lr = clr() at 0).
def keras_cyclic_lr(base_lr=0.001, max_lr=0.006, step_size=2000.,
                    mode='triangular', gamma=1.):
    if mode == 'triangular':
        scale_fn, scale_mode = (lambda x: 1.), 'cycle'
    elif mode == 'triangular2':
        scale_fn, scale_mode = (lambda x: 1 / (2. ** (x - 1))), 'cycle'
    else:
        scale_fn, scale_mode = (lambda x: gamma ** (x)), 'iterations'

    def clr(clr_iterations):
        cycle = math.floor(1 + clr_iterations / (2 * step_size))
        x = abs(clr_iterations / step_size - 2 * cycle + 1)
        if scale_mode == 'cycle':
            return base_lr + (max_lr - base_lr) * max(0, (1 - x)) * \
                scale_fn(cycle)
        return base_lr + (max_lr - base_lr) * max(0, (1 - x)) * \
            scale_fn(clr_iterations)
    return clr


KERAS_CDR = 'keras CosineDecayRestarts algorithm, transcribed'
KERAS_CLR = 'keras CyclicLR callback (bckenstler/CLR clr_callback.py) ' \
    'algorithm, transcribed'

# file, function, rows, arguments.
KERAS_CASES = [
    dict(file='keras_cosine_restarts_mmul.csv', what=KERAS_CDR,
         fn=keras_cosine_decay_restarts, rows=3100,
         args=dict(initial_learning_rate=0.1, first_decay_steps=100,
                   t_mul=2.0, m_mul=0.5, alpha=0.0)),
    dict(file='keras_cosine_restarts_tmul1_mmul.csv', what=KERAS_CDR,
         fn=keras_cosine_decay_restarts, rows=1000,
         args=dict(initial_learning_rate=0.05, first_decay_steps=70,
                   t_mul=1.0, m_mul=0.8, alpha=0.0)),
    dict(file='keras_cosine_restarts_tmul3_alpha.csv', what=KERAS_CDR,
         fn=keras_cosine_decay_restarts, rows=2000,
         args=dict(initial_learning_rate=0.2, first_decay_steps=10,
                   t_mul=3.0, m_mul=1.0, alpha=0.05)),
    dict(file='keras_cosine_restarts_mmul_alpha.csv', what=KERAS_CDR,
         fn=keras_cosine_decay_restarts, rows=700,
         args=dict(initial_learning_rate=0.1, first_decay_steps=100,
                   t_mul=2.0, m_mul=0.5, alpha=0.1)),
    dict(file='keras_cyclic_triangular.csv', what=KERAS_CLR,
         fn=keras_cyclic_lr, rows=10000,
         args=dict(base_lr=0.001, max_lr=0.006, step_size=2000.,
                   mode='triangular')),
    dict(file='keras_cyclic_triangular2.csv', what=KERAS_CLR,
         fn=keras_cyclic_lr, rows=4000,
         args=dict(base_lr=0.01, max_lr=0.1, step_size=250.,
                   mode='triangular2')),
    dict(file='keras_cyclic_exp_range.csv', what=KERAS_CLR,
         fn=keras_cyclic_lr, rows=3000,
         args=dict(base_lr=0.001, max_lr=0.01, step_size=100.,
                   mode='exp_range', gamma=0.9995)),
]


def generate_keras(case):
    """Return the CSV text of one transcribed-Keras case."""
    fn = case['fn'](**case['args'])
    call = '%s(%s)' % (case['fn'].__name__, ', '.join(
        '%s=%r' % kv for kv in case['args'].items()))
    lines = ['# %s (python %s, double precision): %s' % (
        case['what'], sys.version.split()[0], call),
             '# rows=%d' % case['rows'], 'step,lr']
    for t in range(case['rows']):
        lines.append('%d,%r' % (t, float(fn(t))))
    return '\n'.join(lines) + '\n'


def full_call(case, opt_text):
    """The constructor call with every default spelled out."""
    return call_text(case['sched'], case['args'], opt_text)


def generate(case):
    """Return the CSV text of one case."""
    momentum = case['args'].get('cycle_momentum', False)
    opt_args = dict(lr=case['lr'], momentum=0.9) if momentum else \
        dict(lr=case['lr'])
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = SGD([param], **opt_args)
    scheduler = case['sched'](optimizer, **case['args'])
    opt_text = 'SGD(%s)' % ', '.join('%s=%r' % kv for kv in opt_args.items())
    lines = ['# torch %s: %s' % (torch.__version__, full_call(case, opt_text)),
             '# rows=%d' % case['rows'],
             'step,lr,momentum' if momentum else 'step,lr']
    for t in range(case['rows']):
        group = optimizer.param_groups[0]
        row = [str(t), repr(float(group['lr']))]
        if momentum:
            row.append(repr(float(group['momentum'])))
        lines.append(','.join(row))
        optimizer.step()
        scheduler.step()
    return '\n'.join(lines) + '\n'


def call_text(sched, args, opt_text):
    """A constructor call with every default spelled out."""
    bound = inspect.signature(sched).bind(None, **args)
    bound.apply_defaults()
    params = ['optimizer=' + opt_text]
    params += ['%s=%r' % kv for kv in bound.arguments.items()
               if kv[0] != 'optimizer']
    return '%s(%s)' % (sched.__name__, ', '.join(params))


def run_alone(sched, args, lr, rows):
    """The rates of one scheduler on a fresh optimizer, steps 0 .. rows-1."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = SGD([param], lr=lr)
    scheduler = sched(optimizer, **args)
    out = []
    for _ in range(rows):
        out.append(float(optimizer.param_groups[0]['lr']))
        optimizer.step()
        scheduler.step()
    return out


def generate_sequence(case):
    """Return the CSV text of one SequentialLR case.

    Before writing it, checks that SequentialLR gives what each piece gives on
    its own from its own step 0: a piece that SequentialLR started differently
    would make the table a reference for something else."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = SGD([param], lr=case['lr'])
    schedulers = [sched(optimizer, **args) for sched, args in case['pieces']]
    scheduler = SequentialLR(optimizer, schedulers=schedulers,
                             milestones=case['milestones'])
    values = []
    for _ in range(case['rows']):
        values.append(float(optimizer.param_groups[0]['lr']))
        optimizer.step()
        scheduler.step()
    starts = [0] + case['milestones'] + [case['rows']]
    worst = 0.0
    for (sched, args), begin, end in zip(case['pieces'], starts, starts[1:]):
        alone = run_alone(sched, args, case['lr'], end - begin)
        for got, want in zip(values[begin:end], alone):
            worst = max(worst, abs(got - want) / max(abs(want), 1e-300))
    if worst > 1e-15:
        sys.exit('%s: SequentialLR differs from its pieces run alone by %g'
                 % (case['file'], worst))
    opt_text = 'SGD(lr=%r)' % case['lr']
    inner = ', '.join(call_text(sched, args, 'optimizer')
                      for sched, args in case['pieces'])
    lines = ['# torch %s: SequentialLR(optimizer=%s, schedulers=[%s], '
             'milestones=%r) (each piece equals itself run alone from its '
             'own step 0, to %g)' % (torch.__version__, opt_text, inner,
                                     case['milestones'], worst),
             '# rows=%d' % case['rows'], 'step,lr']
    for t, v in enumerate(values):
        lines.append('%d,%r' % (t, v))
    return '\n'.join(lines) + '\n'


def main():
    repo = pathlib.Path(__file__).resolve().parent.parent
    out_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 \
        else repo / 'tests' / 'data'
    out_dir.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings('ignore')
    for case in CASES:
        text = generate(case)
        (out_dir / case['file']).write_text(text, newline='\n')
        print('%-42s %6d rows' % (case['file'], case['rows']))
    for case in SEQUENCE_CASES:
        (out_dir / case['file']).write_text(generate_sequence(case),
                                            newline='\n')
        print('%-42s %6d rows' % (case['file'], case['rows']))
    for case in KERAS_CASES:
        (out_dir / case['file']).write_text(generate_keras(case), newline='\n')
        print('%-42s %6d rows' % (case['file'], case['rows']))


if __name__ == '__main__':
    main()
