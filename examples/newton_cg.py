#!/usr/bin/env python
"""Fit a logistic regression with SciPy's Newton-CG: the gradient from
yota.value_and_grad, the Hessian-vector products from yota.hvp, on NumPy or
(--dask) on chunked Dask data.

    pip install ".[test]"               # SciPy; --dask also needs ".[dask]"
    python examples/newton_cg.py [--rows 20000] [--features 10] [--dask] [--chunk-rows 5000]

Newton-CG needs the gradient and, in its inner conjugate-gradient loop,
products of the Hessian with vectors; it never forms the Hessian. yota gives
both from the one loss: ``value_and_grad(loss)`` and ``hvp(loss, (theta,), (p,))``
(reverse over reverse), each traced once and then run from the cache.

With --dask the design matrix and the labels are Dask arrays in row chunks
and the parameters stay NumPy: every call builds the value, gradient or
Hessian-vector product lazily and one ``dask.compute`` evaluates it, so each
SciPy callback is one pass over the chunks.

Before fitting, the gradient and one Hessian-vector product are compared with
central finite differences at a random point; the script prints each
iteration, the final loss and the training accuracy.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from array_api_compat import array_namespace

import _support
import yota


def loss(theta, X, y, l2):
    """Mean logistic loss of labels y in {-1, +1}; theta = (w, b); an L2 penalty on w."""
    xp = array_namespace(X)
    z = X @ theta[:-1] + theta[-1]
    m = -y * z
    return xp.mean(xp.logaddexp(xp.zeros_like(m), m)) + 0.5 * l2 * xp.sum(theta[:-1] ** 2)


def make_data(rows, features, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features))
    w_true = rng.standard_normal(features)
    y = np.where(X @ w_true + 0.3 + rng.logistic(size=rows) > 0, 1.0, -1.0)
    return X, y


class Objective:
    """What SciPy calls: ``fun(theta) -> (loss, grad)`` and ``hessp(theta, p)``, as
    NumPy values. On Dask, each builds its graph with yota and computes it."""

    def __init__(self, X, y, l2, compute):
        self.compute = compute

        def f(theta):                # closes over the data: X and y are inputs of the tape, not constants
            return loss(theta, X, y, l2)

        self.f = f
        self.value_and_grad = yota.value_and_grad(f)

    def fun(self, theta):
        val, g = self.compute(*self.value_and_grad(theta))
        return float(val), np.asarray(g, dtype=np.float64)

    def hessp(self, theta, p):
        _, hv = yota.hvp(self.f, (theta,), (p,))
        (hv,) = self.compute(hv)
        return np.asarray(hv, dtype=np.float64)


def check_against_finite_differences(obj, theta, rng, eps=1e-5) -> float:
    """Largest relative error of the gradient and of one Hessian-vector product."""
    g = obj.fun(theta)[1]
    n = theta.size
    fd_g = np.array([(obj.fun(theta + eps * e)[0] - obj.fun(theta - eps * e)[0]) / (2 * eps) for e in np.eye(n)])
    p = rng.standard_normal(n)
    hv = obj.hessp(theta, p)
    fd_hv = (obj.fun(theta + eps * p)[1] - obj.fun(theta - eps * p)[1]) / (2 * eps)
    err_g = np.max(np.abs(g - fd_g)) / max(np.max(np.abs(fd_g)), 1e-12)
    err_hv = np.max(np.abs(hv - fd_hv)) / max(np.max(np.abs(fd_hv)), 1e-12)
    print(f"finite differences at a random point: gradient rel. error {err_g:.1e}, "
          f"Hessian-vector product rel. error {err_hv:.1e}")
    return max(err_g, err_hv)


def main(argv=None) -> int:
    doc = __doc__.split("\n\n")
    ap = argparse.ArgumentParser(description=doc[0], epilog="\n\n".join(doc[1:]),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=20_000, help="training points (default 20,000)")
    ap.add_argument("--features", type=int, default=10, help="features (default 10)")
    ap.add_argument("--l2", type=float, default=1e-3, help="L2 penalty on w (default 1e-3)")
    ap.add_argument("--dask", action="store_true", help="X and y as Dask arrays in row chunks")
    ap.add_argument("--chunk-rows", type=int, default=5_000, help="rows per Dask chunk (default 5,000)")
    ap.add_argument("--maxiter", type=int, default=50, help="Newton iterations at most (default 50)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    optimize = _support.require("scipy.optimize", "test", "SciPy")
    X, y = make_data(args.rows, args.features, args.seed)
    if args.dask:
        dask = _support.require("dask", "dask", "Dask")
        da = _support.require("dask.array", "dask", "dask.array")
        X = da.from_array(X, chunks=(args.chunk_rows, args.features))
        y = da.from_array(y, chunks=(args.chunk_rows,))
        compute = dask.compute
        where = f"Dask, {X.numblocks[0]} chunks of {args.chunk_rows} rows"
    else:
        def compute(*arrays):
            return arrays
        where = "NumPy"
    print(f"logistic regression: {args.rows} x {args.features} ({where}), L2 {args.l2:g}")

    obj = Objective(X, y, args.l2, compute)
    rng = np.random.default_rng(args.seed + 1)
    if check_against_finite_differences(obj, 0.5 * rng.standard_normal(args.features + 1), rng) > 1e-4:
        print("the derivatives disagree with finite differences", file=sys.stderr)
        return 1
    traced = yota.cache_info()["traces"]  # the first calls traced; the fit runs from the cache

    last = [np.zeros(args.features + 1), 0]

    def report(intermediate_result):  # SciPy passes the iterate and its loss under this name
        theta, last[1] = np.array(intermediate_result.x), last[1] + 1  # a copy: SciPy updates x in place
        print(f"iteration {last[1]:2d}  loss {intermediate_result.fun:.8f}  "
              f"step {np.linalg.norm(theta - last[0]):.2e}")
        last[0] = theta

    theta0 = np.zeros(args.features + 1)
    res = optimize.minimize(obj.fun, theta0, jac=True, hessp=obj.hessp, method="Newton-CG", callback=report,
                            options={"maxiter": args.maxiter, "xtol": 1e-10})
    theta = res.x
    z = compute(X @ theta[:-1] + theta[-1])[0]
    accuracy = float(np.mean((np.asarray(z) > 0) == (np.asarray(compute(y)[0]) > 0)))
    new = yota.cache_info()["traces"] - traced
    print(f"{res.message} after {res.nit} iterations: {res.nfev} gradient and {res.nhev} Hessian-vector "
          f"calls, {new} new yota traces" + (" (every call ran a cached compiled tape)" if new == 0 else ""))
    print(f"final loss {res.fun:.8f}, training accuracy {accuracy:.3f}")
    return 0 if res.success else 1


if __name__ == "__main__":
    sys.exit(main())
