#!/usr/bin/env python
"""Per-example gradients, their norms and clipping (DP-SGD style) for a small
MLP, with yota.vmap of yota.grad.

    python examples/per_example_clipping.py [--steps 300] [--batch 256] [--clip 1.0] [--noise 1.0]

``yota.vmap(per_example, in_axes=(None, 0, 0))`` maps a function returning
``yota.grad(loss, model, x, y)[1][1]`` (the model's gradient for one example)
over the batch: one batched tape gives every example's gradient at once, each
field with the batch in front. The script checks them once against a Python
loop of ``yota.grad``, then trains with differentially-private SGD: each
example's gradient is scaled to norm at most --clip, the clipped gradients
are summed, Gaussian noise of standard deviation --noise x --clip is added,
and the mean is the step. (This shows the mechanics; it does no privacy
accounting.) A progress bar comes from tqdm (pip install ".[bench]") or
plain lines without it.

The data are synthetic: points in --features dimensions labelled +1 or -1 by
a random "teacher" network.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

import _support
import yota

FIELDS = ("W1", "b1", "w2", "b2")


@dataclass
class MLP:
    W1: Any
    b1: Any
    w2: Any
    b2: Any


def init(rng, n_in, n_hidden):
    return MLP(rng.standard_normal((n_in, n_hidden)) / np.sqrt(n_in), np.zeros(n_hidden),
               rng.standard_normal(n_hidden) / np.sqrt(n_hidden), np.zeros(()))


def score(m, x):
    """The logit of one example (x: features) or of a batch (x: batch x features)."""
    xp = array_namespace(x)
    return xp.tanh(x @ m.W1 + m.b1) @ m.w2 + m.b2


def loss(m, x, y):
    """Logistic loss, y in {-1, +1}: per example, or the mean over a batch.
    (Binary on purpose: vmap of the gradient of a softmax's max does not work
    on NumPy yet.)"""
    xp = array_namespace(x)
    margin = -y * score(m, x)
    return xp.mean(xp.logaddexp(xp.zeros_like(margin), margin))


def per_example(m, x, y):
    return yota.grad(loss, m, x, y)[1][1]


per_example_grads = yota.vmap(per_example, in_axes=(None, 0, 0))


def norms(g) -> np.ndarray:
    """The L2 norm of each example's whole gradient (all fields together)."""
    total = 0.0
    for f in FIELDS:
        a = np.asarray(getattr(g, f))
        total = total + np.sum(a.reshape(a.shape[0], -1) ** 2, axis=1)
    return np.sqrt(total)


def check_against_loop(m, X, Y) -> float:
    """Largest difference between the vmapped gradients and one yota.grad per example."""
    batched = per_example_grads(m, X, Y)
    worst = 0.0
    for i in range(X.shape[0]):
        one = yota.grad(loss, m, X[i], Y[i])[1][1]
        for f in FIELDS:
            worst = max(worst, float(np.max(np.abs(np.asarray(getattr(batched, f))[i] - getattr(one, f)))))
    return worst


def dp_step(m, X, Y, clip, noise, rng):
    """The noisy mean of the clipped per-example gradients, and the fraction of examples clipped."""
    g = per_example_grads(m, X, Y)
    n = norms(g)
    scale = np.minimum(1.0, clip / np.maximum(n, 1e-12))
    fields = {}
    for f in FIELDS:
        a = np.asarray(getattr(g, f))
        summed = np.tensordot(scale, a, axes=1)               # sum_i scale_i * g_i
        fields[f] = (summed + noise * clip * rng.standard_normal(summed.shape)) / X.shape[0]
    return yota.Tangent(MLP, **fields), float(np.mean(n > clip))


def teacher_data(rng, n, n_in):
    T1, t2 = rng.standard_normal((n_in, 16)), rng.standard_normal(16)
    X = rng.standard_normal((n, n_in))
    y = np.where(np.tanh(X @ T1) @ t2 > 0, 1.0, -1.0)
    return X, y


def main(argv=None) -> int:
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(description=doc[0], epilog="\n\n".join(doc[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="DP-SGD steps (default 300)")
    ap.add_argument("--batch", type=int, default=256, help="examples per step (default 256)")
    ap.add_argument("--features", type=int, default=20, help="input dimension (default 20)")
    ap.add_argument("--hidden", type=int, default=32, help="hidden units (default 32)")
    ap.add_argument("--clip", type=float, default=1.0, help="per-example gradient norm bound C (default 1.0)")
    ap.add_argument("--noise", type=float, default=1.0,
                    help="noise multiplier: Gaussian noise of std noise x C on the sum (default 1.0; 0: none)")
    ap.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    ap.add_argument("--train", type=int, default=8192, help="training points (default 8192)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    X, y = teacher_data(rng, args.train + 2048, args.features)
    Xtr, ytr, Xte, yte = X[:args.train], y[:args.train], X[args.train:], y[args.train:]
    m = init(rng, args.features, args.hidden)
    batch = min(args.batch, args.train)

    worst = check_against_loop(m, Xtr[:16], ytr[:16])
    print(f"per-example gradients, vmap vs a loop of yota.grad over 16 examples: max difference {worst:.1e}")
    if not worst < 1e-10:
        print("vmap(grad) disagrees with the loop", file=sys.stderr)
        return 1
    n0 = norms(per_example_grads(m, Xtr[:batch], ytr[:batch]))
    print(f"per-example gradient norms at the start: median {np.median(n0):.3f}, max {np.max(n0):.3f} "
          f"(clip {args.clip:g})")

    lr = args.lr
    bar = _support.progress(range(args.steps), args.steps, "DP-SGD")
    clipped = []
    for step in bar:
        idx = rng.choice(args.train, size=batch, replace=False)
        g, frac = dp_step(m, Xtr[idx], ytr[idx], args.clip, args.noise, rng)
        yota.update_(m, g, lambda x, gx: x - lr * gx)
        clipped.append(frac)
        if (step % 10 == 0 or step == args.steps - 1) and hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(f"loss {float(loss(m, Xtr[idx], ytr[idx])):.4f}  clipped {frac:.0%}")

    train_loss = float(loss(m, Xtr, ytr))
    accuracy = float(np.mean((score(m, Xte) > 0) == (yte > 0)))
    print(f"after {args.steps} steps: training loss {train_loss:.4f}, held-out accuracy {accuracy:.3f} "
          f"(chance about {max(np.mean(yte > 0), np.mean(yte < 0)):.3f}); "
          f"examples clipped per step: {np.mean(clipped) if clipped else 0:.0%} on average")
    return 0


if __name__ == "__main__":
    sys.exit(main())
