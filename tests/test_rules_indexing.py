"""Gradient tests: __getitem__, functional __setitem__ (ext.setitem),
ext.scatter_add, take and take_along_axis, first and second order, on every
backend present; and the backends' scatter operations against NumPy."""
from __future__ import annotations

import numpy as np
import pytest

import yota
from yota.ext import ext
from _helpers import grad_check, namespace_of
from yota.testing import check_grad, to_numpy

STRICT_INT = ("array-api-strict: integer-array indices only when every entry of the key is an "
              "integer or an integer array (none next to slices or ...)")
STRICT_MASK = "array-api-strict: a boolean mask only as the sole index"
STRICT_SET_NONE = "array-api-strict: __setitem__ keys cannot hold None"
STRICT_SET_INT = ("array-api-strict: __setitem__ with integer arrays is refused in the plain (reference) call; "
                  "traced, it works (test_setitem_int_arrays_traced_on_strict)")
DASK_INT = "Dask: x[i, j] with several integer arrays (or None beside them) raises in Dask itself"
DASK_MASK = "Dask: a boolean mask gives unknown (nan) lengths; the engine needs concrete shapes"
TORCH_NEG_STEP = ("PyTorch: a negative slice step (x[::-1]) raises in PyTorch itself ('step must be greater "
                  "than zero'); write xp.flip(x, axis=...)")
JAX_IMMUTABLE = ("JAX: arrays are immutable, so x[key] = v raises in the plain (reference) call; traced, "
                 "yota records a functional ext.setitem (tests/test_torch_jax.py)")


array_namespace = namespace_of
_grad_check = grad_check


def _away_from_zero(rng, shape):
    # |x| >= 0.5: masks like x > 0 keep their count under check_grad's perturbations
    x = rng.standard_normal(shape)
    return np.sign(x) * (0.5 + np.abs(x))


I = np.array([2, 0, 2, -1])            # repeated and negative
J = np.array([[1], [4]])               # broadcasts with I to (2, 4)
M2 = np.array([[True, False, True, True, False],
               [False, False, True, False, True],
               [True, True, False, False, False],
               [False, True, True, False, True]])
M1 = np.array([True, False, True, True])

# name: (fn(xp, x, *int_or_bool_arrays), x shape, index arrays, xfail {backend: reason})
GETITEM = {
    "int": (lambda xp, x: x[1, :], (4, 5), [], {}),
    "int_neg_ellipsis": (lambda xp, x: x[-1, ...], (4, 5), [], {}),
    "scalar": (lambda xp, x: x[2, 3], (4, 5), [], {}),
    "slices": (lambda xp, x: x[1:3, ::2], (4, 5), [], {}),
    "neg_steps": (lambda xp, x: x[::-2, 3:0:-1], (4, 5), [], {"torch": TORCH_NEG_STEP}),
    "neg_step_ellipsis": (lambda xp, x: x[..., ::-1], (4, 5), [], {"torch": TORCH_NEG_STEP}),
    "ellipsis_int": (lambda xp, x: x[..., 1], (3, 4, 5), [], {}),
    "ellipsis_middle": (lambda xp, x: x[1, ..., 2:], (3, 4, 5), [], {}),
    "none": (lambda xp, x: x[None, 1, :, None], (4, 5), [], {}),
    "none_slice": (lambda xp, x: x[:, None, ::2], (4, 5), [], {}),
    "all_ellipsis": (lambda xp, x: x[...], (4, 5), [], {}),
    "mask_full": (lambda xp, x, m: x[m], (4, 5), [M2], {"dask": DASK_MASK}),
    "mask_leading": (lambda xp, x, m: x[m], (4, 5), [M1], {"dask": DASK_MASK}),
    "mask_from_data": (lambda xp, x: x[x > 0.0], (4, 5), [], {"dask": DASK_MASK}),
    "mask_and_slice": (lambda xp, x, m: x[m, 1:], (4, 5), [M1],
                       {"array_api_strict": STRICT_MASK, "dask": DASK_MASK}),
    "mask_second_axis": (lambda xp, x, m: x[:, m[:3]], (4, 3), [M1],
                         {"array_api_strict": STRICT_MASK, "dask": DASK_MASK}),
    "mask_and_int_3d": (lambda xp, x, m: x[m[:3], :, 2], (3, 4, 5), [M1],
                        {"array_api_strict": STRICT_MASK, "dask": DASK_MASK}),
    "int_array_1d_repeats": (lambda xp, x, i: x[i], (5,), [I], {}),
    "int_arrays_broadcast": (lambda xp, x, i, j: x[i, j], (4, 5), [I, J], {"dask": DASK_INT}),
    "int_and_int_array": (lambda xp, x, i: x[0, i], (4, 5), [I], {}),
    "int_arrays_3d": (lambda xp, x, i, j: x[i, j[:, :1], i], (4, 5, 3), [I[:2], J], {"dask": DASK_INT}),
    "none_and_int_arrays": (lambda xp, x, i, j: x[None, i, j], (4, 5), [I, J], {"dask": DASK_INT}),
    "zero_d_int_arrays": (lambda xp, x: x[xp.asarray(1), xp.asarray(-2)], (4, 5), [], {}),
    "int_array_and_slice": (lambda xp, x, i: x[i, 1:], (4, 5), [I], {"array_api_strict": STRICT_INT}),
    "slice_and_int_array": (lambda xp, x, i: x[:, i], (4, 5), [I], {"array_api_strict": STRICT_INT}),
    "int_arrays_apart": (lambda xp, x, i, j: x[i, :, j], (4, 3, 5), [I, J],
                         {"array_api_strict": STRICT_INT, "dask": DASK_INT}),
    "int_arrays_after_slice": (lambda xp, x, i, j: x[1:, i[:2], j], (3, 4, 5), [I, J],
                               {"array_api_strict": STRICT_INT, "dask": DASK_INT}),
    "int_array_ellipsis": (lambda xp, x, i: x[..., i], (2, 5), [I], {"array_api_strict": STRICT_INT}),
    "nonzero": (lambda xp, x: x[xp.nonzero(x > 0.0)], (4, 5), [], {"dask": DASK_MASK}),
    "chained": (lambda xp, x, i: x[1:, :][::-1, 2:][i[:2] % 2, 0] * x[0, 0], (4, 5), [I],
                {"torch": TORCH_NEG_STEP}),
}


def _xfail(backend, table_entry):
    reason = table_entry.get(backend.name)
    if reason:
        pytest.xfail(reason)


@pytest.mark.parametrize("name", sorted(GETITEM))
def test_getitem(backend, rng, name):
    fn, shape, idx, fails = GETITEM[name]
    _xfail(backend, fails)
    _grad_check(backend, fn, [_away_from_zero(rng, shape)], idx)


def test_getitem_value(backend, rng):
    _xfail(backend, {"torch": TORCH_NEG_STEP})
    xn = rng.standard_normal((4, 5))
    x = backend.asarray(xn)

    def f(x):
        return x[::-1, 1:4:2] * 2.0

    val, _ = yota.grad(f, x, seed="ones")
    np.testing.assert_allclose(to_numpy(val), xn[::-1, 1:4:2] * 2.0)


# ---------------------------------------------------------------- __setitem__


def _set_scalar(xp, x):
    y = xp.asarray(x, copy=True)
    y[1, :] = 0.0
    return y * x


def _set_slice(xp, x, v):
    y = x * 1.0
    y[0, 1:3] = v[0, :2] * 3.0
    return y


def _set_broadcast(xp, x, v):
    y = x + 0.0
    y[:, 1] = v[0, :1]          # (1,) broadcast down the column
    y[2, ...] = v[1, 0]         # 0-d
    return y * y


def _set_mask_scalar(xp, x, m):
    y = x * 1.0
    y[m] = 2.0
    return y * x


def _set_mask_values(xp, x):
    y = x * 2.0
    y[x > 0.0] = x[x > 0.0] ** 2
    return y


def _set_int_arrays(xp, x, v, i, j):
    y = x * 1.0
    y[i, j] = v                 # distinct positions, values broadcast over (2, 3)
    return y


def _set_int_array_rows(xp, x, v, i):
    y = x * 1.0
    y[i, :] = v[:1, :]
    return y


def _set_none(xp, x, v):
    y = x * 1.0
    y[None, 0, :] = v[0, :]
    return y


def _set_into_buffer(xp, x, v):
    buf = xp.zeros((3, 5), dtype=x.dtype, device=getattr(x, "device", None))
    buf[1:, :] = x[:2, :]
    buf[0, ::2] = v[0, :3]
    return buf * buf


def _set_repeatedly(xp, x, v):
    y = xp.asarray(x, copy=True)
    for k in range(3):
        y[k, :] = y[k + 1, :] * v[0, k]
    return y


SETITEM = {
    "scalar": (_set_scalar, [(4, 5)], [], {}),
    "slice": (_set_slice, [(4, 5), (2, 5)], [], {}),
    "broadcast": (_set_broadcast, [(4, 5), (2, 5)], [], {}),
    "mask_scalar": (_set_mask_scalar, [(4, 5)], [M2], {}),
    "mask_values": (_set_mask_values, [(4, 5)], [], {"dask": DASK_MASK}),
    "int_arrays": (_set_int_arrays, [(4, 5), (1, 3)], [np.array([[0], [3]]), np.array([4, 1, 2])],
                   {"dask": DASK_INT, "array_api_strict": STRICT_SET_INT}),
    "int_array_rows": (_set_int_array_rows, [(4, 5), (2, 5)], [np.array([3, 1])],
                       {"array_api_strict": STRICT_INT}),
    "none": (_set_none, [(4, 5), (2, 5)], [], {"array_api_strict": STRICT_SET_NONE,
                                               "dask": "Dask's own __setitem__ refuses None in the key "
                                                       "(the plain reference call)"}),
    "into_buffer": (_set_into_buffer, [(4, 5), (2, 5)], [], {}),
    "repeatedly": (_set_repeatedly, [(4, 5), (2, 5)], [], {}),
}


@pytest.mark.parametrize("name", sorted(SETITEM))
def test_setitem(backend, rng, name):
    fn, shapes, idx, fails = SETITEM[name]
    _xfail(backend, {"jax": JAX_IMMUTABLE, **fails})
    _grad_check(backend, fn, [_away_from_zero(rng, s) for s in shapes], idx)


def test_setitem_int_arrays_traced_on_strict(rng):
    # Traced code records ext.setitem, which the pure array-API fallback carries out
    # with integer-array keys too: compare with NumPy.
    xs = pytest.importorskip("array_api_strict")
    xn, vn = rng.standard_normal((4, 5)), rng.standard_normal((1, 3))
    i, j = np.array([[0], [3]]), np.array([4, 1, 2])
    u = rng.standard_normal((4, 5))

    def f(x, v, i, j):
        y = x * 1.0
        y[i, j] = v * v
        y[i[:, 0], 0] = x[j[1:] % 4, j[1:]]
        return y * x

    want_val, want_g = yota.grad(f, xn, vn, i, j, seed=u)
    for _ in range(2):
        val, g = yota.grad(f, xs.asarray(xn), xs.asarray(vn), xs.asarray(i), xs.asarray(j), seed=xs.asarray(u))
        np.testing.assert_allclose(np.asarray(val), want_val)
        np.testing.assert_allclose(np.asarray(g[1]), want_g[1])
        np.testing.assert_allclose(np.asarray(g[2]), want_g[2])


def test_setitem_leaves_caller_arrays_alone(backend, rng):
    xn = rng.standard_normal((3, 4))
    vn = rng.standard_normal((4,))
    x, v = backend.asarray(xn), backend.asarray(vn)

    def f(x, v):
        xp = array_namespace(x)
        x[0, :] = v * 2.0           # writes into the argument itself
        x[1:, 1] = x[0, 1]
        return xp.sum(x * x)

    for _ in range(2):              # traced, then the cached compiled function
        val, g = yota.grad(f, x, v)
        np.testing.assert_array_equal(to_numpy(x), xn)
        np.testing.assert_array_equal(to_numpy(v), vn)
    y = xn.copy()
    y[0, :] = vn * 2.0
    y[1:, 1] = y[0, 1]
    np.testing.assert_allclose(to_numpy(val), np.sum(y * y))
    gx = 2 * y
    gx[0, :] = 0.0
    gx[1:, 1] = 0.0
    gv = 2 * (2 * y[0, :])
    gv[1] += 2 * 2 * np.sum(y[1:, 1])
    np.testing.assert_allclose(to_numpy(g[1]), gx)
    np.testing.assert_allclose(to_numpy(g[2]), gv)


# ---------------------------------------------------------------- take, take_along_axis

TAKE = {
    "take_axis0": (lambda xp, x, i: xp.take(x, i, axis=0), (4, 3), [I], {}),
    "take_axis1": (lambda xp, x, i: xp.take(x, i, axis=1), (2, 3), [I], {}),
    "take_axis_neg": (lambda xp, x, i: xp.take(x, i, axis=-1), (2, 2, 3), [I], {}),
    "take_1d": (lambda xp, x, i: xp.take(x, i), (3,), [I], {}),
    "take_along_1": (lambda xp, x, i: xp.take_along_axis(x, i, axis=1), (3, 4),
                     [np.array([[0, 3, 3], [1, 1, 0], [-1, 2, 0]])], {}),
    "take_along_0": (lambda xp, x, i: xp.take_along_axis(x, i, axis=0), (3, 4),
                     [np.array([[2, 0, 0, 1], [2, 2, 1, 0]])], {}),
    "take_along_default": (lambda xp, x, i: xp.take_along_axis(x, i), (2, 3), [np.array([[2, 0], [1, 1]])], {}),
    "take_along_broadcast": (lambda xp, x, i: xp.take_along_axis(x, i, axis=1), (3, 4),
                             [np.array([[0, 3, 3, 1, 0]])], {}),
    "take_along_3d": (lambda xp, x, i: xp.take_along_axis(x, i, axis=-2), (2, 3, 2),
                      [np.array([[[2, 0], [0, 0]], [[1, 1], [2, 0]]])], {}),
}


@pytest.mark.parametrize("name", sorted(TAKE))
def test_take(backend, rng, name):
    fn, shape, idx, fails = TAKE[name]
    _xfail(backend, fails)
    _grad_check(backend, fn, [rng.standard_normal(shape)], idx)


# ---------------------------------------------------------------- ext.* and second order


def test_ext_scatter_add_and_setitem_first_order(backend, rng):
    def fn(xp, x, v, i, j):
        a = ext.scatter_add(xp, x, (i, j), v)          # repeats accumulate
        b = ext.setitem(xp, x, (1, slice(None)), v[0, 0])
        return a * b

    _grad_check(backend, fn, [rng.standard_normal((4, 5)), rng.standard_normal((2, 4))],
                [I, J])


def _second_order(backend, rng, inner, shapes, ints=()):
    def outer(xp, *args):
        g = yota.grad(inner, *args)[1]
        return tuple(gi for gi in g if not isinstance(gi, (yota.ZeroTangent, yota.NoTangent)))

    _grad_check(backend, outer, [rng.standard_normal(s) for s in shapes], ints)


def test_second_order_getitem_int_arrays(backend, rng):
    if backend.name == "dask":
        pytest.xfail(DASK_INT)

    def inner(x, i, j):
        xp = array_namespace(x)
        return xp.sum(xp.sin(x[i, j]) * x[i, j])

    _second_order(backend, rng, inner, [(4, 5)], [I, J])


def test_second_order_setitem(backend, rng):
    def inner(x, v):
        xp = array_namespace(x)
        y = x * 1.0
        y[0, 1:3] = v[0, :2] ** 2
        y[..., 4] = x[1, 0] * v[1, 1]
        return xp.sum(y ** 3)

    _second_order(backend, rng, inner, [(4, 5), (2, 5)])


def test_second_order_ext_scatter_add(backend, rng):
    def inner(x, v, i):
        xp = array_namespace(x)
        return xp.sum(ext.scatter_add(xp, x, (i,), v * v) ** 3)

    _second_order(backend, rng, inner, [(5,), (4,)], [I])


def test_second_order_take(backend, rng):
    def inner(x, i):
        xp = array_namespace(x)
        return xp.sum(xp.take(x, i, axis=1) ** 3) + xp.sum(xp.take_along_axis(x, i[None, :3] % 3, axis=1) ** 2)

    _second_order(backend, rng, inner, [(2, 3)], [I])


# ---------------------------------------------------------------- the backends' scatter operations


_KEYS = [
    (1, slice(None)), (slice(None, None, -1), slice(1, 4, 2)), (Ellipsis, None, 0),
    (I, J), (0, I), (None, I, J), (M2,), (M1,), (np.array(1), np.array(2)),
    (I, slice(1, None)), (M1, 2), (slice(None), I),
]


@pytest.mark.parametrize("k", range(len(_KEYS)))
@pytest.mark.parametrize("module", ["numpy", "_generic"])
def test_backend_scatter_matches_numpy(module, k):
    import importlib
    mod = importlib.import_module(f"yota.backends.{module}")
    import array_api_compat.numpy as cnp
    rng = np.random.default_rng(k)
    key = _KEYS[k]
    x = rng.standard_normal((4, 5))
    v = rng.standard_normal(x[key].shape)
    want_add, want_set = x.copy(), x.copy()
    np.add.at(want_add, key, v)
    want_set[key] = v
    x0 = x.copy()
    np.testing.assert_allclose(mod.scatter_add(cnp, x, key, v), want_add)
    np.testing.assert_allclose(mod.setitem(cnp, x, key, v), want_set)
    np.testing.assert_array_equal(x, x0)
    if module == "_generic":  # the functional path (immutable libraries, strict's integer keys)
        np.testing.assert_allclose(mod._scatter(cnp, x, key, v, True), want_add)
        np.testing.assert_allclose(mod._scatter(cnp, x, key, v, False), want_set)


def test_generic_scatter_on_strict():
    xs = pytest.importorskip("array_api_strict")
    from yota.backends import _generic as G
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 5))
    for key in [(I, J), (0, I), (None, I, J), (np.array(1), np.array(2)), (M2,), (M1,), (1, slice(None, None, -2))]:
        v = rng.standard_normal(x[key].shape)
        want_add, want_set = x.copy(), x.copy()
        np.add.at(want_add, key, v)
        want_set[key] = v
        sk = tuple(xs.asarray(e) if isinstance(e, np.ndarray) else e for e in key)
        xa = xs.asarray(x)
        np.testing.assert_allclose(np.asarray(G.scatter_add(xs, xa, sk, xs.asarray(v))), want_add)
        np.testing.assert_allclose(np.asarray(G.setitem(xs, xa, sk, xs.asarray(v))), want_set)
        np.testing.assert_array_equal(np.asarray(xa), x)
    # dtype: float64 values into a float32 array keep float32
    x32 = xs.asarray(x, dtype=xs.float32)
    assert G.scatter_add(xs, x32, (xs.asarray(I), xs.asarray(J)), xs.ones((2, 4))).dtype == xs.float32
    assert G.setitem(xs, x32, (0, slice(None)), xs.ones((5,))).dtype == xs.float32


def test_float32_stays_float32(backend, rng):
    _xfail(backend, {"jax": JAX_IMMUTABLE})

    def fn(xp, x, i):
        y = x[0, i[:2]]
        z = xp.take_along_axis(xp.sort(x, axis=1), i[None, :] % 3 + xp.zeros_like(x, dtype=i.dtype), axis=1)
        w = x * 1.0
        w[0, 1:] = y * 2.0
        return xp.sum(y) + xp.sum(z * z) + xp.sum(w * w)

    x = backend.asarray(_away_from_zero(rng, (3, 3)), dtype=np.float32)
    i = backend.asarray(np.array([2, 0, 2]))

    def f(x, i):
        return fn(array_namespace(x), x, i)

    _, g = yota.grad(f, x, i)
    assert "float32" in str(g[1].dtype)
    check_grad(f, x, i, full=0 if backend.name == "dask" else None)


def test_python_float_value(backend, rng):
    _xfail(backend, {"jax": JAX_IMMUTABLE})

    def fn(xp, x, a):
        y = x * 1.0
        y[1, :] = a * 2.0
        y[:, 0] = a
        return y * x

    x = backend.asarray(rng.standard_normal((3, 4)))

    def f(x, a):
        return fn(namespace_of(x), x, a)

    check_grad(f, x, 0.7, full=0 if backend.name == "dask" else None)
    for a in (0.7, -1.3):  # traced, then cached: the same kind of gradient
        _, g = yota.grad(f, x, a, seed="ones")
        if backend.name == "dask":  # a lazy 0-d array: computing it would defeat the laziness
            assert type(g[2]).__module__.startswith("dask") and g[2].shape == ()
        else:
            assert isinstance(g[2], float)
