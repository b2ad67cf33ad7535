#!/usr/bin/python3
"""Generate tests/data/torch_*.csv: small training runs of PyTorch's own
schedulers on torch.optim, which tests/torch/test_reference.cpp repeats with
clr::torch::scheduler on libtorch's optimizers.

Usage: /usr/bin/python3 scripts/gen_torch_reference.py [OUTPUT_DIR]

The model is fixed and needs no file: a 4-3-1 tanh network in double
precision, trained on 16 fixed samples with the mean squared error, full
batch. Every input, target and initial weight is a small dyadic fraction
(k / 8, k / 16), exact in binary, which the C++ test computes by the same
integer formulas; nothing depends on a random generator or libm. The
parameters form two groups, {W1, b1} and {W2, b2}, in that order.

Each case is one optimizer and one scheduler, stepped in PyTorch's order:
construct both, then per update: forward, backward, optimizer.step(),
scheduler.step().

File layout (tests/torch/test_reference.cpp refuses anything else):
    # torch <version>: <optimizer call>; <scheduler call>
    # rows=N
    t,lr0,lr1,momentum,loss,p0,...,p18
    N rows, t = 0 .. N-1 in order
Row t: lr0, lr1 and momentum are the rates of groups 0 and 1 and the
momentum (SGD, RMSprop) or beta1 (Adam, AdamW) of group 0 in force for
update t + 1, loss the loss that update's gradient came from, p0..p18 the
parameters after it: W1 (3x4, row-major), b1 (3), W2 (1x3), b2 (1).
"""
import pathlib
import sys

import torch
from torch.optim import SGD, Adam, AdamW, RMSprop
from torch.optim.lr_scheduler import (CosineAnnealingWarmRestarts, CyclicLR,
                                      OneCycleLR)

STEPS = 50
SAMPLES, INPUTS, HIDDEN = 16, 4, 3


# The integer formulas, repeated in tests/torch/torch_model.hpp.
def inputs():
    return [[((i * 7 + j * 3) % 11 - 5) / 8 for j in range(INPUTS)]
            for i in range(SAMPLES)]


def targets():
    return [[((i * 3) % 7 - 3) / 4] for i in range(SAMPLES)]


def w1():
    return [[((i * 5 + j * 3) % 13 - 6) / 16 for j in range(INPUTS)]
            for i in range(HIDDEN)]


def b1():
    return [(i % 3 - 1) / 16 for i in range(HIDDEN)]


def w2():
    return [[((j * 5) % 7 - 2) / 8 for j in range(HIDDEN)]]


def b2():
    return [1 / 16]


def model():
    t = lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)
    return [t(w1()), t(b1()), t(w2()), t(b2())]


def loss_of(params, x, y):
    W1, B1, W2, B2 = params
    h = torch.tanh(x @ W1.t() + B1)
    out = h @ W2.t() + B2
    return ((out - y) ** 2).mean()


# file, optimizer, optimizer call, scheduler, scheduler arguments. The group
# rates of CyclicLR's lists are in the ratio 1 : 0.5, which the test gives
# clr::torch::scheduler as group scales.
CASES = [
    dict(file='torch_sgd_triangular.csv', opt=SGD,
         opt_args=dict(lr=0.05, momentum=0.9, weight_decay=1e-3),
         sched=CyclicLR,
         sched_args=dict(base_lr=[0.01, 0.005], max_lr=[0.1, 0.05],
                         step_size_up=10, mode='triangular',
                         cycle_momentum=True, base_momentum=0.8,
                         max_momentum=0.95)),
    dict(file='torch_adam_one_cycle.csv', opt=Adam,
         opt_args=dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8),
         sched=OneCycleLR,
         sched_args=dict(max_lr=0.05, total_steps=STEPS, pct_start=0.3,
                         anneal_strategy='cos', cycle_momentum=True,
                         base_momentum=0.85, max_momentum=0.95,
                         div_factor=25.0, final_div_factor=1e4)),
    dict(file='torch_adamw_cosine_restarts.csv', opt=AdamW,
         opt_args=dict(lr=0.02, betas=(0.9, 0.999), eps=1e-8,
                       weight_decay=0.01),
         sched=CosineAnnealingWarmRestarts,
         sched_args=dict(T_0=10, T_mult=2, eta_min=1e-4)),
    dict(file='torch_rmsprop_one_cycle.csv', opt=RMSprop,
         opt_args=dict(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.9),
         sched=OneCycleLR,
         sched_args=dict(max_lr=0.01, total_steps=STEPS, pct_start=0.25,
                         anneal_strategy='linear', cycle_momentum=True,
                         base_momentum=0.8, max_momentum=0.9,
                         div_factor=10.0, final_div_factor=100.0)),
]


def call(name, args):
    return '%s(%s)' % (name, ', '.join('%s=%r' % kv for kv in args.items()))


def momentum_of(group):
    return group['betas'][0] if 'betas' in group else group['momentum']


def generate(case):
    params = model()
    groups = [dict(params=params[:2]), dict(params=params[2:])]
    opt = case['opt'](groups, **case['opt_args'])
    sched = case['sched'](opt, **case['sched_args'])
    x = torch.tensor(inputs(), dtype=torch.float64)
    y = torch.tensor(targets(), dtype=torch.float64)
    lines = ['# torch %s: %s; %s' % (torch.__version__,
                                     call(case['opt'].__name__,
                                          case['opt_args']),
                                     call(case['sched'].__name__,
                                          case['sched_args'])),
             '# rows=%d' % STEPS,
             ','.join(['t', 'lr0', 'lr1', 'momentum', 'loss'] +
                      ['p%d' % k for k in range(19)])]
    for t in range(STEPS):
        g0, g1 = opt.param_groups
        row = [g0['lr'], g1['lr'], momentum_of(g0)]
        assert momentum_of(g1) == momentum_of(g0)
        opt.zero_grad()
        loss = loss_of(params, x, y)
        loss.backward()
        opt.step()
        sched.step()
        after = [v for p in params for v in p.detach().reshape(-1).tolist()]
        lines.append(','.join([str(t)] + [repr(v) for v in row] +
                              [repr(loss.item())] + [repr(v) for v in after]))
    return '\n'.join(lines) + '\n'


def main():
    repo = pathlib.Path(__file__).resolve().parent.parent
    out_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 \
        else repo / 'tests' / 'data'
    out_dir.mkdir(parents=True, exist_ok=True)
    for case in CASES:
        (out_dir / case['file']).write_text(generate(case), newline='\n')
        print('%-34s %d steps' % (case['file'], STEPS))


if __name__ == '__main__':
    main()
