#!/usr/bin/python3
"""Generate the PyTorch optimizer reference tables tests/data/optim_*.csv.

Usage: /usr/bin/python3 scripts/gen_optim_reference.py [OUTPUT_DIR]

Each case runs torch.optim.SGD / Adam / AdamW in double precision on two
parameter blocks (a 3x4 matrix and a 5-vector) for STEPS updates. The
learning rate, and in the cycled cases the momentum (beta1 for Adam), is set
by hand in the parameter group before every step, which is what PyTorch's
CyclicLR / OneCycleLR do; row t holds the values in force for update t + 1
(the convention of shared/SCHEDULES.md). Initial parameters come from a
closed formula. The gradient of update t + 1 is a pull back towards the
initial values plus seeded noise, computed from the parameters PyTorch holds
at that point, so it depends on every earlier update, and the parameters stay
away from zero (the tests compare relative errors). Gradients are written
out, so the C++ tests only read the table and never need PyTorch.

The *_groups cases put the 5-vector in a parameter group of its own, with
the rate times block1_lr_scale and its own weight decay, as
clr::optim::block_options does; the lr column is the first group's rate.

File layout (tests/optim_reference.hpp refuses anything else):
    # torch <version>: <the optimizer constructor call>
    # case: optimizer=... <options> cycled=momentum|none shapes=3x4,5 steps=N
    # initial=<p0>,...,<p16>
    t,lr,momentum,g0,...,g16,p0,...,p16
    N rows, t = 0 .. N-1 in order
Value k runs over block 0 in PyTorch's (row-major) order, then block 1.
`momentum` is the SGD momentum or Adam beta1 used by update t + 1, g0..g16
the gradient fed to it and p0..p16 the parameters after it (those before it
are the previous row's, or the initial ones).
"""
import math
import pathlib
import sys

import torch

SHAPES = [(3, 4), (5,)]
STEPS = 300
N_VALUES = 17
PULL = 0.5    # gradient = PULL * (p - p_initial) + NOISE * N(0, 1)
NOISE = 0.1


def initial(block, shape):
    """Values of magnitude 0.4 to 1.24 with alternating signs: no zeros, so
    the tests can use a relative tolerance."""
    n = math.prod(shape)
    vals = [(-1) ** (i + block) * (0.4 + 0.07 * ((5 * i + 3 * block) % 13))
            for i in range(n)]
    return torch.tensor(vals, dtype=torch.float64).reshape(shape)


def lr_at(base, t):
    return base * (1.0 + 0.6 * math.sin(1.3 * t + 0.4))


def momentum_at(t):
    return 0.9 - 0.06 * math.cos(0.9 * t + 0.2)


# file, torch class, constructor options, base lr, cycled momentum, seed.
CASES = [
    dict(file='optim_sgd_plain.csv', kind='sgd', cls=torch.optim.SGD,
         opts=dict(momentum=0.0, dampening=0.0, weight_decay=0.0,
                   nesterov=False),
         base=0.1, cycled=False, seed=11),
    dict(file='optim_sgd_momentum.csv', kind='sgd', cls=torch.optim.SGD,
         opts=dict(momentum=0.9, dampening=0.1, weight_decay=0.01,
                   nesterov=False),
         base=0.05, cycled=False, seed=12),
    dict(file='optim_sgd_nesterov_cycled.csv', kind='sgd',
         cls=torch.optim.SGD,
         opts=dict(momentum=0.9, dampening=0.0, weight_decay=0.005,
                   nesterov=True),
         base=0.05, cycled=True, seed=13),
    dict(file='optim_adam_weight_decay.csv', kind='adam',
         cls=torch.optim.Adam,
         opts=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.02),
         base=0.01, cycled=False, seed=14),
    dict(file='optim_adam_cycled_beta1.csv', kind='adam',
         cls=torch.optim.Adam,
         opts=dict(betas=(0.9, 0.99), eps=1e-6, weight_decay=0.0),
         base=0.02, cycled=True, seed=15),
    dict(file='optim_adamw.csv', kind='adamw', cls=torch.optim.AdamW,
         opts=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
         base=0.01, cycled=False, seed=16),
    # Parameter groups: block 1's rate scale and weight decay.
    dict(file='optim_sgd_groups.csv', kind='sgd', cls=torch.optim.SGD,
         opts=dict(momentum=0.9, dampening=0.0, weight_decay=0.01,
                   nesterov=True),
         base=0.05, cycled=True, seed=17, groups=(0.3, 0.0)),
    dict(file='optim_adamw_groups.csv', kind='adamw', cls=torch.optim.AdamW,
         opts=dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
         base=0.01, cycled=False, seed=18, groups=(0.3, 0.05)),
]


def case_line(case):
    """The options as key=value pairs the C++ tests read."""
    o = case['opts']
    if case['kind'] == 'sgd':
        fields = [('momentum', repr(o['momentum'])),
                  ('dampening', repr(o['dampening'])),
                  ('weight_decay', repr(o['weight_decay'])),
                  ('nesterov', 'true' if o['nesterov'] else 'false')]
    else:
        fields = [('beta1', repr(o['betas'][0])),
                  ('beta2', repr(o['betas'][1])),
                  ('eps', repr(o['eps'])),
                  ('weight_decay', repr(o['weight_decay']))]
    fields = [('optimizer', case['kind'])] + fields
    if 'groups' in case:
        fields += [('block1_lr_scale', repr(case['groups'][0])),
                   ('block1_weight_decay', repr(case['groups'][1]))]
    fields.append(('cycled', 'momentum' if case['cycled'] else 'none'))
    fields.append(('shapes', ','.join('x'.join(map(str, s)) for s in SHAPES)))
    fields.append(('steps', str(STEPS)))
    return '# case: ' + ' '.join('%s=%s' % kv for kv in fields)


def generate(case):
    params = [torch.nn.Parameter(initial(b, s)) for b, s in enumerate(SHAPES)]
    start = [p.detach().clone() for p in params]
    opts = case['opts']
    if 'groups' in case:
        scale, decay = case['groups']
        optimizer = case['cls']([{'params': [params[0]]},
                                 {'params': [params[1]],
                                  'weight_decay': decay}],
                                lr=case['base'], **opts)
        call = ('torch.optim.%s([{params: [block 0]}, {params: [block 1], '
                'weight_decay: %r}], lr=%r, %s), block 1 at lr * %r' % (
                    case['cls'].__name__, decay, case['base'],
                    ', '.join('%s=%r' % kv for kv in opts.items()), scale))
    else:
        scale = 1.0
        optimizer = case['cls'](params, lr=case['base'], **opts)
        call = 'torch.optim.%s(params, lr=%r, %s)' % (
            case['cls'].__name__, case['base'],
            ', '.join('%s=%r' % kv for kv in opts.items()))
    gen = torch.Generator().manual_seed(case['seed'])

    lines = ['# torch %s: %s' % (torch.__version__, call),
             case_line(case),
             '# initial=' + ','.join(repr(v) for v in flat(start)),
             ','.join(['t', 'lr', 'momentum'] +
                      ['g%d' % k for k in range(N_VALUES)] +
                      ['p%d' % k for k in range(N_VALUES)])]
    groups = optimizer.param_groups
    for t in range(STEPS):
        lr = lr_at(case['base'], t)
        groups[0]['lr'] = lr
        if len(groups) > 1:
            groups[1]['lr'] = lr * scale
        for group in groups:
            if case['kind'] == 'sgd':
                mom = momentum_at(t) if case['cycled'] else opts['momentum']
                group['momentum'] = mom
            else:
                mom = momentum_at(t) if case['cycled'] else opts['betas'][0]
                group['betas'] = (mom, opts['betas'][1])
        grads = pulled_gradients(params, start, gen)
        after = apply_update(optimizer, params, grads)
        lines.append(','.join([str(t), repr(lr), repr(mom)] +
                              [repr(v) for v in flat(grads)] +
                              [repr(v) for v in after]))
    return '\n'.join(lines) + '\n'


def flat(tensors):
    """The values of the tensors, one list, each in PyTorch's (row-major) order."""
    return [v for x in tensors for v in x.reshape(-1).tolist()]


def pulled_gradients(params, start, gen):
    """The gradient of the next update: a pull back towards the initial
    values plus seeded noise."""
    return [PULL * (p.detach() - p0) +
            NOISE * torch.randn(p.shape, dtype=torch.float64, generator=gen)
            for p, p0 in zip(params, start)]


def apply_update(optimizer, params, grads):
    """One optimizer step with the given gradients; the parameters after it,
    flat, each kept away from zero (the tests compare relative errors)."""
    for p, g in zip(params, grads):
        p.grad = g.clone()
    optimizer.step()
    after = flat([p.detach() for p in params])
    assert min(abs(v) for v in after) > 0.05, 'a parameter came near 0'
    return after


def write_cases(cases, generate):
    """Writes generate(case) for each case into argv[1] or tests/data."""
    torch.set_default_dtype(torch.float64)
    repo = pathlib.Path(__file__).resolve().parent.parent
    out_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 \
        else repo / 'tests' / 'data'
    out_dir.mkdir(parents=True, exist_ok=True)
    for case in cases:
        (out_dir / case['file']).write_text(generate(case), newline='\n')
        print('%-34s %d steps' % (case['file'], STEPS))


def main():
    write_cases(CASES, generate)


if __name__ == '__main__':
    main()
