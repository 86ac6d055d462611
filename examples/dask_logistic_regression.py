#!/usr/bin/env python
"""Logistic regression by gradient descent on out-of-core Dask data, with
yota gradients.

    python examples/dask_logistic_regression.py                 # local threads, ~20 s
    python examples/dask_logistic_regression.py --rows 20_000_000 --features 50
    python examples/dask_logistic_regression.py --local-cluster # dask.distributed LocalCluster
    python examples/dask_logistic_regression.py --scheduler tcp://host:8786   # existing cluster

The design matrix ``X`` (``--rows`` x ``--features``, float64) and the labels
``y`` are generated lazily chunk by chunk (``dask.array.random``), so the data
never has to fit in memory: every step streams over the chunks again (with
``--persist`` they are kept in the cluster's memory instead).  The parameters
``w``, ``b`` are small NumPy arrays; the loss is plain array-API code::

    xp = array_namespace(X)
    m = -y * (X @ w + b)
    loss = mean(logaddexp(0, m)) + l2 * sum(w ** 2)

``yota.grad(loss, w, b, X, y, l2)`` returns the value and the gradients as lazy
Dask arrays (NumPy parameters join the Dask backend); one ``dask.compute`` per
step evaluates the value and the two parameter gradients in a single pass
over the data (the lazy gradients for ``X`` and ``y`` are never computed).

Progress: a ``dask.diagnostics.ProgressBar`` with the local schedulers; with a
``distributed`` cluster, its dashboard link and ``distributed.progress``.
The first two steps print the size of the Dask graph of the value and the
gradients (tasks): the first call traces and compiles, the second runs the
cached compiled function, and both build the same graph (give or take a task:
Dask keys the NumPy parameters it embeds by their content, and the all-zero
start shares one with another zero array).

    pip install ".[dask]"    # Dask and distributed
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from array_api_compat import array_namespace

import _support
import yota

dask = _support.require("dask", "dask", "Dask")
da = _support.require("dask.array", "dask", "dask.array")


def loss(w, b, X, y, l2):
    xp = array_namespace(X)
    m = -y * (X @ w + b)
    return xp.mean(xp.logaddexp(xp.zeros_like(m), m)) + l2 * xp.sum(w * w)


def handwritten_grad(w, b, X, y, l2):
    """The same value and gradients derived by hand (for comparison)."""
    n = X.shape[0]
    m = -y * (X @ w + b)
    val = da.mean(da.logaddexp(0.0, m)) + l2 * np.sum(w * w)
    dz = -y / (1.0 + da.exp(-m)) / n
    return val, (dz @ X + 2 * l2 * w, dz.sum())


def graph_tasks(*arrays) -> int:
    """Tasks in the merged graph of lazy arrays (before Dask optimizes it)."""
    tasks: dict = {}
    for a in arrays:
        tasks.update(dict(a.__dask_graph__()))
    return len(tasks)


def make_data(rows, features, chunk_rows, seed):
    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features))
    w_true = np.random.default_rng(seed).standard_normal(features)
    noise = rng.logistic(size=(rows,), chunks=(chunk_rows,))
    y = da.where(X @ w_true + 0.5 + noise > 0, 1.0, -1.0)
    return X, y


def main(argv=None):
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(description=doc[0], epilog="\n\n".join(doc[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=2_000_000, help="rows of X (default 2,000,000)")
    ap.add_argument("--features", type=int, default=20, help="columns of X (default 20)")
    ap.add_argument("--chunk-rows", type=int, default=250_000, help="rows per chunk (default 250,000)")
    ap.add_argument("--steps", type=int, default=10, help="gradient descent steps (default 10)")
    ap.add_argument("--lr", type=float, default=1.0, help="learning rate (default 1.0)")
    ap.add_argument("--l2", type=float, default=1e-4, help="L2 penalty on w (default 1e-4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scheduler", default=None,
                    help="address of a dask.distributed scheduler (tcp://host:8786); "
                         "default: the local threaded scheduler")
    ap.add_argument("--local-cluster", action="store_true",
                    help="start a dask.distributed LocalCluster and use it")
    ap.add_argument("--persist", action="store_true",
                    help="keep X and y in (cluster) memory instead of regenerating them each step")
    ap.add_argument("--grad", choices=["yota", "handwritten"], default="yota",
                    help="where the gradient comes from (handwritten: for comparison)")
    args = ap.parse_args(argv)

    client = cluster = None
    if args.scheduler or args.local_cluster:
        distributed = _support.require("distributed", "dask", "dask.distributed")
        Client, LocalCluster = distributed.Client, distributed.LocalCluster

        if args.scheduler:
            client = Client(args.scheduler)
        else:
            cluster = LocalCluster(dashboard_address=":0")
            client = Client(cluster)
        print(f"dask.distributed cluster: {client.scheduler_info().get('address', '')}  "
              f"dashboard: {client.dashboard_link}")

    X, y = make_data(args.rows, args.features, args.chunk_rows, args.seed)
    if args.persist:
        X, y = dask.persist(X, y)
    print(f"X: {X.shape[0]} x {X.shape[1]} float64 = {X.nbytes / 1e9:.2f} GB in "
          f"{X.numblocks[0]} chunks of {X.chunks[0][0]} rows; gradients from {args.grad}")

    w = np.zeros(args.features)
    b = np.zeros(())

    def compute(*arrays):
        if client is None:
            from dask.diagnostics import ProgressBar

            with ProgressBar(minimum=0.5):
                return dask.compute(*arrays)
        from distributed import progress

        futures = client.compute(list(arrays))
        progress(futures)
        print()
        return client.gather(futures)

    losses = []
    t_start = time.perf_counter()
    for step in range(args.steps):
        t0 = time.perf_counter()
        if args.grad == "yota":
            val, g = yota.grad(loss, w, b, X, y, args.l2)
            gw, gb = g[1], g[2]
        else:
            val, (gw, gb) = handwritten_grad(w, b, X, y, args.l2)
        if step < 2:
            call = "first call: trace + compile" if step == 0 else "second call: the cached function"
            print(f"graph of the value and gradients: {graph_tasks(val, gw, gb)} tasks over "
                  f"{X.numblocks[0]} chunks ({call}; yota traces so far: {yota.cache_info()['traces']})")
        val, gw, gb = compute(val, gw, gb)
        w = w - args.lr * np.asarray(gw)
        b = np.asarray(b - args.lr * np.asarray(gb))  # a 0-d array, not a NumPy scalar: the same cache key
        losses.append(float(val))
        print(f"step {step:3d}  loss {float(val):.6f}  |grad| {np.linalg.norm(gw):.3e}  "
              f"({time.perf_counter() - t0:.2f} s)", flush=True)

    acc = compute(da.mean((X @ w + b > 0) == (y > 0)))[0]
    print(f"trained {args.steps} steps in {time.perf_counter() - t_start:.1f} s; "
          f"loss {losses[0]:.4f} -> {losses[-1]:.4f}; training accuracy {float(acc):.3f}")
    if len(losses) > 1 and not losses[-1] < losses[0]:
        print("warning: the loss did not fall; try a smaller --lr", file=sys.stderr)
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
