"""vmap of the elementwise and statistical functions (the gradient tests' case
tables), out_axes, nesting, and gradients through vmap (grad of a vmapped
function, per-example gradients by vmap of grad); on every backend present."""
from __future__ import annotations

import numpy as np
import pytest

import test_rules_core as core
import yota
from _helpers import namespace_of
from _vmap_check import B, arrays_for, axis_combinations, check_vmap
from test_rules_elementwise import BINARY, BROADCAST, CLIP, UNARY
from test_rules_reductions import AXES, KEEP
from yota.testing import to_numpy


def _axes(in_axes, n):
    return list(in_axes) if isinstance(in_axes, tuple) else [in_axes] * n


# Dask (slow per call: every example of the loop is computed) runs a few cases
# of each table; the rules do not depend on the library
DASK_CASES = {"exp", "acosh", "op_mod", "sign", "atan2_rscalar", "divide", "pow", "where", "maximum", "scalars",
              "arrays_kw", "min_none_array_max", "tanh_sum", "manipulate"}


def _few_on_dask(backend, name):
    if backend.name == "dask" and name not in DASK_CASES:
        pytest.skip("Dask runs a few cases of the table, for time (NumPy and array-api-strict run all)")


# ---------------------------------------------------------------- elementwise


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary(backend, rng, name):
    _few_on_dask(backend, name)
    domain, fn = UNARY[name]
    # in_axes 1 and -1 on a subset (the rule does not look at the function)
    axes = [0, 1, -1] if backend.name != "dask" and name in ("exp", "acosh", "op_mod", "atan2_rscalar") else [0]
    for in_axes in axes:
        yota.reset()
        check_vmap(backend, lambda xp, x: fn(xp, domain(xp, x)), arrays_for(rng, [(2, 3)], [in_axes]),
                   in_axes=in_axes)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3, 2)])
def test_unary_shapes(backend, rng, shape):
    domain, fn = UNARY["sign"]
    check_vmap(backend, lambda xp, x: fn(xp, domain(xp, x)) + xp.exp(x), arrays_for(rng, [shape], [-1]),
               in_axes=-1)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(backend, rng, name):
    _few_on_dask(backend, name)
    dx, dy, fn = BINARY[name]
    combos = axis_combinations(2, [2, 2])
    for in_axes in (combos if backend.name != "dask" else combos[::3]):
        yota.reset()
        check_vmap(backend, lambda xp, x, y: fn(xp, dx(xp, x), dy(xp, y)),
                   arrays_for(rng, [(2, 3), (2, 3)], _axes(in_axes, 2)), in_axes=in_axes)


@pytest.mark.parametrize("shapes", BROADCAST + [((2, 3), ()), ((3,), (2, 2, 3))])
@pytest.mark.parametrize("name", ["multiply", "pow", "atan2", "maximum", "where"])
def test_binary_broadcast(backend, rng, name, shapes):
    # examples of different ranks: each batched operand is aligned to the result's rank
    if backend.name == "dask" and name not in ("multiply", "where"):
        pytest.skip("Dask runs a subset, for time")
    dx, dy, fn = BINARY[name]
    for in_axes in [(0, 0), (0, None), (None, 0)]:
        yota.reset()
        check_vmap(backend, lambda xp, x, y: fn(xp, dx(xp, x), dy(xp, y)),
                   arrays_for(rng, list(shapes), _axes(in_axes, 2)), in_axes=in_axes)


@pytest.mark.parametrize("name", sorted(CLIP))
def test_clip(backend, rng, name):
    _few_on_dask(backend, name)
    fn = CLIP[name]
    combos = [(0, 0, 0), (0, None, None), (None, 0, None), (None, None, 0), (1, -1, 0)]
    for in_axes in (combos if backend.name != "dask" else combos[:2]):
        yota.reset()
        x, lo, hi = arrays_for(rng, [(2, 3), (3,), (2, 1)], _axes(in_axes, 3))
        check_vmap(backend, fn, [x, 0.1 * lo - 0.5, 0.1 * hi + 0.5], in_axes=in_axes)  # min <= max


@pytest.mark.parametrize("name", sorted(core.UNARY))
def test_core_unary(backend, rng, name):
    _few_on_dask(backend, name)
    check_vmap(backend, core.UNARY[name], arrays_for(rng, [(3, 3)], [1]), in_axes=1)


@pytest.mark.parametrize("name", sorted(core.BINARY))
def test_core_binary(backend, rng, name):
    _few_on_dask(backend, name)
    for in_axes in [(0, 0), (None, 0)]:
        yota.reset()
        check_vmap(backend, core.BINARY[name], arrays_for(rng, [(3, 3), (3, 3)], _axes(in_axes, 2)),
                   in_axes=in_axes)


def _logic(xp, x, y):
    m = (xp.logical_and(x < y, xp.logical_not(xp.isnan(x))) | xp.isinf(y)) & xp.isfinite(x)
    m = xp.logical_or(m, xp.logical_xor(xp.signbit(x), x >= y)) | (x == y) | (x != y) & (x <= y)
    k = xp.astype(m, xp.int64)
    k = (k & 1) | (k ^ 2) | ~(k << 1) >> 1
    return m, k, xp.where(m, x, y) * xp.astype(k, x.dtype)


def test_comparisons_logic_bits(backend, rng):
    for in_axes in [(0, 0), (None, -1)]:
        yota.reset()
        check_vmap(backend, _logic, arrays_for(rng, [(2, 3), (2, 3)], _axes(in_axes, 2)), in_axes=in_axes)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_astype_and_dtypes(backend, rng, dtype):
    if backend.name == "dask" and dtype == np.float64:
        pytest.skip("Dask runs float32, for time")
    def fn(xp, x, y):
        return (xp.astype(x, xp.float64), xp.astype(x * 10.0, xp.int32), x * y, xp.astype(x > y, x.dtype),
                x * 2 + 1.5)

    check_vmap(backend, fn, arrays_for(rng, [(2, 3), (3,)], [0, None], dtype=dtype), in_axes=(0, None))


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize("keepdims", KEEP)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "min"])
def test_reduction_axes(backend, rng, name, axis, keepdims):
    if backend.name == "dask" and axis not in (None, (0, 2)):
        pytest.skip("Dask runs a subset of axes, for time")
    in_axes = {None: 1, 0: 0, -1: -1}.get(axis if not isinstance(axis, tuple) else None, 2)
    x, = arrays_for(rng, [(2, 3, 4)], [in_axes])
    check_vmap(backend, lambda xp, x: getattr(xp, name)(x, axis=axis, keepdims=keepdims), [x], in_axes=in_axes)


@pytest.mark.parametrize("keepdims", KEEP)
@pytest.mark.parametrize("axis", [None, 1, (0, 2)])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(backend, rng, name, axis, keepdims):
    if backend.name == "dask" and (axis, keepdims) != ((0, 2), False):
        pytest.skip("Dask runs one case, for time")
    for correction in ([0, 1, 0.5] if backend.name != "dask" else [1]):
        yota.reset()
        check_vmap(backend, lambda xp, x: getattr(xp, name)(x, axis=axis, correction=correction,
                                                           keepdims=keepdims),
                   arrays_for(rng, [(2, 3, 4)], [-1]), in_axes=-1)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "var", "std", "min"])
def test_reduction_0d(backend, rng, name):
    check_vmap(backend, lambda xp, x: getattr(xp, name)(x) * x, arrays_for(rng, [()], [0]))


@pytest.mark.parametrize("name", ["sum", "prod", "cumulative_sum", "cumulative_prod"])
def test_dtype_keyword(backend, rng, name):
    x, = arrays_for(rng, [(2, 3)], [1], dtype=np.float32)
    check_vmap(backend, lambda xp, x: getattr(xp, name)(x, axis=1, dtype=xp.float64), [x], in_axes=1)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "std", "max", "cumulative_sum", "cumulative_prod"])
def test_float32(backend, rng, name):
    x, = arrays_for(rng, [(2, 3)], [0], dtype=np.float32)
    check_vmap(backend, lambda xp, x: getattr(xp, name)(1 + 0.3 * x, axis=-1), [x])


@pytest.mark.parametrize("include_initial", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
def test_cumulative(backend, rng, name, axis, include_initial):
    if backend.name == "dask" and axis != 0:
        pytest.skip("Dask runs one axis, for time")
    in_axes = {0: 1, 1: 0, -1: -1}[axis]
    x, = arrays_for(rng, [(3, 5)], [in_axes])
    check_vmap(backend, lambda xp, x: getattr(xp, name)(x, axis=axis, include_initial=include_initial), [x],
               in_axes=in_axes)


@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
def test_cumulative_1d_no_axis(backend, rng, name):
    x, = arrays_for(rng, [(4,)], [-1])
    check_vmap(backend, lambda xp, x: getattr(xp, name)(x) + getattr(xp, name)(x, include_initial=True)[1:],
               [x], in_axes=-1)


def test_normalisation(backend, rng):
    # several reductions and broadcasts on one tape (the gradient tests' composite)
    def fn(xp, x):
        z = (x - xp.mean(x, axis=0)) / xp.std(x, axis=0, correction=1)
        return xp.sum(xp.cumulative_sum(z * xp.max(x, axis=1, keepdims=True), axis=1)) + xp.prod(xp.var(x, axis=1))

    for in_axes in [0, 2]:
        yota.reset()
        check_vmap(backend, fn, arrays_for(rng, [(3, 4)], [in_axes]), in_axes=in_axes)


# ---------------------------------------------------------------- out_axes and nesting


@pytest.mark.parametrize("out_axes", [0, 1, -1])
def test_out_axes(backend, rng, out_axes):
    fn = lambda xp, x, y: (xp.sum(x * y, axis=0), xp.exp(x) + y)  # noqa: E731
    check_vmap(backend, fn, arrays_for(rng, [(2, 3), (3,)], [0, None]), in_axes=(0, None), out_axes=out_axes)


def test_out_axes_none_and_per_result(backend, rng):
    # an unbatched result may come back as it is; out axes given per result
    fn = lambda xp, x, y: (xp.mean(y), x * y, xp.sum(x, axis=-1))  # noqa: E731
    x, y = arrays_for(rng, [(2, 3), (3,)], [1, None])
    check_vmap(backend, fn, [x, y], in_axes=(1, None), out_axes=(None, -1, 0))
    yota.reset()
    check_vmap(backend, fn, [x, y], in_axes=(1, None), out_axes=0)  # the unbatched result is broadcast


def test_out_axes_none_for_batched_result_is_an_error(backend, rng):
    x, = arrays_for(rng, [(2, 3)], [0])
    f = yota.vmap(lambda x: namespace_of(x).exp(x), out_axes=None)
    with pytest.raises(yota.errors.ArgumentError, match="out_axes=None"):
        f(backend.asarray(x))


def test_results_no_input_reaches_are_broadcast(backend, rng):
    # a result computed from captured arrays or literals only (a constant of the tape) is the same
    # for every example: broadcast along the batch (or returned as it is with out_axes=None)
    x = backend.asarray(rng.standard_normal((B, 3)))
    c = backend.asarray(rng.standard_normal(3))
    for _ in range(2):  # traced, then cached
        got = yota.vmap(lambda x: (c * 2.0, 1.5, namespace_of(x).sum(x)))(x)
        np.testing.assert_allclose(to_numpy(got[0]), np.broadcast_to(to_numpy(c) * 2.0, (B, 3)), rtol=1e-15)
        np.testing.assert_array_equal(to_numpy(got[1]), np.full(B, 1.5))
        kept = yota.vmap(lambda x: (c * 2.0, x), out_axes=(None, 0))(x)
        np.testing.assert_allclose(to_numpy(kept[0]), to_numpy(c) * 2.0, rtol=1e-15)


@pytest.mark.parametrize("in_axis", [0, 1])
def test_an_empty_batch(backend, rng, in_axis):
    # no examples: the results have a batch axis of length 0, as in JAX (the function is traced on
    # zeros of an example's shape)
    x = backend.asarray(np.ones((0, 3)) if in_axis == 0 else np.ones((3, 0)))
    got = yota.vmap(lambda x: (namespace_of(x).sum(x * x), namespace_of(x).sin(x)), in_axes=in_axis)(x)
    assert tuple(got[0].shape) == (0,) and tuple(got[1].shape) == (0, 3)
    g = yota.vmap(lambda x: yota.grad(lambda x: namespace_of(x).sum(x * x), x)[1][1], in_axes=in_axis)(x)
    assert tuple(g.shape) == (0, 3)


def test_keyword_arguments_are_batched(backend, rng):
    x, w = rng.standard_normal((B, 3)), rng.standard_normal((B, 3))

    def f(x, *, w):
        xp = namespace_of(x)
        return xp.sum(xp.tanh(x * w), axis=-1)

    got = yota.vmap(f)(backend.asarray(x), w=backend.asarray(w))
    np.testing.assert_allclose(to_numpy(got), np.sum(np.tanh(x * w), axis=-1), rtol=1e-12)


def test_nested(backend, rng):
    # vmap(vmap(f)) over two batch axes, with the inner one on another axis
    x = rng.standard_normal((2, 3, B, 4))
    y = rng.standard_normal((4,))

    def f(x, y):
        xp = namespace_of(x)
        return xp.var(x, axis=0, correction=1) * y + xp.max(x)

    g = yota.vmap(yota.vmap(f, in_axes=(1, None)), in_axes=(0, None))

    def loop(x):
        return np.stack([np.stack([np.var(x[i, :, j], axis=0, ddof=1) * y + np.max(x[i, :, j]) for j in range(B)])
                         for i in range(2)])

    got = g(backend.asarray(x), backend.asarray(y))
    np.testing.assert_allclose(to_numpy(got), loop(x), rtol=1e-12)
    traces = yota.cache_info()["traces"]
    got = g(backend.asarray(x * 0.5 - 1.0), backend.asarray(y))
    assert yota.cache_info()["traces"] == traces
    np.testing.assert_allclose(to_numpy(got), loop(x * 0.5 - 1.0), rtol=1e-12)


# ---------------------------------------------------------------- gradients and vmap


GRAD_CASES = {
    "tanh_sum": lambda xp, x, w: xp.sum(xp.tanh(x * w)),
    "normalise": lambda xp, x, w: xp.sum((x - xp.mean(x)) / xp.std(x, correction=1) * w),
    "clip_max": lambda xp, x, w: xp.max(xp.clip(x, -0.5, 0.5) + w) + xp.sum(xp.cumulative_prod(x * 0.1 + 1.0)),
    "manipulate": lambda xp, x, w: xp.sum(xp.roll(xp.concat([x, w * x]), 1) ** 2) + xp.sum(xp.sort(x) * w),
}


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_per_example_gradients(backend, rng, name):
    _few_on_dask(backend, name)
    # vmap(grad(f)) equals the loop of grad(f) over the examples
    fn = GRAD_CASES[name]
    X, w = rng.standard_normal((B, 4)), rng.standard_normal((4,))

    def loss(x, w):
        return fn(namespace_of(x), x, w)

    per = yota.vmap(lambda x, w: yota.grad(loss, x, w)[1][1], in_axes=(0, None))
    got = per(backend.asarray(X), backend.asarray(w))
    want = np.stack([to_numpy(yota.grad(loss, backend.asarray(X[i]), backend.asarray(w))[1][1]) for i in range(B)])
    np.testing.assert_allclose(to_numpy(got), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_grad_of_vmapped(backend, rng, name):
    _few_on_dask(backend, name)
    # grad(sum of vmap(f)) equals the stacked per-example gradients (and w's summed)
    fn = GRAD_CASES[name]
    X, w = rng.standard_normal((B, 4)), rng.standard_normal((4,))

    def loss(x, w):
        return fn(namespace_of(x), x, w)

    def total(X, w):
        return namespace_of(X).sum(yota.vmap(loss, in_axes=(0, None))(X, w))

    _, g = yota.grad(total, backend.asarray(X), backend.asarray(w))
    per = [yota.grad(loss, backend.asarray(X[i]), backend.asarray(w))[1] for i in range(B)]
    np.testing.assert_allclose(to_numpy(g[1]), np.stack([to_numpy(p[1]) for p in per]), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_numpy(g[2]), sum(to_numpy(p[2]) for p in per), rtol=1e-10, atol=1e-12)
