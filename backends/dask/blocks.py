"""Running the chunk library's own function on whole pieces of a Dask array:
the axes a function needs whole are rechunked to one chunk (only those), and
the function runs per block.  Also the two ways a task can see a whole array
(``whole``, ``blockwise_with_whole``) for operations whose inputs do not line
up block by block."""
from __future__ import annotations

import re
import warnings
from functools import lru_cache

import numpy as np
import dask
import dask.array as da
import array_api_compat
import array_api_compat.numpy  # noqa: F401  (dtype probes run the NumPy function)
from dask.array.core import concatenate3

LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def single_chunk(x, axes):
    """Rechunk ``axes`` of ``x`` to one chunk each (other axes unchanged)."""
    axes = [a % x.ndim for a in axes]
    if all(x.numblocks[a] == 1 for a in axes):
        return x
    return x.rechunk({a: -1 for a in axes})


@lru_cache(maxsize=256)
def probe(modname, fname, dtypes, kw=()):
    """Output dtype(s) of a NumPy function on 2x2 identities of ``dtypes``
    (bounded: one entry per function and dtype combination)."""
    if isinstance(dtypes, np.dtype):
        dtypes = (dtypes,)
    mod = array_api_compat.numpy if modname == "" else getattr(array_api_compat.numpy, modname)
    fn = getattr(mod, fname)
    out = fn(*[np.eye(2, dtype=d) for d in dtypes], **dict(kw))
    if isinstance(out, tuple):
        return tuple(np.asarray(o).dtype for o in out)
    return np.asarray(out).dtype


def _core_ndims(signature):
    """Number of core dimensions of each input of a gufunc signature."""
    ins = signature.split("->")[0]
    return [len([d for d in g.split(",") if d.strip()]) for g in re.findall(r"\(([^)]*)\)", ins)]


def gufunc(mod, fname, signature, *args, nout=1, output_sizes=None, kw=()):
    """Run ``<chunk xp>.<mod>.<fname>`` per block over the core dims of
    ``signature``.

    The core dims of every input are rechunked to one chunk *here*:
    ``apply_gufunc(allow_rechunk=True)`` first unifies the chunks of dims that
    share a name, and two axes of one matrix (``(m,m)``) chunked differently,
    e.g. a (6, 6) matrix in (2, 3) chunks, make it fail with "Shapes do not
    align" before any rechunk."""
    args = [single_chunk(a, range(a.ndim - k, a.ndim)) if k else a
            for a, k in zip(args, _core_ndims(signature))]
    dtypes = probe(mod, fname, tuple(np.dtype(a.dtype) for a in args), tuple(kw))
    kwargs = dict(kw)

    def block_fn(*blocks):
        xp = array_api_compat.array_namespace(*blocks)
        f = getattr(getattr(xp, mod) if mod else xp, fname)
        out = f(*blocks, **kwargs)
        return tuple(out) if nout > 1 else out

    with warnings.catch_warnings():
        # Dask casts the input's meta to each output dtype (complex -> real
        # eigenvalues warns); only the dtype of the meta matters
        warnings.simplefilter("ignore", np.exceptions.ComplexWarning)
        return da.apply_gufunc(
            block_fn, signature, *args,
            output_dtypes=list(dtypes) if nout > 1 else dtypes,
            output_sizes=output_sizes, allow_rechunk=True, vectorize=False,
        )


def whole(a):
    """A lazy object holding all of Dask array ``a`` in one piece (works for
    unknown chunk sizes, unlike ``rechunk``); NumPy arrays pass through."""
    if not isinstance(a, da.Array):
        return dask.delayed(np.asarray(a))
    if all(n == 1 for n in a.numblocks):
        return a.to_delayed(optimize_graph=False).ravel()[0]
    return dask.delayed(concatenate3)(a.to_delayed(optimize_graph=False).tolist())


def offsets(x, d):
    """A Dask array chunked like axis ``d`` of ``x`` whose blocks start with
    their block's offset along ``d`` (for ``blockwise``, which does not pass
    block positions)."""
    return da.arange(x.shape[d], chunks=(x.chunks[d],), dtype=np.int64)


def blockwise_with_whole(func, x, *extras, dtype, meta=None, with_offsets=False):
    """``func(block, [starts], *whole_extras)`` for every block of ``x``.

    Each extra array reaches every task whole (its blocks concatenated by
    ``blockwise``: works with unknown chunk sizes, no rechunk); with
    ``with_offsets`` the block's start along each axis is passed too."""
    nd = x.ndim
    out_ind = LETTERS[:nd]
    args = [x, out_ind]
    if with_offsets:
        for d in range(nd):
            args += [offsets(x, d), out_ind[d]]
    used = nd
    for e in extras:
        if isinstance(e, da.Array) and e.ndim:
            ind = LETTERS[used: used + e.ndim]
            used += e.ndim
            args += [e, ind]
        else:
            args += [np.asarray(e), None]

    def f(b, *rest):
        if with_offsets:
            if b.size == 0:
                return b
            starts = tuple(int(np.asarray(r).reshape(-1)[0]) for r in rest[:nd])
            return func(b, starts, *rest[nd:])
        return func(b, *rest)

    with warnings.catch_warnings():
        # every task reads all blocks of the extras by design
        warnings.simplefilter("ignore", da.PerformanceWarning)
        return da.blockwise(f, out_ind, *args, dtype=dtype, concatenate=True,
                            meta=x._meta if meta is None else meta)
