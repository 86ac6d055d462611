"""Indexing: ``__getitem__``, ``ext.getitem``, ``ext.setitem``, ``ext.scatter_add``,
``take`` and ``take_along_axis``.

A batched read ``x[key]`` is one read of the batch, with a key made from the
example's (`_layout`) in a form every library that took the example's key
takes as well:

* no index arrays (ints, slices, ``None``, ``...``): ``(slice(None), *key)``.
  array-api-strict wants a key that names every axis or holds ``...``; the
  example's key did, so this one does.
* a boolean mask alone: the batch axis moved last, ``x[mask]``, moved back
  (array-api-strict takes a mask only as the whole key).
* integer arrays: NumPy's layout rule (the broadcast axes of the advanced
  entries, integers among them, stand where the first advanced entry stands
  when those entries are adjacent, in front otherwise) says where the batch
  lands, and the result's axes are permuted to ``(batch, *example result)``.
  Where the key is all-integer, or an index array is batched, the batch gets
  its own index ``arange(B)`` in front: an all-integer key stays all-integer
  (the one form of integer-array indexing array-api-strict has), and a
  batched index array pairs its row b with example b. Otherwise a leading
  slice (Dask's own indexing still takes one 1-D array among slices). Masks
  beside other entries become their ``nonzero()`` arrays. Reads with integer
  arrays go through ``ext.getitem`` (Dask fills several arrays there).

A batched mask makes the size of a read differ between the examples: the
trace refuses it already. Writes (``ext.setitem``, ``ext.scatter_add``) use the
read's key with the value's axes permuted as the read's result would be; a
batched mask alone is a ``where`` there, since a write keeps its size.
"""
from __future__ import annotations

import operator

from .. import errors, ops
from ..ext import ext
from ._util import aligned, batch_size, batched, example_ndim


def _is_array(k) -> bool:
    return hasattr(k, "shape") and hasattr(k, "dtype")


def _is_mask(xp, k) -> bool:
    return _is_array(k) and xp.isdtype(k.dtype, "bool")


def _is_int(k) -> bool:
    if isinstance(k, bool) or _is_array(k) or k is None or k is Ellipsis or isinstance(k, slice):
        return False
    try:
        operator.index(k)
        return True
    except TypeError:
        return False


def _batched_mask_error():
    return errors.BatchedControlFlowError(
        "inside vmap, a boolean mask that differs between the examples selects a different number of "
        "elements in each; the batch cannot hold them. Write it elementwise: xp.where(mask, x, 0) for a "
        "read, x[mask] = v for a scalar v (or xp.where(mask, v, x)).")


def _parts(xp, key, kd):
    """The key's entries and their batch dims; lists become arrays."""
    if isinstance(key, tuple):
        parts = list(key)
        pdims = list(kd) if isinstance(kd, tuple) else [None] * len(parts)
    else:
        parts, pdims = [key], [kd]
    for i, k in enumerate(parts):
        if isinstance(k, list):
            if pdims[i] is not None:
                raise errors.YotaError("vmap: index with an array (xp.asarray / xp.stack), not a list of arrays")
            parts[i] = k = xp.asarray(k)
        if isinstance(k, bool) or (_is_mask(xp, k) and pdims[i] is None and k.ndim == 0):
            raise errors.YotaError("vmap: a boolean scalar in an index (x[True]) is not supported; use "
                                   "xp.expand_dims")
        if isinstance(k, slice):
            for b in (k.start, k.stop, k.step):
                if getattr(b, "ndim", 0):  # a 0-d bound of the example, batched
                    raise errors.BatchedControlFlowError(
                        "inside vmap, a slice bound that differs between the examples gives results of "
                        "different sizes; use a mask with xp.where, or move the slice outside vmap")
    return parts, pdims


class _Layout:
    """How to read the batch: ``permute_dims(x[key], perm)`` is ``(batch, *example
    result)``; ``moved``: the batch axis of ``x`` was moved last; ``rank``: the
    example result's rank; ``arrays``: the key holds integer arrays."""

    __slots__ = ("x", "key", "perm", "moved", "rank", "arrays")

    def __init__(self, x, key, perm, moved, rank, arrays):
        self.x, self.key, self.perm, self.moved, self.rank, self.arrays = x, key, perm, moved, rank, arrays


def _layout(xp, x, xd, key, kd, size) -> _Layout:
    parts, pdims = _parts(xp, key, kd)
    nd = example_ndim(x, xd)
    if any(_is_mask(xp, k) and d is not None for k, d in zip(parts, pdims)):
        raise _batched_mask_error()
    if len(parts) == 1 and _is_mask(xp, parts[0]):
        m = parts[0]
        rank = 1 + nd - m.ndim
        return _Layout(xp.moveaxis(x, 0, -1), m, (rank,) + tuple(range(rank)), True, rank, False)
    if any(_is_mask(xp, k) for k in parts):  # among other entries: the mask's nonzero() arrays in its place
        np_, nd_ = [], []
        for k, d in zip(parts, pdims):
            if _is_mask(xp, k):
                nz = xp.nonzero(k)
                np_ += list(nz)
                nd_ += [None] * len(nz)
            else:
                np_.append(k)
                nd_.append(d)
        parts, pdims = np_, nd_
    consumed = sum(1 for k in parts if k is not None and k is not Ellipsis)
    n_basic = sum(1 for k in parts if k is None or isinstance(k, slice)) + (nd - consumed)
    arrays = [i for i, k in enumerate(parts) if _is_array(k)]
    if not arrays:
        return _Layout(x, (slice(None), *parts), None, False, n_basic, False)
    adv = [i for i, k in enumerate(parts) if _is_array(k) or _is_int(k)]
    contiguous = adv == list(range(adv[0], adv[-1] + 1))
    before = sum(nd - consumed if k is Ellipsis else 1 for k in parts[:adv[0]])  # basic axes ahead of them
    bnd = max(example_ndim(parts[i], pdims[i]) for i in arrays)
    rank = bnd + n_basic
    any_b = any(pdims[i] is not None for i in arrays)
    new = [aligned(xp, k, d, bnd) if _is_array(k) else k for k, d in zip(parts, pdims)]
    rest = list(range(1 + bnd + before, 1 + rank))
    if xd is None:  # only the index arrays are batched: (B, *b) is their broadcast shape
        perm = None
        if contiguous and before:
            perm = (before, *range(before), *range(before + 1, 1 + rank))
        return _Layout(x, tuple(new), perm, False, rank, True)
    if len(adv) == len(parts) or any_b:
        idx = parts[arrays[0]]
        iota = xp.reshape(xp.arange(size, dtype=idx.dtype, device=x.device), (size,) + (1,) * bnd)
        perm = None  # the result is (B, *b, basic axes in order)
        if contiguous and before:
            perm = (0, *range(1 + bnd, 1 + bnd + before), *range(1, 1 + bnd), *rest)
        return _Layout(x, (iota, *new), perm, False, rank, True)
    # unbatched arrays among slices: a leading slice keeps the example's layout, unless the
    # advanced axes go in front (not adjacent): then the batch follows them
    perm = None if contiguous else (bnd, *range(bnd), *range(bnd + 1, 1 + rank))
    return _Layout(x, (slice(None), *new), perm, False, rank, True)


def _read(xp, lay, via_ext):
    y = ext.getitem(xp, lay.x, lay.key) if (lay.arrays or via_ext) else lay.x[lay.key]
    return xp.permute_dims(y, lay.perm) if lay.perm is not None else y


def _getitem(via_ext):
    def rule(xp, dims, x, key):
        size = batch_size(dims, x, key)
        return _read(xp, _layout(xp, x, dims[0], key, dims[1], size), via_ext), 0

    rule.__name__ = "batch_ext_getitem" if via_ext else "batch_getitem"
    return rule


ops.batching("__getitem__")(_getitem(False))
ops.batching("ext.getitem")(_getitem(True))


# ---------------------------------------------------------------- writing


def _front(xp, v, d, rank, size):
    """``v`` with ``1 + rank`` axes: the batch (or 1) in front, then an example
    broadcast to ``rank`` axes (leading size-1 axes beyond them dropped, as
    NumPy's ``x[key] = v`` does)."""
    ex = tuple(v.shape[1:]) if d is not None else tuple(v.shape)
    if len(ex) > rank:
        ex = ex[len(ex) - rank:]
    shape = (size if d is not None else 1,) + (1,) * (rank - len(ex)) + ex
    return xp.reshape(v, shape) if shape != tuple(v.shape) else v


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


def _write(name):
    op = getattr(ext, name)

    def rule(xp, dims, x, key, value):
        size = batch_size(dims, x, key, value)
        xd, kd, vd = dims[0], dims[1], dims[2]
        parts, pdims = _parts(xp, key, kd)
        if any(_is_mask(xp, k) and d is not None for k, d in zip(parts, pdims)):
            if len(parts) != 1:
                raise _batched_mask_error()
            return _masked_write(xp, name, x, xd, parts[0], value, vd), 0
        xb = batched(xp, x, xd, size)
        lay = _layout(xp, xb, 0, key, kd, size)
        v = value
        if _is_array(v) and (vd is not None or lay.perm is not None):
            v = _front(xp, v, vd, lay.rank, size)
            if lay.perm is not None:
                v = xp.permute_dims(v, _inverse(lay.perm))
        y = op(xp, lay.x, lay.key, v)
        return (xp.moveaxis(y, -1, 0) if lay.moved else y), 0

    rule.__name__ = f"batch_{name}"
    return rule


def _masked_write(xp, name, x, xd, m, value, vd):
    """``x[m] = value`` (or ``+=``) for a batched mask alone: elementwise, when the
    value is the same for every selected position (no axis of the mask's count)."""
    size, k = m.shape[0], m.ndim - 1
    rest = example_ndim(x, xd) - k
    mask = xp.reshape(m, tuple(m.shape) + (1,) * rest)
    if _is_array(value):
        v = _front(xp, value, vd, 1 + rest, size)
        if v.shape[1] != 1:
            raise errors.BatchedControlFlowError(
                "inside vmap, x[mask] = values with one value per selected element, for a mask that differs "
                "between the examples: the number of values would differ. Write xp.where(mask, new, x) with "
                "`new` shaped like x")
        v = xp.reshape(v, (v.shape[0],) + (1,) * k + tuple(v.shape[2:]))
        if v.dtype != x.dtype:
            v = xp.astype(v, x.dtype)
    else:
        v = xp.asarray(value, dtype=x.dtype, device=x.device)
    return xp.where(mask, x + v if name == "scatter_add" else v, x)


ops.batching("ext.setitem")(_write("setitem"))
ops.batching("ext.scatter_add")(_write("scatter_add"))


# ---------------------------------------------------------------- take, take_along_axis


@ops.batching("take")
def _(xp, dims, x, indices, /, *, axis=None):
    xd, idd = dims[0], dims[1]
    size = batch_size(dims, x, indices)
    if axis is None:  # the standard's 1-D x; NumPy reads a flattened one
        if example_ndim(x, xd) != 1:
            x = xp.reshape(x, (size, -1) if xd is not None else (-1,))
        axis = 0
    nd = example_ndim(x, xd)
    a = axis % nd
    if idd is None:
        return xp.take(x, indices, axis=a + 1), 0
    # batched indices: an all-integer key whose result is (B, x[:a], *indices, x[a+1:])
    shape = tuple(x.shape[1:]) if xd is not None else tuple(x.shape)
    s = tuple(indices.shape[1:])
    r = nd + len(s)
    dev, dt = x.device, indices.dtype
    key = []
    if xd is not None:
        key.append(xp.reshape(xp.arange(size, dtype=dt, device=dev), (size,) + (1,) * (r - 1)))
    for dd in range(nd):
        if dd == a:
            key.append(xp.reshape(indices, (size,) + (1,) * a + s + (1,) * (nd - a - 1)))
            continue
        at = 1 + dd if dd < a else dd + len(s)  # the result axis of x's axis dd
        key.append(xp.reshape(xp.arange(shape[dd], dtype=dt, device=dev),
                              (1,) * at + (shape[dd],) + (1,) * (r - at - 1)))
    return ext.getitem(xp, x, tuple(key)), 0


@ops.batching("take_along_axis")
def _(xp, dims, x, indices, /, *, axis=-1):
    xd, idd = dims[0], dims[1]
    a = axis % example_ndim(x, xd)
    # the unbatched side gets a size-1 batch axis, which take_along_axis broadcasts
    if xd is None:
        x = xp.expand_dims(x, axis=0)
    if idd is None:
        indices = xp.expand_dims(indices, axis=0)
    return xp.take_along_axis(x, indices, axis=a + 1), 0
