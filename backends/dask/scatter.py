"""``setitem`` (functional ``x[key] = value``) and ``scatter_add`` (``x`` with
``values`` added at ``x[key]``, NumPy's ``np.add.at``): new lazy arrays with
``x``'s dtype and chunks (zero-length chunks dropped, see :mod:`.degenerate`);
``x`` is never modified.

Dask's own ``__setitem__`` is not used: it writes some keys to the wrong
positions (``y[1, ::-1, :] = v`` reverses along the wrong axis; see
``tests/test_dask_upstream.py``).  Instead:

* keys of ints, slices, ``...`` and ``None`` (each position at most once):
  :func:`_place`.  Every slice is made a positive-step run of positions
  (a negative step reverses the value along that axis), the value is
  rechunked so that its blocks line up with the blocks of ``x`` they land in,
  and each block of ``x`` writes (or adds) its own piece with NumPy indexing
  (memory ~ one block of ``x`` and its piece);
* keys with integer arrays or boolean masks: the flat positions of
  :func:`.keys.flat_index`, then either a dense accumulation (``scatter_add``
  into an ``x`` of at most :data:`SCATTER_DENSE_BYTES`: every chunk of
  ``(positions, values)`` goes into an ``x.size`` buffer with ``np.add.at``,
  buffers summed in a tree; streams over large index/value arrays), or per
  block (each block of ``x`` receives all positions and values and applies
  those inside it, in order: ``add`` accumulates, ``set`` lets the last write
  win, as NumPy does).
"""
from __future__ import annotations

import operator

import numpy as np
import dask
import dask.array as da
import array_api_compat

from .arrays import as_dask, has_unknown, has_unknown_chunks
from .blocks import LETTERS, blockwise_with_whole, offsets
from .degenerate import without_empty_chunks, key_without_empty_chunks
from .keys import basic_out_shape, flat_index, normalize_key

#: ``scatter_add`` with integer-array keys accumulates into a dense buffer of
#: ``x.size`` elements per chunk of the indices when ``x`` is at most this many
#: bytes (streaming over the indices/values); above it, each block of ``x``
#: receives all indices and values instead (memory ~ one block + the indices).
SCATTER_DENSE_BYTES = 64 * 2**20


def _value_for(x, v, mode):
    """``v`` as values to write into ``x``: x's dtype (a ``set`` casts as NumPy's
    assignment does; an ``add`` only within a kind), a complex value into a
    real ``x`` keeps its real part (as the NumPy backend does for gradients)."""
    if not isinstance(v, da.Array):
        v = np.asarray(v) if not hasattr(v, "__array_namespace__") else da.asarray(v)
    if v.dtype.kind == "c" and x.dtype.kind != "c":
        v = v.real
    if v.dtype != x.dtype and (mode == "set" or np.can_cast(v.dtype, x.dtype, "same_kind")):
        v = v.astype(x.dtype)
    return v


def _unknown_error():
    return NotImplementedError(
        "Dask backend: writing into a Dask array of unknown chunk sizes; call "
        ".compute_chunk_sizes() on it first")


def _fit_ndim(v, shape):
    """``v`` with NumPy's assignment broadcasting checked against ``shape``:
    leading unit axes dropped, missing leading axes added (size 1)."""
    vs = tuple(v.shape)
    extra = len(vs) - len(shape)
    if extra > 0:
        if any(s != 1 for s in vs[:extra]):
            raise ValueError(f"could not broadcast input array from shape {vs} into shape {tuple(shape)}")
        v = v[(0,) * extra]
    elif extra < 0:
        v = v[(None,) * (-extra) + (Ellipsis,)]
    for a, b in zip(v.shape, shape):
        if not (a == 1 or a == b or has_unknown((a,)) or has_unknown((b,))):
            raise ValueError(f"could not broadcast input array from shape {vs} into shape {tuple(shape)}")
    return v


def _ceil_div(a, b):
    return -((-a) // b)


def _run_in_block(first, step, count, start, size):
    """The part ``[q_lo, q_hi)`` of the run ``first + step * q`` (``q < count``)
    that falls in ``[start, start + size)``."""
    lo = min(max(_ceil_div(start - first, step), 0), count)
    hi = min(max(_ceil_div(start + size - first, step), 0), count)
    return lo, max(hi, lo)


def _place(x, entries, value, mode):
    """``x`` with ``value`` written (``set``) or added (``add``) at a key of
    ints / slices / ``None`` (see the module docstring)."""
    if has_unknown_chunks(x):
        raise _unknown_error()
    full = basic_out_shape(entries, x.shape)
    v = _fit_ndim(_value_for(x, value, mode), full)
    # per axis of x: positions first + step * q for q < count, increasing;
    # rev: the value runs the other way along that axis
    runs = []
    for e in entries:
        if e[0] == "slice":
            first, step, count = e[3]
            rev = step < 0 and count > 1
            if step < 0:
                first, step = first + step * (count - 1), -step
            runs.append((first, step, count, rev))
        elif e[0] == "int":
            runs.append((e[2], 1, 1, False))
    if any(r[2] == 0 for r in runs) or x.size == 0:
        return x.copy()
    # the value with one axis per axis of x (None axes dropped, int axes added)
    vkey = tuple(0 if e[0] == "none" else None if e[0] == "int" else slice(None) for e in entries)
    v = v[vkey]
    nd = x.ndim
    out_ind = LETTERS[:nd]
    kept = [d for d in range(nd) if v.shape[d] != 1 or runs[d][2] == 1]
    vkey = tuple(slice(None) if d in kept else 0 for d in range(nd))
    if kept != list(range(nd)):
        v = v[vkey]  # broadcast axes: every block uses the one value row
    flips = tuple(slice(runs[d][2] - 1, None, -1) if runs[d][3] else slice(None) for d in kept)
    if any(s != slice(None) for s in flips):
        v = v[flips]
    args = [x, out_ind]
    for d in range(nd):
        args += [offsets(x, d), out_ind[d]]
    if v.ndim:
        aligned = []
        for d in kept:
            first, step, count, _ = runs[d]
            starts = np.cumsum((0,) + x.chunks[d][:-1])
            counts = []
            for s, n in zip(starts, x.chunks[d]):
                lo, hi = _run_in_block(first, step, count, int(s), n)
                counts.append(hi - lo)
            aligned.append(tuple(counts))
        v = as_dask(v).rechunk(tuple(aligned))
        args += [v, "".join(out_ind[d] for d in kept)]
    elif isinstance(v, da.Array):
        args += [v, ""]  # one lazy scalar for every block
    else:
        args += [np.asarray(v), None]

    def block(b, *rest):
        if b.size == 0:
            return b
        local = []
        for d in range(nd):
            first, step, count, _ = runs[d]
            start = int(rest[d].reshape(-1)[0])
            lo, hi = _run_in_block(first, step, count, start, b.shape[d])
            if hi == lo:
                return b
            local.append(slice(first + lo * step - start, first + (hi - 1) * step - start + 1, step))
        piece = rest[nd]
        if isinstance(piece, np.ndarray) and not isinstance(b, np.ndarray):
            piece = array_api_compat.array_namespace(b).asarray(piece)  # CuPy chunks
        if piece.ndim != nd:
            piece = piece.reshape(tuple(piece.shape[kept.index(d)] if d in kept else 1 for d in range(nd)))
        out = b.copy()
        if mode == "add":
            out[tuple(local)] += piece
        else:
            out[tuple(local)] = piece
        return out

    # align_arrays=False: the value's blocks pair with x's by position (its
    # chunks are x's block counts, not x's sizes); the output takes x's chunks
    y = da.blockwise(block, out_ind, *args, dtype=x.dtype, meta=x._meta, align_arrays=False)
    if y.chunks != x.chunks:
        raise AssertionError(f"Dask backend: placement changed the chunks {x.chunks} -> {y.chunks}")
    return y


# ------------------------------------------------------- integer-array keys --

def _acc_add(flat_size, dtype):
    def f(s, v):
        out = np.zeros(flat_size, dtype=dtype)
        s = np.asarray(s)
        np.add.at(out, s.reshape(-1), np.broadcast_to(np.asarray(v), s.shape).reshape(-1))
        return out
    return f


def _tree_sum(parts):
    add = dask.delayed(operator.add, pure=True)
    while len(parts) > 1:
        parts = [add(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


def _scatter_blockwise(x, sel, vals, mode):
    """Each block of ``x`` receives all of ``sel`` and ``vals`` and applies
    the entries that fall inside it, in order (``add``: ``np.add.at``;
    ``set``: assignment, last write wins as in NumPy)."""
    shape = x.shape

    def f(b, starts, s, v):
        s = np.asarray(s)
        v = np.broadcast_to(np.asarray(v), s.shape).reshape(-1)
        s = s.reshape(-1)
        out = np.array(b, copy=True)
        idx = np.unravel_index(s, shape) if len(shape) else ()
        inside = np.ones(s.shape, dtype=bool)
        for d in range(len(shape)):
            inside &= (idx[d] >= starts[d]) & (idx[d] < starts[d] + b.shape[d])
        if not inside.any():
            return out
        local = tuple(idx[d][inside] - starts[d] for d in range(len(shape)))
        if mode == "add":
            np.add.at(out, local, v[inside])
        else:
            out[local] = v[inside]
        return out

    return blockwise_with_whole(f, x, sel, vals, dtype=x.dtype, with_offsets=True)


def _array_values(x, values, out_shape, mode):
    v = _value_for(x, values, mode)
    if not has_unknown(out_shape) and not has_unknown(v.shape):
        v = _fit_ndim(v, out_shape)
    return v


def scatter_add(xp, x, key, values, /):
    """A new array: ``x`` with ``values`` added at ``x[key]``, NumPy
    ``np.add.at`` semantics (repeated indices accumulate); ``x`` is not
    modified.  Lazy, with ``x``'s dtype and chunks (see the module
    docstring for how).  Boolean masks given as Dask arrays give
    unknown-length selections; those always take the per-block route."""
    x = without_empty_chunks(as_dask(x))
    values = without_empty_chunks(values)
    entries, has_array = normalize_key(key_without_empty_chunks(key), x.shape)
    if not has_array:
        return _place(x, entries, values, "add")
    if has_unknown_chunks(x):
        raise _unknown_error()
    sel, out_shape = flat_index(x.shape, entries)
    values = _array_values(x, values, out_shape, "add")
    known = not has_unknown(out_shape) and not has_unknown(values.shape)
    if known and x.nbytes <= SCATTER_DENSE_BYTES:
        if 0 in out_shape or x.size == 0:
            return x.copy()
        sel_d = as_dask(sel)
        vals_d = da.broadcast_to(as_dask(values), out_shape)
        if vals_d.chunks != sel_d.chunks:
            if isinstance(sel, da.Array):
                vals_d = vals_d.rechunk(sel_d.chunks)
            else:
                sel_d = da.from_array(np.asarray(sel), chunks=vals_d.chunks)
        f = dask.delayed(_acc_add(x.size, x.dtype), pure=True)
        parts = [f(s, v) for s, v in zip(sel_d.to_delayed(optimize_graph=False).ravel(),
                                          vals_d.to_delayed(optimize_graph=False).ravel())]
        total = da.from_delayed(_tree_sum(parts), shape=(x.size,), dtype=x.dtype, meta=x._meta)
        total = da.reshape(total, x.shape).rechunk(x.chunks)
        return x + total
    return _scatter_blockwise(x, sel, values, "add")


def setitem(xp, x, key, value, /):
    """Functional ``x[key] = value``: a new (lazy) array; ``x`` is never
    modified.  Repeated integer indices: the last write wins, as in NumPy."""
    x = without_empty_chunks(as_dask(x))
    value = without_empty_chunks(value)
    entries, has_array = normalize_key(key_without_empty_chunks(key), x.shape)
    if not has_array:
        return _place(x, entries, value, "set")
    if has_unknown_chunks(x):
        raise _unknown_error()
    sel, out_shape = flat_index(x.shape, entries)
    value = _array_values(x, value, out_shape, "set")
    return _scatter_blockwise(x, sel, value, "set")
