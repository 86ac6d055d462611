"""Chunk hints: the chunks a reduction's input had, for ``broadcast_to``.

Reverse rules broadcast a reduction's cotangent back to the reduced array's
shape (``broadcast_to(g / n, (n,))`` for a mean) and combine it with chunked
arrays of that shape.  ``dask.array.broadcast_to`` gives the new axes ONE
chunk, so the product needs a rechunk whose single source feeds every block;
that hub changes Dask's task ordering and keeps more data chunks alive
(measured on the streamed logistic regression of benchmarks/dask_oom.py: 1.3x
the peak memory of handwritten code at 20 chunks, 2.3x at 320).  So the
reductions of this namespace remember the chunks of their inputs by shape, and
``broadcast_to`` to a remembered shape uses those chunks along the axes it
creates or stretches (a broadcast is a view per block, so any chunking is
free).  This only chooses chunks: results never depend on it, and an unrelated
array of the same shape only costs the rechunk Dask would have done anyway.

The memory is global (compiled code calls the namespace without a context),
bounded to :data:`SEEN_MAX` shapes (oldest dropped) and emptied by
:func:`clear` (``yota.backends.dask.reset``)."""
from __future__ import annotations

import threading
from collections import OrderedDict

import dask.array as da

from .arrays import as_dask, has_unknown

SEEN_MAX = 256
_SEEN: "OrderedDict[tuple, tuple]" = OrderedDict()
_LOCK = threading.Lock()

#: Reductions of the top-level namespace whose input chunks are remembered.
REDUCTIONS = ("sum mean prod max min std var all any argmax argmin count_nonzero "
              "cumulative_sum cumulative_prod").split()
#: The same, in ``linalg``.
LINALG_REDUCTIONS = ("vector_norm", "matrix_norm", "trace")


def clear() -> None:
    with _LOCK:
        _SEEN.clear()


def remember(x) -> None:
    if isinstance(x, da.Array) and x.ndim and not has_unknown(x.shape):
        with _LOCK:
            _SEEN[x.shape] = x.chunks
            _SEEN.move_to_end(x.shape)
            while len(_SEEN) > SEEN_MAX:
                _SEEN.popitem(last=False)


def hint(shape):
    with _LOCK:
        return _SEEN.get(shape)


def recording(fn):
    """``fn`` (a reduction) that first remembers its input's chunks."""
    def wrapper(x, /, *args, **kwargs):
        remember(x)
        return fn(x, *args, **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = fn.__name__
    wrapper.__doc__ = (f"``{fn.__name__}`` of array_api_compat.dask; remembers the input's "
                       f"chunks for ``broadcast_to``.")
    wrapper.__wrapped__ = fn
    return wrapper


def broadcast_to(x, /, shape):
    """Standard ``broadcast_to``; along the axes it creates or stretches it
    uses the chunks of the last array of ``shape`` that a reduction of this
    namespace saw, if any (see the module docstring), instead of one chunk."""
    x = as_dask(x)
    shape = tuple(shape)
    h = hint(shape)
    if h is None or x.ndim > len(shape):
        return da.broadcast_to(x, shape)
    lead = len(shape) - x.ndim
    chunks = []
    for d in range(len(shape)):
        k = d - lead
        if k < 0 or (x.shape[k] == 1 and shape[d] != 1):
            chunks.append(h[d])
        else:
            chunks.append(x.chunks[k])
    return da.broadcast_to(x, shape, chunks=tuple(chunks))
