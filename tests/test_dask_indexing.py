"""Every key family, on Dask, against NumPy: ``getitem``, ``setitem`` and
``scatter_add`` of the backend directly, then gradients through a loss
(``x[key]`` read, and ``v = xp.asarray(x, copy=True); v[key] = w`` written),
traced then cached.

Dask's own indexing gets several of these keys wrong (see
tests/test_dask_upstream.py); the backend must not.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from yota.testing import check_grad

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
from yota.backends import dask as ydask  # noqa: E402
from yota.backends.dask import scatter as yscatter  # noqa: E402

xp = ydask.namespace
SHAPE = (4, 5, 6)
_r = np.random.default_rng(7)
MASK0 = np.array([True, False, True, True])
MASK12 = _r.random((5, 6)) > 0.5

#: name -> key (NumPy arrays become Dask arrays in the "dask-key" runs)
KEYS = {
    "int": 1,
    "neg-int": -1,
    "two-ints": (1, -2),
    "slice": slice(1, 3),
    "step": slice(None, None, 2),
    "neg-step": slice(None, None, -1),
    "neg-step-2": (slice(None), slice(None, None, -2)),
    "int-then-neg-step": (1, slice(None, None, -1), slice(None)),
    "neg-step-stop": (slice(3, 0, -1), 2),
    "start-below-minus-n": slice(-8, None, -1),
    "out-of-range-both": (slice(10, -10, -1), slice(-100, 100)),
    "out-of-range-step": (slice(None), slice(2, 100, 3)),
    "empty-slice": slice(3, 1),
    "ellipsis": (Ellipsis, 0),
    "ellipsis-middle": (1, Ellipsis, slice(None, None, -1)),
    "none": (None, 1, slice(0, 3)),
    "none-last": (Ellipsis, None),
    "empty-tuple": (),
    "mask-axis0": MASK0,
    "mask-last-axes": (slice(None), MASK12),
    "mask-all": _r.random(SHAPE) > 0.5,
    "mask-none-true": np.zeros(4, dtype=bool),
    "mask-neg-step": (MASK0, slice(None, None, -1)),
    "int-array": np.array([0, 2, 0, 3]),
    "neg-int-array": np.array([-1, 0, -1]),
    "length-1-array": np.array([0]),
    "length-1-array-axis2": (Ellipsis, np.array([0])),
    "empty-array": np.array([], dtype=np.int64),
    "array-2d": np.array([[0, 1], [1, 1]]),
    "array-axis1": (slice(None), np.array([4, 4, 0])),
    "two-arrays": (np.array([0, 1, 1]), np.array([2, 2, 4])),
    "two-arrays-broadcast": (np.array([[0], [1]]), np.array([2, 2, 4])),
    "separated-arrays": (np.array([0, 1, 1]), slice(1, 4), np.array([2, 2, 5])),
    "int-and-array": (1, slice(None), np.array([0, 5, 0])),
    "array-and-int": (np.array([3, 3]), slice(None), 2),
    "neg-step-and-array": (slice(None, None, -1), np.array([0, 2])),
    "array-none": (np.array([0, 0]), None, slice(1, 3)),
    "none-array-neg-step": (None, np.array([1, 1]), slice(None, None, -2)),
    "list": [0, 0, 3],
}
CHUNKINGS = {"2": 2, "mixed": (3, 5, 1), "zero-length": ((0, 4), (2, 0, 3), (6, 0))}


def D(a, chunks=2):
    return da.from_array(np.asarray(a), chunks=chunks)


def _dask_key(key):
    if isinstance(key, np.ndarray):
        return D(key)
    if isinstance(key, tuple):
        return tuple(D(k) if isinstance(k, np.ndarray) else k for k in key)
    return key


def _lazy_mask(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, np.ndarray) and k.dtype == bool for k in parts)


def _refuse(*a, **k):
    raise AssertionError("computed while building the graph")


@contextlib.contextmanager
def lazy_only():
    with dask.config.set(scheduler=_refuse):
        yield


def _compute(a):
    assert isinstance(a, da.Array)
    return a.compute(scheduler="sync")


def _same_blocks(y, x):
    """``y`` has ``x``'s chunks, less any zero-length ones."""
    return y.chunks == tuple(tuple(c for c in cs if c) for cs in x.chunks)


@pytest.mark.parametrize("chunking", list(CHUNKINGS))
@pytest.mark.parametrize("key_kind", ["numpy-key", "dask-key"])
@pytest.mark.parametrize("name", list(KEYS))
def test_getitem_setitem_scatter_add_match_numpy(name, key_kind, chunking):
    key = KEYS[name]
    if key_kind == "dask-key" and (not isinstance(key, (np.ndarray, tuple)) or _lazy_mask(key)):
        pytest.skip("no index array, or a mask (lazy masks: test_dask_backend.py)")
    kd = _dask_key(key) if key_kind == "dask-key" else key
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SHAPE)
    xd = D(x, CHUNKINGS[chunking])
    want = x[key]
    with lazy_only():
        got = ydask.getitem(xp, xd, kd)
    assert got.shape == want.shape  # metadata, before computing
    np.testing.assert_array_equal(_compute(got), want)

    vals = rng.standard_normal(want.shape)
    want_set = x.copy()
    want_set[key] = vals
    for v in (vals, D(vals) if vals.ndim else vals):
        with lazy_only():
            got = ydask.setitem(xp, xd, kd, v)
        assert _same_blocks(got, xd)
        np.testing.assert_array_equal(_compute(got), want_set)
    want_scalar = x.copy()
    want_scalar[key] = 2.5
    np.testing.assert_array_equal(_compute(ydask.setitem(xp, xd, kd, 2.5)), want_scalar)

    want_add = x.copy()
    np.add.at(want_add, key, vals)
    for dense in (2**26, 0):
        yscatter.SCATTER_DENSE_BYTES, saved = dense, yscatter.SCATTER_DENSE_BYTES
        try:
            with lazy_only():
                got = ydask.scatter_add(xp, xd, kd, D(vals) if vals.ndim else vals)
        finally:
            yscatter.SCATTER_DENSE_BYTES = saved
        assert _same_blocks(got, xd)
        np.testing.assert_allclose(_compute(got), want_add, rtol=1e-13, atol=1e-13)
    np.testing.assert_array_equal(_compute(xd), x)  # x itself untouched


BROADCAST_VALUES = {
    "scalar-array": ((1, slice(None, None, -1)), np.float64(3.0)),
    "row": ((slice(None), slice(None, None, -2)), np.arange(6.0)),
    "column": ((slice(None, None, -1), slice(1, 4)), np.arange(4.0)[:, None, None]),
    "leading-ones": (slice(1, 3), np.ones((1, 1, 5, 6))),
    "lazy-0d": ((0, 0), da.asarray(np.float64(7.0))),
    "lazy-row": ((Ellipsis, slice(None, None, -1)), D(np.arange(6.0))),
}


@pytest.mark.parametrize("name", list(BROADCAST_VALUES))
def test_values_broadcast_as_in_numpy(name):
    key, v = BROADCAST_VALUES[name]
    x = np.random.default_rng(1).standard_normal(SHAPE)
    vn = v.compute() if isinstance(v, da.Array) else v
    want = x.copy()
    want[key] = vn
    with lazy_only():
        got = ydask.setitem(xp, D(x), key, v)
    np.testing.assert_array_equal(_compute(got), want)
    want = x.copy()
    want[key] = want[key] + vn
    with lazy_only():
        got = ydask.scatter_add(xp, D(x), key, v)
    np.testing.assert_allclose(_compute(got), want)


def test_values_that_do_not_broadcast_raise():
    x = D(np.zeros(SHAPE))
    with pytest.raises(ValueError, match="broadcast"):
        ydask.setitem(xp, x, (1, slice(None, None, -1)), np.ones((4, 6)))
    with pytest.raises(ValueError, match="broadcast"):
        ydask.scatter_add(xp, x, slice(-8, None, -1), np.ones((4, 5, 6)))  # empty selection


def test_out_of_range_indices_raise():
    x = D(np.zeros((4, 3)))
    for fn in (lambda k: ydask.getitem(xp, x, k), lambda k: ydask.setitem(xp, x, k, 1.0),
               lambda k: ydask.scatter_add(xp, x, k, 1.0)):
        with pytest.raises(IndexError):
            fn(4)
        with pytest.raises(IndexError):
            fn(np.array([0, 4]))
        with pytest.raises(IndexError):
            _compute(fn(D(np.array([3, 7]))))  # lazy index: raises when computed
        with pytest.raises(IndexError):
            _compute(fn((D(np.array([0, 1])), D(np.array([0, -4])))))


def test_values_cast_to_x_dtype():
    x32 = np.arange(24, dtype=np.float32).reshape(4, 6)
    got = _compute(ydask.setitem(xp, D(x32), (slice(None, None, -1), 1), np.arange(4.0)))
    assert got.dtype == np.float32
    got = _compute(ydask.scatter_add(xp, D(x32), np.array([0, 0]), np.ones((2, 6))))
    assert got.dtype == np.float32 and got[0, 0] == 2.0
    # a complex cotangent into a real array keeps the real part (as the NumPy backend)
    got = _compute(ydask.setitem(xp, D(x32), 0, np.full(6, 1 + 2j)))
    np.testing.assert_array_equal(got[0], np.ones(6, dtype=np.float32))


# ---------------------------------------------------------------- gradients ---
#
# The reference is yota's NumPy gradient of the same loss, itself checked by
# check_grad (finite differences on NumPy: check_grad evaluates the loss
# directly, and on raw Dask arrays that would run Dask's own indexing).

GRAD_KEYS = [n for n in KEYS if n not in ("empty-tuple",)]
def _read_loss(key, w):
    def loss(x):
        xp_ = array_namespace(x)
        return xp_.sum(x[key] * w) + xp_.sum(x * x) * 0.01
    return loss


def _write_loss(key, c):
    def loss(x, w):
        xp_ = array_namespace(x)
        v = xp_.asarray(x, copy=True)
        v[key] = w * w
        return xp_.sum(v * c)
    return loss


def _repeats(key):
    parts = key if isinstance(key, tuple) else (key,)
    for k in parts:
        a = np.asarray(k) if isinstance(k, (list, np.ndarray)) else None
        if a is not None and a.dtype != bool and a.size != len(set(a.ravel().tolist())):
            return True
    return False


def _compare(f, dask_args, numpy_args):
    g = yota.grad(f, *dask_args)[1][1:]
    want = yota.grad(f, *numpy_args)[1][1:]
    for got, ref in zip(g, want):
        if isinstance(ref, np.ndarray) and ref.ndim:
            assert isinstance(got, da.Array), type(got)
        got = _compute(got) if isinstance(got, da.Array) else got
        np.testing.assert_allclose(got, np.asarray(ref), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", GRAD_KEYS)
def test_gradient_of_a_read(name, request):
    key = KEYS[name]
    rng = np.random.default_rng(2)
    x = rng.standard_normal(SHAPE)
    f = _read_loss(key, rng.standard_normal(x[key].shape))
    check_grad(f, x, directions=1, full=0)
    xd = D(x, (3, 5, 1))
    for scale in (1.0, -2.0):  # traced, then cached with other values
        _compare(f, (xd * scale,), (x * scale,))


@pytest.mark.parametrize("name", GRAD_KEYS)
def test_gradient_of_a_write(name, request):
    key = KEYS[name]
    rng = np.random.default_rng(3)
    x = rng.standard_normal(SHAPE)
    w = rng.standard_normal(x[key].shape)
    f = _write_loss(key, rng.standard_normal(SHAPE))
    if not _repeats(key):  # a repeated index: the last write wins, the gradient reaches every repeat
        check_grad(f, x, w, directions=1, full=0)
    xd, wd = D(x, (3, 5, 1)), D(w) if w.ndim else w
    for scale in (1.0, 0.5):
        _compare(f, (xd * scale, wd * scale), (x * scale, w * scale))


def test_forward_value_of_a_negative_step_read():
    xn = np.arange(5.0) + 1
    f = lambda x: array_namespace(x).sum(x[-8::-1])  # noqa: E731  (NumPy: nothing selected)
    value, _ = yota.trace(f, D(xn, 3))
    np.testing.assert_allclose(np.asarray(value.compute()), f(xn))


def test_forward_value_of_an_out_of_range_lazy_index_raises():
    xn = np.arange(4.0)
    f = lambda x, i: array_namespace(x).sum(x[i])  # noqa: E731
    value, _ = yota.trace(f, D(xn), D(np.array([1, 7]), 2))
    with pytest.raises(IndexError):
        value.compute()  # Dask reads x[7] as x[3]
