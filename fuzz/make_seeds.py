#!/usr/bin/env python3
"""Writes the seed corpus of both fuzz targets into fuzz/corpus/.

The seeds are committed; run this again only after changing it or the input
layout of a target (fuzz/README.md). Output is deterministic (gzip mtime 0).
"""
import gzip
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent


# ---- schedules: the layout fuzz_schedules.cpp reads ----------------------------

def real(v, float32=False):
    """Tag 0x00: the raw bits of the value, in the schedule's own type."""
    return b"\x00" + (struct.pack("<f", v) if float32 else struct.pack("<d", v))


def step(v):
    """Tag 0x00: eight raw bytes."""
    return b"\x00" + struct.pack("<Q", v)


def head(kind, float32):
    return bytes([kind | (0x80 if float32 else 0)])


def steps(*ts):
    return b"".join(step(t) for t in ts)


END = b"\x00"  # no more setters

def cyclic(base, top, up, f32=False, down=None, momentum=None, gamma=None):
    out = b""
    if gamma is not None:
        out += real(gamma, f32)
    out += real(base, f32) + real(top, f32) + step(up)
    if down is not None:
        out += b"\x01" + step(down)
    if momentum is not None:
        out += b"\x02" + real(momentum[0], f32) + real(momentum[1], f32)
    return out + END


def cosine(eta_max, t0, f32=False, eta_min=None, t_mult=None, m_mul=None):
    out = real(eta_max, f32) + step(t0)
    if eta_min is not None:
        out += b"\x03" + real(eta_min, f32)
    if t_mult is not None:
        out += b"\x01" + real(t_mult, f32)
    if m_mul is not None:
        out += b"\x02" + real(m_mul, f32)
    return out + END


def one_cycle(max_lr, total, f32=False, pct=None, div=None, final_div=None, linear=False,
              three_phase=False, momentum=None):
    out = real(max_lr, f32) + step(total)
    if pct is not None:
        out += b"\x07" + real(pct, f32)
    if div is not None:
        out += b"\x01" + real(div, f32)
    if final_div is not None:
        out += b"\x02" + real(final_div, f32)
    if linear:
        out += b"\x03\x01"
    if three_phase:
        out += b"\x04\x01"
    if momentum is not None:
        out += b"\x05" + real(momentum[0], f32) + real(momentum[1], f32)
    return out + END


def constant(v, f32=False):
    return real(v, f32)


def cosine_decay(lr, total, f32=False, eta_min=None):
    out = real(lr, f32) + step(total)
    if eta_min is not None:
        out += b"\x01" + real(eta_min, f32)
    return out + END


def linear(start, end, total, f32=False):
    return real(start, f32) + real(end, f32) + step(total)


def polynomial(lr, end, total, power, f32=False):
    return real(lr, f32) + real(end, f32) + step(total) + real(power, f32)


def exponential(lr, gamma, f32=False):
    return real(lr, f32) + real(gamma, f32)


def step_decay(lr, step_size, gamma, f32=False):
    return real(lr, f32) + step(step_size) + real(gamma, f32)


def multistep(lr, milestones, gamma, f32=False):
    return real(lr, f32) + bytes([len(milestones)]) + steps(*milestones) + real(gamma, f32)


SCHEDULE_SEEDS = {
    "triangular": head(0, False) + cyclic(0.001, 0.006, 2000, down=1000, momentum=(0.8, 0.9))
    + steps(0, 1000, 2000, 3000, 1 << 63),
    "triangular2-float": head(1, True) + cyclic(0.01, 0.1, 7, f32=True) + steps(0, 7, 21, 10**15),
    "exp-range": head(2, False) + cyclic(0.001, 0.01, 4, gamma=0.99) + steps(5, 13, 1 << 40),
    "welch-float": head(3, True) + cyclic(0.0, 1.0, 3, f32=True, momentum=(0.85, 0.95)) + steps(1, 2, 4),
    "hann": head(4, False) + cyclic(0.1, 0.1, 1 << 62, down=1) + steps((1 << 62) - 1, 1 << 62),
    "hann-halving": head(5, False) + cyclic(0.001, 0.006, 500) + steps(500, 1500, 2500),
    "welch-exp-float": head(6, True) + cyclic(1e-5, 1e-2, 100, f32=True, gamma=0.999) + steps(100, 10**6),
    "cosine": head(7, False) + cosine(0.05, 10, eta_min=0.001, t_mult=2.0) + steps(0, 5, 10, 30, 70),
    "cosine-real-float": head(7, True) + cosine(1.0, 3, f32=True, t_mult=1.5, m_mul=0.5)
    + steps(0, 3, 7, 10**12),
    "one-cycle": head(8, False) + one_cycle(0.1, 1000, momentum=(0.85, 0.95)) + steps(0, 299, 999, 5000),
    "one-cycle-three-linear-float": head(8, True)
    + one_cycle(0.5, 1200, f32=True, pct=0.25, div=10.0, final_div=100.0, linear=True, three_phase=True)
    + steps(0, 299, 598, 1199, 1200),
    "constant-float": head(9, True) + constant(0.01, True) + steps(0, (1 << 64) - 1),
    # warmup: kind 10, the inner schedule's kind byte and its parameters, steps, start_lr.
    "warmup-triangular": head(10, False) + bytes([0]) + cyclic(0.001, 0.006, 2000)
    + step(100) + real(0.0) + steps(0, 50, 99, 100, 2100),
    # sequence: kind 11, the first kind and parameters, the second kind (0 to 3:
    # triangular2, cosine, one cycle, constant) and parameters, the boundary.
    "sequence-constant-one-cycle": head(11, False) + bytes([9]) + constant(0.01)
    + bytes([2]) + one_cycle(0.1, 1000) + step(500) + steps(0, 499, 500, 799),
    # The everyday decays: kinds 12 to 17.
    "cosine-decay": head(12, False) + cosine_decay(0.1, 100, eta_min=0.001) + steps(0, 50, 99, 100, 101),
    "linear-float": head(13, True) + linear(0.0, 0.1, 1000, f32=True) + steps(0, 500, 999, 1000, (1 << 64) - 1),
    "polynomial": head(14, False) + polynomial(0.1, 0.0, 300, 2.0) + steps(0, 150, 299, 300, 1 << 62),
    "exponential": head(15, False) + exponential(0.1, 0.99) + steps(0, 1, 100, 1 << 40),
    "step-decay-float": head(16, True) + step_decay(0.05, 7, 0.5, f32=True) + steps(6, 7, 14, 10**9),
    "multistep": head(17, False) + multistep(0.1, [30, 80, 120], 0.1) + steps(0, 29, 30, 80, 120, 10**6),
    # sequence of three: kind 18, a decay kind byte (0 to 5) and fields, a
    # second kind byte (as for sequence) and fields, a last kind byte (0 cosine,
    # 1 polynomial, 2 constant) and fields, then both boundaries.
    "sequence-linear-constant-cosine": head(18, False) + bytes([1]) + linear(0.0, 0.1, 100)
    + bytes([3]) + constant(0.1) + bytes([0]) + cosine_decay(0.1, 1000) + step(100) + step(400)
    + steps(0, 99, 100, 499, 500, 1500),
    # warmup of a decay: kind 19, a decay kind byte and fields, steps, start_lr.
    "warmup-exponential": head(19, False) + bytes([3]) + exponential(0.1, 0.999) + step(100) + real(0.0)
    + steps(0, 50, 100, 1000),
    "refused-gamma": head(15, False) + exponential(0.1, 1.5),
    "refused-milestones-order": head(17, False) + multistep(0.1, [80, 30], 0.1),
    "refused-milestones-count": head(17, True) + multistep(0.1, list(range(1, 18)), 0.5, f32=True),
    # Refused: base_lr above max_lr, NaN, pct_start 1, and T_mult below 1.
    "refused-order": head(0, False) + cyclic(0.5, 0.1, 10),
    "refused-nan-float": head(9, True) + constant(float("nan"), True),
    "refused-pct": head(8, False) + one_cycle(0.1, 100, pct=1.0),
    "refused-t-mult": head(7, False) + cosine(0.1, 10, t_mult=0.5),
}

# Text for parse_schedule: kind 20, then the text, then (after a NUL) steps to
# evaluate at. Every kind and option, composed ones nested, in the form
# to_string writes and in others parse_schedule accepts; then malformed text.
def text(source, f32=False, at=()):
    return head(20, f32) + source.encode() + (b"\x00" + steps(*at) if at else b"")


TEXT_SEEDS = {
    "text-triangular": text("triangular(base_lr=0.001, max_lr=0.006, step_size=2000)", at=(1000, 2000)),
    "text-triangular2-float": text("triangular2(base_lr=0.001, max_lr=0.006, step_size=20, step_size_down=10, "
                                   "base_momentum=0.8, max_momentum=0.9)", True),
    "text-exp-range": text("exp_range(base_lr=0.001, max_lr=0.006, step_size=20, gamma=0.999)"),
    "text-welch-hann-float": text("sequence(welch(base_lr=0.1, max_lr=0.2, step_size=5), 10, "
                                  "hann(base_lr=0.1, max_lr=0.2, step_size=5))", True),
    "text-cyclic": text("cyclic(window=welch, scale=exp, base_lr=0.001, max_lr=0.006, step_size=50, gamma=0.99)"),
    "text-cosine-restarts": text("cosine_restarts(eta_max=0.1, T_0=10, eta_min=0.001, T_mult=2, m_mul=0.5)"),
    "text-one-cycle-float": text("one_cycle(max_lr=0.1, total_steps=1000, pct_start=0.25, div_factor=10, "
                                 "final_div_factor=100, anneal=linear, three_phase=true, base_momentum=0.85, "
                                 "max_momentum=0.95)", True),
    "text-decays": text("sequence(cosine(lr=0.1, total_steps=1000, eta_min=1e-05), 1000, "
                        "polynomial(lr=0.1, end_lr=0, total_steps=1000, power=2), 1000, "
                        "exponential(lr=0.1, gamma=0.99), 50, step_decay(lr=0.1, step_size=30, gamma=0.5), 90, "
                        "multistep(lr=0.1, milestones=[30, 80], gamma=0.1), 200, constant(lr=0.01))"),
    "text-range-sweep-float": text("range_sweep(min_lr=1e-06, max_lr=1, steps=7, shape=linear)", True),
    "text-warmup-sequence": text("warmup(sequence(linear(start_lr=0, end_lr=0.1, total_steps=100), 100, "
                                 "constant(lr=0.1), 400, cosine(lr=0.1, total_steps=1000)), steps=10, start_lr=0)"),
    "text-sequence-of-warmups-float": text("sequence(warmup(one_cycle(max_lr=0.1, total_steps=100, "
                                           "base_momentum=0.8), steps=5, start_lr=0), 105, "
                                           "sequence(warmup(constant(lr=0.05), steps=3, start_lr=0.1), 10, "
                                           "triangular(base_lr=0.01, max_lr=0.02, step_size=4611686018427387904)))",
                                           True),
    "text-spaces-any-order": text("  triangular( step_size = 2000 ,max_lr=6e-3,base_lr=0.001 )  "),
    "text-extremes": text("sequence(constant(lr=5e-324), 1, constant(lr=1.7976931348623157e+308), 4611686018427387904, "
                          "constant(lr=-0))"),
    # Refused: each with a different message.
    "text-refused-unknown": text("triangle(lr=1)"),
    "text-refused-missing": text("triangular(base_lr=0.001, max_lr=0.006)"),
    "text-refused-twice": text("constant(lr=1, lr=2)"),
    "text-refused-unclosed": text("multistep(lr=1, milestones=[3, 4, gamma=0.1)"),
    "text-refused-range-float": text("constant(lr=1e39)", True),
    "text-refused-schedule": text("triangular(base_lr=0.001, max_lr=0.006, step_size=0)"),
    "text-refused-sequence": text("sequence(constant(lr=1), constant(lr=2), 5)"),
    "text-refused-boundary": text("sequence(constant(lr=1), 9223372036854775807, constant(lr=2))"),
    "text-refused-deep": text("warmup(" * 70),
    "text-refused-trailing": text("constant(lr=0.1)) x"),
    # Lengths in epochs and shares of the run: refused without the run (the
    # text kind gives none); kind 21 below gives one.
    "text-refused-epochs": text("cosine(lr=0.1, total_steps=2ep)"),
    "text-timm-options": text("warmup(cosine_restarts(eta_max=0.1, T_0=10, k_decay=0.5, cycle_limit=3), "
                              "steps=5, start_lr=0, shift=false)"),
}

# Kind 21: a schedule the library describes, picked by a byte from the
# catalog, its arguments drawn by kind. The bytes are arbitrary: whatever
# schedule and values they give, the contract holds.
DESCRIBED_SEEDS = {
    "described-" + str(i): head(21, i % 2 == 1) + bytes([i * 7 % 256]) + bytes(range(i, i + 64))
    for i in range(24)
}


# ---- idx: files as idx.hpp reads them ---------------------------------------------

def idx_images(count, rows, cols, pixels):
    return struct.pack(">IIII", 0x803, count, rows, cols) + bytes(pixels)


def idx_labels(values):
    return struct.pack(">II", 0x801, len(values)) + bytes(values)


def gz(data):
    return gzip.compress(data, mtime=0)


IMAGES = idx_images(2, 3, 2, range(12))
LABELS = idx_labels([7, 2, 1, 0, 4])
IDX_SEEDS = {
    "images": IMAGES,
    "images.gz": gz(IMAGES),
    "images-empty": idx_images(0, 28, 28, []),
    "images-truncated.gz": gz(IMAGES)[:-6],
    "labels": LABELS,
    "labels.gz": gz(LABELS),
    "labels-out-of-range": idx_labels([3, 12]),
    "labels-trailing": LABELS + b"\x00\x01",
    "header-overflow": struct.pack(">IIII", 0x803, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF),
}


def write(target, seeds):
    folder = HERE / "corpus" / target
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)


if __name__ == "__main__":
    write("schedules", SCHEDULE_SEEDS)
    write("schedules", TEXT_SEEDS)
    write("schedules", DESCRIBED_SEEDS)
    write("idx", IDX_SEEDS)
