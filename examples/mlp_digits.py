#!/usr/bin/env python
"""Train a small MLP (64 -> 64 -> 10, tanh, softmax cross-entropy) on
scikit-learn's bundled 8x8 digits with yota gradients and plain SGD, and
check the gradient against a handwritten NumPy one.

    pip install ".[bench]"             # scikit-learn (the data), tqdm (the progress bar)
    python examples/mlp_digits.py [--epochs 30] [--lr 0.2] [--batch 64] [--repeat 50]

Prints the test accuracy, whether yota's gradient agrees with the handwritten
one, and the median time of one training step with each (--repeat 0: no timing).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

import _support
import yota


@dataclass
class MLP:
    W1: np.ndarray
    b1: np.ndarray
    W2: np.ndarray
    b2: np.ndarray


def init(rng, n_in=64, n_hidden=64, n_out=10, dtype=np.float32):
    return MLP(
        (rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in)).astype(dtype),
        np.zeros(n_hidden, dtype),
        (rng.standard_normal((n_hidden, n_out)) / np.sqrt(n_hidden)).astype(dtype),
        np.zeros(n_out, dtype),
    )


def logits(m, X):
    xp = array_namespace(X)
    return xp.tanh(X @ m.W1 + m.b1) @ m.W2 + m.b2


def loss(m, X, Y):
    """Mean softmax cross-entropy; Y is one-hot."""
    xp = array_namespace(X)
    Z = logits(m, X)
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    logp = Z - xp.log(xp.sum(xp.exp(Z), axis=1, keepdims=True))
    return -xp.sum(Y * logp) / X.shape[0]


def numpy_grad(m, X, Y):
    """The same loss and its gradient, derived by hand (for comparison)."""
    H = np.tanh(X @ m.W1 + m.b1)
    Z = H @ m.W2 + m.b2
    Z -= Z.max(axis=1, keepdims=True)
    E = np.exp(Z)
    S = E.sum(axis=1, keepdims=True)
    n = X.shape[0]
    dZ = (E / S - Y) / n
    dA = (dZ @ m.W2.T) * (1 - H * H)
    g = MLP(X.T @ dA, dA.sum(0), H.T @ dZ, dZ.sum(0))
    return -np.sum(Y * (Z - np.log(S))) / n, g


def median_time(fn, repeat=50):
    fn()
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def main(argv=None):
    doc = __doc__.split("\n\n")
    p = argparse.ArgumentParser(description=doc[0], epilog="\n\n".join(doc[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=30, help="passes over the training images (default 30)")
    p.add_argument("--lr", type=float, default=0.2, help="SGD learning rate (default 0.2)")
    p.add_argument("--batch", type=int, default=64, help="minibatch size (default 64)")
    p.add_argument("--repeat", type=int, default=50,
                   help="training steps timed for each gradient, median reported (default 50; 0: no timing)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    load_digits = _support.require("sklearn.datasets", "bench", "scikit-learn (its bundled digits data)").load_digits

    rng = np.random.default_rng(args.seed)
    digits = load_digits()
    X = (digits.data / 16.0).astype(np.float32)          # 1797 x 64, in [0, 1]
    Y = np.eye(10, dtype=np.float32)[digits.target]       # one-hot
    order = rng.permutation(len(X))
    n_test = len(X) // 5
    test, train = order[:n_test], order[n_test:]
    Xtr, Ytr, Xte, yte = X[train], Y[train], X[test], digits.target[test]

    m = init(rng)
    lr = args.lr
    steps = len(train) // args.batch                      # full batches: one shape, one trace

    def sgd(x, gx):
        return x - lr * gx

    bar = _support.progress(range(args.epochs), args.epochs, "training")
    for epoch in bar:
        perm = rng.permutation(len(train))
        total = 0.0
        for s in range(steps):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            val, g = yota.grad(loss, m, Xtr[idx], Ytr[idx])
            yota.update_(m, g[1], sgd)
            total += float(val)
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {total / steps:.4f}")

    pred = np.argmax(logits(m, Xte), axis=1)
    print(f"test accuracy: {np.mean(pred == yte):.2%} ({n_test} images)")

    # one training step: yota vs handwritten NumPy gradient (same batch, same update)
    Xb, Yb = Xtr[:args.batch], Ytr[:args.batch]
    val_y, g_y = yota.grad(loss, m, Xb, Yb)
    val_n, g_n = numpy_grad(m, Xb, Yb)
    ok = all(np.allclose(getattr(g_y[1], f), getattr(g_n, f), rtol=1e-3, atol=1e-6)
             for f in ("W1", "b1", "W2", "b2"))
    print(f"gradients agree with the handwritten ones: {ok}")
    if not ok:
        return 1

    def step_yota():
        _, g = yota.grad(loss, m, Xb, Yb)
        yota.update_(m, g[1], sgd)

    def step_numpy():
        _, g = numpy_grad(m, Xb, Yb)
        for f in ("W1", "b1", "W2", "b2"):
            setattr(m, f, sgd(getattr(m, f), getattr(g, f)))

    if args.repeat < 1:
        return 0
    t_y, t_n = median_time(step_yota, args.repeat), median_time(step_numpy, args.repeat)
    print(f"training step (batch {args.batch}): yota {t_y * 1e6:.0f} µs, "
          f"handwritten NumPy {t_n * 1e6:.0f} µs (ratio {t_y / t_n:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
