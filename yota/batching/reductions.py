"""Statistical reductions and cumulative sums/products: the reduced axes of one
example are the batch's axes shifted by one; ``axis=None`` means every axis
but the batch's."""
from __future__ import annotations

from .. import ops
from ._util import shift_axis


def _reduction(name):
    def rule(xp, dims, x, /, *, axis=None, **kwargs):
        nd = x.ndim - 1
        return getattr(xp, name)(x, axis=shift_axis(axis, nd), **kwargs), 0

    rule.__name__ = f"batch_{name}"
    return rule


for _name in ("sum", "prod", "mean", "max", "min", "std", "var", "all", "any", "count_nonzero"):
    ops.batching(_name)(_reduction(_name))


def _arg_reduction(name):
    # argmax(axis=None) indexes the flattened example
    def rule(xp, dims, x, /, *, axis=None, keepdims=False):
        nd = x.ndim - 1
        if axis is None:
            flat = xp.reshape(x, (x.shape[0], -1))
            out = getattr(xp, name)(flat, axis=1, keepdims=keepdims)
            if keepdims:
                out = xp.reshape(out, (x.shape[0],) + (1,) * nd)
            return out, 0
        return getattr(xp, name)(x, axis=shift_axis(axis, nd), keepdims=keepdims), 0

    rule.__name__ = f"batch_{name}"
    return rule


for _name in ("argmax", "argmin"):
    ops.batching(_name)(_arg_reduction(_name))


def _cumulative(name):
    def rule(xp, dims, x, /, *, axis=None, **kwargs):
        nd = x.ndim - 1
        # axis=None is allowed for one-dimensional examples only
        return getattr(xp, name)(x, axis=shift_axis(0 if axis is None else axis, nd), **kwargs), 0

    rule.__name__ = f"batch_{name}"
    return rule


for _name in ("cumulative_sum", "cumulative_prod"):
    ops.batching(_name)(_cumulative(_name))
