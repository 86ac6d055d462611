"""Top-level fills: the functions of the standard that
``array_api_compat.dask.array`` (``cda``) lacks or gets wrong on multi-chunk
Dask arrays.  Each names its upstream defect; ``tests/test_dask_upstream.py``
checks every one is still there.  All stay lazy."""
from __future__ import annotations

import numbers

import numpy as np
import dask.array as da
import array_api_compat
import array_api_compat.dask.array as cda

from . import chunks
from .arrays import as_dask, norm_axis
from .blocks import single_chunk, whole
from .indexing import take as _checked_take


def broadcast_shapes(*shapes):
    """Standard ``broadcast_shapes``; upstream: missing in ``cda``."""
    return np.broadcast_shapes(*shapes)


def from_dlpack(x, /, *, device=None, copy=None):
    """Standard ``from_dlpack``; upstream: missing in ``cda``.  Through
    NumPy, one chunk."""
    kw = {} if copy is None else {"copy": copy}
    return da.from_array(np.from_dlpack(x, **kw))


def eye(n_rows, n_cols=None, /, *, k=0, dtype=None, device=None):
    """Standard ``eye``; upstream: ``cda.eye(3, 4, k=1)`` builds a graph with
    a missing chunk key.  Built as ``i + k == j`` from two aranges."""
    n_cols = n_rows if n_cols is None else n_cols
    dtype = np.float64 if dtype is None else dtype
    i = da.arange(n_rows, dtype=np.int64)[:, None]
    j = da.arange(n_cols, dtype=np.int64)[None, :]
    return (i + k == j).astype(dtype)


def reshape(x, /, shape, *, copy=None):
    """Standard ``reshape``; upstream: Dask only reshapes by merging or
    splitting existing axes (``NotImplementedError`` otherwise), and not at
    all when the array is empty.  Other
    reshapes go through the flattened array (Dask merges the trailing axes'
    chunks for that: memory ~ rows-chunk x product of the other axes)."""
    x = as_dask(x)
    if x.size == 0:
        # upstream: an empty array does not even flatten; it holds no values,
        # so a new one of the shape NumPy gives will do
        return da.zeros(np.empty(x.shape).reshape(shape).shape, dtype=x.dtype)
    try:
        return cda.reshape(x, shape, copy=copy)
    except NotImplementedError:
        flat = cda.reshape(x, (-1,), copy=copy)
        return cda.reshape(flat, shape)


def repeat(x, repeats, /, *, axis=None):
    """Standard ``repeat``; upstream: Dask needs an integer ``axis`` and an
    integer ``repeats``.  ``axis=None`` flattens first; an array of repeats
    becomes a ``take`` with NumPy-computed indices when it is concrete, and a
    per-block ``repeat`` along a single-chunk axis (unknown output length)
    when it is a Dask array."""
    x = as_dask(x)
    if axis is None:
        x = reshape(x, (-1,))
        axis = 0
    axis = norm_axis(axis, x.ndim)
    if isinstance(repeats, numbers.Integral) or (
        not isinstance(repeats, da.Array) and np.ndim(repeats) == 0
    ):
        return da.repeat(x, int(repeats), axis=axis)
    if not isinstance(repeats, da.Array):
        r = np.broadcast_to(np.asarray(repeats), (x.shape[axis],))
        idx = np.repeat(np.arange(x.shape[axis]), r)
        return da.take(x, idx, axis=axis)
    # lazy repeats: one chunk along axis, output length unknown
    x = single_chunk(x, [axis])
    r = whole(repeats)
    out_chunks = list(x.chunks)
    out_chunks[axis] = (np.nan,)

    def f(b, r=None):
        return np.repeat(b, np.broadcast_to(r, (b.shape[axis],)), axis=axis)

    return x.map_blocks(f, r=r, chunks=tuple(out_chunks), dtype=x.dtype)


def searchsorted(x1, x2, /, *, side="left", sorter=None):
    """Standard ``searchsorted``; upstream: Dask refuses ``sorter`` (we search
    the sorted ``take(x1, sorter)``, which gives the same positions), a
    Python scalar ``x2`` (made a 0-d array of ``x1``'s dtype), and computes
    the wrong shape for an empty ``x2``."""
    x1 = as_dask(x1)
    if sorter is not None:
        x1 = _checked_take(x1, sorter, 0)
    if not isinstance(x2, (da.Array, np.ndarray)):
        x2 = np.asarray(x2, dtype=x1.dtype)
    x2 = as_dask(x2)
    if x2.size == 0:
        # upstream: an empty x2 gets the right shape metadata but computes
        # another shape ((0, 3) declared, (1, 0) computed)
        return da.zeros(x2.shape, dtype=np.int64)
    if x2.ndim == 0:
        return cda.searchsorted(x1, x2[None], side=side)[0]
    return cda.searchsorted(x1, x2, side=side)


def take(x, indices, /, *, axis=None):
    """Standard ``take``; upstream: ``axis=None`` is refused even for 1-D
    ``x``.  Indices are checked and renamed first (Dask's take reads an
    out-of-range Dask index as another element)."""
    x = as_dask(x)
    if axis is None:
        if x.ndim != 1:
            raise ValueError("take: axis is required when x has more than one dimension")
        axis = 0
    return _checked_take(x, indices, norm_axis(axis, x.ndim))


def take_along_axis(x, indices, /, *, axis=-1):
    """Standard ``take_along_axis``; upstream: missing in ``cda``.  ``axis``
    of ``x`` is rechunked to one chunk; the other axes of ``x`` and
    ``indices`` broadcast and align; then the chunk library's
    ``take_along_axis`` runs per block (output chunks follow ``indices``);
    out-of-range indices raise ``IndexError`` when computed, as in NumPy."""
    x = as_dask(x)
    indices = as_dask(indices)
    if x.ndim != indices.ndim:
        raise ValueError(
            f"take_along_axis: x and indices must have the same number of dimensions, "
            f"got {x.ndim} and {indices.ndim}")
    axis = norm_axis(axis, x.ndim)
    xs = list(x.shape)
    ish = list(indices.shape)
    xs[axis] = ish[axis] = 1
    batch = list(np.broadcast_shapes(tuple(xs), tuple(ish)))
    xb = list(batch)
    xb[axis] = x.shape[axis]
    ib = list(batch)
    ib[axis] = indices.shape[axis]
    if tuple(ib) != indices.shape:
        indices = da.broadcast_to(indices, tuple(ib))
    if tuple(xb) != x.shape:
        x = da.broadcast_to(x, tuple(xb))
    x = x.rechunk(tuple(-1 if a == axis else indices.chunks[a] for a in range(x.ndim)))
    letters = "abcdefghijklmnopqrstuvwxy"[: x.ndim]
    xind = letters[:axis] + "z" + letters[axis + 1:]

    def f(b, ib):
        return array_api_compat.array_namespace(b).take_along_axis(b, ib, axis=axis)

    return da.blockwise(
        f, letters, x, xind, indices, letters,
        dtype=x.dtype, concatenate=True, meta=x._meta,
    )


FILLS = {
    "broadcast_shapes": broadcast_shapes,
    "from_dlpack": from_dlpack,
    "eye": eye,
    "reshape": reshape,
    "repeat": repeat,
    "searchsorted": searchsorted,
    "take_along_axis": take_along_axis,
    "take": take,
    "broadcast_to": chunks.broadcast_to,
}
FILLS.update({name: chunks.recording(getattr(cda, name)) for name in chunks.REDUCTIONS})
