"""A gradient never needs more of a library than its forward did: reference
gradient cases on array libraries outside the backend matrix (pydata ``sparse``,
``ndonnx``).

Each case is a function from the gradient test tables (elementwise, reductions,
manipulation, indexing, linear algebra). On each library it is

* a **library gap** when the plain call fails without yota (the library lacks
  the function or the key): skipped, with the library's own error as the reason;
* otherwise it must **pass**: yota's value and gradient (a random cotangent for
  non-scalar outputs) equal NumPy's, on the traced call and on the cached call
  at new values. Anything else is yota's failure.

Extra runs: ``YOTA_TEST_BACKENDS=sparse,ndonnx python -m pytest -rs
tests/test_other_libraries.py`` (skipped otherwise, and without the library);
the skip reasons list the libraries' gaps. The xarray test runs wherever xarray
is installed.
"""
from __future__ import annotations

import importlib
import warnings

import numpy as np
import pytest
from array_api_compat import array_namespace

import test_rules_elementwise as E
import test_rules_indexing as IX
import test_rules_linalg as LA
import test_rules_manipulation as MA
import yota
from conftest import requested_backends
from yota.testing import to_numpy

LIBRARIES = ("sparse", "ndonnx")

#: gradients are compared with NumPy's to this: ndonnx computes cos and atan of float64
#: arrays in float32 precision (onnxruntime)
LIBRARY_RTOL = 1e-6


# ---------------------------------------------------------------- the reference cases
# name: (fn(xp, *floats, *ints), float input shapes, integer/boolean input arrays)

def _unary(name):
    domain, fn = E.UNARY[name]
    return lambda xp, x: fn(xp, domain(xp, x)), [(2, 3)], []


def _binary(name, shapes=((2, 3), (2, 3))):
    dx, dy, fn = E.BINARY[name]
    return lambda xp, x, y: fn(xp, dx(xp, x), dy(xp, y)), list(shapes), []


def _reduce(name, **kw):
    return lambda xp, x: getattr(xp, name)(x, **kw), [(2, 3, 4)], []


def _manipulation(name):
    fn, shapes = MA.MANIPULATION[name]
    return fn, shapes, []


def _getitem(name):
    fn, shape, idx, _ = IX.GETITEM[name]
    return fn, [shape], idx


def _linalg(name):
    shapes, fn = LA.CASES[name]
    return fn, shapes, []


CASES = {
    # elementwise
    **{f"unary_{n}": _unary(n) for n in ("exp", "log", "sqrt", "tanh", "sin", "abs", "square", "expm1",
                                          "log1p", "reciprocal", "atan", "floor", "sign", "op_pow_int",
                                          "op_rdiv", "maximum_scalar")},
    **{f"binary_{n}": _binary(n) for n in ("add", "multiply", "divide", "pow", "maximum", "atan2", "hypot",
                                            "logaddexp", "where")},
    "binary_multiply_broadcast": _binary("multiply", ((2, 3), (3,))),
    "binary_divide_broadcast": _binary("divide", ((1, 3), (2, 1))),
    # reductions
    "sum": _reduce("sum"),
    "sum_axis": _reduce("sum", axis=1),
    "sum_keepdims": _reduce("sum", axis=(0, 2), keepdims=True),
    "prod": _reduce("prod"),
    "prod_axis": _reduce("prod", axis=-1),
    "mean_axis": _reduce("mean", axis=0),
    "max_axis": _reduce("max", axis=1),
    "min": _reduce("min"),
    "var": _reduce("var", axis=1, correction=1),
    "std": _reduce("std", axis=(0, 2)),
    "cumulative_sum": _reduce("cumulative_sum", axis=1),
    "cumulative_prod": _reduce("cumulative_prod", axis=2),
    # manipulation
    **{n: _manipulation(n) for n in ("reshape", "permute_dims", "expand_dims_0", "expand_dims_tuple",
                                      "squeeze", "squeeze_tuple", "flip_0", "roll_axis", "broadcast_to",
                                      "concat_axis0", "stack_1", "repeat_int_axis", "tile_2", "moveaxis",
                                      "diff", "tril", "unstack")},
    # indexing
    **{f"getitem_{n}": _getitem(n) for n in ("int", "slices", "neg_steps", "ellipsis_middle", "none",
                                              "mask_from_data", "int_array_1d_repeats", "zero_d_int_arrays",
                                              "int_and_int_array")},
    # linear algebra
    **{f"linalg_{n}": _linalg(n) for n in ("matmul_batched_broadcast", "matmul_vec_vec", "matrix_transpose",
                                            "tensordot_default", "vecdot", "outer", "det", "trace")},
    "matmul_sum": (lambda xp, a, b: xp.sum(a @ b), [(2, 3), (3, 4)], []),
}


# ---------------------------------------------------------------- running a case

def _library(name):
    if name not in requested_backends():
        pytest.skip(f"an extra run: YOTA_TEST_BACKENDS={name}")
    try:
        return importlib.import_module(name)
    except ImportError:
        pytest.skip(f"{name} is not installed")


def _flat(tree):
    if isinstance(tree, (tuple, list)):
        return [leaf for t in tree for leaf in _flat(t)]
    return [tree]


def _inputs(rng, shapes, idx):
    floats = [IX._away_from_zero(rng, s) for s in shapes]
    return floats, [np.asarray(i) for i in idx]


def _grad(fn, args, seed):
    def f(*xs):
        return fn(array_namespace(xs[0]), *xs)

    return yota.grad(f, *args, seed=seed)


def _seed(lib, out, rng):
    """A random cotangent shaped like ``out`` (None for a real scalar), NumPy's and the library's."""
    leaves = _flat(out)
    if len(leaves) == 1 and tuple(leaves[0].shape) == ():
        return None, None
    us = [rng.standard_normal(tuple(o.shape)) for o in leaves]
    return tuple(us) if len(us) > 1 else us[0], tuple(lib.asarray(u) for u in us) if len(us) > 1 else \
        lib.asarray(us[0])


def _compare(got, want, what, rtol):
    for g, w in zip(_flat(got), _flat(want)):
        if isinstance(w, (yota.ZeroTangent, yota.NoTangent)):
            assert isinstance(g, type(w)), f"{what}: {type(g).__name__}, NumPy gives {type(w).__name__}"
            continue
        np.testing.assert_allclose(to_numpy(g), to_numpy(w), rtol=rtol, atol=rtol * 1e-3, err_msg=what)


def _plain(lib, library, fn, floats, ints):
    """The library's own result, or a skip naming its gap."""
    args = [lib.asarray(a) for a in floats + ints]
    try:
        out = fn(array_namespace(args[0]), *args)
        got = [to_numpy(o) for o in _flat(out)]
    except Exception as e:  # noqa: BLE001 - the library's own gap, whatever it raises
        pytest.skip(f"{library} gap (the plain call fails without yota): {type(e).__name__}: "
                    f"{str(e).splitlines()[0][:200] if str(e) else ''}")
    want = [np.asarray(o) for o in _flat(fn(array_namespace(floats[0]), *floats, *ints))]
    for g, w in zip(got, want):
        if g.shape != w.shape or not np.allclose(g, w, rtol=LIBRARY_RTOL, atol=1e-9, equal_nan=True):
            pytest.skip(f"{library} gap (the plain call's value differs from NumPy's): {np.ravel(g)[:4]} "
                        f"for {np.ravel(w)[:4]}")
    return out


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("library", LIBRARIES)
def test_reference_gradient(request, library, case):
    lib = _library(library)
    fn, shapes, idx = CASES[case]
    rng = np.random.default_rng(0)
    floats, ints = _inputs(rng, shapes, idx)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for call in ("traced", "cached"):
            if call == "cached":
                floats = [a + 0.1 * rng.standard_normal(a.shape) for a in floats]
                traces = yota.cache_info()["traces"]
            plain = _plain(lib, library, fn, floats, ints)
            args = [lib.asarray(a) for a in floats + ints]
            u_np, u_lib = _seed(lib, plain, rng)
            val, g = _grad(fn, args, u_lib)
            if call == "cached":
                assert yota.cache_info()["traces"] == traces, f"{library} {case}: the second call retraced"
            want_val, want_g = _grad(fn, floats + ints, u_np)
            _compare(val, plain, f"{library} {case} ({call}): value against the plain call", 1e-12)
            _compare(g[1:], want_g[1:], f"{library} {case} ({call}): gradient against NumPy's", LIBRARY_RTOL)


# ---------------------------------------------------------------- labelled arrays (xarray)

def test_xarray_data_in_labelled_array_out():
    xr = pytest.importorskip("xarray")
    da = xr.DataArray(np.arange(1.0, 7.0).reshape(2, 3), dims=("a", "b"), coords={"b": [10, 20, 30]})

    def loss(x):
        xp = array_namespace(x)
        return xp.sum(x * x)

    # an array-API loss of the DataArray's data: the gradient is an array like .data
    val, g = yota.grad(loss, da.data)
    np.testing.assert_allclose(val, 91.0)
    np.testing.assert_allclose(g[1], 2 * da.data)
    # returning a 0-d DataArray: an error that says to return .data, for grad and trace alike
    for call in (lambda f: yota.grad(f, da.data), lambda f: yota.trace(f, da.data)):
        for f in (lambda x: xr.DataArray(loss(x)), lambda x: xr.DataArray(loss(x), coords={"t": 0.5}),
                  lambda x: (xr.DataArray(loss(x)), 1.0)):
            with pytest.raises(yota.YotaError, match=r"labelled array \(DataArray.*`\.data`"):
                call(f)
