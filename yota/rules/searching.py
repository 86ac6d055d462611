"""Searching, sorting and sets.

``where`` routes the cotangent to the branch each element came from; ``sort``
sends it back through the sorting permutation (a gather by the inverse
permutation, so no scatter is needed). Indices, counts, set results and
comparisons carry no derivative; their data-dependent shapes are recorded as
they come (``x[xp.nonzero(x > 0)]`` indexes with integer arrays, whose
gradient is a scatter-add).
"""
from __future__ import annotations

from ._util import unbroadcast
from ..ops import nondiff, rrule


@rrule("where")
def where(xp, condition, x1, x2, /):
    out = xp.where(condition, x1, x2)
    # a branch may be a Python scalar: its cotangent is never asked for
    return out, lambda g: (None, lambda: unbroadcast(xp, xp.where(condition, g, 0.0), x1),
                           lambda: unbroadcast(xp, xp.where(condition, 0.0, g), x2))


@rrule("sort")
def sort(xp, x, /, *, axis=-1, descending=False, stable=True):
    y = xp.sort(x, axis=axis, descending=descending, stable=stable)

    def pullback(g):
        # y = take_along_axis(x, p); so dx = take_along_axis(g, p^-1) with p^-1 = argsort(p).
        # Ties: the permutation picks one of the equal elements (a valid subgradient).
        p = xp.argsort(x, axis=axis, descending=descending, stable=stable)
        return (xp.take_along_axis(g, xp.argsort(p, axis=axis), axis=axis),)

    return y, pullback


nondiff("argmax", "argmin", "argsort", "searchsorted", "nonzero", "count_nonzero",
        "unique_all", "unique_counts", "unique_inverse", "unique_values", "isin")
