#!/usr/bin/env python
"""Linear regression by gradient descent with yota: the README's quickstart,
trained. A dataclass model, a mean squared error written against the array
API, one trace, then the cached compiled gradient at every step.

    python examples/linear_regression.py [--steps 100] [--lr 0.1]
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

import _support  # noqa: F401  (yota from this checkout when it is not installed)
import yota


@dataclass
class Linear:
    W: np.ndarray
    b: np.ndarray


def forward(m, X):
    xp = array_namespace(X)
    return m.W @ X + xp.reshape(m.b, (-1, 1))


def loss(m, X, Y):
    xp = array_namespace(X)
    return xp.mean((forward(m, X) - Y) ** 2)


def train(steps: int = 100, lr: float = 0.1, samples: int = 200) -> float:
    rng = np.random.default_rng(0)
    W_true, b_true = rng.standard_normal((3, 4)), rng.standard_normal(3)
    X = rng.standard_normal((4, samples))
    Y = W_true @ X + b_true[:, None] + 0.01 * rng.standard_normal((3, samples))

    m = Linear(np.zeros((3, 4)), np.zeros(3))
    for i in range(steps):
        val, g = yota.grad(loss, m, X, Y)      # g == (fn_grad, m_grad, X_grad, Y_grad)
        yota.update_(m, g[1], lambda x, gx: x - lr * gx)
        if i % 10 == 0 or i == steps - 1:
            print(f"step {i:3d}  loss {float(val):.6f}")
    print(f"max |W - W_true| = {np.max(np.abs(m.W - W_true)):.4f}")
    print(f"traces: {yota.cache_info()['traces']} (one trace, then the cached compiled function)")
    return float(val)


def main(argv=None) -> int:
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(description=doc[0], epilog=doc[1].strip(),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=100, help="gradient steps (default 100)")
    ap.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    ap.add_argument("--samples", type=int, default=200, help="training points (default 200)")
    args = ap.parse_args(argv)
    train(args.steps, args.lr, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
