"""Dask: tracing and the compiled function build graphs only."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")


def loss(w, X, y):
    xp = array_namespace(X)
    return xp.mean(xp.log1p(xp.exp(-y * (X @ w)))) + 0.1 * xp.sum(w * w)


def _refuse(*args, **kwargs):
    raise AssertionError("something was computed")


def test_grad_computes_nothing_and_one_compute_gives_everything(rng):
    Xn, yn, w = rng.standard_normal((60, 4)), np.sign(rng.standard_normal(60)), rng.standard_normal(4)
    X, y = da.from_array(Xn, chunks=(20, 4)), da.from_array(yn, chunks=20)
    for _ in range(2):  # traced, then cached
        with dask.config.set(scheduler=_refuse):
            val, g = yota.grad(loss, w, X, y, wrt=1)
        assert type(g[1]).__module__.startswith("dask") and g[1].shape == w.shape
        val_c, gw = dask.compute(val, g[1], scheduler="sync")
        ref_val, ref_g = yota.grad(loss, w, Xn, yn)
        np.testing.assert_allclose(val_c, ref_val)
        np.testing.assert_allclose(gw, ref_g[1])
    assert yota.cache_info()["traces"] == 2  # one per backend (Dask, then the NumPy reference)


def test_a_guard_computes_only_its_scalar(rng):
    X = da.from_array(rng.standard_normal((40, 3)), chunks=(10, 3))
    calls = []

    def counting(dsk, keys, **kwargs):
        calls.append(keys)
        return dask.get(dsk, keys, **kwargs)

    def f(X):
        xp = array_namespace(X)
        s = xp.sum(X)
        return xp.sum(X * X) if s > 0 else xp.sum(-X)

    with dask.config.set(scheduler=counting):
        yota.grad(f, X)
    assert len(calls) == 1  # the guard's scalar, nothing else


def test_unknown_sizes_explain_compute_chunk_sizes(rng):
    X = da.from_array(rng.standard_normal(20), chunks=5)

    def f(X):
        xp = array_namespace(X)
        return xp.sum(X[X > 0])

    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        yota.grad(f, X)
