"""Gradient tests for the statistical rules (sum, prod, mean, var, std, max, min,
cumulative_sum, cumulative_prod), on every backend present."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from array_api_compat import array_namespace

import yota
from _helpers import check
from yota.testing import to_numpy




def grads(f, *args):
    _, g = yota.grad(f, *args)
    return [to_numpy(a) for a in g[1:]]


AXES = [None, 0, -1, (0, 2), (1,), ()]
KEEP = [False, True]


@pytest.mark.parametrize("keepdims", KEEP)
@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "min"])
def test_reduction_axes(backend, rng, name, axis, keepdims):
    if backend.name == "dask" and axis not in (None, (0, 2)):
        pytest.skip("Dask runs a subset of axes, for time (NumPy and array-api-strict run all)")
    x = backend.asarray(rng.standard_normal((2, 3, 4)))
    check(backend, lambda x: getattr(array_namespace(x), name)(x, axis=axis, keepdims=keepdims), x)


@pytest.mark.parametrize("keepdims", KEEP)
@pytest.mark.parametrize("axis", [None, 1, (0, 2)])
@pytest.mark.parametrize("correction", [0, 1, 0.5])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std(backend, rng, name, axis, correction, keepdims):
    if backend.name == "dask" and correction != 1:
        pytest.skip("Dask runs one correction, for time (NumPy and array-api-strict run all)")
    if backend.name == "torch" and name == "std" and correction == 0.5:
        pytest.skip("PyTorch: std with a non-integer correction raises in array-api-compat's torch std "
                    "(pytorch/pytorch#61492)")
    x = backend.asarray(rng.standard_normal((2, 3, 4)))

    def f(x, c=correction):  # a default, not a closure cell: a float cell would be a differentiable input
        return getattr(array_namespace(x), name)(x, axis=axis, correction=c, keepdims=keepdims)

    check(backend, f, x)


@pytest.mark.parametrize("correction", [0.0, 1.0])
def test_std_of_equal_values_has_gradient_zero(backend, correction):
    # std == 0 where every entry equals the mean: the smallest subgradient, 0 (as for abs and
    # vector_norm at zero), not 0 / 0; and where only some rows are constant, the others keep theirs
    x = backend.asarray(np.array([[1.5, 1.5, 1.5], [1.0, 2.0, 4.0]]))

    def f(x):
        xp = array_namespace(x)
        return xp.sum(xp.std(x, axis=1, correction=correction))

    for _ in range(2):  # traced, then cached
        _, g = yota.grad(f, x)
        got = to_numpy(g[1])
        assert np.all(got[0] == 0.0)
        row = np.array([1.0, 2.0, 4.0])
        want = (row - row.mean()) / ((3 - correction) * row.std(ddof=correction))
        np.testing.assert_allclose(got[1], want, rtol=1e-12)
        x = backend.asarray(np.array([[-0.5, -0.5, -0.5], [1.0, 2.0, 4.0]]))


@pytest.mark.parametrize("values", [[0.1] * 6, [0.1, 0.1, 0.1, 0.1, 0.1, np.nextafter(0.1, 1)], [1e300] * 3])
def test_std_keeps_its_shift_invariance_where_the_mean_rounds(backend, values):
    # equal (or 1-ulp apart) entries whose mean rounds: x - mean is the rounding, not zero, and
    # divided by a std of that size it gave an order-one derivative along a shift of every entry,
    # which leaves std unchanged (derivative 0)
    x = backend.asarray(np.array(values))

    def f(s, x):
        xp = array_namespace(x)
        return xp.std(x + s)

    for _ in range(2):  # traced, then cached
        _, g = yota.grad(f, 0.0, x)
        assert abs(g[1]) < 1e-6, g[1]


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_default(backend, rng, name):
    x = backend.asarray(rng.standard_normal((3, 4)))
    check(backend, lambda x: getattr(array_namespace(x), name)(x), x)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "max", "var"])
def test_reduction_0d(backend, rng, name):
    x = backend.asarray(rng.standard_normal(()))
    check(backend, lambda x: getattr(array_namespace(x), name)(x) * x, x)


@pytest.mark.parametrize("name", ["sum", "prod", "cumulative_sum", "cumulative_prod"])
def test_reducing_an_empty_axis(backend, rng, name):
    # the other axis carries the gradient; the empty one has none (found by the fuzzer: prod's
    # rule sliced the empty axis, which array-api-strict refuses)
    x = backend.asarray(rng.standard_normal((2, 3)))

    def f(x):
        xp = array_namespace(x)
        empty = x[:, 0:0]
        return xp.sum(x * x) + xp.sum(getattr(xp, name)(xp.tanh(empty) + 1.2, axis=1))

    check(backend, f, x)


@pytest.mark.parametrize("name", ["sum", "prod", "cumulative_sum"])
def test_dtype_float32_to_float64(backend, rng, name):
    x = backend.asarray(rng.standard_normal((2, 3)), dtype=np.float32)

    def f(x):
        xp = array_namespace(x)
        y = getattr(xp, name)(x, axis=1, dtype=xp.float64)
        assert y.dtype == xp.float64
        return xp.sum(y)

    check(backend, f, x)


@pytest.mark.parametrize("name", ["sum", "prod", "mean", "std", "max", "cumulative_sum", "cumulative_prod"])
def test_float32(backend, rng, name):
    x = backend.asarray(1 + 0.3 * rng.standard_normal((2, 3)), dtype=np.float32)
    check(backend, lambda x: getattr(array_namespace(x), name)(x, axis=1), x)


# ---------------------------------------------------------------- prod with zeros


def _prod_grad(x, axis):
    """Reference: d prod / d x_i = product of the others (by brute force)."""
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        e = x.copy()
        e[idx] = 1.0
        lines = np.prod(e, axis=axis, keepdims=True)
        out[idx] = np.broadcast_to(lines, x.shape)[idx]
    return out


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1)])
@pytest.mark.parametrize("zeros", [[(0, 1)], [(0, 1), (1, 2)], [(0, 1), (0, 2)], [(0, 0), (0, 1), (1, 1)]])
def test_prod_zeros(backend, rng, axis, zeros):
    x = rng.uniform(0.5, 1.5, (2, 4))
    for z in zeros:
        x[z] = 0.0
    (g,) = grads(lambda x: array_namespace(x).sum(array_namespace(x).prod(x, axis=axis)), backend.asarray(x))
    np.testing.assert_allclose(g, _prod_grad(x, axis), rtol=1e-12, atol=0)
    assert np.all(np.isfinite(g))


def test_prod_zeros_fd(backend, rng):
    x = rng.uniform(0.5, 1.5, (3, 4))
    x[1, 2] = 0.0
    x[2, 0] = x[2, 3] = 0.0
    check(backend, lambda x: array_namespace(x).prod(x, axis=1), backend.asarray(x), twice=False)


# ---------------------------------------------------------------- cumulative


@pytest.mark.parametrize("include_initial", [False, True])
@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
def test_cumulative(backend, rng, name, axis, include_initial):
    x = backend.asarray(rng.standard_normal((3, 5)))
    check(backend, lambda x: getattr(array_namespace(x), name)(x, axis=axis, include_initial=include_initial), x)


@pytest.mark.parametrize("include_initial", [False, True])
@pytest.mark.parametrize("name", ["cumulative_sum", "cumulative_prod"])
def test_cumulative_1d(backend, rng, name, include_initial):
    for n in (1, 2, 7):
        yota.reset()
        x = backend.asarray(rng.standard_normal((n,)))
        check(backend, lambda x: getattr(array_namespace(x), name)(x, include_initial=include_initial), x)


def _cumprod_grad(x, u, axis):
    """Reference gradient of sum(u * cumprod(x)) by brute force, no division."""
    x, u = np.moveaxis(x, axis, -1), np.moveaxis(u, axis, -1)
    n = x.shape[-1]
    out = np.zeros_like(x)
    for j in range(n):
        for k in range(j, n):
            others = np.prod(np.delete(x[..., : k + 1], j, axis=-1), axis=-1)
            out[..., j] += u[..., k] * others
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("axis", [0, 1])
@pytest.mark.parametrize("zeros", [[], [(0, 1)], [(0, 0), (0, 3)], [(1, 2), (1, 3), (2, 2)], [(2, 4)]])
def test_cumulative_prod_zeros(backend, rng, axis, zeros):
    x = rng.uniform(0.5, 1.5, (3, 5))
    for z in zeros:
        x[z] = 0.0
    u = rng.standard_normal((3, 5))
    U = backend.asarray(u)

    def f(x):
        xp = array_namespace(x)
        return xp.sum(xp.cumulative_prod(x, axis=axis) * U)

    (g,) = grads(f, backend.asarray(x))
    np.testing.assert_allclose(g, _cumprod_grad(x, u, axis), rtol=1e-12, atol=1e-14)


def test_cumulative_prod_long_axis(backend, rng):
    # The pullback's doubling scan over a length that is not a power of two.
    x = rng.uniform(0.8, 1.2, (2, 13))
    x[0, 5] = 0.0
    u = rng.standard_normal((2, 13))
    U = backend.asarray(u)
    (g,) = grads(lambda x: array_namespace(x).sum(array_namespace(x).cumulative_prod(x, axis=1) * U),
                 backend.asarray(x))
    np.testing.assert_allclose(g, _cumprod_grad(x, u, 1), rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------- ties in max / min


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties(backend, name):
    x = np.array([[1.0, 3.0, 3.0], [-2.0, -2.0, -2.0]])
    if name == "min":
        x = -x
    xb = backend.asarray(x)
    (g,) = grads(lambda x: array_namespace(x).sum(getattr(array_namespace(x), name)(x, axis=1)), xb)
    np.testing.assert_allclose(g, [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    (g,) = grads(lambda x: getattr(array_namespace(x), name)(x), xb)
    np.testing.assert_allclose(g, [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])


def test_composite(backend, rng):
    # Normalisation with every reduction on one tape.
    x = backend.asarray(rng.standard_normal((3, 4)))

    def f(x):
        xp = array_namespace(x)
        z = (x - xp.mean(x, axis=0)) / xp.std(x, axis=0, correction=1)
        return xp.sum(xp.cumulative_sum(z * xp.max(x, axis=1, keepdims=True), axis=1)) + xp.prod(xp.var(x, axis=1))

    check(backend, f, x)


def test_axis_permutations_prod(backend, rng):
    # prod over several axes in any order and sign.
    x = backend.asarray(rng.uniform(0.5, 1.5, (2, 2, 3)))
    for axis in itertools.islice(itertools.permutations((0, -1, 1)), 3):
        yota.reset()
        check(backend, lambda x: array_namespace(x).prod(x, axis=axis[:2]), x)


def test_std_whose_variance_underflows_is_not_given_a_small_gradient(backend):
    # x - mean is nonzero but its square underflows: std is 0 there, yet the rows are not constant,
    # so the gradient must not be the constant rows' 0 or any small number: it stays the division
    x = backend.asarray(np.array([[1e-170, -1e-170, 0.0]]))

    def f(x):
        return array_namespace(x).sum(array_namespace(x).std(x, axis=1))

    with np.errstate(divide="ignore", invalid="ignore"):
        _, g = yota.grad(f, x)
    got = to_numpy(g[1])
    assert np.isinf(got[0, 0]) and np.isinf(got[0, 1])
