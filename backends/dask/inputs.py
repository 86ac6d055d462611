"""Checks on the arrays a user passes to ``yota.grad`` & co. on Dask."""
from __future__ import annotations

import dask.array as da

from yota.errors import YotaError

from .arrays import has_unknown_chunks
from .degenerate import without_empty_chunks


class UnknownChunkSizesError(YotaError, ValueError):
    """An input is a Dask array whose chunk sizes are unknown (``nan``)."""


def check_inputs(leaves, names=None) -> None:
    """Raise :class:`UnknownChunkSizesError` for the first Dask array among
    ``leaves`` with unknown (``nan``) chunk sizes.

    Such arrays come from ``x[mask]``, ``ddf.values``,
    ``ddf.to_dask_array()`` without ``lengths=True`` or ``da.from_delayed``
    with a ``nan`` shape.  yota records every shape on the tape and its rules
    use them (a mean's cotangent divides by the element count), so a ``nan``
    would reach the gradient; traced, it fails in some rule's shape check
    with a message about cotangents instead.  ``names`` (optional, same
    order) label the arguments in the message."""
    for i, x in enumerate(leaves):
        if isinstance(x, da.Array) and has_unknown_chunks(x):
            what = f"argument {names[i]}" if names is not None and i < len(names) else "an argument"
            raise UnknownChunkSizesError(
                f"{what} is a Dask array of unknown chunk sizes (shape {x.shape}), as x[mask], "
                f"ddf.values, ddf.to_dask_array() or da.from_delayed(..., shape=(nan, ...)) give. "
                f"yota needs every input's shape: call x = x.compute_chunk_sizes() first (one "
                f"pass over the data), or build it with known sizes, e.g. "
                f"ddf.to_dask_array(lengths=True)")


def prepare_inputs(leaves, names=None) -> list:
    """The leaves to run on: :func:`check_inputs`, then every Dask array with
    zero-length chunks rechunked without them (same values, lazy).

    Zero-length chunks are what ``x[mask].compute_chunk_sizes()`` usually
    gives (the blocks where the mask is all False), and many Dask functions
    fail on them (see :mod:`.degenerate`, which drops them from the
    arguments of every namespace function; this also covers the operators,
    ``x + y``, ``x[key]``, which do not go through the namespace)."""
    check_inputs(leaves, names)
    return [without_empty_chunks(x) for x in leaves]
