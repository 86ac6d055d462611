"""Helpers the gradient test files share."""
from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import yota
from yota.testing import check_grad


def namespace_of(x):
    """The namespace user code sees: array-api-compat's, except that raw Dask arrays get
    yota's Dask namespace (array-api-compat's plus the fills compiled code runs on)."""
    if type(x).__module__.startswith("dask"):
        from yota.backends import dask
        return dask.namespace
    return array_api_compat.array_namespace(x)


def check(backend, f, *args, **kw):
    """check_grad; on Dask (slow per call) one random direction and no elementwise sweep,
    since NumPy and array-api-strict already check every element."""
    if backend.name == "dask":
        kw = {"full": 0, "directions": 1, **kw}
    check_grad(f, *args, **kw)


def grad_check(backend, fn, floats, ints=(), **kw):
    """check_grad of ``fn(xp, *floats, *ints)`` with the arrays made on ``backend``."""
    args = [backend.asarray(a) for a in floats] + [backend.asarray(np.asarray(i)) for i in ints]

    def f(*xs):
        xp = namespace_of(xs[0])
        return fn(xp, *xs)

    if backend.name == "dask":
        kw.setdefault("full", 0)  # VJP identity only: per-element differences are slow on Dask
    check_grad(f, *args, **kw)


# --------------------------------------------------------------------------- fusion workloads
# (the fusion tests' elementwise-heavy functions: the benchmarks' chain and one MLP layer)

def chain(x):
    xp = namespace_of(x)
    y = x
    for _ in range(6):
        y = xp.sin(y) * 1.01 + y * 0.5
    return xp.sum(y)


def mlp_layer(W, b, X):
    xp = namespace_of(X)
    return xp.sum(xp.tanh(X @ W + b) ** 2)


def refused_for_unknown_size(call):
    """A size Dask learns only from the data (nonzero, unique, repeat by an array): yota must
    refuse it, saying what to do."""
    with pytest.raises(yota.errors.UnknownShapeError, match="compute_chunk_sizes"):
        call()
