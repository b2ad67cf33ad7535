#!/usr/bin/python3
"""Generate the reference tables of fastai's valley and slide in tests/data/.

Usage: /usr/bin/python3 scripts/gen_lr_finder_reference.py [--mnist-log LOG] [OUTPUT_DIR]

fastai's Learner.lr_find (fastai 2.7, callback/schedule.py) reads two of its
suggestions, valley and slide, off the recorded smoothed loss. This script
evaluates them, in double precision, on recorded range-test curves, written
here from the published algorithm rather than run through fastai (which is
not installed beside PyTorch 1.13 here, and holds its values in float32):

  points  lr_find hands the functions its recorder's (lr, smoothed loss)
          pairs less the first num_it // 10 and the last 5, cut before the
          first NaN loss. A NaN loss does not stop fastai's finder (NaN is
          never above 4 times the best), so its list runs on, all NaN, to
          num_it; a divergence or an infinite loss stops it on that record.
  valley  L, the length of the longest strictly falling sequence of losses
          (not necessarily neighbours), e the first point such a sequence
          ends on; the point e - L + int(L / 3) + int(L / 3 / 2) (0 + ... when
          L is 1), read as a Python index.
  slide   g = numpy.gradient(losses); r the last point, l = r - 15; while l
          is a point and |g[r] - g[l]| > 0.005, remember l and step both one
          to the left. The point is the last l remembered, or the first l
          when that pair already agrees.

The curves (tests/test_lr_finder.cpp reads them back):
  lr_finder_mnist.csv      mnist_clr --range-test (Adam, batch 200, one epoch,
                           smoothing 0.9), the log of --log. --mnist-log LOG
                           takes the curve from such a log; without it the
                           curve is read back from the table already in
                           OUTPUT_DIR, and only the readings are recomputed.
  lr_finder_nan_stop.csv   a synthetic noisy fall and rise, beta 0.98, whose
                           loss turns NaN at step 200 of 250 before it
                           diverges: fastai reads every finite point there.

File layout:
    # <provenance>
    # sweep=MIN_LR,MAX_LR,STEPS
    # valley=LR,STEP
    # slide=LR,STEP
    # rows=N
    step,lr,loss,smoothed_loss
    N rows, steps 0 .. N-1; values written with repr(), nan where the
    loss was not a number (only the last row may hold one)
"""
import math
import pathlib
import sys

import numpy

SOURCE = ('fastai 2.7 Learner.lr_find, valley and slide (callback/schedule.py), '
          'from the published algorithm in double precision by '
          'scripts/gen_lr_finder_reference.py')
LAG, THRESH = 15, 0.005  # slide's lr_diff and thresh


def fastai_points(losses, num_it):
    """The record indices lr_find would pass on, as range(lo, hi)."""
    recorded = len(losses)
    if math.isnan(losses[-1]):
        recorded = max(recorded, num_it)  # fastai trains on through the NaN
    padded = list(losses) + [math.nan] * (recorded - len(losses))
    lo = num_it // 10
    kept = padded[lo:recorded - 5] if recorded > 5 else []
    hi = lo
    for v in kept:
        if math.isnan(v):
            break
        hi += 1
    return lo, hi


def valley_index(losses):
    """fastai's valley, as an index into losses (Python's reading of -1)."""
    n = len(losses)
    falls = [1] * n  # longest strictly falling sequence ending at each point
    for i in range(n):
        for j in range(i):
            if losses[j] > losses[i] and falls[j] + 1 > falls[i]:
                falls[i] = falls[j] + 1
    length = max(falls)
    end = falls.index(length)
    start = end - length if length > 1 else 0
    index = start + int(length / 3) + int(length / 3 / 2)
    return index if index >= 0 else n + index, length


def slide_index(losses):
    """fastai's slide (adjust_value 1), as an index into losses."""
    g = numpy.gradient(numpy.asarray(losses, dtype=numpy.float64))
    right = len(losses) - 1
    left = right - LAG
    if left < 0:
        raise ValueError('slide needs more than %d points' % LAG)
    chosen = left
    while left >= 0 and abs(g[right] - g[left]) > THRESH:
        chosen = left
        right -= 1
        left -= 1
    return chosen


def readings(curve):
    """(valley record, slide record) of a curve's records."""
    smoothed = [r[3] for r in curve['rows']]
    lo, hi = fastai_points(smoothed, curve['steps'])
    window = smoothed[lo:hi]
    v, length = valley_index(window)
    if length < 3:
        raise ValueError('%s: valley of %d points' % (curve['name'], length))
    return lo + v, lo + slide_index(window)


def bias_corrected(values, beta):
    """The bias-corrected moving average, in its textbook form."""
    out, avg = [], 0.0
    for i, x in enumerate(values):
        avg = beta * avg + (1 - beta) * x
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def nan_stop_curve():
    """Deterministic: an LCG's noise on a tanh fall and an exponential rise."""
    steps, min_lr, max_lr, beta = 250, 1e-6, 1.0, 0.98
    state, rows, avg, best = 12345, [], 0.0, math.inf
    for i in range(steps):
        lr = min_lr * (max_lr / min_lr) ** (i / (steps - 1))
        state = (1103515245 * state + 12345) % 2 ** 31
        noise = 0.2 * (state / 2 ** 31 - 0.5)
        x = math.log10(lr)
        loss = 0.3 + (1 - math.tanh((x + 3.5) / 0.6)) + math.exp((x + 0.8) / 0.2) + noise
        if i == 200:
            rows.append((i, lr, math.nan, math.nan))
            break
        avg = beta * avg + (1 - beta) * loss
        smoothed = avg / (1 - beta ** (i + 1))
        best = min(best, smoothed)
        if smoothed > 4 * best:
            raise ValueError('the synthetic curve diverges at step %d, before its NaN' % i)
        rows.append((i, lr, loss, smoothed))
    return dict(name='lr_finder_nan_stop.csv', steps=steps, min_lr=min_lr, max_lr=max_lr,
                what='synthetic: 0.3 + 1 - tanh((log10 lr + 3.5) / 0.6) + exp((log10 lr + 0.8) / 0.2) '
                     '+ LCG noise in [-0.1, 0.1), beta 0.98, NaN loss at step 200',
                rows=rows)


def mnist_curve_from_log(path):
    """mnist_clr's --log of --range-test: step,lr,loss,smoothed_loss,accuracy."""
    lines = pathlib.Path(path).read_text().splitlines()
    if lines[0] != 'step,lr,loss,smoothed_loss,accuracy':
        raise ValueError('%s: not a range-test log' % path)
    rows = []
    for k, line in enumerate(lines[1:]):
        step, lr, loss, smoothed, _ = line.split(',')
        if int(step) != k:
            raise ValueError('%s: step %s out of order' % (path, step))
        rows.append((k, float(lr), float(loss), float(smoothed)))
    return rows


def read_table(path):
    """A table this script wrote: its sweep line and rows."""
    lines = pathlib.Path(path).read_text().splitlines()
    min_lr, max_lr, steps = lines[1][len('# sweep='):].split(',')
    rows = [tuple([int(c[0])] + [float(v) for v in c[1:]])
            for c in (line.split(',') for line in lines[6:])]
    return float(min_lr), float(max_lr), int(steps), rows


def mnist_curve(out_dir, log):
    name = 'lr_finder_mnist.csv'
    if log:
        rows = mnist_curve_from_log(log)
        min_lr, max_lr, steps = 1e-5, 1.0, 300  # mnist_clr's defaults at batch 200
        if abs(rows[0][1] / min_lr - 1) > 1e-6 or len(rows) > steps:
            raise ValueError('%s: not a sweep from 1e-5 over at most 300 steps' % log)
    else:
        min_lr, max_lr, steps, rows = read_table(out_dir / name)
    return dict(name=name, steps=steps, min_lr=min_lr, max_lr=max_lr, rows=rows,
                what='mnist_clr --range-test (Adam, batch 200, lr 1e-5 to 1 over 300 steps, '
                     'smoothing 0.9), its --log')


def cell(v):
    return 'nan' if math.isnan(v) else repr(v)


def write(curve, out_dir):
    valley, slide = readings(curve)
    rows = curve['rows']
    text = ['# %s; curve: %s' % (SOURCE, curve['what']),
            '# sweep=%r,%r,%d' % (curve['min_lr'], curve['max_lr'], curve['steps']),
            '# valley=%r,%d' % (rows[valley][1], valley),
            '# slide=%r,%d' % (rows[slide][1], slide),
            '# rows=%d' % len(rows),
            'step,lr,loss,smoothed_loss']
    text += ['%d,%s,%s,%s' % (r[0], cell(r[1]), cell(r[2]), cell(r[3])) for r in rows]
    (out_dir / curve['name']).write_text('\n'.join(text) + '\n')
    print('%s: %d rows, valley lr %.6g (step %d), slide lr %.6g (step %d)'
          % (curve['name'], len(rows), rows[valley][1], valley, rows[slide][1], slide))


def check_hand_curve():
    """The curve tests/test_lr_finder.cpp works out by hand (beta 0, 51
    steps from 1e-6 to 0.1): valley at step 18, slide at step 14."""
    losses = [2.0] * 10 + [2 - (i - 9) / 16 for i in range(10, 30)] + [0.75] * 5
    losses += [0.75 + (i - 34) / 8 for i in range(35, 50)] + [9.0]
    lo, hi = fastai_points(losses, 51)
    assert (lo, hi) == (5, 46), (lo, hi)
    assert lo + valley_index(losses[lo:hi])[0] == 18
    assert lo + slide_index(losses[lo:hi]) == 14


def main(argv):
    log = None
    if argv[:1] == ['--mnist-log']:
        log, argv = argv[1], argv[2:]
    root = pathlib.Path(__file__).resolve().parent.parent
    out_dir = pathlib.Path(argv[0]) if argv else root / 'tests' / 'data'
    check_hand_curve()
    write(mnist_curve(out_dir, log), out_dir)
    write(nan_stop_curve(), out_dir)


if __name__ == '__main__':
    main(sys.argv[1:])
