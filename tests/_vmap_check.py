"""The check the vmap test files share: ``yota.vmap(f)`` against a Python loop
of ``f`` over the examples (untraced, the library's own namespace), called
twice (traced, then cached with new values: no second trace)."""
from __future__ import annotations

import numpy as np

import yota
from _helpers import namespace_of
from yota import backends, batching, passes
from yota.testing import to_numpy

B = 3  # the batch size: small, and unlike any example axis of the case tables


def batched_shape(shape, axis):
    """An example shape with the batch axis inserted at ``axis`` (None: unbatched)."""
    shape = tuple(shape)
    if axis is None:
        return shape
    pos = axis if axis >= 0 else len(shape) + 1 + axis
    return shape[:pos] + (B,) + shape[pos:]


def arrays_for(rng, shapes, axes, dtype=np.float64, make=None):
    """Random arrays of the example ``shapes``, with the batch at ``axes``."""
    make = make or (lambda shape: rng.standard_normal(shape))
    return [np.asarray(make(batched_shape(s, a)), dtype=dtype) for s, a in zip(shapes, axes)]


def _perturbed(a):
    """Other values for the cached call: floats keep their order and signs,
    integers are rotated."""
    if a.dtype.kind == "f":
        return a * 0.75 + 0.125 * np.sign(a)
    if a.dtype.kind in "iu" and a.ndim:
        return np.roll(a, 1)
    return a


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [y for o in out for y in _leaves(o)]
    return [out]


def _axes(in_axes, n):
    return list(in_axes) if isinstance(in_axes, (tuple, list)) else [in_axes] * n


def _loop(backend, f, arrays, axes, out_axes):
    per = []
    for i in range(B):
        ex = [a if ax is None else np.take(a, i, axis=ax) for a, ax in zip(arrays, axes)]
        per.append([to_numpy(y) for y in _leaves(f(*[backend.asarray(e, dtype=e.dtype) for e in ex]))])
    want = []
    leaf_axes = list(out_axes) if isinstance(out_axes, (tuple, list)) else [out_axes] * len(per[0])
    for j, oa in enumerate(leaf_axes):
        ys = [p[j] for p in per]
        if oa is None:
            for y in ys[1:]:
                np.testing.assert_array_equal(y, ys[0])
            want.append(ys[0])
        else:
            want.append(np.stack(ys, axis=oa))
    return want


def compare(got, want, rtol=None):
    got = [to_numpy(y) for y in _leaves(got)]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape, (g.shape, w.shape)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        if g.dtype.kind in "fc":
            single = g.dtype in (np.float32, np.complex64)
            tol = rtol if rtol is not None else (1e-5 if single else 1e-12)
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)
        else:
            np.testing.assert_array_equal(g, w)


def check_vmap(backend, fn, arrays, in_axes=0, out_axes=0, twice=True, rtol=None):
    """``vmap(f, in_axes, out_axes)`` of ``f(*xs) = fn(xp, *xs)`` on the numpy
    ``arrays`` (made on ``backend``) equals the loop; returns the batched result."""
    axes = _axes(in_axes, len(arrays))

    def f(*xs):
        xp = namespace_of(next(x for x in xs if hasattr(x, "shape")))
        return fn(xp, *xs)

    g = yota.vmap(f, in_axes=in_axes, out_axes=out_axes)
    got = g(*[backend.asarray(a, dtype=a.dtype) for a in arrays])
    compare(got, _loop(backend, f, arrays, axes, out_axes), rtol)
    if twice:
        traces = yota.cache_info()["traces"]
        again = [_perturbed(a) for a in arrays]
        got2 = g(*[backend.asarray(a, dtype=a.dtype) for a in again])
        compare(got2, _loop(backend, f, again, axes, out_axes), rtol)
        assert yota.cache_info()["traces"] == traces, "the second call traced again"
    return got


def axis_combinations(n, ndims):
    """in_axes to try for a function of ``n`` arrays of example ranks ``ndims``:
    all batched on axis 0; for several, only the first, only the second, and
    different axes for each; 1 and -1 for one array."""
    if n == 1:
        return [0, 1, -1] if ndims[0] >= 1 else [0]
    combos = [0, (0,) + (None,) * (n - 1), (None, 0) + (None,) * (n - 2)]
    mixed = tuple((-1 if i % 2 else 1) if ndims[i] >= 1 else 0 for i in range(n))
    combos.append(mixed)
    return combos


def batched_op_count(backend, fn, shapes, size, in_axes=0) -> int:
    """The number of ops of the batched tape of ``fn`` for a batch of ``size``
    (the same for every size when each op got a batching rule: the
    per-example fallback records one op per example)."""
    axes = _axes(in_axes, len(shapes))
    rng = np.random.default_rng(1)
    full = [backend.asarray(rng.standard_normal(s if a is None else (size,) + tuple(s))) for s, a in
            zip(shapes, axes)]
    examples = [x if a is None else x[0, ...] for x, a in zip(full, axes)]

    def f(*xs):
        return fn(namespace_of(xs[0]), *xs)

    _, tape = yota.trace(f, *examples)
    ctx, _, _ = batching.batch_tape(passes.optimize(tape), full, axes, backends.select(full), size)
    return len(ctx.tape.ops)
