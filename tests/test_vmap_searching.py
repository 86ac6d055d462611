"""vmap of the searching, sorting, set and utility functions (the gradient tests'
case tables), searchsorted and isin against batched sorted arrays and test
sets, and the error for data-dependent sizes; on every backend present."""
from __future__ import annotations

import numpy as np
import pytest

import yota
from conftest import Backend
from _helpers import namespace_of
from _vmap_check import B, arrays_for, axis_combinations, batched_op_count, batched_shape, check_vmap
from test_rules_manipulation import MANIPULATION
from test_rules_searching import SEARCH, SORT, WHERE, _distinct
from yota import ops


def _combos(backend, shapes):
    combos = axis_combinations(len(shapes), [len(s) for s in shapes])
    return combos[::len(combos) - 1] if backend.name == "dask" and len(combos) > 1 else combos


def _axes(in_axes, n):
    return list(in_axes) if isinstance(in_axes, tuple) else [in_axes] * n


@pytest.mark.parametrize("name", sorted(WHERE))
def test_where(backend, rng, name):
    fn, shapes = WHERE[name]
    for in_axes in _combos(backend, shapes):
        yota.reset()
        check_vmap(backend, fn, arrays_for(rng, shapes, _axes(in_axes, len(shapes))), in_axes=in_axes)


@pytest.mark.parametrize("name", sorted(SORT))
@pytest.mark.parametrize("fname", ["sort", "argsort"])
def test_sort(backend, rng, name, fname):
    kw = SORT[name]
    for in_axes in ([0, -1] if backend.name != "dask" else [1]):
        yota.reset()
        x = _distinct(rng, batched_shape((4, 4), in_axes))  # no ties: argsort is unique
        check_vmap(backend, lambda xp, x: getattr(xp, fname)(x, **kw), [x], in_axes=in_axes)


def test_sort_1d_and_3d(backend, rng):
    check_vmap(backend, lambda xp, x: xp.sort(x) ** 2, [_distinct(rng, (B, 5))])
    yota.reset()
    check_vmap(backend, lambda xp, x: xp.argsort(x, axis=1, descending=True), [_distinct(rng, (2, 3, B, 2))],
               in_axes=2)


def _batch_of(a, axis):
    """A batch of ``a`` shifted by 0, 1, ... (labels stay labels, sorted edges sorted)."""
    return np.moveaxis(np.stack([np.asarray(a) + i for i in range(B)]), 0, axis)


# the argument whose values decide the size of a data-dependent result
DECIDES = {"unique_inverse_counts": 1, "unique_all": 1, "unique_values_of_traced": 0, "nonzero_index": 0,
           "nonzero_index_1d": 0}


@pytest.mark.parametrize("name", sorted(SEARCH))
def test_nondifferentiable_results(backend, rng, name):
    # the index, count and set results feeding code; labels batched or not
    fn, shapes, ints, fails = SEARCH[name]
    if name in DECIDES and backend.name == "dask":
        pytest.skip(fails["dask"])
    n = 1 + len(ints)
    combos = [(0,) * n, (0,) + (None,) * len(ints), (None,) + (0,) * len(ints)] if ints else [0]
    for in_axes in combos:
        yota.reset()
        axes = _axes(in_axes, n)
        floats = [_distinct(rng, (B,) + s) if a is not None else _distinct(rng, s) for s, a in zip(shapes, axes)]
        others = [_batch_of(i, a) if a is not None else np.asarray(i) for i, a in zip(ints, axes[1:])]
        if name in DECIDES and axes[DECIDES[name]] is not None:
            # the size of the result depends on values that differ between the examples
            f = yota.vmap(lambda *xs: fn(namespace_of(xs[0]), *xs), in_axes=in_axes)
            with pytest.raises(yota.errors.BatchedControlFlowError, match="xp.where"):
                f(*[backend.asarray(a) for a in floats + others])
            continue
        check_vmap(backend, fn, floats + others, in_axes=in_axes)


@pytest.mark.parametrize("name", ["nonzero", "unique_values", "unique_counts", "unique_inverse", "unique_all"])
def test_data_dependent_size_is_an_error(backend, name):
    # caught at trace time, naming xp.where; the batching rule says the same
    if backend.name == "dask":
        pytest.skip("Dask: a data-dependent result has unknown (nan) lengths (an error of its own)")
    x = backend.asarray(np.array([[1, 0, 2], [0, 0, 3], [4, 4, 4]]))
    f = yota.vmap(lambda x: getattr(namespace_of(x), name)(x))
    with pytest.raises(yota.errors.BatchedControlFlowError, match="xp.where"):
        f(x)
    with pytest.raises(yota.errors.BatchedControlFlowError, match=f"xp.{name}"):
        ops.OPS[name].batch(None, (0,), x)


# ---------------------------------------------------------------- searchsorted


SEARCHSORTED = {
    "left": (lambda xp, s, v: xp.searchsorted(s, v), [(6,), (2, 3)]),
    "right": (lambda xp, s, v: xp.searchsorted(s, v, side="right"), [(6,), (4,)]),
    "zero_d": (lambda xp, s, v: xp.searchsorted(s, v), [(5,), ()]),
    "three_d": (lambda xp, s, v: xp.searchsorted(s, v, side="right"), [(4,), (2, 2, 2)]),
    "scalar": (lambda xp, s, v: xp.searchsorted(s, 0.25) + xp.searchsorted(s, v[0]), [(4,), (3,)]),
}


def _sorted(rng, shape):
    # sorted rows with repeated entries (ties decide left from right)
    vals = np.round(rng.standard_normal(shape) * 2.0) / 2.0
    return np.sort(vals, axis=-1)


@pytest.mark.parametrize("name", sorted(SEARCHSORTED))
def test_searchsorted(backend, rng, name):
    # the sorted array batched (a count per row), or only the values (the library's own search)
    fn, shapes = SEARCHSORTED[name]
    combos = [(0, 0), (0, None), (None, 0), (-1, 0 if len(shapes[1]) == 0 else -1)]
    for in_axes in (combos if backend.name != "dask" else combos[:2]):
        yota.reset()
        s = _sorted(rng, (B,) + shapes[0]) if in_axes[0] is not None else _sorted(rng, shapes[0])
        if in_axes[0] == -1:
            s = np.ascontiguousarray(s.T)
        v, = arrays_for(rng, [shapes[1]], [in_axes[1]], make=lambda sh: np.round(rng.standard_normal(sh) * 4) / 4)
        check_vmap(backend, fn, [s, v], in_axes=in_axes)


def test_searchsorted_sorter(backend, rng):
    # an unsorted array with its argsort, both batched or only the values
    x = rng.permutation(np.arange(B * 6, dtype=np.float64)).reshape(B, 6) / 3.0
    order = np.argsort(x, axis=1)
    v = rng.uniform(0, B * 2, (B, 4))
    fn = lambda xp, x, p, v: (xp.searchsorted(x, v, sorter=p), xp.searchsorted(x, v, side="right", sorter=p))
    # (twice=False: other values would not keep the sorter an argsort of x)
    check_vmap(backend, fn, [x, order, v], in_axes=(0, 0, 0), twice=False)
    yota.reset()
    check_vmap(backend, fn, [x[0], order[0], v], in_axes=(None, None, 0), twice=False)
    # one array with ties, and a batch of its sorters (the ties in other orders)
    x0 = np.array([2.0, 1.0, 2.0, 1.0, 3.0, 1.0])
    orders = np.array([[1, 3, 5, 0, 2, 4], [5, 3, 1, 2, 0, 4], [3, 1, 5, 0, 2, 4]])
    yota.reset()
    check_vmap(backend, fn, [x0, orders, np.array([0.5, 1.0, 1.5, 2.0, 3.5])], in_axes=(None, 0, None),
               twice=False)


def test_searchsorted_nan(backend):
    # NaNs sort last: a NaN's index counts every number (left) or everything (right)
    s = np.array([[0.0, 1.0, np.nan, np.nan], [-1.0, 2.0, 2.0, np.nan], [0.5, 0.5, 0.5, 0.5]])
    v = np.array([[np.nan, 1.0, 5.0], [np.nan, 2.0, -3.0], [0.5, np.nan, 0.0]])
    for side in ("left", "right"):
        yota.reset()
        check_vmap(backend, lambda xp, s, v: xp.searchsorted(s, v, side=side), [s, v], twice=False)


def test_searchsorted_float32(backend, rng):
    s = _sorted(rng, (B, 5)).astype(np.float32)
    v = rng.standard_normal((B, 3)).astype(np.float32)
    check_vmap(backend, lambda xp, s, v: xp.searchsorted(s, v), [s, v])


# ---------------------------------------------------------------- isin


@pytest.mark.parametrize("in_axes", [(0, 0), (0, None), (None, 0), (-1, 1)])
@pytest.mark.parametrize("invert", [False, True])
def test_isin(backend, rng, in_axes, invert):
    if backend.name == "dask" and in_axes not in ((0, 0), (None, 0)):
        pytest.skip("Dask runs a subset, for time")
    if invert and backend.name == "array_api_strict" and _strict_isin_ignores_invert():
        pytest.skip("array-api-strict's isin ignores invert= (upstream bug): the loop's answer is wrong")
    x1 = rng.integers(0, 6, batched_shape((2, 3), in_axes[0]))
    x2 = rng.integers(0, 6, batched_shape((2, 2), in_axes[1]))
    check_vmap(backend, lambda xp, a, b: xp.isin(a, b, invert=invert), [x1, x2], in_axes=in_axes)


def test_isin_0d(backend, rng):
    x1 = rng.integers(0, 4, (B,))
    x2 = rng.integers(0, 4, (B, 3))
    check_vmap(backend, lambda xp, a, b: (xp.isin(a, b) | xp.isin(b, a), xp.isin(2, b)), [x1, x2])


def _strict_isin_ignores_invert():
    import array_api_strict as xp
    return bool(xp.all(xp.isin(xp.asarray([1]), xp.asarray([1]), invert=True)))


# ---------------------------------------------------------------- utility: diff, all, any


DIFF = sorted(n for n in MANIPULATION if n.startswith("diff"))


@pytest.mark.parametrize("name", DIFF)
def test_diff(backend, rng, name):
    fn, shapes = MANIPULATION[name]
    for in_axes in _combos(backend, shapes):
        yota.reset()
        check_vmap(backend, fn, arrays_for(rng, shapes, _axes(in_axes, len(shapes))), in_axes=in_axes)


def test_diff_append_only(backend, rng):
    # append= alone batched, then x alone
    fn = lambda xp, x, a: xp.diff(x, append=a)
    for in_axes in [(None, 0), (0, None), (1, -1)]:
        yota.reset()
        check_vmap(backend, fn, arrays_for(rng, [(2, 3), (2, 2)], in_axes), in_axes=in_axes)


def test_diff_3d_float32(backend, rng):
    x, p = arrays_for(rng, [(2, 3, 2), (2, 1, 2)], [2, 0], dtype=np.float32)
    check_vmap(backend, lambda xp, x, p: xp.diff(x, axis=-2, n=2, prepend=p), [x, p], in_axes=(2, 0))


AXES = [None, 0, -1, (0, 2), ()]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["all", "any", "count_nonzero"])
def test_all_any_count(backend, rng, name, axis, keepdims):
    if backend.name == "dask" and axis not in (None, (0, 2)):
        pytest.skip("Dask runs a subset of axes, for time")
    x = rng.integers(0, 3, (2, B, 3, 4)) > 0
    check_vmap(backend, lambda xp, x: getattr(xp, name)(x, axis=axis, keepdims=keepdims), [x], in_axes=1)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(backend, rng, name, axis, keepdims):
    x = _distinct(rng, (2, 3, B))
    check_vmap(backend, lambda xp, x: getattr(xp, name)(x, axis=axis, keepdims=keepdims), [x], in_axes=-1)


def test_reductions_of_0d_examples(backend, rng):
    x = _distinct(rng, (B,))
    fn = lambda xp, x: (xp.argmax(x), xp.argmin(x, keepdims=True), xp.count_nonzero(x), xp.all(x > 0.0),
                        xp.any(x > 0.0, keepdims=True))
    check_vmap(backend, fn, [x])


ONE_OP = {
    "sort": (lambda xp, x: xp.sort(x, axis=0, descending=True), [(3, 4)], 0),
    "argsort": (lambda xp, x: xp.argsort(x), [(3, 4)], 0),
    "searchsorted_rows": (lambda xp, s, v: xp.searchsorted(s, v, side="right"), [(4,), (2, 3)], (0, 0)),
    "searchsorted_values": (lambda xp, s, v: xp.searchsorted(s, v), [(4,), (2, 3)], (None, 0)),
    "isin": (lambda xp, a, b: xp.isin(a, b, invert=True), [(2, 3), (4,)], (0, 0)),
    "diff": (lambda xp, x, p: xp.diff(x, axis=0, prepend=p), [(3, 2), (1, 2)], (None, 0)),
    "all_any": (lambda xp, x: xp.all(x > 0.0, axis=1) | xp.any(x < 0.0), [(3, 4)], 0),
    "where": (lambda xp, c, x: xp.where(c > 0.0, x, 0.0), [(3, 4), (4,)], (0, None)),
}


@pytest.mark.parametrize("name", sorted(ONE_OP))
def test_no_per_example_loop(name):
    # the batched tape does not grow with the batch (the per-example fallback would)
    fn, shapes, in_axes = ONE_OP[name]
    numpy = Backend("numpy")
    assert batched_op_count(numpy, fn, shapes, 2, in_axes) == batched_op_count(numpy, fn, shapes, 5, in_axes)
