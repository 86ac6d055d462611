"""Statistical reductions."""
from __future__ import annotations

from ._util import keep_dims, normalize_axis, size
from .registry import nondiff, rrule


@rrule("sum")
def sum_(xp, x, /, *, axis=None, dtype=None, keepdims=False):
    y = xp.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)
    return y, lambda g: (xp.broadcast_to(xp.astype(keep_dims(xp, g, x, axis, keepdims), x.dtype), x.shape),)


@rrule("mean")
def mean(xp, x, /, *, axis=None, keepdims=False):
    y = xp.mean(x, axis=axis, keepdims=keepdims)
    n = size(x.shape[a] for a in normalize_axis(axis, x.ndim))
    return y, lambda g: (xp.broadcast_to(keep_dims(xp, g, x, axis, keepdims) / n, x.shape),)


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

nondiff("argmax", "argmin", "all", "any", "count_nonzero")
