"""vmap of indexing: __getitem__ (every key family), ext.getitem, ext.setitem,
ext.scatter_add, take and take_along_axis, on every backend present, against a
plain Python loop over the examples with the untraced namespace; per-example
gradients (vmap of grad) and the gradient of a vmap.

`vmap_check` (used by the other vmap test files too) runs ``yota.vmap(f)`` twice,
the second time on other values, which must not retrace, and compares both
with the loop. The gradient tests' case tables are reused: their skip reasons
name the keys array-api-strict or Dask refuse in the plain per-example call.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import yota
from yota import errors
from yota.ext import ext
from yota.testing import check_grad, to_numpy
from _helpers import namespace_of as ns
from test_rules_indexing import (DASK_INT, DASK_MASK, GETITEM, I, J, M1, M2, SETITEM, STRICT_INT, TAKE,
                                 _away_from_zero)

B = 3  # the batch size


# ---------------------------------------------------------------- the harness


def _leaves(r) -> list:
    if isinstance(r, (tuple, list)):
        return [y for x in r for y in _leaves(x)]
    return [r]


def _full(backend, examples, axis):
    """One argument of the vmap call: the examples stacked on ``axis``, or the first one (None)."""
    return backend.asarray(examples[0] if axis is None else np.stack(examples, axis=axis))


def _loop(backend, fn, examples, in_axes, out_axes):
    outs = []
    for b in range(B):
        args = [backend.asarray(e[b] if ax is not None else e[0]) for e, ax in zip(examples, in_axes)]
        outs.append([to_numpy(y) for y in _leaves(fn(ns(args[0]), *args))])
    return [np.stack(ys, axis=out_axes) for ys in zip(*outs)]


def _compare(got, want, rtol, atol):
    got = [to_numpy(y) for y in _leaves(got)]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


def vmap_check(backend, fn, make, in_axes, out_axes=0, rng=None, rtol=1e-9, atol=1e-11):
    """``yota.vmap(fn)`` against the loop; ``make(rng)`` gives, per argument of
    ``fn(xp, *args)``, a list of ``B`` NumPy examples (unbatched arguments use the
    first). Called twice, the second time with new values and no retrace."""
    rng = np.random.default_rng(0) if rng is None else rng
    f = yota.vmap(lambda *a: fn(ns(a[0]), *a), in_axes=in_axes, out_axes=out_axes)
    for call in range(2):
        examples = make(rng)
        args = [_full(backend, e, ax) for e, ax in zip(examples, in_axes)]
        before = yota.cache_info()["traces"]
        got = f(*args)
        if call:
            assert yota.cache_info()["traces"] == before, "the second call retraced"
        _compare(got, _loop(backend, fn, examples, in_axes, out_axes), rtol, atol)


def nested_check(backend, fn, make, in_axes, rng=None, rtol=1e-9, atol=1e-11):
    """``vmap(vmap(fn))`` on ``B x B`` examples (``make`` gives ``B * B`` per argument)."""
    rng = np.random.default_rng(0) if rng is None else rng
    inner = yota.vmap(lambda *a: fn(ns(a[0]), *a), in_axes=in_axes)
    f = yota.vmap(inner, in_axes=in_axes)
    examples = make(rng)
    args, want = [], None
    for e, ax in zip(examples, in_axes):
        if ax is None:
            args.append(backend.asarray(e[0]))
        else:
            rows = [np.stack(e[r * B:(r + 1) * B], axis=ax) for r in range(B)]
            args.append(backend.asarray(np.stack(rows, axis=ax)))
    outs = []
    for r in range(B):
        sub = [[e[r * B + c] for c in range(B)] if ax is not None else e for e, ax in zip(examples, in_axes)]
        outs.append(_loop(backend, fn, sub, in_axes, 0))
    want = [np.stack(ys) for ys in zip(*outs)]
    _compare(f(*args), want, rtol, atol)


def combos(backend, ndims, out_axes=True) -> list:
    """(in_axes, out_axes) pairs for arguments whose examples have ``ndims`` axes:
    every batched/unbatched assignment on NumPy, with axes 1 and -1 and out_axes -1;
    fewer elsewhere."""
    n = len(ndims)
    every = [c for c in itertools.product((0, None), repeat=n) if any(a is not None for a in c)]
    if backend.name != "numpy":
        keep = [(0,) * n] + [tuple(None if j == i else 0 for j in range(n)) for i in range(n) if n > 1]
        if backend.name == "dask":
            keep = keep[:2]
        return [(c, 0) for c in keep]
    out = [(c, 0) for c in every]
    moved = tuple((1 if i % 2 == 0 else -1) if nd >= 1 else 0 for i, nd in enumerate(ndims))
    out.append((moved, 0))
    if out_axes:
        out.append(((0,) * n, -1))
    return out


def variants(a) -> list:
    """``B`` index arrays of ``a``'s shape and values (so in range), rolled apart."""
    a = np.asarray(a)
    return [np.roll(a.reshape(-1), b).reshape(a.shape) for b in range(B)]


def floats(shape, away=True):
    def make(rng):
        return [(_away_from_zero(rng, shape) if away else rng.standard_normal(shape)) for _ in range(B)]

    return make


def examples_of(*makers):
    """Per argument: a float maker (called with rng) or a fixed array (its variants)."""
    fixed = [None if callable(m) else variants(m) for m in makers]

    def make(rng):
        return [m(rng) if callable(m) else fx for m, fx in zip(makers, fixed)]

    return make


def _is_mask(a) -> bool:
    return np.asarray(a).dtype == bool


def _skip(backend, fails, name=None, dask_cases=()):
    reason = fails.get(backend.name)
    if reason:
        pytest.skip(reason)
    if backend.name == "dask" and name is not None and name not in dask_cases:
        pytest.skip("a representative subset runs on Dask (each call builds and computes a graph)")


# ---------------------------------------------------------------- __getitem__

DATA_MASK = {"mask_from_data", "nonzero"}  # masks made from the batched x itself


def _getitem_combos(backend, name):
    fn, shape, idx, fails = GETITEM[name]
    return fn, shape, idx, fails, combos(backend, [len(shape)] + [np.ndim(i) for i in idx])


def _mask_outcome(name, idx, in_axes):
    """None (a plain check), "raises" (a batched mask), or "engine" (an unbatched mask, batched x)."""
    if in_axes[0] is not None and name in DATA_MASK:
        return "raises"
    masks = [ax for i, ax in zip(idx, in_axes[1:]) if _is_mask(i)]
    if any(ax is not None for ax in masks):
        return "raises"
    if masks and in_axes[0] is not None:
        return "engine"
    return None


DASK_GETITEM = {"neg_steps", "none", "int_and_int_array", "int_array_1d_repeats", "slice_and_int_array",
                "zero_d_int_arrays", "chained", "mask_leading"}


@pytest.mark.parametrize("name", sorted(GETITEM))
def test_getitem(backend, name):
    fn, shape, idx, fails, cs = _getitem_combos(backend, name)
    _skip(backend, fails, name, DASK_GETITEM)
    make = examples_of(floats(shape), *idx)
    for in_axes, out_axes in cs:
        outcome = _mask_outcome(name, idx, in_axes)
        if outcome == "raises":
            with pytest.raises(errors.BatchedControlFlowError):
                vmap_check(backend, fn, make, in_axes, out_axes)
        elif outcome is None:
            vmap_check(backend, fn, make, in_axes, out_axes)


MASKED = sorted(n for n, (_, _, idx, _) in GETITEM.items() if any(_is_mask(i) for i in idx))


@pytest.mark.parametrize("name", MASKED)
def test_getitem_unbatched_mask(backend, name):
    fn, shape, idx, fails = GETITEM[name]
    _skip(backend, fails)
    in_axes = (0,) + tuple(None if _is_mask(i) else 0 for i in idx)
    vmap_check(backend, fn, examples_of(floats(shape), *idx), in_axes)


def test_getitem_batched_mask_raises_at_trace(backend):
    # the size of x[m] would differ between examples: refused when tracing, naming xp.where
    x = backend.asarray(np.ones((B, 4, 5)))
    m = backend.asarray(np.stack(variants(M2)))
    # (Dask: the mask's count is unknown until computed, which is refused first)
    refused = (errors.BatchedControlFlowError, errors.UnknownShapeError) if backend.name == "dask" else \
        errors.BatchedControlFlowError
    with pytest.raises(refused, match="where"):
        yota.vmap(lambda x, m: x[m])(x, m)
    with pytest.raises(refused, match="where"):
        yota.vmap(lambda x: x[x > 0.5])(x)
    assert yota.cache_info()["entries"] == 0


def test_getitem_batched_slice_bound_raises(backend):
    if backend.name == "array_api_strict":
        pytest.skip("array-api-strict: an array as a slice bound is refused in the plain call")
    x = backend.asarray(np.ones((B, 5)))
    n = backend.asarray(np.array([1, 2, 3]))
    with pytest.raises(errors.BatchedControlFlowError):
        yota.vmap(lambda x, n: x[:n])(x, n)


@pytest.mark.parametrize("name", ["slices", "int_arrays_broadcast", "int_arrays_apart", "zero_d_int_arrays",
                                  "none_and_int_arrays"])
def test_getitem_nested(backend, name):
    if backend.name != "numpy":
        pytest.skip("nested vmap is backend-independent; kept to NumPy for time")
    fn, shape, idx, _ = GETITEM[name]

    def make(rng):
        return [[_away_from_zero(rng, shape) for _ in range(B * B)]] + \
               [[np.roll(np.asarray(i).reshape(-1), k).reshape(np.shape(i)) for k in range(B * B)] for i in idx]

    nested_check(backend, fn, make, (0,) * (1 + len(idx)))
    nested_check(backend, fn, make, (0,) + (None,) * len(idx))


# integer arrays batched and unbatched beside slices, None and ..., and 0-d ones
K = np.array([1, 2, 0, 1])
STRICT_WHOLE = "array-api-strict: a key must name every axis (or hold ...)"
MORE_GETITEM = {
    "zero_d_batched": (lambda xp, x, k: x[k[0], k[1]], (4, 5), [K], {}),
    "zero_d_alone": (lambda xp, x, k: x[k[0]], (4, 5), [K], {"array_api_strict": STRICT_WHOLE}),
    "zero_d_and_slice": (lambda xp, x, k: x[1:, k[1]], (4, 5), [K], {"array_api_strict": STRICT_INT}),
    "int_arrays_after_none": (lambda xp, x, i: x[None, 1:, i, None], (3, 4, 5), [I], {
        "array_api_strict": STRICT_INT, "dask": DASK_INT}),
    "int_and_slice_and_array": (lambda xp, x, i: x[0, :, i], (2, 3, 4), [I], {
        "array_api_strict": STRICT_INT, "dask": DASK_INT}),
    "array_then_slice_then_int": (lambda xp, x, i: x[i, ::-1, 1], (4, 3, 2), [I], {
        "array_api_strict": STRICT_INT, "dask": DASK_INT}),
    "two_d_index": (lambda xp, x, i: x[i], (5, 2), [np.array([[0, 4], [-1, 2]])], {
        "array_api_strict": STRICT_WHOLE, "dask": "Dask: x[i] with a 2-D integer array fails in Dask itself"}),
}


@pytest.mark.parametrize("name", sorted(MORE_GETITEM))
def test_getitem_more(backend, name):
    fn, shape, idx, fails = MORE_GETITEM[name]
    _skip(backend, fails, name, {"zero_d_batched"})
    make = examples_of(floats(shape), *idx)
    for in_axes, out_axes in combos(backend, [len(shape)] + [np.ndim(i) for i in idx]):
        vmap_check(backend, fn, make, in_axes, out_axes)


# ---------------------------------------------------------------- __setitem__ (ext.setitem)

DATA_SET = {"mask_values"}  # reads x[x > 0] of the batched x


@pytest.mark.parametrize("name", sorted(SETITEM))
def test_setitem(backend, name):
    fn, shapes, idx, fails = SETITEM[name]
    _skip(backend, fails, name, {"slice", "mask_scalar", "int_array_rows", "into_buffer"})
    make = examples_of(*[floats(s) for s in shapes], *idx)
    for in_axes, out_axes in combos(backend, [len(s) for s in shapes] + [np.ndim(i) for i in idx]):
        if name in DATA_SET and in_axes[0] is not None:
            with pytest.raises(errors.BatchedControlFlowError):
                vmap_check(backend, fn, make, in_axes, out_axes)
        else:
            vmap_check(backend, fn, make, in_axes, out_axes)


def _set_mask_values(xp, x, m, v):
    y = x * 1.0
    y[m] = v  # v: one row for every selected row
    return y


def test_setitem_batched_mask_values(backend):
    # a batched mask alone writes through where; values must not have an axis of the mask's count
    if backend.name == "dask":
        pytest.skip("Dask: its own x[mask] = row (a value broadcast over the selected rows) fails in Dask itself")
    shapes = [(4, 5), (5,)]
    make = examples_of(floats(shapes[0]), M1, floats(shapes[1]))
    for in_axes in [(0, 0, 0), (None, 0, 0), (0, 0, None), (None, 0, None)]:
        vmap_check(backend, _set_mask_values, make, in_axes)
    m = backend.asarray(np.stack(variants(M1)))
    with pytest.raises(errors.BatchedControlFlowError, match="where"):
        yota.vmap(lambda x, m, v: _set_mask_values(ns(x), x, m, v))(
            backend.asarray(np.ones((B, 4, 5))), m, backend.asarray(np.ones((B, 3, 5))))


# ---------------------------------------------------------------- take, take_along_axis


@pytest.mark.parametrize("name", sorted(TAKE))
def test_take(backend, name):
    fn, shape, idx, fails = TAKE[name]
    _skip(backend, fails, name, {"take_axis1", "take_along_1", "take_along_broadcast"})
    make = examples_of(floats(shape, away=False), *idx)
    for in_axes, out_axes in combos(backend, [len(shape)] + [np.ndim(i) for i in idx]):
        vmap_check(backend, fn, make, in_axes, out_axes)


def test_take_nested(backend):
    if backend.name != "numpy":
        pytest.skip("nested vmap is backend-independent; kept to NumPy for time")
    for name in ("take_axis1", "take_along_1"):
        fn, shape, idx, _ = TAKE[name]

        def make(rng):
            return [[rng.standard_normal(shape) for _ in range(B * B)],
                    [np.roll(idx[0].reshape(-1), k).reshape(idx[0].shape) for k in range(B * B)]]

        nested_check(backend, fn, make, (0, 0))
        nested_check(backend, fn, make, (None, 0))


# ---------------------------------------------------------------- ext.getitem, ext.setitem, ext.scatter_add

EXT = {
    "scatter_add_repeats": (lambda xp, x, v, i, j: ext.scatter_add(xp, x, (i, j), v), [(4, 5), (2, 4)], [I, J],
                            {}),
    "scatter_add_basic": (lambda xp, x, v: ext.scatter_add(xp, x, (slice(None, None, -1), slice(1, 3)), v),
                          [(4, 5), (4, 2)], [], {}),
    "scatter_add_row_repeats": (lambda xp, x, v, i: ext.scatter_add(xp, x, (i, slice(None)), v),
                                [(4, 5), (4, 5)], [I], {"array_api_strict": STRICT_INT}),
    "scatter_add_apart": (lambda xp, x, v, i, j: ext.scatter_add(xp, x, (i, slice(None), j), v),
                          [(4, 2, 5), (2, 4, 2)], [I, J], {"array_api_strict": STRICT_INT}),
    "scatter_add_mask": (lambda xp, x, v, m: ext.scatter_add(xp, x, m, v), [(4, 5), (1,)], [M2], {}),
    "scatter_add_0d": (lambda xp, x, v, k: ext.scatter_add(xp, x, (k[0], k[1]), v), [(4, 5), ()], [K], {}),
    "setitem_basic": (lambda xp, x, v: ext.setitem(xp, x, (1, slice(None)), v[0, 0]), [(4, 5), (2, 5)], [], {}),
    "setitem_steps_none": (lambda xp, x, v: ext.setitem(xp, x, (slice(None, None, -1), None, slice(1, 4, 2)), v),
                           [(4, 5), (4, 1, 2)], [], {}),
    "setitem_repeats": (lambda xp, x, v, i, j: ext.setitem(xp, x, (i, j), v), [(4, 5), (1,)], [I, J], {}),
    "setitem_mask": (lambda xp, x, v, m: ext.setitem(xp, x, m, v), [(4, 5), (1,)], [M2], {}),
    "setitem_apart": (lambda xp, x, v, i, j: ext.setitem(xp, x, (i[:2], slice(None), j), v * 1.0),
                      [(4, 3, 5), (2, 1, 3)], [I, J], {"array_api_strict": STRICT_INT}),
    "setitem_0d": (lambda xp, x, v, k: ext.setitem(xp, x, (k[0], k[1]), v), [(4, 5), ()], [K], {}),
    "getitem_int_arrays": (lambda xp, x, i, j: ext.getitem(xp, x, (i, j)), [(4, 5)], [I, J], {}),
    "getitem_basic": (lambda xp, x: ext.getitem(xp, x, (Ellipsis, slice(None, None, -2))), [(4, 5)], [], {}),
    "getitem_array_slice": (lambda xp, x, i: ext.getitem(xp, x, (slice(1, None), i)), [(4, 5)], [I],
                            {"array_api_strict": STRICT_INT}),
}


@pytest.mark.parametrize("name", sorted(EXT))
def test_ext(backend, name):
    fn, shapes, idx, fails = EXT[name]
    _skip(backend, fails, name, {"scatter_add_repeats", "scatter_add_mask", "setitem_repeats", "getitem_int_arrays",
                                 "getitem_array_slice"})
    make = examples_of(*[floats(s) for s in shapes], *idx)
    for in_axes, out_axes in combos(backend, [len(s) for s in shapes] + [np.ndim(i) for i in idx]):
        vmap_check(backend, fn, make, in_axes, out_axes)


def test_ext_getitem_unbatched_mask(backend):
    if backend.name == "dask":
        pytest.skip(DASK_MASK)
    vmap_check(backend, lambda xp, x, m: ext.getitem(xp, x, m), examples_of(floats((4, 5)), M2), (0, None))


# ---------------------------------------------------------------- gradients

def _mlp_loss(w, x, label):
    xp = ns(x)
    w1, b1, w2 = w
    h = xp.tanh(w1 @ x + b1)
    z = w2 @ h[1:]                      # indexing: a slice
    z = z - xp.max(z)                   # softmax-style shift
    return xp.log(xp.sum(xp.exp(z))) - z[label]   # indexing: a (batched) 0-d integer


def _mlp(backend, rng):
    w = tuple(backend.asarray(rng.standard_normal(s)) for s in [(5, 4), (5,), (3, 4)])
    xs = backend.asarray(rng.standard_normal((B, 4)))
    labels = backend.asarray(np.array([2, 0, 1]))
    return w, xs, labels


def test_per_example_gradients(backend, rng):
    w, xs, labels = _mlp(backend, rng)

    def per_example(x, label):
        return yota.grad(_mlp_loss, w, x, label)[1][1]

    f = yota.vmap(per_example, in_axes=(0, 0))
    for call in range(2):
        if call:
            xs = backend.asarray(rng.standard_normal((B, 4)))
        before = yota.cache_info()["traces"]
        got = f(xs, labels)
        if call:
            assert yota.cache_info()["traces"] == before
        xn, ln = to_numpy(xs), to_numpy(labels)
        for k in range(3):
            want = np.stack([to_numpy(yota.grad(_mlp_loss, w, backend.asarray(xn[b]), backend.asarray(ln[b]))[1][1][k])
                             for b in range(B)])
            np.testing.assert_allclose(to_numpy(got[k]), want, rtol=1e-10, atol=1e-12)


def test_grad_of_vmap(backend, rng):
    w, xs, labels = _mlp(backend, rng)

    def total(w, xs, labels):
        return ns(xs).sum(yota.vmap(_mlp_loss, in_axes=(None, 0, 0))(w, xs, labels))

    check_grad(total, w, xs, labels, **({"full": 0} if backend.name == "dask" else {}))


def test_grad_of_vmap_scatter(backend, rng):
    # the batched tape's scatter and gather ops differentiate in the outer grad
    def total(x, v, i):
        per = yota.vmap(lambda x, v, i: ext.scatter_add(ns(x), x, (i,), v) * x[i[0]], in_axes=(0, None, 0))(x, v, i)
        return ns(x).sum(per ** 2)

    x = backend.asarray(rng.standard_normal((B, 5)))
    v = backend.asarray(rng.standard_normal((4,)))
    i = backend.asarray(np.stack(variants(I)))
    check_grad(total, x, v, i, **({"full": 0} if backend.name == "dask" else {}))
