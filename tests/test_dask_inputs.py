"""Dask inputs of unknown chunk sizes: a clear error at the input, never a
gradient with ``nan`` sizes in it."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
from yota.backends import dask as ydask  # noqa: E402


def _X():
    return da.from_array(np.random.default_rng(0).standard_normal((20, 3)), chunks=5)


def _ddf():
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    return dd.from_pandas(pd.DataFrame(np.ones((20, 3)), columns=list("abc")), npartitions=4)


#: fresh arrays of unknown chunk sizes (compute_chunk_sizes() changes an array in place)
SOURCES = {
    "boolean-mask": lambda: (lambda X: X[X[:, 0] > 0])(_X()),
    "from_delayed-nan": lambda: da.from_delayed(dask.delayed(np.ones)((4, 3)), shape=(np.nan, 3), dtype=float),
    "concatenate-with-unknown": lambda: (lambda X: da.concatenate([X, X[X[:, 0] > 0]]))(_X()),
    "ddf.values": lambda: _ddf().values,
    "to_dask_array()": lambda: _ddf().to_dask_array(),
}


def loss(w, X):
    xp = array_namespace(X)
    return xp.mean((X @ w) ** 2)


@pytest.mark.parametrize("name", list(SOURCES))
def test_check_inputs_names_the_argument_and_the_fix(name):
    X = SOURCES[name]()
    with pytest.raises(ydask.UnknownChunkSizesError) as e:
        ydask.check_inputs([np.ones(3), X], names=["w", "X"])
    msg = str(e.value)
    assert isinstance(e.value, ValueError) and isinstance(e.value, yota.YotaError)
    assert "argument X" in msg and "compute_chunk_sizes()" in msg and "lengths=True" in msg


def test_check_inputs_accepts_known_sizes():
    X = SOURCES["boolean-mask"]().compute_chunk_sizes()
    ydask.check_inputs([np.ones(3), X, 2.0, da.ones((0, 3), chunks=2)])
    w = np.ones(3)
    val, g = yota.grad(loss, w, X)
    Xn = X.compute()
    np.testing.assert_allclose(np.asarray(g[1]), 2 * Xn.T @ (Xn @ w) / Xn.shape[0])


@pytest.mark.parametrize("name", list(SOURCES))
def test_grad_refuses_unknown_sizes(name):
    """Whatever the engine does with them today, no gradient comes back."""
    with pytest.raises((yota.YotaError, ValueError)):
        val, g = yota.grad(loss, np.ones(3), SOURCES[name]())
        dask.compute(val, g[1])


def test_grad_error_says_compute_chunk_sizes_at_the_input():
    with pytest.raises(ydask.UnknownChunkSizesError, match="compute_chunk_sizes"):
        yota.grad(loss, np.ones(3), SOURCES["boolean-mask"]())
