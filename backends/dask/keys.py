"""NumPy's indexing rules, worked out here rather than left to Dask.

A key is split into one entry per part (:func:`normalize_key`), with every
value made canonical: ``...`` expanded into slices, integers wrapped into
``[0, n)`` (out of range raises ``IndexError`` as NumPy does), slices turned
into the ``range`` NumPy would read (:func:`canonical_slice`), index arrays
bounds-checked and wrapped (:func:`checked`).  The rest of the backend only
hands Dask keys in that canonical form, because Dask reads some raw keys
differently from NumPy (see ``tests/test_dask_upstream.py``):

* a negative-step slice whose start is below ``-n`` (``x[-8::-1]`` on 5
  elements) selects everything in Dask, nothing in NumPy;
* an out-of-range entry of a Dask integer index array silently reads another
  element;
* a Dask index array named like Dask's own internal block-offset array (both
  ``from_array`` of the same values) makes Dask mix the two up: wrong shape
  metadata (``x[i]`` declared ``(4, 6)`` for one index into one chunk) or a
  failed graph.

:func:`flat_index` gives, for any key, the flat (C-order) positions of the
selected elements laid out like ``x[key]`` (NumPy's advanced-indexing layout),
which gather and scatter use for keys Dask cannot do itself.
"""
from __future__ import annotations

import operator

import numpy as np
import dask.array as da
from dask.base import tokenize

from .arrays import has_unknown, isnan


def is_array(k):
    return isinstance(k, (da.Array, np.ndarray)) or hasattr(k, "__array_namespace__")


def canonical_slice(s, n):
    """``(first, step, count)`` of the positions ``s`` reads on an axis of
    ``n`` (NumPy's ``slice.indices``), and the equivalent slice with a
    non-negative start and a stop that is either non-negative or ``None``."""
    r = range(*s.indices(n))
    if len(r) == 0:
        return slice(0, 0, 1), (0, 1, 0)
    if r.step > 0:
        return slice(r.start, r[-1] + 1, r.step), (r.start, r.step, len(r))
    return slice(r.start, None if r[-1] == 0 else r[-1] - 1, r.step), (r.start, r.step, len(r))


def checked(a, n):
    """Integer index array ``a`` on an axis of ``n``: negative entries wrapped,
    out-of-range ones raise ``IndexError`` (now for NumPy arrays, when computed
    for Dask ones).  A Dask result gets a name of its own (see the module
    docstring)."""
    def fix(b, n=n):
        b = np.asarray(b)
        if b.size and (b.min() < -n or b.max() >= n):
            raise IndexError(f"index {int(b.min()) if b.min() < -n else int(b.max())} is out of bounds "
                             f"for axis with size {n}")
        return np.where(b < 0, b + n, b).astype(np.int64)

    if isinstance(a, da.Array):
        return a.map_blocks(fix, dtype=np.int64, name="yota-index-" + tokenize(a, n))
    return fix(a)


def normalize_key(key, shape):
    """Split ``key`` into per-entry descriptions following NumPy's rules.

    Returns ``(entries, has_array)``; each entry is one of
    ``("slice", axis, canonical slice, (first, step, count))``,
    ``("int", axis, i)`` with ``0 <= i < n``, ``("none",)``,
    ``("arr", axis, int_array)`` (bounds-checked, wrapped; a NumPy boolean
    mask becomes one per axis it spans, from ``nonzero``) or
    ``("mask", axis, dask_bool_array)`` spanning ``mask.ndim`` axes."""
    if not isinstance(key, tuple):
        key = (key,)
    key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key)
    consumed = 0
    n_ell = 0
    for k in key:
        if k is Ellipsis:
            n_ell += 1
        elif k is None:
            pass
        elif is_array(k) and k.dtype == bool:
            consumed += k.ndim
        else:
            consumed += 1
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if consumed > len(shape):
        raise IndexError(f"too many indices for array of dimension {len(shape)}")
    entries = []
    axis = 0
    has_array = False

    def add_slice(s):
        n = shape[axis]
        if isnan(n):
            if s != slice(None):
                raise NotImplementedError(
                    "Dask backend: slicing an axis of unknown length (a Dask array of unknown "
                    "chunk sizes); call .compute_chunk_sizes() on the array first")
            entries.append(("slice", axis, s, None))
            return
        c, r = canonical_slice(s, n)
        entries.append(("slice", axis, c, r))

    for k in key:
        if k is Ellipsis:
            for _ in range(len(shape) - consumed):
                add_slice(slice(None))
                axis += 1
        elif k is None:
            entries.append(("none",))
        elif isinstance(k, (bool, np.bool_)):
            raise NotImplementedError("a boolean scalar index is not supported by the Dask backend")
        elif isinstance(k, slice):
            add_slice(k)
            axis += 1
        elif is_array(k) and k.dtype == bool:
            if k.ndim == 0:
                raise NotImplementedError("0-d boolean index is not supported by the Dask backend")
            if tuple(k.shape) != tuple(shape[axis: axis + k.ndim]):
                raise IndexError(
                    f"boolean index of shape {k.shape} does not match the indexed "
                    f"dimensions {tuple(shape[axis: axis + k.ndim])}")
            if isinstance(k, da.Array):
                entries.append(("mask", axis, k))
            else:
                # a concrete mask is its nonzero positions: known sizes (Dask's
                # own x[mask] gives unknown ones even for a NumPy mask)
                for j, a in enumerate(np.nonzero(np.asarray(k))):
                    entries.append(("arr", axis + j, a.astype(np.int64)))
            axis += k.ndim
            has_array = True
        elif is_array(k):
            if not np.issubdtype(k.dtype, np.integer):
                raise IndexError(f"arrays used as indices must be of integer or boolean type, got {k.dtype}")
            if isinstance(k, np.ndarray) and k.ndim == 0:
                entries.append(_int_entry(int(k), axis, shape))
            else:
                a = k if isinstance(k, da.Array) else np.asarray(k)
                entries.append(("arr", axis, checked(a, shape[axis])))
                has_array = True
            axis += 1
        else:
            try:
                i = operator.index(k)
            except TypeError:
                raise IndexError(f"unsupported index {k!r}") from None
            entries.append(_int_entry(i, axis, shape))
            axis += 1
    while axis < len(shape):
        add_slice(slice(None))
        axis += 1
    return entries, has_array


def _int_entry(i, axis, shape):
    n = shape[axis]
    if isnan(n):
        raise NotImplementedError(
            "Dask backend: indexing an axis of unknown length (a Dask array of unknown chunk "
            "sizes); call .compute_chunk_sizes() on the array first")
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of bounds for axis {axis} with size {n}")
    return ("int", axis, i % n)


def dask_key(entries):
    """The canonical key for Dask's own ``x[key]``."""
    return tuple(None if e[0] == "none" else e[2] for e in entries)


def basic_out_shape(entries, shape):
    """Shape of ``x[key]`` for a key without arrays."""
    out = []
    for e in entries:
        if e[0] == "none":
            out.append(1)
        elif e[0] == "slice":
            out.append(shape[e[1]] if e[3] is None else e[3][2])
    return tuple(out)


def expand_masks(entries):
    """Dask masks as the (unknown-length) integer arrays of their ``nonzero``,
    one per axis spanned."""
    out = []
    for e in entries:
        if e[0] == "mask":
            for j, a in enumerate(da.nonzero(e[2])):
                out.append(("arr", e[1] + j, a))
        else:
            out.append(e)
    return out


def _bshape(shapes):
    """Broadcast shapes where ``nan`` (unknown) matches anything."""
    nd = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(nd):
        dims = [s[len(s) - nd + i] for s in shapes if len(s) - nd + i >= 0]
        known = [d for d in dims if not isnan(d) and d != 1]
        if known:
            if any(d != known[0] for d in known):
                raise IndexError(f"shape mismatch: indexing arrays could not be broadcast together "
                                 f"with shapes {shapes}")
            out.append(known[0])
        elif any(isnan(d) for d in dims):
            out.append(np.nan)
        else:
            out.append(1)
    return tuple(out)


def flat_index(shape, entries):
    """``(sel, out_shape)``: int64 array (NumPy or lazy Dask) shaped like
    ``x[key]`` whose entries are the flat (C-order) positions in ``x`` of the
    selected elements, i.e. ``x.reshape(-1)[sel] == x[key]``.  Follows NumPy's
    advanced-indexing layout rules (integer scalars join the advanced indices
    when any array is present; separated advanced indices go first).
    ``entries`` come from :func:`normalize_key`."""
    entries = expand_masks(entries)
    if any(e[0] == "slice" and e[3] is None for e in entries):
        raise NotImplementedError(
            "Dask backend: an index array on an array with an axis of unknown length (a Dask "
            "array of unknown chunk sizes); call .compute_chunk_sizes() on the array first")
    has_array = any(e[0] == "arr" for e in entries)
    strides = [int(np.prod(shape[i + 1:], dtype=np.int64)) for i in range(len(shape))]
    adv_pos = [i for i, e in enumerate(entries)
               if e[0] == "arr" or (has_array and e[0] == "int")]
    adv_shape = ()
    contiguous = True
    if has_array:
        adv_shape = _bshape([tuple(e[2].shape) for e in entries if e[0] == "arr"])
        contiguous = adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1))
    layout = []  # ("basic", entry index) or ("adv",)
    for i, e in enumerate(entries):
        if has_array and i == adv_pos[0] and contiguous:
            layout.append(("adv",))
        if e[0] in ("slice", "none"):
            layout.append(("basic", i))
    if has_array and not contiguous:
        layout.insert(0, ("adv",))
    out_shape = []
    dim_of = {}
    adv_start = 0
    for item in layout:
        if item[0] == "adv":
            adv_start = len(out_shape)
            out_shape.extend(adv_shape)
        else:
            e = entries[item[1]]
            dim_of[item[1]] = len(out_shape)
            out_shape.append(1 if e[0] == "none" else e[3][2])
    nd = len(out_shape)
    sel = np.zeros((), dtype=np.int64)
    for i, e in enumerate(entries):
        if e[0] == "slice":
            first, step, count = e[3]
            r = (first + step * np.arange(count, dtype=np.int64)) * strides[e[1]]
            sh = [1] * nd
            sh[dim_of[i]] = count
            sel = sel + r.reshape(sh)
        elif e[0] == "int":
            sel = sel + e[2] * strides[e[1]]
        elif e[0] == "arr":
            a = e[2] * strides[e[1]]
            lead = adv_start + len(adv_shape) - a.ndim
            trail = nd - lead - a.ndim
            if lead or trail:
                a = a[(None,) * lead + (Ellipsis,) + (None,) * trail]
            try:
                sel = sel + a
            except ValueError as err:
                if has_unknown(a.shape) or has_unknown(getattr(sel, "shape", ())):
                    raise NotImplementedError(
                        "Dask backend: a lazy (Dask) boolean mask cannot be combined with "
                        "other index arrays, because its number of True values is unknown "
                        "until computed; use a NumPy mask or index with the mask alone"
                    ) from err
                raise
    out_shape = tuple(out_shape)
    if not has_unknown(out_shape) and tuple(sel.shape) != out_shape:
        sel = (da.broadcast_to(sel, out_shape) if isinstance(sel, da.Array)
               else np.broadcast_to(sel, out_shape))
    return sel, out_shape
