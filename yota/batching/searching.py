"""Searching, sorting, set and utility functions.

Sorting and ``diff`` work along an axis of one example: the batch's axis
shifted by one. ``searchsorted`` and ``isin`` against a batched sorted array
or test set compare every element with every entry of its own example's row
and count (an exact definition of both, on every library). A result whose
size depends on the values (``nonzero``, ``unique_*``) cannot be batched.
"""
from __future__ import annotations

from .. import ops
from ._util import aligned, batch_size_any, batched, example_ndim, is_array, shift_axis, size_differs

# ---------------------------------------------------------------- sorting


def _sorting(name):
    def rule(xp, dims, x, /, *, axis=-1, **kwargs):
        return getattr(xp, name)(x, axis=shift_axis(axis, x.ndim - 1), **kwargs), 0

    rule.__name__ = f"batch_{name}"
    return rule


for _name in ("sort", "argsort"):
    ops.batching(_name)(_sorting(_name))


# ---------------------------------------------------------------- searchsorted


@ops.batching("searchsorted")
def _(xp, dims, x1, x2, /, *, side="left", sorter=None):
    if dims[0] is None and dims["sorter"] is None:  # one sorted array: the library searches any shape
        kw = {"side": side} if sorter is None else {"side": side, "sorter": sorter}
        return xp.searchsorted(x1, x2, **kw), 0
    size = batch_size_any(dims, (x1, x2), {"sorter": sorter})
    rows = batched(xp, x1, dims[0], size)
    if sorter is not None:
        rows = xp.take_along_axis(rows, batched(xp, sorter, dims["sorter"], size), axis=1)
    # the index is the number of entries of the row before x2 (left) or not after it (right)
    k = example_ndim(x2, dims[1])
    a = xp.reshape(rows, (size,) + (1,) * k + (rows.shape[1],))
    v = xp.expand_dims(aligned(xp, x2, dims[1], k), axis=-1) if is_array(x2) else x2
    hit = (a < v) if side == "left" else (a <= v)
    if xp.isdtype(rows.dtype, "real floating"):
        # NaN sorts last, as the libraries' searchsorted has it: before a NaN come all
        # the numbers (left) or everything (right)
        nan_v = xp.isnan(v)
        hit = (hit | (nan_v & ~xp.isnan(a))) if side == "left" else (hit | nan_v)
    n = xp.count_nonzero(hit, axis=-1)
    index = xp.__array_namespace_info__().default_dtypes()["indexing"]
    return (xp.astype(n, index) if n.dtype != index else n), 0


# ---------------------------------------------------------------- sets


@ops.batching("isin")
def _(xp, dims, x1, x2, /, *, invert=False):
    if dims[1] is None:  # one test set for every example
        return xp.isin(x1, x2, invert=invert), 0
    size = x2.shape[0]
    k = example_ndim(x1, dims[0])
    values = xp.reshape(x2, (size,) + (1,) * k + (-1,))
    if is_array(x1):
        hit = xp.equal(xp.expand_dims(aligned(xp, x1, dims[0], k), axis=-1), values)
    else:
        hit = xp.equal(values, x1)
    found = xp.any(hit, axis=-1)
    return (xp.logical_not(found) if invert else found), 0


def _data_dependent(name):
    def rule(xp, dims, *args, **kwargs):
        size_differs(name, "an array")

    rule.__name__ = f"batch_{name}"
    return rule


for _name in ("nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values"):
    ops.batching(_name)(_data_dependent(_name))


# ---------------------------------------------------------------- diff


@ops.batching("diff")
def _(xp, dims, x, /, *, axis=-1, n=1, prepend=None, append=None):
    size = batch_size_any(dims, (x,), {"prepend": prepend, "append": append})
    x = batched(xp, x, dims[0], size)
    nd = x.ndim - 1
    ax = axis % nd
    kw = {"axis": ax + 1, "n": n}
    for name, a in (("prepend", prepend), ("append", append)):
        if a is None:
            continue
        d = dims[name]
        if is_array(a) and example_ndim(a, d) < nd:
            # NumPy's extension: a 0-d value stands for a slice of length one along the axis
            edge = tuple(1 if i == ax else s for i, s in enumerate(x.shape[1:]))
            a = xp.broadcast_to(aligned(xp, a, d, nd), ((size,) if d is not None else ()) + edge)
        kw[name] = batched(xp, a, d, size) if is_array(a) else a
    return xp.diff(x, **kw), 0
