"""One array in several places: ``f(x, x)``, tied weights, an argument that views another.

The plain call sees one object under two names: ``a is b`` holds, and a write through one name is
read through the other. The trace gives such an array one tracer (its gradient is the total, the
same at every place, as PyTorch's ``.grad`` of a tied weight), the cache keys on which arguments
are one object, and a tape that wrote into an argument is served only to arguments that share no
memory. Each test was a silent wrong answer before: the tape traced for distinct arrays served the
aliased call.
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


def _kernel(a, b):
    # the fast path of a symmetric kernel (scikit-learn's `Y is X`): another formula for one object
    xp = namespace_of(a)
    if a is b:
        return 2.0 * xp.sum(xp.tanh(a @ a.T))
    return xp.sum(xp.tanh(a @ b.T))


def test_an_array_passed_twice_is_one_object_in_the_trace(backend):
    r = np.random.default_rng(0)
    x = backend.asarray(r.standard_normal((3, 2)))
    y = backend.asarray(r.standard_normal((3, 2)))
    for a, b in ((x, y), (x, x), (y, y), (x, y), (y, x), (x, x)):  # cached both ways round
        assert _value(yota.grad(_kernel, a, b)) == pytest.approx(float(yota.testing.to_numpy(_kernel(a, b))))
    yota.testing.check_grad(_kernel, x, x, full=0 if backend.name == "dask" else None)
    yota.testing.check_grad(_kernel, x, y, full=0 if backend.name == "dask" else None)


def _tied(p, X):
    xp = namespace_of(X)
    return xp.sum(xp.tanh(X @ p["enc"]) @ p["dec"].T)


def test_tied_weights_have_one_gradient_and_stay_tied(backend):
    r = np.random.default_rng(1)
    W = backend.asarray(r.standard_normal((2, 2)))
    X = backend.asarray(r.standard_normal((4, 2)))
    p = {"enc": W, "dec": W}
    _, g = yota.grad(_tied, p, X)
    assert g[1]["enc"] is g[1]["dec"]
    # the total: the sum of the two partials, which the untied copies get
    _, gu = yota.grad(_tied, {"enc": W, "dec": backend.asarray(np.array(yota.testing.to_numpy(W)))}, X)
    np.testing.assert_allclose(yota.testing.to_numpy(g[1]["enc"]),
                               yota.testing.to_numpy(gu[1]["enc"]) + yota.testing.to_numpy(gu[1]["dec"]))
    yota.testing.check_grad(_tied, p, X, full=0 if backend.name == "dask" else None)
    yota.update_(p, g[1], lambda x, gx: x - 0.1 * gx)
    assert p["enc"] is p["dec"]  # one array updated once, both places given it
    _, g2 = yota.grad(_tied, p, X)
    assert g2[1]["enc"] is g2[1]["dec"]


def _writes_a_reads_b(a, b):
    xp = namespace_of(a)
    a[0] = 10.0
    return xp.sum(b * b)


def _plain(f, make):
    return float(yota.testing.to_numpy(f(*make())))


def test_a_write_through_one_argument_is_read_through_another(backend):
    _writable(backend)
    new = lambda: backend.asarray(np.array([1.0, 2.0, 3.0]))  # noqa: E731
    x, y = new(), new()
    assert _value(yota.grad(_writes_a_reads_b, x, y)) == 14.0  # traced and cached for distinct arrays
    for _ in range(2):
        x = new()
        want = _plain(_writes_a_reads_b, lambda: (lambda z: (z, z))(new()))
        assert _value(yota.grad(_writes_a_reads_b, x, x)) == want == 113.0
    # a view that the write reaches: NumPy reads the written value through it, the tape would not
    x = new()
    with pytest.raises(StaleViewError):
        yota.grad(_writes_a_reads_b, x, x[:])
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


def test_a_compiled_tape_refuses_another_pattern_of_arguments(backend):
    r = np.random.default_rng(2)
    x = backend.asarray(r.standard_normal((3, 2)))
    y = backend.asarray(r.standard_normal((3, 2)))
    distinct = yota.compile(yota.gradtape(_kernel, x, y))
    one = yota.compile(yota.gradtape(_kernel, x, x))
    assert float(yota.testing.to_numpy(distinct(_kernel, y, x)[0])) == pytest.approx(
        float(yota.testing.to_numpy(_kernel(y, x))))
    with pytest.raises(yota.errors.StaleTapeError, match="several places"):
        distinct(_kernel, x, x)
    with pytest.raises(yota.errors.StaleTapeError, match="several places"):
        one(_kernel, x, y)


def test_vmap_over_one_array_in_several_places(backend):
    r = np.random.default_rng(3)
    W = backend.asarray(r.standard_normal((3, 2)))
    xs = backend.asarray(r.standard_normal((4, 3, 2)))

    def f(a, b, x):
        return _kernel(a, b) * namespace_of(x).sum(x)

    got = yota.vmap(f, in_axes=(None, None, 0))(W, W, xs)
    want = [float(yota.testing.to_numpy(f(W, W, xs[i, ...]))) for i in range(4)]
    np.testing.assert_allclose(yota.testing.to_numpy(got), want, rtol=1e-12)
    # mapped in one place and not in the other: x[i] and x are two objects, as in the loop
    got = yota.vmap(_kernel, in_axes=(0, None))(xs, xs[0, ...])
    want = [float(yota.testing.to_numpy(_kernel(xs[i, ...], xs[0, ...]))) for i in range(4)]
    np.testing.assert_allclose(yota.testing.to_numpy(got), want, rtol=1e-12)
