"""Writes into memory that other arrays share (``yota/views.py``).

In NumPy, array-api-strict and CuPy a write reaches every view of the written memory; yota
records writes as new arrays (as JAX does). Where a later read would see the difference, the
trace raises; every other program gives the plain call's values, dtypes and gradients. Dask
arrays are written functionally by Dask itself, so there everything runs as plainly written.
"""
from __future__ import annotations

import operator

import numpy as np
import pytest

import yota
from _helpers import check, namespace_of
from yota.testing import to_numpy
from yota.views import StaleViewError

VIEWS = ("numpy", "array_api_strict", "cupy", "torch")  # libraries whose indexing returns views


@pytest.fixture(autouse=True)
def _writable(request):
    backend = request.getfixturevalue("backend") if "backend" in request.fixturenames else None
    if backend is not None and backend.name == "jax":
        pytest.skip("JAX arrays take no writes: the plain program cannot run")


def _copy(x):
    return x * 1.0


# each reads, after a write, an array that shares the written memory
STALE = {
    "slice of an argument": lambda xp, x: (v := x[0:2], x.__setitem__(0, 10.0), xp.sum(v * v))[2],
    "slice of a result": lambda xp, x: (y := _copy(x), v := y[1:], y.__setitem__(1, 0.0), xp.sum(v * x[1:]))[3],
    "the base, written through a slice": lambda xp, x: (y := _copy(x), v := y[1:], v.__setitem__(0, 7.0),
                                                        xp.sum(y * x))[3],
    "reshape": lambda xp, x: (y := _copy(x), v := xp.reshape(y, (2, 2)), y.__setitem__(0, 5.0), xp.sum(v * v))[3],
    "reshape to the same shape": lambda xp, x: (y := _copy(x), v := xp.reshape(y, (4,)), y.__setitem__(0, 5.0),
                                                xp.sum(v * v))[3],
    "in-place operator on a view": lambda xp, x: (y := _copy(x), v := y[::2], operator.imul(v, 3.0),
                                                  xp.sum(y * x))[3],
    "the whole array": lambda xp, x: (y := _copy(x), z := y[...], y.__setitem__(Ellipsis, 0.0), xp.sum(z * x))[3],
    "a row of a stacked array": lambda xp, x: (y := xp.stack([x, x]), r := y[0, ...], y.__setitem__((0, 0), -1.0),
                                               xp.sum(r * x))[3],
    "a view written after an unrelated write": lambda xp, x: (y := _copy(x), v := y[0:1], y.__setitem__(2, 1.0),
                                                              y.__setitem__(0, 4.0), xp.sum(v))[4],
    "a comparison on a stale view": lambda xp, x: (y := _copy(x), v := y[0:2], y.__setitem__(0, -9.0),
                                                   xp.sum(x) * (2.0 if v[0] > 0 else 3.0))[3],
}


@pytest.mark.parametrize("case", sorted(STALE))
def test_reading_a_view_after_a_write_into_its_memory(backend, case):
    body = STALE[case]
    x = backend.asarray(np.array([1.0, 2.0, 3.0, 4.0]))

    def f(x):
        return body(namespace_of(x), x)

    if backend.name in VIEWS:
        with pytest.raises(StaleViewError, match="test_views.py:"):
            yota.grad(f, x)
    else:  # no views: writes are functional in the library itself, as in the tape
        np.testing.assert_allclose(to_numpy(yota.grad(f, x)[0]), to_numpy(f(x)))


def _rnn(xp, x):
    h = xp.zeros((4, 4), dtype=x.dtype)
    for t in range(1, 4):
        h[t, ...] = xp.tanh(h[t - 1, ...] + x[t - 1, ...])  # a view of row t - 1 is alive while row t is written
    return xp.sum(h * h)


def _rows(xp, x):
    y = _copy(x)
    for i in range(3):
        y[i, ...] += x[i, ...] * 2.0  # the row view is written in place, then written back into y[i]
    y[:, 1] += 1.0
    y[:, 2] *= x[:, 0]
    return xp.sum(y * y)


def _accumulate(xp, x):
    s = xp.zeros((4,), dtype=x.dtype)
    for i in range(3):
        s += x[i, ...]
    return xp.sum(s * s)


def _same_object(xp, x):
    y = _copy(x)
    z = y
    z += 1.0  # z is y: both hold y + 1, as in NumPy
    held = [y]
    y *= x
    return xp.sum(held[0] * z)


def _view_after_the_write(xp, x):
    y = _copy(x)
    y[0, ...] = 5.0
    v = y[0:2, ...]
    y[2, ...] = 3.0  # does not reach v
    return xp.sum(v * x[0:2, ...])


def _asarray_is_the_array(xp, x):
    y = _copy(x)
    z = xp.asarray(y)  # the array itself, in NumPy and in Dask: it sees the write
    y[0, ...] = 100.0
    return xp.sum(z * x)


def test_asarray_of_an_array(backend):
    # NumPy's, CuPy's and Dask's asarray(y) is y, which sees the write; array-api-strict's is
    # another array over y's memory: a stale view
    def f(x):
        return _asarray_is_the_array(namespace_of(x), x)

    x = backend.asarray(np.ones((3, 4)))
    if backend.name == "array_api_strict":
        with pytest.raises(StaleViewError):
            yota.grad(f, x)
    else:
        np.testing.assert_allclose(to_numpy(yota.grad(f, x)[0]), to_numpy(f(x)))


def _chain(xp, x):
    y = xp.exp(x)
    y *= 2.0
    y -= x
    y /= 3.0
    y[y > 1.5] = 0.0
    return xp.sum(y * x)


FOLLOWED = {"rnn": _rnn, "rows": _rows, "accumulate": _accumulate, "same object": _same_object,
            "view after the write": _view_after_the_write, "in-place chain": _chain}


@pytest.mark.parametrize("case", sorted(FOLLOWED))
def test_writes_no_stale_read_follows_give_the_plain_values(backend, case):
    body = FOLLOWED[case]

    def f(x):
        return body(namespace_of(x), x)

    r = np.random.default_rng(3)
    for _ in range(2):  # traced, then cached
        x = backend.asarray(r.standard_normal((3, 4)))
        np.testing.assert_allclose(to_numpy(yota.grad(f, x)[0]), to_numpy(f(backend.asarray(to_numpy(x)))),
                                   rtol=1e-12)
    check(backend, f, backend.asarray(r.standard_normal((3, 4))))


def test_in_place_operators_keep_the_written_arrays_dtype_and_shape(backend):
    def f(x, w):
        y = x * 1.0
        y += w  # float32 += float64: float32 in NumPy (array-api-strict refuses it)
        return namespace_of(x).sum(y * y)

    x = backend.asarray(np.ones(3, dtype=np.float32))
    w = backend.asarray(np.full(3, 0.1))
    try:
        plain = f(x, w)
    except TypeError as e:
        with pytest.raises(TypeError):
            yota.grad(f, x, w)
        return
    value = yota.grad(f, x, w)[0]
    assert value.dtype == plain.dtype
    np.testing.assert_array_equal(to_numpy(value), to_numpy(plain))
    if backend.name in VIEWS:
        with pytest.raises((ValueError, RuntimeError), match="broadcast"):  # the library's own error
            yota.grad(f, backend.asarray(np.ones(3)), backend.asarray(np.ones((2, 3))))


def test_arguments_that_share_memory(rng):
    # f(x, x) and f(x, x[::2]): a write into one reaches the other
    x = rng.standard_normal(4)

    def f(a, b):
        a[0] = 10.0
        return namespace_of(a).sum(b * b)

    for b in (x, x[::2]):
        with pytest.raises(StaleViewError):
            yota.grad(f, x, b)
    y = rng.standard_normal(4)
    yota.testing.check_grad(f, x.copy(), y)  # no sharing: the plain values


_HELD = {}


def test_a_write_into_an_argument_that_is_also_a_global_it_reads(rng):
    W = rng.standard_normal((2, 2)) + 1.0
    _HELD["W"] = W

    def f(w):
        w[0, 0] = 0.0
        return namespace_of(w).sum(w * _HELD["W"])

    with pytest.raises(yota.errors.UntraceableError, match="shares memory with an array the code reads"):
        yota.grad(f, W)
    _HELD.clear()


def test_sort_in_place_makes_its_views_stale(rng):
    def f(x):
        y = x * 1.0
        v = y[0:2]
        y.sort()
        return namespace_of(x).sum(v * x[0:2])

    with pytest.raises(StaleViewError):
        yota.grad(f, rng.standard_normal(4))


def _zeroes_its_argument(h):
    h[0, ...] = 0.0
    return h * 2.0


@pytest.mark.parametrize("how", ["grad", "vmap", "checkpoint"])
def test_a_write_into_an_argument_inside_a_nested_transformation(backend, how):
    # in NumPy the inner function's write changes the enclosing code's array, which the
    # enclosing trace cannot follow: an error, where a copy first is the fix
    def f(x):
        xp = namespace_of(x)
        y = x * 1.0
        if how == "grad":
            inner = yota.grad(lambda h: namespace_of(h).sum(_zeroes_its_argument(h)), y)[0]
        elif how == "vmap":
            inner = xp.sum(yota.vmap(_zeroes_its_argument)(y))
        else:
            inner = xp.sum(yota.checkpoint(_zeroes_its_argument)(y))
        return xp.sum(y) + inner

    x = backend.asarray(np.arange(6.0).reshape(2, 3))
    with pytest.raises(yota.errors.UntraceableError, match="Copy the argument before writing"):
        yota.grad(f, x)
