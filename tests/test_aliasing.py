"""One array in several places: ``f(x, x)``, tied weights, an argument that views another.

Each place is an input of its own, as in JAX: its gradient is the partial derivative there, and
every transformation (jvp, hvp, jacrev) combines the places as JAX does. A write through one
argument reaches the others in NumPy; the trace follows it or raises `StaleViewError`, and a tape
that wrote into an argument is served only to arguments that share no memory (before, a tape
traced for distinct arrays served the aliased call: 14.0 where NumPy gives 113.0).
"""
from __future__ import annotations

import numpy as np
import pytest

import yota
from yota.views import StaleViewError

from _helpers import namespace_of


def _writable(backend):
    if backend.name in ("dask", "jax"):
        pytest.skip(f"{backend.name} arrays share no memory that a write could reach")


def _value(r):
    return float(yota.testing.to_numpy(r[0]))


def _np(x):
    return yota.testing.to_numpy(x)


def _f(a, b):
    xp = namespace_of(a)
    return xp.sum(xp.tanh(a * b) + a * a)


def test_one_array_in_two_places_is_two_inputs(backend):
    # the partials at each place, as JAX gives them, in grad and in every transformation
    r = np.random.default_rng(0)
    x = backend.asarray(r.standard_normal(3))
    y = backend.asarray(np.array(_np(x)))  # the same values, another array
    t1, t2 = backend.asarray(r.standard_normal(3)), backend.asarray(r.standard_normal(3))
    yota.testing.check_grad(_f, x, x, full=0 if backend.name == "dask" else None)
    _, g = yota.grad(_f, x, x)
    _, h = yota.grad(_f, x, y)
    for a, b in zip(g[1:], h[1:]):
        np.testing.assert_allclose(_np(a), _np(b))
    np.testing.assert_allclose(_np(yota.jvp(_f, (x, x), (t1, t2))[1]), _np(yota.jvp(_f, (x, y), (t1, t2))[1]))
    for a, b in zip(yota.hvp(_f, (x, x), (t1, t2))[1], yota.hvp(_f, (x, y), (t1, t2))[1]):
        np.testing.assert_allclose(_np(a), _np(b))
    for a, b in zip(yota.jacrev(_f, argnums=(0, 1))(x, x), yota.jacrev(_f, argnums=(0, 1))(x, y)):
        np.testing.assert_allclose(_np(a), _np(b))


def _tied(p, X):
    xp = namespace_of(X)
    return xp.sum(xp.tanh(X @ p["enc"]) @ p["dec"].T)


def test_tied_weights_get_the_partial_at_each_place(backend):
    r = np.random.default_rng(1)
    W = backend.asarray(r.standard_normal((2, 2)))
    X = backend.asarray(r.standard_normal((4, 2)))
    _, g = yota.grad(_tied, {"enc": W, "dec": W}, X)
    _, gu = yota.grad(_tied, {"enc": W, "dec": backend.asarray(np.array(_np(W)))}, X)
    for k in ("enc", "dec"):
        np.testing.assert_allclose(_np(g[1][k]), _np(gu[1][k]))
    yota.testing.check_grad(_tied, {"enc": W, "dec": W}, X, full=0 if backend.name == "dask" else None)


def _writes_a_reads_b(a, b):
    xp = namespace_of(a)
    a[0] = 10.0
    return xp.sum(b * b)


def test_a_write_through_one_argument_is_read_through_another(backend):
    _writable(backend)
    new = lambda: backend.asarray(np.array([1.0, 2.0, 3.0]))  # noqa: E731
    x, y = new(), new()
    assert _value(yota.grad(_writes_a_reads_b, x, y)) == 14.0  # traced and cached for distinct arrays
    for b in (lambda x: x, lambda x: x[:]):  # the write reaches b, which NumPy reads written
        x = new()
        with pytest.raises(StaleViewError):
            yota.grad(_writes_a_reads_b, x, b(x))
    # a view that the write does not reach: traced for this call, the plain program's value
    x = new()
    assert _value(yota.grad(_writes_a_reads_b, x, x[1:])) == 13.0
    x, y = new(), new()
    before = yota.cache_info()["traces"]
    assert _value(yota.grad(_writes_a_reads_b, x, y)) == 14.0
    assert yota.cache_info()["traces"] == before  # distinct arrays again: the cached tape


_GLOBAL_W = None


def _writes_x_reads_global(x):
    xp = namespace_of(x)
    x[0] = 10.0
    return xp.sum(x) + xp.sum(_GLOBAL_W)


def test_a_write_into_an_argument_that_views_a_global_after_a_cached_call(backend, monkeypatch):
    _writable(backend)
    monkeypatch.setitem(globals(), "_GLOBAL_W", backend.asarray(np.array([1.0, 2.0, 3.0])))
    x = backend.asarray(np.array([1.0, 2.0, 3.0]))
    assert _value(yota.grad(_writes_x_reads_global, x)) == 21.0
    with pytest.raises(yota.errors.UntraceableError, match="reads outside its arguments"):
        yota.grad(_writes_x_reads_global, _GLOBAL_W[:])


def test_vmap_over_one_array_in_several_places(backend):
    r = np.random.default_rng(3)
    W = backend.asarray(r.standard_normal(3))
    xs = backend.asarray(r.standard_normal((4, 3)))

    def f(a, b, x):
        return _f(a, b) * namespace_of(x).sum(x)

    got = yota.vmap(f, in_axes=(None, None, 0))(W, W, xs)
    want = [float(_np(f(W, W, xs[i, ...]))) for i in range(4)]
    np.testing.assert_allclose(_np(got), want, rtol=1e-12)
    got = yota.vmap(_f, in_axes=(0, None))(xs, xs[0, ...])
    want = [float(_np(_f(xs[i, ...], xs[0, ...]))) for i in range(4)]
    np.testing.assert_allclose(_np(got), want, rtol=1e-12)
