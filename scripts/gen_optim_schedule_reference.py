#!/usr/bin/python3
"""Generate tests/data/optim_*_block_schedules.csv: PyTorch optimizer runs
whose parameter groups follow rate schedules of their own and whose weight
decay follows a schedule.

Usage: /usr/bin/python3 scripts/gen_optim_schedule_reference.py [OUTPUT_DIR]

The runs are those of scripts/gen_optim_reference.py (its blocks, initial
values, gradients and STEPS; the 3x4 matrix in parameter group 0, the
5-vector in group 1), with four values set by hand in the parameter groups
before every step, as a training loop that schedules them would:

    param_groups[0]['lr']            the optimizer's schedule   lr0(t)
    param_groups[1]['lr']            group 1's own schedule      lr1(t) * LR_SCALE_1
    param_groups[0]['weight_decay']  the optimizer's decay       wd0(t)
    param_groups[1]['weight_decay']  group 1's decay             wd1(t)

Row t holds the values in force for update t + 1. Each schedule is the
closed form of a clr schedule, written here in clr's order of operations,
which the C++ tests (tests/test_block_schedules.cpp) build as those
schedules, and compare with these columns before comparing the parameters:

    cosine(lr, T, eta_min)   lerp(eta_min, lr, (1 + cos(pi t / T)) / 2)
                             (clr::cosine(lr, T).with_eta_min(eta_min))
    rise(a, b, T)            b + (a - b) / 2 (cos(pi (t / T)) + 1), held at b
                             (clr::piecewise({0, T}, {a, b}) with cosine
                             interpolation: DINO's weight decay, 0.04 to 0.4)
    delayed(lr, n, w)        0 for t < n, lerp(0, lr, (t - n) / w) for
                             t < n + w, then lr (clr::sequence(constant(0), n,
                             warmup(constant(lr), w, 0))): a block held still,
                             then warmed up

Cases:
    optim_sgd_block_schedules.csv    SGD, momentum 0.9: lr0 = cosine(0.05, 300, 0),
        lr1 = delayed(0.05, 40, 60), wd0 = rise(0.04, 0.4, 300),
        wd1 = cosine(0.01, 300, 0)
    optim_adamw_block_schedules.csv  AdamW: lr0 = cosine(0.01, 300, 0.001),
        lr1 = delayed(0.02, 40, 60) times 0.5, wd0 = rise(0.04, 0.4, 300),
        wd1 = 0.05

File layout (tests/optim_reference.hpp reads it):
    # torch <version>: <the optimizer call and the four schedules>
    # case: optimizer=... <options> block1_lr_scale=... cycled=none shapes=3x4,5 steps=N
    # initial=<p0>,...,<p16>
    t,lr,momentum,lr1,wd0,wd1,g0,...,g16,p0,...,p16
    N rows, t = 0 .. N-1 in order
`lr` is group 0's rate, `lr1` group 1's (after its scale), `wd0` and `wd1`
the groups' weight decays; the rest as in gen_optim_reference.py.
"""
import math

import torch

from gen_optim_reference import (N_VALUES, SHAPES, STEPS, apply_update, flat,
                                 initial, pulled_gradients, write_cases)


def lerp(a, b, w):
    """clr::detail::lerp: exactly b at w = 1, never past b."""
    if w == 1.0:
        return b
    v = a + (b - a) * w
    return (v if v < b else b) if a <= b else (v if v > b else b)


def cosine(lr, total, eta_min=0.0):
    def at(t):
        if t >= total:
            return eta_min
        angle = math.pi * t / total
        return lerp(eta_min, lr, (1.0 + math.cos(angle)) / 2.0)
    return at


def rise(a, b, total):
    def at(t):
        if t >= total:
            return b
        p = t / total
        v = b + (a - b) / 2.0 * (math.cos(math.pi * p) + 1.0)
        return min(max(v, min(a, b)), max(a, b))
    return at


def delayed(lr, hold, ramp):
    def at(t):
        if t < hold:
            return 0.0
        if t - hold < ramp:
            return lerp(0.0, lr, (t - hold) / ramp)
        return lr
    return at


def constant(v):
    return lambda t: v


CASES = [
    dict(file='optim_sgd_block_schedules.csv', kind='sgd', cls=torch.optim.SGD,
         opts=dict(momentum=0.9, dampening=0.0, nesterov=False),
         lr0=cosine(0.05, 300), lr1=delayed(0.05, 40, 60), scale1=1.0,
         wd0=rise(0.04, 0.4, 300), wd1=cosine(0.01, 300), seed=21,
         text='lr0 = cosine(0.05, 300), lr1 = delayed(0.05, 40, 60), '
              'wd0 = rise(0.04, 0.4, 300), wd1 = cosine(0.01, 300)'),
    dict(file='optim_adamw_block_schedules.csv', kind='adamw',
         cls=torch.optim.AdamW,
         opts=dict(betas=(0.9, 0.999), eps=1e-8),
         lr0=cosine(0.01, 300, 0.001), lr1=delayed(0.02, 40, 60), scale1=0.5,
         wd0=rise(0.04, 0.4, 300), wd1=constant(0.05), seed=22,
         text='lr0 = cosine(0.01, 300, 0.001), lr1 = delayed(0.02, 40, 60) '
              '* 0.5, wd0 = rise(0.04, 0.4, 300), wd1 = 0.05'),
]


def case_line(case):
    o = case['opts']
    if case['kind'] == 'sgd':
        fields = [('momentum', repr(o['momentum'])),
                  ('dampening', repr(o['dampening'])),
                  ('nesterov', 'true' if o['nesterov'] else 'false')]
    else:
        fields = [('beta1', repr(o['betas'][0])),
                  ('beta2', repr(o['betas'][1])),
                  ('eps', repr(o['eps']))]
    fields = [('optimizer', case['kind'])] + fields + [
        ('block1_lr_scale', repr(case['scale1'])),
        ('cycled', 'none'),
        ('shapes', ','.join('x'.join(map(str, s)) for s in SHAPES)),
        ('steps', str(STEPS))]
    return '# case: ' + ' '.join('%s=%s' % kv for kv in fields)


def generate(case):
    params = [torch.nn.Parameter(initial(b, s)) for b, s in enumerate(SHAPES)]
    start = [p.detach().clone() for p in params]
    opts = case['opts']
    optimizer = case['cls']([{'params': [params[0]]}, {'params': [params[1]]}],
                            lr=case['lr0'](0), weight_decay=0.0, **opts)
    call = ('torch.optim.%s([{params: [block 0]}, {params: [block 1]}], %s), '
            'before each step: %s' % (
                case['cls'].__name__,
                ', '.join('%s=%r' % kv for kv in opts.items()), case['text']))
    gen = torch.Generator().manual_seed(case['seed'])

    lines = ['# torch %s: %s' % (torch.__version__, call),
             case_line(case),
             '# initial=' + ','.join(repr(v) for v in flat(start)),
             ','.join(['t', 'lr', 'momentum', 'lr1', 'wd0', 'wd1'] +
                      ['g%d' % k for k in range(N_VALUES)] +
                      ['p%d' % k for k in range(N_VALUES)])]
    groups = optimizer.param_groups
    mom = opts['momentum'] if case['kind'] == 'sgd' else opts['betas'][0]
    for t in range(STEPS):
        lr0, lr1 = case['lr0'](t), case['lr1'](t)
        if case['scale1'] != 1.0:
            lr1 = lr1 * case['scale1']  # clr: double(lr) * lr_scale, rounded once
        wd0, wd1 = case['wd0'](t), case['wd1'](t)
        groups[0]['lr'], groups[1]['lr'] = lr0, lr1
        groups[0]['weight_decay'], groups[1]['weight_decay'] = wd0, wd1
        grads = pulled_gradients(params, start, gen)
        after = apply_update(optimizer, params, grads)
        lines.append(','.join([str(t)] + [repr(v) for v in
                                          (lr0, mom, lr1, wd0, wd1)] +
                              [repr(v) for v in flat(grads)] +
                              [repr(v) for v in after]))
    return '\n'.join(lines) + '\n'


def main():
    write_cases(CASES, generate)


if __name__ == '__main__':
    main()
