"""The Dask backend's global state is bounded and reset() empties it; the
gradient of a Python float has one type on traced and cached calls."""
from __future__ import annotations

import numpy as np
import pytest
from array_api_compat import array_namespace as ns

import yota

da = pytest.importorskip("dask.array")
from yota.backends import dask as ydask  # noqa: E402
from yota.backends.dask import blocks, chunks  # noqa: E402

xp = ydask.namespace


def test_chunk_hints_are_bounded_and_reset_empties_them(monkeypatch):
    monkeypatch.setattr(chunks, "SEEN_MAX", 8)
    ydask.reset()
    for n in range(1, 30):
        xp.sum(da.ones(n, chunks=2))
    assert len(chunks._SEEN) == 8
    assert chunks.hint((29,)) == ((2,) * 14 + (1,),)  # the newest are kept
    assert chunks.hint((1,)) is None
    ydask.reset()
    assert len(chunks._SEEN) == 0


def test_dtype_probes_are_bounded_and_reset_empties_them():
    assert blocks.probe.cache_info().maxsize is not None
    xp.linalg.det(da.ones((3, 2, 2), chunks=1))
    assert blocks.probe.cache_info().currsize > 0
    ydask.reset()
    assert blocks.probe.cache_info().currsize == 0


def test_reset_is_harmless_between_calls():
    x = da.from_array(np.arange(12.0), chunks=3)
    f = lambda x: ns(x).mean(x * x)  # noqa: E731
    g1 = yota.grad(f, x)[1][1]
    ydask.reset()
    g2 = yota.grad(f, x)[1][1]
    np.testing.assert_allclose(g1.compute(), g2.compute())


LOSSES = {
    "scales-data": lambda x, a: ns(x).sum(x) * a,
    "apart-from-data": lambda x, a: ns(x).sum(x) + a * a,
    "only-the-float": lambda x, a: a * a * 3.0,
    "through-asarray": lambda x, a: ns(x).sum(x) + ns(x).exp(ns(x).asarray(a)),
    "written-into": lambda x, a: (lambda v: ns(x).sum(v * v))(ns(x).where(x > 0, a, x)),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_python_float_gradient_has_one_type(name):
    """Lazy 0-d Dask array on every call (traced, cached, vjp), with NumPy's value."""
    f = LOSSES[name]
    xn = np.arange(6.0) - 2
    x = da.from_array(xn, chunks=4)
    for a in (0.7, 1.3, -0.4):
        g = yota.grad(f, x, a)[1][2]
        assert isinstance(g, da.Array) and g.shape == (), type(g)
        np.testing.assert_allclose(g.compute(), yota.grad(f, xn, a)[1][2])
        _, pullback = yota.vjp(f, x, a)
        gv = pullback(da.ones((), dtype=np.float64))[2]
        assert isinstance(gv, da.Array) and gv.shape == (), type(gv)
