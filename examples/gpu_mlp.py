#!/usr/bin/env python
"""Train an MLP on the GPU with yota: CuPy arrays in, CuPy gradients out.

    pip install ".[cupy]"                  # cupy-cuda12x (or pip install cupy-cuda13x); tqdm is optional
    python examples/gpu_mlp.py [--steps 300] [--batch 512] [--graphs] [--no-fusion] [--cpu]

The data are synthetic: inputs drawn at random, labels given by a random
"teacher" network, so the loss has something to learn. The model is a plain
dataclass of arrays; the loss is written against the array API
(``array_namespace``), so the same code runs on NumPy. Without CuPy or a GPU
the script says so and trains on NumPy instead.

On CuPy, yota fuses the elementwise work of each step (bias + tanh, the
softmax pieces, their derivatives) into generated CUDA kernels;
``--graphs`` also captures the whole value-and-gradient call as a CUDA graph
(one launch per step; see yota.backends.cupy.use_cuda_graphs).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace

import _support
import yota


@dataclass
class MLP:
    W1: Any
    b1: Any
    W2: Any
    b2: Any
    W3: Any
    b3: Any


def init(xp, rng, sizes, dtype):
    arrays = []
    for m, n in zip(sizes, sizes[1:]):
        arrays += [xp.asarray((rng.standard_normal((m, n)) / np.sqrt(m)).astype(dtype)), xp.zeros(n, dtype=dtype)]
    return MLP(*arrays)


def logits(m, X):
    xp = array_namespace(X)
    H = xp.tanh(X @ m.W1 + m.b1)
    H = xp.tanh(H @ m.W2 + m.b2)
    return H @ m.W3 + m.b3


def loss(m, X, Y):
    """Mean softmax cross-entropy; Y is one-hot."""
    xp = array_namespace(X)
    Z = logits(m, X)
    Z = Z - xp.max(Z, axis=1, keepdims=True)
    logp = Z - xp.log(xp.sum(xp.exp(Z), axis=1, keepdims=True))
    return -xp.sum(Y * logp) / X.shape[0]


def synthetic(xp, rng, n, n_in, n_out, dtype):
    """Inputs and one-hot labels of a random linear teacher."""
    X = rng.standard_normal((n, n_in)).astype(dtype)
    T = rng.standard_normal((n_in, n_out))
    labels = np.argmax(X @ T, axis=1)
    Y = np.eye(n_out, dtype=dtype)[labels]
    return xp.asarray(X), xp.asarray(Y), labels


def gpu_namespace():
    """(xp, why): CuPy's array-API namespace when CuPy and a GPU are usable, else (None, reason)."""
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
        if n < 1:
            return None, "no CUDA device"
        import array_api_compat.cupy as xp
        return xp, None
    except Exception as e:  # noqa: BLE001 - no CuPy, no driver, no device
        return None, f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")


def main(argv=None):
    doc = __doc__.split("\n\n")
    p = argparse.ArgumentParser(description=doc[0], epilog="\n\n".join(doc[1:]),
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=300, help="SGD steps (default 300)")
    p.add_argument("--batch", type=int, default=512, help="minibatch size (default 512)")
    p.add_argument("--hidden", type=int, default=512, help="width of the two hidden layers (default 512)")
    p.add_argument("--lr", type=float, default=0.5, help="learning rate (default 0.5)")
    p.add_argument("--graphs", action="store_true", help="capture each step as a CUDA graph")
    p.add_argument("--no-fusion", action="store_true", help="turn elementwise kernel fusion off")
    p.add_argument("--cpu", action="store_true", help="train on NumPy even if a GPU is present")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    xp, why = (None, "--cpu given") if args.cpu else gpu_namespace()
    if xp is None:
        import array_api_compat.numpy as xp
        hint = "" if args.cpu else ' (pip install ".[cupy]" on a machine with a GPU)'
        print(f"CuPy with a GPU is not available ({why}): training on NumPy (CPU) instead{hint}.")
        device = "CPU (NumPy)"
        on_gpu = False
        sync = lambda: None  # noqa: E731
    else:
        import cupy
        from yota.backends import cupy as yc
        yc.use_fusion(not args.no_fusion)
        yc.use_cuda_graphs(args.graphs)
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"]
        device = (name.decode() if isinstance(name, bytes) else str(name)) + " (CuPy)"
        sync = cupy.cuda.Device().synchronize
        on_gpu = True
        if args.graphs:
            device += ", CUDA graphs"
        if args.no_fusion:
            device += ", no fusion"
    print(f"device: {device}")

    rng = np.random.default_rng(args.seed)
    dtype = np.float32
    n_in, n_out = 784, 10
    n_train = args.batch * 16
    X, Y, _ = synthetic(xp, rng, n_train + 2048, n_in, n_out, dtype)
    Xtr, Ytr = X[:n_train, :], Y[:n_train, :]
    Xte, Yte = X[n_train:, :], Y[n_train:, :]
    m = init(xp, rng, (n_in, args.hidden, args.hidden, n_out), dtype)
    lr = args.lr

    def sgd(x, gx):
        return x - lr * gx

    n_batches = n_train // args.batch
    bar = _support.progress(range(args.steps), args.steps, "training")
    first = None
    losses = []
    t0 = time.perf_counter()
    for step in bar:
        i = step % n_batches
        Xb = Xtr[i * args.batch:(i + 1) * args.batch, :]   # full batches: one shape, one trace
        Yb = Ytr[i * args.batch:(i + 1) * args.batch, :]
        val, g = yota.grad(loss, m, Xb, Yb, wrt=1)  # gradients of the model only, not of the data
        yota.update_(m, g[1], sgd)
        if step == 0:
            sync()
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
        if step % 10 == 0 or step == args.steps - 1:
            losses.append(float(val))  # a host read: once every 10 steps
            if hasattr(bar, "set_postfix_str"):
                bar.set_postfix_str(f"loss {losses[-1]:.4f}")
    sync()
    elapsed = time.perf_counter() - t0

    pred = xp.argmax(logits(m, Xte), axis=1)
    acc = float(xp.mean(xp.astype(pred == xp.argmax(Yte, axis=1), xp.float32)))
    print(f"loss: {losses[0]:.4f} (step 1) -> {losses[-1]:.4f} (step {args.steps})")
    print(f"held-out accuracy: {acc:.2%} (chance 10%)")
    if args.steps > 1:
        print(f"first step (trace + compile{' + kernel builds' if on_gpu else ''}): {first:.2f} s; "
              f"then {(args.steps - 1) / elapsed:.0f} steps/s ({elapsed / (args.steps - 1) * 1e3:.2f} ms/step)")
    gW = g[1].W1
    print(f"gradients live on: {type(gW).__module__.split('.')[0]} ({getattr(gW, 'device', 'cpu')}), "
          f"dtype {gW.dtype}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
