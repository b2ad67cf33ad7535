#!/usr/bin/python3
"""PyTorch counterpart of the C++ MNIST example, to time the two side by side.

Mirrors the case study of Smith's "Cyclical Learning Rates for Training Neural
Networks" as done in Keras: a 784-784-10 MLP (Dense+ReLU, Dense+softmax),
weights N(0, 0.05), biases zero, pixels / 255 as float32, mean cross-entropy,
shuffled mini-batches (the last partial one included) and the learning rate
schedule stepped after every update. Only the training passes are timed:
loading the data and the per-epoch evaluation on the test set are not.

Written for PyTorch 1.13 (Debian's python3-torch); reads IDX files with numpy.
On a machine shared with other work, OMP_WAIT_POLICY=passive (for both
programs) keeps libgomp's spinning threads from multiplying the time.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
CYCLIC = ("triangular", "triangular2", "exp_range")


def fail(where, problem):
    sys.exit(f"pytorch_mnist: {where}: {problem}")


def read_idx(path, magic):
    """Return the array held in an uncompressed IDX file, header checked."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(path, f"cannot read ({e.strerror}); run scripts/fetch_mnist.sh "
             "or pass --data DIR")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        fail(path, f"{len(raw)} bytes, too short for an IDX header")
    found = int.from_bytes(raw[:4], "big")
    if found != magic:
        fail(path, f"magic number {found:#010x}, expected {magic:#010x} "
             "(a .gz file must be uncompressed first)")
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
                  for i in range(ndim))
    if len(raw) - header != int(np.prod(shape)):
        fail(path, f"header gives shape {shape} but "
             f"{len(raw) - header} data bytes follow")
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def load_split(data_dir, prefix):
    """Images as float32 rows in [0, 1] and labels as int64."""
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"),
                      IMAGES_MAGIC)
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"),
                      LABELS_MAGIC)
    if len(images) != len(labels):
        fail(data_dir, f"{prefix} has {len(images)} images but "
             f"{len(labels)} labels")
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    return torch.from_numpy(x), torch.from_numpy(labels.astype(np.int64))


def positive(kind):
    def parse(text):
        value = kind(text)
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value
    return parse


def parse_args(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=positive(int), default=10)
    p.add_argument("--batch", type=positive(int), default=200)
    p.add_argument("--threads", type=positive(int), default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--lr", type=positive(float), default=1e-3,
                   help="the rate of the constant schedule")
    p.add_argument("--schedule", default="constant",
                   choices=("constant",) + CYCLIC + ("one_cycle",))
    # Keras CLR callback defaults, as in the C++ example.
    p.add_argument("--base-lr", type=positive(float), default=1e-3)
    p.add_argument("--max-lr", type=positive(float), default=6e-3)
    p.add_argument("--step-size", type=positive(int), default=2000,
                   help="half cycle in batches (cyclic schedules)")
    p.add_argument("--gamma", type=positive(float), default=1.0,
                   help="amplitude decay per batch (exp_range)")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD")
    p.add_argument("--data", default=os.path.normpath(
        os.path.join(here, "..", "data", "mnist")))
    p.add_argument("--json", metavar="FILE",
                   help="write seconds, test error and the arguments")
    args = p.parse_args(argv)
    if not 0.0 <= args.momentum < 1.0:
        p.error(f"--momentum must be in [0, 1), got {args.momentum}")
    if args.schedule in CYCLIC and args.max_lr < args.base_lr:
        p.error(f"--max-lr {args.max_lr} is below --base-lr {args.base_lr}")
    return args


def make_model():
    model = nn.Sequential(nn.Linear(784, 784), nn.ReLU(), nn.Linear(784, 10))
    for layer in (model[0], model[2]):
        nn.init.normal_(layer.weight, 0.0, 0.05)
        nn.init.zeros_(layer.bias)
    return model


def make_optimizer(args, params, total_steps):
    if args.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=args.lr)
    else:
        opt = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum)
    # Momentum (Adam's beta1) stays fixed, as the C++ example's default.
    sched = torch.optim.lr_scheduler
    if args.schedule == "constant":
        return opt, None
    if args.schedule == "one_cycle":
        return opt, sched.OneCycleLR(opt, args.max_lr, total_steps,
                                     cycle_momentum=False)
    return opt, sched.CyclicLR(opt, base_lr=args.base_lr, max_lr=args.max_lr,
                               step_size_up=args.step_size,
                               mode=args.schedule, gamma=args.gamma,
                               cycle_momentum=False)


def main(argv=None):
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load_split(args.data, "train")
    x_test, y_test = load_split(args.data, "t10k")

    n = len(y_train)
    batches = (n + args.batch - 1) // args.batch
    model = make_model()
    loss_fn = nn.CrossEntropyLoss()
    opt, scheduler = make_optimizer(args, model.parameters(),
                                    args.epochs * batches)
    shuffle = torch.Generator().manual_seed(args.seed)

    train_seconds = 0.0
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        order = torch.randperm(n, generator=shuffle)
        loss_sum, correct = 0.0, 0
        for b in range(batches):
            idx = order[b * args.batch:(b + 1) * args.batch]
            xb, yb = x_train[idx], y_train[idx]
            opt.zero_grad()
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            if scheduler is not None:
                scheduler.step()
            loss_sum += loss.item() * len(yb)
            correct += (logits.argmax(dim=1) == yb).sum().item()
        elapsed = time.perf_counter() - start
        train_seconds += elapsed

        with torch.no_grad():
            logits = model(x_test)
            val_loss = loss_fn(logits, y_test).item()
            val_correct = (logits.argmax(dim=1) == y_test).sum().item()
        print(f"Epoch {epoch}/{args.epochs} - {elapsed:.1f}s - "
              f"loss: {loss_sum / n:.4f} - acc: {correct / n:.4f} - "
              f"val_loss: {val_loss:.4f} - "
              f"val_acc: {val_correct / len(y_test):.4f}", flush=True)

    test_error = 100.0 * (len(y_test) - val_correct) / len(y_test)
    print(f"Test error: {test_error:.2f}%")
    print(f"Train time: {train_seconds:.1f} s")
    if args.json:
        record = {"seconds": train_seconds, "test_error": test_error,
                  "args": vars(args)}
        try:
            with open(args.json, "w") as f:
                json.dump(record, f, indent=2)
                f.write("\n")
        except OSError as e:
            fail(f"--json {args.json}", f"cannot write ({e.strerror})")


if __name__ == "__main__":
    main()
