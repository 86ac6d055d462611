"""vmap of the creation functions: those of a batched array (the gradient tests'
cases: tril, triu, meshgrid, asarray), allocation inside batched code, batched
fill values, offsets and bounds, and the error for a batched size; on every
backend present."""
from __future__ import annotations

import numpy as np
import pytest

import yota
from conftest import Backend
from _helpers import namespace_of
from _vmap_check import arrays_for, axis_combinations, batched_op_count, check_vmap
from test_rules_manipulation import MANIPULATION, _allocating, device

CASES = sorted(n for n in MANIPULATION if n.startswith(("tril", "triu", "meshgrid", "asarray")))


@pytest.mark.parametrize("name", CASES)
def test_creation_of_arrays(backend, rng, name):
    fn, shapes = MANIPULATION[name]
    combos = axis_combinations(len(shapes), [len(s) for s in shapes])
    if backend.name == "dask":
        combos = combos[:1]
    for in_axes in combos:
        yota.reset()
        axes = in_axes if isinstance(in_axes, tuple) else [in_axes] * len(shapes)
        check_vmap(backend, fn, arrays_for(rng, shapes, axes), in_axes=in_axes)


@pytest.mark.parametrize("in_axes", [0, 1, -1])
def test_allocation_inside_batched_code(backend, rng, in_axes):
    # zeros/ones/full/eye/arange/linspace/*_like/empty of example shapes, filled by setitem
    if backend.name == "dask" and in_axes != 0:
        pytest.skip("Dask runs one axis, for time")
    check_vmap(backend, _allocating, arrays_for(rng, [(3, 4)], [in_axes]), in_axes=in_axes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_allocation_dtype(backend, rng, dtype):
    check_vmap(backend, _allocating, arrays_for(rng, [(2, 3)], [0], dtype=dtype))


@pytest.mark.parametrize("name", ["zeros_like", "ones_like", "empty_like"])
def test_like_is_not_batched(backend, rng, name):
    # one example decides the result: out_axes=None takes it as it is (empty_like's
    # values are undefined: its shape and dtype are what is compared)
    def fn(xp, x):
        y = getattr(xp, name)(x, dtype=xp.float32)
        return xp.where(xp.ones(y.shape, dtype=xp.bool), xp.ones_like(y), y) if name == "empty_like" else y + 2.0

    x, = arrays_for(rng, [(2, 3)], [1])
    check_vmap(backend, fn, [x], in_axes=1, out_axes=None)
    if name != "empty_like":
        yota.reset()
        check_vmap(backend, lambda xp, x: getattr(xp, name)(x) + x, [x], in_axes=-1)


def test_full_like(backend, rng):
    x, = arrays_for(rng, [(2, 3)], [0])
    check_vmap(backend, lambda xp, x: xp.full_like(x, 1.5) * x, [x])
    yota.reset()
    check_vmap(backend, lambda xp, x: xp.full_like(x, 7, dtype=xp.int64), [x], out_axes=None)


@pytest.mark.filterwarnings("ignore:The `numpy.copyto`:FutureWarning")  # Dask's own full, in the loop
@pytest.mark.parametrize("in_axes", [(0, 0), (0, None), (None, 0), (-1, 0)])
def test_full_traced_fill(backend, rng, in_axes):
    # a traced fill value (NumPy's and Dask's extension: the standard takes a Python scalar)
    if backend.name == "array_api_strict":
        pytest.skip("array-api-strict takes only a Python scalar as fill_value")

    def fn(xp, x, s):
        return (xp.full(x.shape, s[0], dtype=x.dtype, device=device(x)) * x + xp.full_like(x, s[1]),
                xp.full((2,), xp.astype(s[0] > 0.0, xp.int64)), xp.full_like(x, s[0] > 0.0, dtype=xp.int32),
                xp.full_like(x, fill_value=xp.astype(s[1] > 0.0, xp.int64)),
                xp.full(shape=(3,), fill_value=xp.astype(s[1] > 0.0, xp.int64)))

    x, s = arrays_for(rng, [(2, 3), (2,)], in_axes)
    check_vmap(backend, fn, [x, s], in_axes=in_axes)


def test_arange_from_a_shape(backend, rng):
    # n is a Python int (a shape): the same for every example, not batched
    def fn(xp, x):
        n = int(x.shape[0])
        i = xp.astype(xp.arange(n, device=device(x)), x.dtype)[:, None]
        return x * i + xp.astype(xp.arange(1, n + 1), x.dtype)[:, None]

    x, = arrays_for(rng, [(4, 2)], [1])
    check_vmap(backend, fn, [x], in_axes=1)


def test_asarray_of_batched_scalars(backend, rng):
    # a (nested) list of traced 0-d values and Python numbers: stacked along the example's axes
    if backend.name == "array_api_strict":
        pytest.skip("array-api-strict refuses asarray of a list of arrays (use stack)")
    x, = arrays_for(rng, [(3,)], [0])
    check_vmap(backend, lambda xp, x: xp.asarray([x[0], x[1] * 2.0, x[2]]), [x])
    yota.reset()
    check_vmap(backend, lambda xp, x: xp.asarray([[x[0], 1.5], [x[2], x[1]]]), [x])
    yota.reset()
    check_vmap(backend, lambda xp, x: xp.asarray([x[0] * 3.0, x[1]], dtype=xp.int64), [x])


def test_eye_with_a_batched_offset(backend, rng):
    if backend.name == "array_api_strict":
        pytest.skip("array-api-strict takes only a Python int as k")
    k = np.array([-1, 0, 2])

    def fn(xp, x, k):
        return xp.eye(3, 4, k=k, dtype=x.dtype) * x + xp.eye(2, k=k)[0, :1]

    x, = arrays_for(rng, [()], [0])
    check_vmap(backend, fn, [x, k], in_axes=(0, 0), twice=False)


def test_linspace_with_batched_bounds(backend, rng):
    if backend.name == "array_api_strict":
        pytest.skip("array-api-strict takes only Python numbers as start and stop")

    def fn(xp, a, b):
        return (xp.linspace(a, b, 5), xp.linspace(a, 2.0, 4, endpoint=False), xp.linspace(b, b, 3),
                xp.linspace(a, b, 1), xp.linspace(a * 4.0, b * 4.0, 6, dtype=xp.int64))

    a, b = arrays_for(rng, [(), ()], [0, 0])
    check_vmap(backend, fn, [a, b], in_axes=(0, 0))
    yota.reset()
    check_vmap(backend, fn, [a, b[0]], in_axes=(0, None))
    yota.reset()
    # Dask computes float32 bounds' points in float32 and returns float64: NumPy's formula
    # in float64 differs by float32 rounding
    check_vmap(backend, fn, [a.astype(np.float32), b.astype(np.float32)], in_axes=(0, 0),
               rtol=1e-6 if backend.name == "dask" else None)


def test_from_dlpack(backend, rng):
    if backend.name == "dask":
        pytest.skip("Dask arrays do not export DLPack")
    x, = arrays_for(rng, [(2, 3)], [0])
    check_vmap(backend, lambda xp, x: xp.from_dlpack(x * 2.0), [x])


SIZES = {
    "zeros": lambda xp, n: xp.zeros((n, 2)),
    "ones": lambda xp, n: xp.ones(n),
    "empty": lambda xp, n: xp.empty((2, n)),
    "full": lambda xp, n: xp.full((n,), 1.0),
    "arange": lambda xp, n: xp.arange(n),
    "eye": lambda xp, n: xp.eye(n),
    "linspace": lambda xp, n: xp.linspace(0.0, 1.0, n),
}


@pytest.mark.parametrize("name", sorted(SIZES))
def test_batched_size_is_an_error(name):
    # a size argument that differs between the examples: no array can hold the results
    n = np.array([2, 3, 4])
    f = yota.vmap(lambda n: SIZES[name](namespace_of(n), n))
    with pytest.raises(yota.errors.BatchedControlFlowError, match=f"xp.{name}|size depends"):
        f(n)


ONE_OP = {
    **{n: (MANIPULATION[n][0], MANIPULATION[n][1], 0) for n in CASES},
    "meshgrid_one_batched": (lambda xp, x, y: xp.meshgrid(x, y), [(2,), (3,)], (None, 0)),
    "zeros_like": (lambda xp, x: xp.zeros_like(x) + xp.ones_like(x) + xp.full_like(x, 2.0), [(2, 3)], 0),
    # (0-d examples: no indexing, whose rules live elsewhere)
    "full": (lambda xp, x, y: xp.full((2,), xp.astype(x > 0.0, xp.int64)) + xp.full_like(y, x), [(), (2,)],
             (0, None)),
    "linspace": (lambda xp, x: xp.linspace(x, x * 2.0, 4), [()], 0),
    "eye": (lambda xp, x: xp.eye(3, k=xp.astype(x > 0.0, xp.int64)), [()], 0),
}


@pytest.mark.parametrize("name", sorted(ONE_OP))
def test_no_per_example_loop(name):
    # the batched tape does not grow with the batch (the per-example fallback would)
    fn, shapes, in_axes = ONE_OP[name]
    numpy = Backend("numpy")
    assert batched_op_count(numpy, fn, shapes, 2, in_axes) == batched_op_count(numpy, fn, shapes, 5, in_axes)
