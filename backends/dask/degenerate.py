"""Calls on degenerate Dask arrays: empty ones, and zero-length chunks.

Zero-length chunks (what ``x[mask].compute_chunk_sizes()`` gives for blocks
where the mask is all False, or a ``concat`` with an empty array) make many
Dask functions fail: ``max`` (it concatenates mismatched empty blocks),
``tril``/``triu``, ``cumulative_prod``, ``searchsorted`` ...  Such arguments
are rechunked without them first (a rechunk that merges nothing).

Dask's graph code also fails on many empty arrays: ``reshape`` (even to
``(-1,)``), ``roll`` without an axis, ``concat(axis=None)``, ``repeat``,
``linalg.vector_norm(ord=0)`` ...  (see ``tests/test_dask_upstream.py``).  An
empty array holds no data, so such a call runs the chunk library's own
function on empty stand-ins of the same shapes and dtypes (nothing of the
graph is computed) and the result becomes a Dask array again.  The result can
be non-empty (``sum`` of nothing is 0) and follows NumPy exactly, errors
included (``max`` of nothing raises, now rather than when computed)."""
from __future__ import annotations

import functools

import dask.array as da
import array_api_compat

from .arrays import has_unknown


def _dask_arrays(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, da.Array):
            yield a
        elif isinstance(a, (list, tuple)):
            for b in a:
                if isinstance(b, da.Array):
                    yield b


def _all_empty(args, kwargs):
    seen = False
    for a in _dask_arrays(args, kwargs):
        if has_unknown(a.shape) or a.size != 0:
            return False
        seen = True
    return seen


def _stand_in(a):
    if isinstance(a, da.Array):
        return array_api_compat.array_namespace(a._meta).zeros(a.shape, dtype=a.dtype)
    if isinstance(a, list):
        return [_stand_in(b) for b in a]
    if isinstance(a, tuple) and not hasattr(a, "_fields"):
        return tuple(_stand_in(b) for b in a)
    return a


def _to_dask(r):
    if hasattr(r, "__array_namespace__") and hasattr(r, "shape"):
        return da.from_array(r)
    if isinstance(r, tuple) and hasattr(r, "_fields"):
        return type(r)(*(_to_dask(v) for v in r))
    if isinstance(r, (tuple, list)):
        return type(r)(_to_dask(v) for v in r)
    return r


def _has_empty_chunks(a):
    return a.size != 0 and any(0 in cs for cs in a.chunks)


def without_empty_chunks(a):
    """``a`` rechunked without its zero-length chunks (same values); an empty
    ``a`` becomes a fresh one-block empty array (Dask's blocks of an empty
    array do not always line up with its shape)."""
    if not isinstance(a, da.Array) or has_unknown(a.shape):
        return a
    if a.size == 0:
        if len(a.chunks) and all(len(cs) == 1 for cs in a.chunks):
            return a
        return da.from_array(_stand_in(a))
    if not _has_empty_chunks(a):
        return a
    return a.rechunk(tuple(tuple(c for c in cs if c) for cs in a.chunks))


def key_without_empty_chunks(key):
    """An indexing key with its Dask index arrays rechunked without
    zero-length chunks."""
    if isinstance(key, tuple):
        return tuple(without_empty_chunks(k) for k in key)
    return without_empty_chunks(key)


def _drop_empty_chunks(args, kwargs):
    if not any(_has_empty_chunks(a) for a in _dask_arrays(args, kwargs)):
        return args, kwargs

    def fix(a):
        if isinstance(a, (list, tuple)) and not hasattr(a, "_fields"):
            return type(a)(without_empty_chunks(b) for b in a)
        return without_empty_chunks(a)

    return tuple(fix(a) for a in args), {k: fix(v) for k, v in kwargs.items()}


def guarded(fn, path):
    """``fn`` (``xp.<path>``) with zero-length chunks dropped from its Dask
    arguments, and evaluated on empty stand-ins when every Dask array
    argument is empty."""
    sub, _, name = path.rpartition(".")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not _all_empty(args, kwargs):
            args, kwargs = _drop_empty_chunks(args, kwargs)
            return fn(*args, **kwargs)
        meta = next(_dask_arrays(args, kwargs))._meta
        ns = array_api_compat.array_namespace(meta)
        chunk_fn = getattr(getattr(ns, sub) if sub else ns, name)
        return _to_dask(chunk_fn(*_stand_in(args), **{k: _stand_in(v) for k, v in kwargs.items()}))

    return wrapper
