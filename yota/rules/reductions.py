"""Statistical reductions and cumulative sums/products.

Conventions: ``max``/``min`` share the cotangent evenly among the positions that attain the
extremum (JAX). ``prod`` and ``cumulative_prod`` never divide by ``x``, so zeros in the input
(one or several) get exact gradients. Complex inputs follow the holomorphic convention
(``g * f'(z)``, no conjugate). A ``dtype`` argument's cotangent is cast back to ``x``'s dtype.
"""
from __future__ import annotations

import math

from ._util import along, keep_dims, normalize_axis, size
from .elementwise import cast_like
from ..ops import nondiff, rrule


def _spread(xp, g, x, axis, keepdims):
    """The cotangent of a reduction, broadcast back over ``x``'s shape."""
    return xp.broadcast_to(keep_dims(xp, g, x, axis, keepdims), x.shape)


def _cumulative_axis(x, axis):
    return 0 if axis is None else axis % x.ndim


def _before(xp, x, axis):
    """prod_{i<j} x_i along ``axis`` at each j (1 at j = 0): a doubling scan (log2(n) steps)
    over x shifted by one. Only products, slices and concat: prod's forward needs no
    cumulative_prod, and some libraries lack it (pydata sparse) or take it through
    logarithms (ndonnx: nan for negative entries)."""
    n, nd = x.shape[axis], x.ndim
    cut = lambda lo, hi=None: along(axis, nd, slice(lo, hi))  # noqa: E731
    p = xp.concat([xp.ones_like(x[cut(0, 1)]), x[cut(0, n - 1)]], axis=axis)
    s = 1
    while s < n:
        p = xp.concat([p[cut(0, s)], p[cut(s)] * p[cut(0, n - s)]], axis=axis)
        s *= 2
    return p


def _others(xp, x, axis):
    """The product of the other entries along ``axis``, at each position: the products
    before it times those after it, with no division."""
    if x.shape[axis] <= 1:  # one entry: no others; none (an empty axis): an empty gradient
        return xp.ones_like(x)
    return _before(xp, x, axis) * xp.flip(_before(xp, xp.flip(x, axis=axis), axis), axis=axis)


@rrule("sum")
def sum_(xp, x, /, *, axis=None, dtype=None, keepdims=False):
    y = xp.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)
    return y, lambda g: (_spread(xp, cast_like(xp, g, x), x, axis, keepdims),)


@rrule("prod")
def prod(xp, x, /, *, axis=None, dtype=None, keepdims=False):
    y = xp.prod(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def pullback(g):
        # prod over several axes = one axis after another; the chain rule walks back through them.
        z = [x if dtype is None else xp.astype(x, dtype)]
        axes = normalize_axis(axis, x.ndim)
        for a in axes[:-1]:
            z.append(xp.prod(z[-1], axis=a, keepdims=True))
        c = keep_dims(xp, g, x, axis, keepdims)
        for a, zi in reversed(list(zip(axes, z))):
            c = c * _others(xp, zi, a)
        return (cast_like(xp, xp.broadcast_to(c, x.shape), x),)

    return y, pullback


@rrule("mean")
def mean(xp, x, /, *, axis=None, keepdims=False):
    y = xp.mean(x, axis=axis, keepdims=keepdims)
    n = size(x.shape[a] for a in normalize_axis(axis, x.ndim))
    return y, lambda g: (_spread(xp, g / n, x, axis, keepdims),)


def _centered_over_dof(xp, x, axis, correction):
    """(x - mean) / (N - correction), the derivative of var / 2; a zero count gives inf
    (the forward value is then inf or nan too)."""
    dof = size(x.shape[a] for a in normalize_axis(axis, x.ndim)) - correction
    scale = math.inf if isinstance(dof, (int, float)) and dof == 0 else 1 / dof
    return (x - xp.mean(x, axis=axis, keepdims=True)) * scale


@rrule("var")
def var(xp, x, /, *, axis=None, correction=0.0, keepdims=False):
    y = xp.var(x, axis=axis, correction=correction, keepdims=keepdims)
    return y, lambda g: (keep_dims(xp, 2 * g, x, axis, keepdims) * _centered_over_dof(xp, x, axis, correction),)


@rrule("std")
def std(xp, x, /, *, axis=None, correction=0.0, keepdims=False):
    y = xp.std(x, axis=axis, correction=correction, keepdims=keepdims)

    def pullback(g):
        c = _centered_over_dof(xp, x, axis, correction)
        # Centred twice: x - mean carries the rounding of the mean, the same for every entry, and
        # divided by a std of that size it would be a gradient of order one along a shift of all
        # x, which leaves std unchanged; after the second pass their sum is zero to the rounding
        # of c itself.
        c = c - xp.mean(c, axis=axis, keepdims=True)
        # Where every x is equal the gradient is 0 (the smallest subgradient, as for vector_norm
        # and abs at zero), not 0 / 0. Tested on x itself, not on std == 0: a variance that
        # underflows to 0 with x - mean nonzero keeps the division (inf, not a small number).
        if size(x.shape[a] for a in normalize_axis(axis, x.ndim)) > 0:
            constant = xp.max(x, axis=axis, keepdims=True) == xp.min(x, axis=axis, keepdims=True)
        else:
            constant = xp.zeros_like(keep_dims(xp, y, x, axis, keepdims), dtype=xp.bool)
        ye = keep_dims(xp, y, x, axis, keepdims)
        return (keep_dims(xp, g, x, axis, keepdims) / xp.where(constant, xp.ones_like(ye), ye)
                * xp.where(constant, xp.zeros_like(c), c),)

    return y, pullback


def _chooser(name):
    # The cotangent is shared evenly among the positions that attain the extremum.
    def rule(xp, x, /, *, axis=None, keepdims=False):
        y = getattr(xp, name)(x, axis=axis, keepdims=keepdims)

        def pullback(g):
            hit = xp.astype(x == keep_dims(xp, y, x, axis, keepdims), x.dtype)
            count = xp.sum(hit, axis=axis, keepdims=True)
            return (hit / count * keep_dims(xp, g, x, axis, keepdims),)

        return y, pullback

    rule.__name__ = name
    return rrule(name)(rule)


max_ = _chooser("max")
min_ = _chooser("min")


@rrule("cumulative_sum")
def cumulative_sum(xp, x, /, *, axis=None, dtype=None, include_initial=False):
    y = xp.cumulative_sum(x, axis=axis, dtype=dtype, include_initial=include_initial)

    def pullback(g):
        a = _cumulative_axis(x, axis)
        if include_initial:
            g = g[along(a, g.ndim, slice(1, None))]
        # dx_j = sum over k >= j of g_k: a cumulative sum from the right
        return (cast_like(xp, xp.flip(xp.cumulative_sum(xp.flip(g, axis=a), axis=a), axis=a), x),)

    return y, pullback


def _rcumprod_grad(xp, x, g, axis):
    """dx_j = L_j R_j for y = cumulative_prod(x): L_j = prod_{i<j} x_i and
    R_j = sum_{k>=j} g_k prod_{j<i<=k} x_i. R solves R_j = g_j + x_{j+1} R_{j+1}, done by
    recursive doubling (log2(n) steps, keeping R_j = B_j + A_j R_{j+s}), with no division."""
    n, nd = x.shape[axis], x.ndim
    if n == 0:
        return xp.zeros_like(x)
    cut = lambda lo, hi=None: along(axis, nd, slice(lo, hi))  # noqa: E731
    left = xp.cumulative_prod(x, axis=axis, include_initial=True)[cut(0, n)]
    a = xp.concat([x[cut(1)], xp.zeros_like(x[cut(0, 1)])], axis=axis)
    b, s = g, 1
    while s < n:
        head, tail, rest = cut(0, n - s), cut(s), cut(n - s)
        b = xp.concat([b[head] + a[head] * b[tail], b[rest]], axis=axis)
        if 2 * s < n:
            a = xp.concat([a[head] * a[tail], xp.zeros_like(a[rest])], axis=axis)
        s *= 2
    return left * b


@rrule("cumulative_prod")
def cumulative_prod(xp, x, /, *, axis=None, dtype=None, include_initial=False):
    y = xp.cumulative_prod(x, axis=axis, dtype=dtype, include_initial=include_initial)

    def pullback(g):
        a = _cumulative_axis(x, axis)
        if include_initial:
            g = g[along(a, g.ndim, slice(1, None))]
        xc = x if dtype is None else xp.astype(x, dtype)
        return (cast_like(xp, _rcumprod_grad(xp, xc, g, a), x),)

    return y, pullback


nondiff("argmax", "argmin", "all", "any", "count_nonzero")
