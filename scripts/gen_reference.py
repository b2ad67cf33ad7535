#!/usr/bin/python3
"""Generate the PyTorch reference tables in tests/data/.

Usage: /usr/bin/python3 scripts/gen_reference.py [OUTPUT_DIR]

Row t holds the learning rate (and momentum, when cycled) in the optimizer
before its (t+1)-th step: construct, record, optimizer.step(),
scheduler.step().  The tests never need PyTorch; the tables are committed.
"""
import inspect
import pathlib
import sys
import warnings

import torch
from torch.optim import SGD
from torch.optim.lr_scheduler import (CosineAnnealingWarmRestarts, CyclicLR,
                                      OneCycleLR)

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
]


def full_call(case, opt_text):
    """The constructor call with every default spelled out."""
    bound = inspect.signature(case['sched']).bind(None, **case['args'])
    bound.apply_defaults()
    params = ['optimizer=' + opt_text]
    params += ['%s=%r' % kv for kv in bound.arguments.items()
               if kv[0] != 'optimizer']
    return '%s(%s)' % (case['sched'].__name__, ', '.join(params))


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


if __name__ == '__main__':
    main()
