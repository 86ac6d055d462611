"""Dask backend: the array-API namespace for Dask arrays, with fills, and the
backend extensions the engine calls.

Compiled gradient code calls every array function as ``xp.<name>(...)``; for
Dask, ``xp`` is :data:`namespace`, which behaves like
``array_api_compat.dask.array`` and adds what that namespace lacks or gets
wrong on multi-chunk Dask arrays.  Every fill stays lazy: nothing here calls
``compute``.  Each upstream defect patched is named where it is patched and
watched by ``tests/test_dask_upstream.py``, which fails once upstream fixes
it, so that the fill can go.

Modules, one job each:

``xp``          the namespace object (fills in front of ``cda``)
``toplevel``    top-level fills (``take_along_axis``, ``reshape``, ``eye``, ...)
``linalg``      ``linalg`` fills (batched, any chunking)
``fft``         ``fft`` fills (transformed axes in one chunk)
``chunks``      chunk hints: reductions remember input chunks for ``broadcast_to``
``keys``        NumPy's indexing rules: canonical keys, flat positions
``indexing``    ``getitem`` (NumPy semantics for every key)
``scatter``     ``setitem`` / ``scatter_add`` (never Dask's ``__setitem__``)
``blocks``      running chunk-library functions per block
``inputs``      the arrays passed in: unknown chunk sizes refused, empty chunks dropped
``degenerate``  empty arrays and zero-length chunks, on which Dask fails
``arrays``      small shared helpers

Memory: functions that need a whole axis (FFT axes, ``take_along_axis``'s
axis, the matrix axes of a batched matrix function, ``repeat`` by a lazy
``repeats``) rechunk that axis (those axes) to one chunk and leave the others
as they are, so a task holds whole signals / whole matrices of its batch
chunk.

Not fillable here: the ``.mT`` attribute on ``dask.array.Array`` (Dask has
none; use ``xp.matrix_transpose``); the user's own ``x[key]`` on a Dask array
runs Dask's indexing (the engine can route it to :func:`getitem`).
"""
from __future__ import annotations

import array_api_compat
import dask.array as da

from . import blocks, chunks
from .indexing import getitem
from .inputs import UnknownChunkSizesError, check_inputs, prepare_inputs
from .scatter import scatter_add, setitem
from .xp import namespace

__all__ = ["namespace", "scatter_add", "setitem", "getitem", "device", "to_float", "is_lazy",
           "replaces_getitem", "check_inputs", "prepare_inputs", "UnknownChunkSizesError", "reset", "from_numpy",
           "unknown_size_advice"]

is_lazy = True
one_device = True  # (the cache key leaves devices out)
unknown_size_advice = ("For a Dask array, call .compute_chunk_sizes() on the data-dependent part (for example "
                       "idx = da.nonzero(mask)[0].compute_chunk_sizes()) and pass it in.")

#: Dask's own ``x[key]`` gives wrong answers for some keys (see :mod:`.keys`):
#: every read should go through :func:`getitem` (an engine request, see
#: /work/notes/dask_engine_requests.md).
replaces_getitem = True


def device(x, /):
    """The array's device, as ``array_api_compat.device`` reports it."""
    return array_api_compat.device(x)


def to_float(x, /):
    """A Python float for a concrete scalar; a 0-d Dask array stays lazy
    (``float()`` on it would compute)."""
    if isinstance(x, da.Array):
        return x
    return float(x)


def from_numpy(a, like):
    """``a`` as a Dask array chunked like ``like`` (one chunk where its sizes are unknown)."""
    known = all(not any(c != c for c in cs) for cs in like.chunks)
    return da.from_array(a, chunks=like.chunks if known else "auto")


def embeds_tracers(x) -> bool:
    """A Dask array whose chunks are traced values: ``dask.array.sum(tracer)`` wraps the
    tracer in a graph (its meta is a tracer), out of yota's sight."""
    return bool(getattr(type(getattr(x, "_meta", None)), "__yota_tracer__", False))


def content_guard(x, max_bytes):
    """A Dask array is its graph: ``x[i] = v`` gives the same object a new graph and a new name."""
    if not isinstance(x, da.Array):
        return None
    name = x.name
    return lambda now: now.name == name


def reset() -> None:
    """Empty every cache and piece of global state this backend keeps: the
    chunk hints of :mod:`.chunks` and the dtype probes of :mod:`.blocks`."""
    chunks.clear()
    blocks.probe.cache_clear()
