"""``getitem``: ``x[key]`` with NumPy's semantics for every key.

Dask's own indexing runs only on canonical keys (see :mod:`.keys`) of the
forms it gets right: no arrays; or one 1-D integer array (bounds-checked,
renamed) or one boolean mask among slices only (Dask reads integers as basic
indices, which moves the array's axis when they are apart, and fails on
``None`` next to a Dask index array).  Every other key (several index arrays
such as ``x[i, j]``, n-D index arrays, an integer or ``None`` next to an
array) is a lazy
``take`` from the flattened array at the flat positions of
:func:`.keys.flat_index` (flattening merges the chunks of the trailing axes).
"""
from __future__ import annotations

import numpy as np
import dask.array as da

from .arrays import as_dask, has_unknown
from .blocks import blockwise_with_whole
from .degenerate import key_without_empty_chunks, without_empty_chunks
from .keys import checked, dask_key, flat_index, normalize_key


def _dask_reads_like_numpy(entries, ndim):
    arrays = [e for e in entries if e[0] in ("arr", "mask")]
    if not arrays:
        return True
    if len(arrays) > 1 or any(e[0] in ("int", "none") for e in entries):
        return False
    (e,) = arrays
    if e[0] == "mask":
        return e[2].ndim == 1 or e[2].ndim == ndim
    return e[2].ndim == 1


def getitem(xp, x, key, /):
    """``x[key]`` with NumPy's semantics for any key (lazy)."""
    x = without_empty_chunks(as_dask(x))
    entries, _ = normalize_key(key_without_empty_chunks(key), x.shape)
    if _dask_reads_like_numpy(entries, x.ndim):
        return x[dask_key(entries)]
    sel, out_shape = flat_index(x.shape, entries)
    if not has_unknown(out_shape) and 0 in out_shape:
        # nothing selected (Dask cannot reshape empty arrays to every shape)
        return da.zeros(out_shape, dtype=x.dtype)
    flat = da.reshape(x, (-1,))
    if isinstance(sel, da.Array) and has_unknown(sel.shape) and sel.ndim > 1:
        # unknown selection shape (a lazy mask over some axes): every block
        # of sel takes from the whole flattened x
        return blockwise_with_whole(lambda s, xf: np.asarray(xf)[s], sel, flat,
                                    dtype=x.dtype, meta=x._meta)
    if isinstance(sel, da.Array):
        r = flat[sel.reshape(-1) if sel.ndim != 1 else sel]
    else:
        r = da.take(flat, np.asarray(sel).reshape(-1))
    if r.shape != out_shape and not has_unknown(out_shape):
        r = da.reshape(r, out_shape)
    return r


def take(x, indices, axis):
    """``x`` read at integer ``indices`` along ``axis`` (NumPy's ``take``), with
    the index checked and renamed (see :mod:`.keys`) before Dask sees it."""
    x = without_empty_chunks(x)
    n = x.shape[axis]
    indices = without_empty_chunks(indices)
    idx = checked(indices if isinstance(indices, da.Array) else np.asarray(indices), n)
    return da.take(x, idx, axis=axis)
